// What one CQL connection remembers between frames, shared by the request decisions
// (request-policy.ts) and the framing of both directions (parser.ts): how far the start has got
// and which framing both directions use (handshake.ts), the keyspace bare names resolve to
// (keyspace-tracking.ts) and prepared statements. The stream ids in flight and the deny replies
// waiting for them are the SDK's stream-id reply correlation (Connection.answersByStreamId).
import { Handshake } from './handshake';
import { KeyspaceTracking } from './keyspace-tracking';
import { PreparedStatements } from './prepared-statements';

export class CqlSession {
  readonly handshake: Handshake = new Handshake();
  readonly keyspace: KeyspaceTracking = new KeyspaceTracking();
  readonly prepared: PreparedStatements = new PreparedStatements();

  get segmented(): bool {
    return this.handshake.segmented;
  }
}
