// Decides one CQL request envelope (already framed and bounded to its own bytes): STARTUP,
// OPTIONS, REGISTER and AUTH_RESPONSE pass (STARTUP asking for compression is refused); QUERY and
// PREPARE are analysed into statements; EXECUTE and prepared BATCH entries take the statements
// their PREPARE analysed to (an unknown id is answered UNPREPARED); every statement is matched
// against the rules (`query_action`, `query_table`) and logged, one entry per statement; one
// denied statement denies the whole request. USE always passes (Cilium's rule): it only changes
// how later names resolve, and the keyspace is taken from the server's answer. Framing (v3/v4
// frames, v5 segments) and writing the replies are parser.ts's job.
import { ByteView, Connection, EntryType, NEED_MORE } from '../../sdk/index';
import {
  FrameFlag,
  Opcode,
  PREPARE_FLAG_KEYSPACE,
  QueryFlag,
  flagsOf,
  isResponse,
  opcodeOf,
  requestMessageStart,
  skipLongString,
  skipShortBytes,
  skipString,
  skipValue,
  streamOf,
  versionOf,
} from './cql';
import { OwnedBytes } from './owned-bytes';
import { PreparedStatement } from './prepared-statements';
import { QueryAnalyser, Statement, StatementList } from './query-analysis';
import { QueryAction, actionHasTable, actionName } from './query-actions';
import { compressionRefusedReply, unauthorizedReply, unpreparedReply } from './replies';
import { CqlSession } from './session';

export const enum CassandraKey {
  QueryAction = 0,
  QueryTable = 1,
}

export const enum Verdict {
  Forward = 0, // pass the request; one reply will come on its stream id
  Deny = 1, // the request must not reach the server; `denyReply` answers it
  Malformed = 2, // the connection must fail; `problem` says why
}

const REASON_DENIED = 'no rule allows this statement';
const REASON_DENIED_WITH_BATCH = 'another statement of the same request is denied';

export class RequestPolicy {
  denyReply: ArrayBuffer = new ArrayBuffer(0);
  problem: string = '';
  stream: i32 = 0;
  version: i32 = 0;
  private analyser: QueryAnalyser = new QueryAnalyser();
  private statements: StatementList = new StatementList();
  private scratch: OwnedBytes = new OwnedBytes();

  constructor(
    private connection: Connection,
    private session: CqlSession,
  ) {}

  // `frame` holds exactly one request envelope at offset 0.
  decide(frame: ByteView): Verdict {
    const flags = flagsOf(frame, 0);
    const opcode = opcodeOf(frame, 0);
    this.version = versionOf(frame, 0);
    this.stream = streamOf(frame, 0);
    if (isResponse(frame, 0)) return this.malformed('a response frame (version byte 0x8_) arrived from the client');
    if ((flags & FrameFlag.Compression) != 0) return this.malformed('a compressed frame (flag 0x01); Weir inspects only uncompressed CQL');
    if (this.version < 3 || this.version > 5) {
      // The server answers an unsupported version with a protocol error the driver downgrades on.
      if (opcode == Opcode.Options || opcode == Opcode.Startup) return this.forward();
      return this.malformed('protocol version ' + this.version.toString() + ' is not supported (v3, v4, v5 are)');
    }
    if (opcode == Opcode.Startup) return this.startup(frame, flags);
    if (opcode == Opcode.Options || opcode == Opcode.Register || opcode == Opcode.AuthResponse) return this.forward();
    if (opcode == Opcode.Query) return this.query(frame, flags);
    if (opcode == Opcode.Prepare) return this.prepare(frame, flags);
    if (opcode == Opcode.Execute) return this.execute(frame, flags);
    if (opcode == Opcode.Batch) return this.batch(frame, flags);
    return this.malformed('opcode 0x' + opcode.toString(16) + ' is not a request');
  }

  private forward(): Verdict {
    this.session.replies.expect(this.stream);
    return Verdict.Forward;
  }

  private malformed(problem: string): Verdict {
    this.problem = problem;
    return Verdict.Malformed;
  }

  private deny(reply: ArrayBuffer): Verdict {
    this.denyReply = reply;
    return Verdict.Deny;
  }

  private startup(frame: ByteView, flags: i32): Verdict {
    const mapStart = requestMessageStart(frame, 0, flags);
    const compression = stringMapHasKey(frame, mapStart, 'COMPRESSION');
    if (compression < 0) return this.malformed('STARTUP body is not a [string map]');
    if (compression > 0) {
      this.connection.fields.clear().addString('opcode', 'startup');
      this.connection.log(EntryType.Denied, 'STARTUP asks for compression, which Weir cannot inspect; answered with a protocol error');
      return this.deny(compressionRefusedReply(this.version, this.stream));
    }
    this.session.version = this.version;
    this.session.segmentSwitchPending = this.version >= 5;
    return this.forward();
  }

  private query(frame: ByteView, flags: i32): Verdict {
    const queryAt = requestMessageStart(frame, 0, flags);
    const paramsAt = skipLongString(frame, queryAt);
    if (paramsAt < 0) return this.malformed('QUERY body does not start with a [long string] query');
    const keyspace = this.keyspaceParameter(frame, paramsAt, QueryFlag.Keyspace);
    if (keyspace == NEED_MORE) return this.malformed('QUERY parameters are truncated');
    const problem = this.analyse(frame, queryAt, keyspace);
    if (problem !== null) return this.unanalysable(problem);
    return this.decideStatements();
  }

  private prepare(frame: ByteView, flags: i32): Verdict {
    const queryAt = requestMessageStart(frame, 0, flags);
    const flagsAt = skipLongString(frame, queryAt);
    if (flagsAt < 0) return this.malformed('PREPARE body does not start with a [long string] query');
    let keyspace = 0;
    if (this.version >= 5 && frame.has(flagsAt, 4) && (frame.u32be(flagsAt) & PREPARE_FLAG_KEYSPACE) != 0) keyspace = flagsAt + 4;
    const problem = this.analyse(frame, queryAt, keyspace);
    if (problem !== null) return this.unanalysable(problem);
    const verdict = this.decideStatements();
    if (verdict == Verdict.Forward) this.session.prepared.rememberPrepare(this.stream, this.snapshot());
    return verdict;
  }

  private execute(frame: ByteView, flags: i32): Verdict {
    const idAt = requestMessageStart(frame, 0, flags);
    if (skipShortBytes(frame, idAt) < 0) return this.malformed('EXECUTE body does not start with a [short bytes] id');
    this.statements.clear();
    this.scratch.reset();
    const known = this.addPrepared(frame, idAt);
    if (!known) return this.unknownId(frame, idAt);
    return this.decideStatements();
  }

  // <type><n><query_1>...<query_n><consistency><flags>...: walked twice, first to find the
  // flags (v5 may name a keyspace there), then to analyse each statement.
  private batch(frame: ByteView, flags: i32): Verdict {
    const start = requestMessageStart(frame, 0, flags);
    const count = start < 0 ? -1 : frame.u16be(start + 1);
    if (count < 0) return this.malformed('BATCH body is truncated');
    const end = walkBatch(frame, start + 3, count);
    if (end < 0) return this.malformed('BATCH statements are truncated or of an unknown kind');
    const batchFlags = this.version >= 5 ? frame.u32be(end + 2) : <i64>frame.byteAt(end + 2);
    if (batchFlags < 0) return this.malformed('BATCH flags are missing');
    if ((batchFlags & QueryFlag.NamesForValues) != 0) return this.malformed('BATCH with named values (flag 0x40) is not supported');
    let keyspace = 0;
    if (this.version >= 5 && (batchFlags & QueryFlag.Keyspace) != 0) {
      let at = end + 6;
      if ((batchFlags & QueryFlag.SerialConsistency) != 0) at += 2;
      if ((batchFlags & QueryFlag.DefaultTimestamp) != 0) at += 8;
      keyspace = at;
    }
    this.statements.clear();
    this.scratch.reset();
    let at = start + 3;
    for (let i = 0; i < count; i++) {
      const kind = frame.byteAt(at);
      if (kind == 0) {
        const problem = this.analyser.analyse(frame, at + 5, <i32>frame.u32be(at + 1), this.keyspaceFrom(frame, keyspace), this.statements, this.scratch);
        if (problem !== null) return this.unanalysable(problem);
        at = skipLongString(frame, at + 1);
      } else {
        if (!this.addPrepared(frame, at + 1)) return this.unknownId(frame, at + 1);
        at = skipShortBytes(frame, at + 1);
      }
      at = skipValues(frame, at);
    }
    return this.decideStatements();
  }

  // Analyses the [long string] at `queryAt` into `statements`; `keyspaceAt` is the offset of a
  // [string] keyspace parameter, or 0 for the connection's keyspace.
  private analyse(frame: ByteView, queryAt: i32, keyspaceAt: i32): string | null {
    this.statements.clear();
    this.scratch.reset();
    const length = <i32>frame.u32be(queryAt);
    return this.analyser.analyse(frame, queryAt + 4, length, this.keyspaceFrom(frame, keyspaceAt), this.statements, this.scratch);
  }

  private keyspaceFrom(frame: ByteView, keyspaceAt: i32): ArrayBuffer | null {
    if (keyspaceAt <= 0) return this.session.keyspace;
    const length = frame.u16be(keyspaceAt);
    if (length < 0 || !frame.has(keyspaceAt + 2, length)) return this.session.keyspace;
    const copy = new Uint8Array(length);
    for (let i = 0; i < length; i++) copy[i] = <u8>frame.byteAt(keyspaceAt + 2 + i);
    return copy.buffer;
  }

  // v5 QUERY parameters may carry a keyspace: its offset, 0 when absent, or NEED_MORE.
  private keyspaceParameter(frame: ByteView, paramsAt: i32, keyspaceFlag: i32): i32 {
    if (this.version < 5) return 0;
    const flags = frame.u32be(paramsAt + 2);
    if (flags < 0) return NEED_MORE;
    if ((flags & keyspaceFlag) == 0) return 0;
    let at = paramsAt + 6;
    if ((flags & QueryFlag.Values) != 0) at = (flags & QueryFlag.NamesForValues) != 0 ? skipNamedValues(frame, at) : skipValues(frame, at);
    if (at >= 0 && (flags & QueryFlag.PageSize) != 0) at = frame.has(at, 4) ? at + 4 : NEED_MORE;
    if (at >= 0 && (flags & QueryFlag.PagingState) != 0) at = skipValue(frame, at);
    if (at >= 0 && (flags & QueryFlag.SerialConsistency) != 0) at = frame.has(at, 2) ? at + 2 : NEED_MORE;
    if (at >= 0 && (flags & QueryFlag.DefaultTimestamp) != 0) at = frame.has(at, 8) ? at + 8 : NEED_MORE;
    if (at < 0 || skipString(frame, at) < 0) return NEED_MORE;
    return at;
  }

  // Appends the statements prepared under the id at `idAt`; false when the id is unknown.
  private addPrepared(frame: ByteView, idAt: i32): bool {
    const idLength = frame.u16be(idAt);
    const prepared = this.session.prepared.find(frame, idAt + 2, idLength);
    if (prepared === null) return false;
    for (let i = 0; i < prepared.actions.length; i++) {
      const statement = this.statements.add();
      statement.action = prepared.actions[i];
      statement.actionOffset = this.scratch.length;
      this.scratch.appendAscii(actionName(statement.action));
      statement.actionLength = this.scratch.length - statement.actionOffset;
      const table = prepared.tables[i];
      if (table !== null) {
        statement.tableOffset = this.scratch.length;
        this.scratch.appendBuffer(table);
        statement.tableLength = table.byteLength;
      }
    }
    return true;
  }

  private unknownId(frame: ByteView, idAt: i32): Verdict {
    this.connection.fields.clear().addString('error', 'unknown prepared query id');
    this.connection.log(EntryType.Denied, 'statement not prepared on this connection; answered UNPREPARED so the client prepares it again');
    return this.deny(unpreparedReply(this.version, this.stream, frame, idAt + 2, frame.u16be(idAt)));
  }

  private unanalysable(problem: string): Verdict {
    this.connection.fields.clear();
    this.connection.log(EntryType.Denied, 'query cannot be analysed: ' + problem);
    return this.deny(unauthorizedReply(this.version, this.stream));
  }

  // Matches every statement, logs one entry per statement with the request's verdict.
  private decideStatements(): Verdict {
    let allowed = true;
    for (let i = 0; i < this.statements.count && allowed; i++) allowed = this.statementAllowed(this.statements.at(i));
    for (let i = 0; i < this.statements.count; i++) {
      const statement = this.statements.at(i);
      this.fillFields(statement);
      if (allowed) this.connection.log(EntryType.Request, '');
      else this.connection.log(EntryType.Denied, this.statementAllowed(statement) ? REASON_DENIED_WITH_BATCH : REASON_DENIED);
    }
    if (!allowed) return this.deny(unauthorizedReply(this.version, this.stream));
    return this.forward();
  }

  private statementAllowed(statement: Statement): bool {
    if (statement.action == QueryAction.Use) return true;
    const record = this.connection.record;
    const view = this.scratch.view;
    record.clear();
    record.set(CassandraKey.QueryAction, view, statement.actionOffset, statement.actionLength);
    if (statement.tableLength >= 0) record.set(CassandraKey.QueryTable, view, statement.tableOffset, statement.tableLength);
    return this.connection.allows(true);
  }

  private fillFields(statement: Statement): void {
    const view = this.scratch.view;
    const fields = this.connection.fields.clear();
    fields.addBytes('query_action', view, statement.actionOffset, statement.actionLength);
    if (statement.tableLength >= 0) fields.addBytes('query_table', view, statement.tableOffset, statement.tableLength);
  }

  // The analysed statements, copied for a PREPARE awaiting its id.
  private snapshot(): PreparedStatement {
    const prepared = new PreparedStatement();
    for (let i = 0; i < this.statements.count; i++) {
      const statement = this.statements.at(i);
      prepared.actions.push(statement.action);
      prepared.tables.push(actionHasTable(statement.action) && statement.tableLength >= 0 ? this.scratch.copyOut(statement.tableOffset, statement.tableLength) : null);
    }
    return prepared;
  }
}

// Offset after `count` batch entries starting at `at`, or NEED_MORE / MALFORMED.
function walkBatch(frame: ByteView, at: i32, count: i32): i32 {
  let offset = at;
  for (let i = 0; i < count && offset >= 0; i++) {
    const kind = frame.byteAt(offset);
    if (kind == 0) offset = skipLongString(frame, offset + 1);
    else if (kind == 1) offset = skipShortBytes(frame, offset + 1);
    else return -2;
    offset = skipValues(frame, offset);
  }
  return offset;
}

// [short] n, then n [value].
function skipValues(frame: ByteView, at: i32): i32 {
  if (at < 0) return at;
  const count = frame.u16be(at);
  if (count < 0) return count;
  let offset = at + 2;
  for (let i = 0; i < count && offset >= 0; i++) offset = skipValue(frame, offset);
  return offset;
}

// [short] n, then n ([string] name, [value]).
function skipNamedValues(frame: ByteView, at: i32): i32 {
  if (at < 0) return at;
  const count = frame.u16be(at);
  if (count < 0) return count;
  let offset = at + 2;
  for (let i = 0; i < count && offset >= 0; i++) offset = skipValue(frame, skipString(frame, offset));
  return offset;
}

// 1 when the [string map] at `at` has `key`, 0 when not, negative when malformed.
function stringMapHasKey(frame: ByteView, at: i32, key: string): i32 {
  if (at < 0) return at;
  const count = frame.u16be(at);
  if (count < 0) return count;
  let offset = at + 2;
  let found = 0;
  for (let i = 0; i < count; i++) {
    const keyLength = frame.u16be(offset);
    if (keyLength < 0) return keyLength;
    if (frame.equalsAscii(offset + 2, keyLength, key)) found = 1;
    offset = skipString(frame, skipString(frame, offset));
    if (offset < 0) return offset;
  }
  return found;
}
