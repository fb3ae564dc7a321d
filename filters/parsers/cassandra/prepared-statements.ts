// Prepared statements of one connection: what each PREPARE analysed to (remembered by stream id
// until the server's RESULT Prepared names its id), and id -> statements afterwards, so EXECUTE
// and prepared BATCH entries are checked against the policy in force at execution time. An id
// the connection never saw prepared is unknown (the parser answers UNPREPARED). Bounded: the
// oldest binding is forgotten first (its next EXECUTE gets UNPREPARED and is prepared again).
import { ByteView } from '../../sdk/index';

export const MAX_PREPARED_PER_CONNECTION: i32 = 4096;
const MAX_PENDING_PREPARES: i32 = 1024;

export class PreparedStatement {
  id: ArrayBuffer = new ArrayBuffer(0);
  actions: Array<i32> = new Array<i32>();
  tables: Array<ArrayBuffer | null> = new Array<ArrayBuffer | null>();
  conditional: Array<bool> = new Array<bool>(); // per statement: INSERT/UPDATE/DELETE ... IF
}

export class PreparedStatements {
  private pendingStreams: Array<i32> = new Array<i32>();
  private pendingStatements: Array<PreparedStatement> = new Array<PreparedStatement>();
  private bound: Array<PreparedStatement> = new Array<PreparedStatement>();

  // A PREPARE on `stream` was forwarded; `statement` (without id yet) is what it analysed to.
  rememberPrepare(stream: i32, statement: PreparedStatement): void {
    this.forgetStream(stream);
    if (this.pendingStreams.length >= MAX_PENDING_PREPARES) {
      this.pendingStreams.shift();
      this.pendingStatements.shift();
    }
    this.pendingStreams.push(stream);
    this.pendingStatements.push(statement);
  }

  // The server answered `stream` with RESULT Prepared and this id ([short bytes] at idOffset).
  bind(stream: i32, view: ByteView, idOffset: i32, idLength: i32): void {
    const index = this.pendingStreams.indexOf(stream);
    if (index < 0) return;
    const statement = this.pendingStatements[index];
    this.pendingStreams.splice(index, 1);
    this.pendingStatements.splice(index, 1);
    const id = new Uint8Array(idLength);
    for (let i = 0; i < idLength; i++) id[i] = <u8>view.byteAt(idOffset + i);
    statement.id = id.buffer;
    const existing = this.find(view, idOffset, idLength);
    if (existing !== null) this.bound.splice(this.bound.indexOf(existing), 1);
    if (this.bound.length >= MAX_PREPARED_PER_CONNECTION) this.bound.shift();
    this.bound.push(statement);
  }

  // The reply on `stream` was not RESULT Prepared (an ERROR): nothing to bind.
  forgetStream(stream: i32): void {
    const index = this.pendingStreams.indexOf(stream);
    if (index < 0) return;
    this.pendingStreams.splice(index, 1);
    this.pendingStatements.splice(index, 1);
  }

  find(view: ByteView, idOffset: i32, idLength: i32): PreparedStatement | null {
    for (let i = this.bound.length - 1; i >= 0; i--) {
      const candidate = this.bound[i];
      if (sameBytes(candidate.id, view, idOffset, idLength)) return candidate;
    }
    return null;
  }
}

function sameBytes(expected: ArrayBuffer, view: ByteView, offset: i32, length: i32): bool {
  if (expected.byteLength != length || !view.has(offset, length)) return false;
  const bytes = Uint8Array.wrap(expected);
  for (let i = 0; i < length; i++) if (<i32>bytes[i] != view.byteAt(offset + i)) return false;
  return true;
}
