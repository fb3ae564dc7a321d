// What one CQL connection remembers between frames, shared by the request decisions
// (request-policy.ts) and the framing of both directions (parser.ts): the protocol version from
// STARTUP, whether both directions now carry v5 segments, the keyspace the server confirmed with
// a Set_keyspace result, prepared statements, and the stream-id keyed reply bookkeeping behind
// denials (the SDK's StreamReplies).
import { StreamReplies } from '../../sdk/index';
import { PreparedStatements } from './prepared-statements';

export class CqlSession {
  // Protocol version of the connection (from STARTUP; 0 before).
  version: i32 = 0;
  // STARTUP asked for v5: READY or AUTHENTICATE switches both directions to segments.
  segmentSwitchPending: bool = false;
  segmented: bool = false;
  // The keyspace unqualified names resolve to (from the server's Set_keyspace result).
  keyspace: ArrayBuffer | null = null;
  readonly prepared: PreparedStatements = new PreparedStatements();
  readonly replies: StreamReplies = new StreamReplies();

  // The server answered a v5 STARTUP: every later byte, both ways, is in segments.
  switchToSegments(): void {
    this.segmentSwitchPending = false;
    this.segmented = true;
  }
}
