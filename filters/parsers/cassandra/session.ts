// What one CQL connection remembers between frames, shared by the request decisions
// (request-policy.ts) and the framing of both directions (parser.ts): how far the start has got
// and which framing both directions use (handshake.ts), the stream ids forwarded to the server
// whose reply has not passed, the keyspace bare names resolve to (keyspace-tracking.ts),
// prepared statements, and the stream-id keyed reply bookkeeping behind denials (the SDK's
// StreamReplies).
import { IdSet, StreamReplies } from '../../sdk/index';
import { Handshake } from './handshake';
import { KeyspaceTracking, MAX_STREAM_IDS } from './keyspace-tracking';
import { PreparedStatements } from './prepared-statements';

export class CqlSession {
  readonly handshake: Handshake = new Handshake();
  // Stream ids of requests (and probes) the server has and has not answered yet.
  readonly inFlight: IdSet = new IdSet(MAX_STREAM_IDS);
  readonly keyspace: KeyspaceTracking = new KeyspaceTracking();
  readonly prepared: PreparedStatements = new PreparedStatements();
  readonly replies: StreamReplies = new StreamReplies();

  get segmented(): bool {
    return this.handshake.segmented;
  }
}
