// Close-on-doubt: when a parser cannot be sure the server frames or reads a request the way it
// does (a field in a form the server may read differently, a shape the server refuses and then
// re-frames), it closes the connection before any byte of that request is forwarded. The reason
// goes into the access log's Error entry, written for the person reading it.
import { Connection } from './connection';
import { ErrorCode, Op, error } from './ops';

// The ERROR op that closes the connection, with `reason` (what was seen, and what the server
// would do with it) recorded for the Error entry.
export function closeOnDoubt(connection: Connection, reason: string): Op {
  connection.errorDetail = reason;
  return error(ErrorCode.InvalidFrameType);
}
