// Decides one CQL request envelope (already framed and bounded to its own bytes) the way
// Cassandra 5.0 will read it. Before the start only OPTIONS and STARTUP pass (STARTUP asking for
// compression, in any spelling, is refused); while STARTUP is unanswered, or after the connection
// was refused, any request fails the connection (handshake.ts). After the start every envelope
// must carry the connection's version, a non-negative stream id not already in flight, and no
// compression flag. OPTIONS, REGISTER and AUTH_RESPONSE pass; QUERY and PREPARE are analysed into
// statements; EXECUTE and prepared BATCH entries take the statements their PREPARE analysed to (an
// unknown id is answered UNPREPARED); bare table names take the request's own keyspace parameter
// (read by query-options.ts at every version: Cassandra honours it at v3 and v4 too), else the
// connection's keyspace, under the in-flight rules of keyspace-tracking.ts. Every statement is
// matched against the rules (`query_action`, `query_table`; a conditional INSERT/UPDATE/DELETE
// also needs `select` on its table, since its answer carries the current row) and logged, one
// entry per statement; one denied statement denies the whole request. USE passes (Cilium's rule)
// unless the in-flight rules refuse it. Framing (v3/v4 frames, v5 segments) and writing the
// replies are parser.ts's job.
import { ByteBuffer, ByteView, Connection, EntryType, MALFORMED, NEED_MORE } from '../../sdk/index';
import {
  FrameFlag,
  Opcode,
  PREPARE_FLAG_KEYSPACE,
  flagsOf,
  isResponse,
  opcodeOf,
  requestMessageStart,
  skipLongString,
  skipShortBytes,
  streamOf,
  versionOf,
} from './cql';
import { Handshake, Phase } from './handshake';
import { NO_KEYSPACE_WHILE_USE_IN_FLIGHT, USE_WHILE_DEPENDENTS_IN_FLIGHT } from './keyspace-tracking';
import { PreparedStatement } from './prepared-statements';
import { QueryAnalyser, Statement, StatementList } from './query-analysis';
import { QueryAction, actionHasTable, actionName } from './query-actions';
import { QueryOptions, readQueryOptions, skipBoundValues } from './query-options';
import { compressionRefusedReply, nonAsciiOptionReply, unauthorizedReply, unpreparedReply } from './replies';
import { CqlSession } from './session';
import { StartupCheck, checkStartupOptions } from './startup-options';
import { CassandraKey } from './rule-keys';

export const enum Verdict {
  Forward = 0, // pass the request; one reply will come on its stream id
  Deny = 1, // the request must not reach the server; `denyReply` answers it
  Malformed = 2, // the connection must fail; `problem` says why
}

const REASON_DENIED = 'no rule allows this statement';
const REASON_DENIED_WITH_BATCH = 'another statement of the same request is denied';
const REASON_CONDITIONAL = 'a conditional statement (IF ...) answers with the current row, so it also needs a select rule on its table';
const REASON_BATCH_KIND = 'a BATCH may only hold INSERT, UPDATE and DELETE statements';
const REASON_BAD_KEYSPACE = 'the keyspace parameter is not a name any Cassandra keyspace can have (only A-Z, a-z, 0-9 and _)';

export class RequestPolicy {
  denyReply: ArrayBuffer = new ArrayBuffer(0);
  problem: string = '';
  stream: i32 = 0;
  version: i32 = 0;
  private analyser: QueryAnalyser = new QueryAnalyser();
  private statements: StatementList = new StatementList();
  // The statements' action names and tables (connection.buffer(), freed with the connection).
  private scratch: ByteBuffer;
  private scratchView: ByteView = new ByteView();
  private options: QueryOptions = new QueryOptions();
  // `select`, the action a conditional statement also needs, as bytes for the rule record.
  private selectAction: ByteView = new ByteView();
  private selectBytes: ArrayBuffer = String.UTF8.encode(actionName(QueryAction.Select));
  // What the request being decided does to the connection's keyspace state.
  private usedConnectionKeyspace: bool = false;
  private changesKeyspace: bool = false;

  constructor(
    private connection: Connection,
    private session: CqlSession,
  ) {
    this.scratch = connection.buffer();
    this.selectAction.setWindow(changetype<usize>(this.selectBytes), this.selectBytes.byteLength);
  }

  // `frame` holds exactly one request envelope at offset 0.
  decide(frame: ByteView): Verdict {
    const flags = flagsOf(frame, 0);
    const opcode = opcodeOf(frame, 0);
    this.version = versionOf(frame, 0);
    this.stream = streamOf(frame, 0);
    this.usedConnectionKeyspace = false;
    this.changesKeyspace = false;
    const handshake = this.session.handshake;
    if (isResponse(frame, 0)) return this.malformed('a response frame (version byte 0x8_) arrived from the client');
    if (handshake.phase == Phase.Refused) return this.malformed(handshake.refusal);
    if (handshake.phase == Phase.StartupPending) return this.malformed('a request arrived before Cassandra answered STARTUP; Cassandra may read it in either framing');
    if (handshake.phase == Phase.Started && this.version != handshake.version) {
      return this.malformed('protocol version ' + this.version.toString() + ' on a connection started with v' + handshake.version.toString() + '; Cassandra refuses it');
    }
    if ((flags & FrameFlag.Compression) != 0) return this.malformed('a compressed frame (flag 0x01); Weir inspects only uncompressed CQL');
    if (this.stream < 0) return this.malformed('stream id ' + this.stream.toString() + ' is negative; negative ids are reserved for the server\'s events');
    if (this.connection.awaitsReply(this.stream)) return this.malformed('stream id ' + this.stream.toString() + ' is reused before its reply; replies could not be told apart');
    if (handshake.phase == Phase.Initial) {
      if (!Handshake.supports(this.version)) return this.malformed('protocol version ' + this.version.toString() + ' is not supported');
      return this.beforeStartup(frame, flags, opcode);
    }
    if (opcode == Opcode.Options || opcode == Opcode.Register || opcode == Opcode.AuthResponse) return this.forward();
    if (opcode == Opcode.Query) return this.query(frame, flags);
    if (opcode == Opcode.Prepare) return this.prepare(frame, flags);
    if (opcode == Opcode.Execute) return this.execute(frame, flags);
    if (opcode == Opcode.Batch) return this.batch(frame, flags);
    if (opcode == Opcode.Startup) return this.malformed('a second STARTUP on a started connection');
    return this.malformed('opcode 0x' + opcode.toString(16) + ' is not a request');
  }

  private forward(): Verdict {
    this.connection.expectReply(this.stream); // true: the stream id was checked to be free
    this.session.keyspace.forwarded(this.stream, this.usedConnectionKeyspace, this.changesKeyspace);
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

  // ---- before STARTUP ---------------------------------------------------------------------

  private beforeStartup(frame: ByteView, flags: i32, opcode: i32): Verdict {
    if (opcode == Opcode.Options) {
      if (frame.length != 9) return this.malformed('OPTIONS carries a body; Cassandra ignores it, so Weir forwards none');
      return this.forward();
    }
    if (opcode != Opcode.Startup) return this.malformed('opcode 0x' + opcode.toString(16) + ' before STARTUP; Cassandra answers it with an error and closes the connection');
    const check = checkStartupOptions(frame, requestMessageStart(frame, 0, flags));
    if (check == StartupCheck.Malformed) return this.malformed('STARTUP body is not exactly one [string map]');
    if (check != StartupCheck.Forward) {
      const compression = check == StartupCheck.Compression;
      this.connection.fields.clear().addString('opcode', 'startup');
      this.connection.log(EntryType.Denied, compression ? 'STARTUP asks for compression, which Weir cannot inspect; answered with a protocol error' : 'STARTUP has an option name or value that is not printable ASCII of at most 255 bytes (Cassandra folds non-ASCII names in ways Weir cannot mirror); answered with a protocol error');
      return this.deny(compression ? compressionRefusedReply(this.version, this.stream) : nonAsciiOptionReply(this.version, this.stream));
    }
    const verdict = this.forward();
    this.session.handshake.startupForwarded(this.version, this.stream);
    return verdict;
  }

  // ---- statements -------------------------------------------------------------------------

  private query(frame: ByteView, flags: i32): Verdict {
    const queryAt = requestMessageStart(frame, 0, flags);
    const paramsAt = skipLongString(frame, queryAt);
    if (paramsAt < 0) return this.malformed('QUERY body does not start with a [long string] query');
    if (readQueryOptions(frame, paramsAt, this.version, this.options) < 0) return this.malformed('QUERY parameters are truncated or invalid');
    this.clearStatements();
    const problem = this.analyseText(frame, queryAt, this.options.keyspaceAt);
    if (problem !== null) return this.unanalysable(problem);
    return this.decideStatements();
  }

  private prepare(frame: ByteView, flags: i32): Verdict {
    const queryAt = requestMessageStart(frame, 0, flags);
    const flagsAt = skipLongString(frame, queryAt);
    if (flagsAt < 0) return this.malformed('PREPARE body does not start with a [long string] query');
    let keyspaceAt = -1;
    if (this.version >= 5) {
      const prepareFlags = frame.u32be(flagsAt);
      if (prepareFlags < 0) return this.malformed('v5 PREPARE has no flags');
      if ((prepareFlags & PREPARE_FLAG_KEYSPACE) != 0) keyspaceAt = flagsAt + 4;
    }
    this.clearStatements();
    const problem = this.analyseText(frame, queryAt, keyspaceAt);
    if (problem !== null) return this.unanalysable(problem);
    const verdict = this.decideStatements();
    if (verdict == Verdict.Forward) this.session.prepared.rememberPrepare(this.stream, this.snapshot());
    return verdict;
  }

  // <id> [<result metadata id> (v5)] <query parameters>: the parameters are read only to frame
  // the request as the server does; a prepared statement keeps the keyspace it was prepared with.
  private execute(frame: ByteView, flags: i32): Verdict {
    const idAt = requestMessageStart(frame, 0, flags);
    let paramsAt = skipShortBytes(frame, idAt);
    if (this.version >= 5) paramsAt = skipShortBytes(frame, paramsAt);
    if (paramsAt < 0) return this.malformed('EXECUTE body does not start with its [short bytes] id(s)');
    if (readQueryOptions(frame, paramsAt, this.version, this.options) < 0) return this.malformed('EXECUTE parameters are truncated or invalid');
    this.clearStatements();
    if (!this.addPrepared(frame, idAt)) return this.unknownId(frame, idAt);
    return this.decideStatements();
  }

  // <type><n><query_1>...<query_n><query parameters>: walked twice, first to find the parameters
  // (their keyspace qualifies the text entries), then to analyse each statement.
  private batch(frame: ByteView, flags: i32): Verdict {
    const start = requestMessageStart(frame, 0, flags);
    const type = frame.byteAt(start);
    const count = frame.u16be(start + 1);
    if (type < 0 || count < 0) return this.malformed('BATCH body is truncated');
    if (type > 2) return this.malformed('BATCH type ' + type.toString() + ' is not LOGGED (0), UNLOGGED (1) or COUNTER (2)');
    const paramsAt = walkBatch(frame, start + 3, count, this.version);
    if (paramsAt < 0) return this.malformed('BATCH statements are truncated or of an unknown kind');
    if (readQueryOptions(frame, paramsAt, this.version, this.options) < 0) return this.malformed('BATCH parameters are truncated or invalid');
    const keyspaceAt = this.options.keyspaceAt;
    this.clearStatements();
    let at = start + 3;
    for (let i = 0; i < count; i++) {
      const kind = frame.byteAt(at);
      const first = this.statements.count;
      if (kind == 0) {
        const problem = this.analyseText(frame, at + 1, keyspaceAt);
        if (problem !== null) return this.unanalysable(problem);
        at = skipLongString(frame, at + 1);
      } else {
        if (!this.addPrepared(frame, at + 1)) return this.unknownId(frame, at + 1);
        at = skipShortBytes(frame, at + 1);
      }
      if (!this.onlyModifications(first)) return this.unanalysable(REASON_BATCH_KIND);
      at = skipBoundValues(frame, at, this.version);
    }
    return this.decideStatements();
  }

  // True when the statements from `first` on form one INSERT, UPDATE or DELETE (what Cassandra
  // accepts per BATCH entry: one ModificationStatement, not a BEGIN BATCH text).
  private onlyModifications(first: i32): bool {
    if (this.statements.count != first + 1) return false;
    const action = this.statements.at(first).action;
    return action == QueryAction.Insert || action == QueryAction.Update || action == QueryAction.Delete;
  }

  private clearStatements(): void {
    this.statements.clear();
    this.scratch.clear();
  }

  // Analyses the [long string] at `queryAt` into `statements`. `keyspaceAt` is the offset of the
  // request's own [string] keyspace parameter, or -1: then bare names take the connection's
  // keyspace, which must not be changing.
  private analyseText(frame: ByteView, queryAt: i32, keyspaceAt: i32): string | null {
    const length = <i32>frame.u32be(queryAt);
    if (keyspaceAt >= 0) {
      const keyspace = keyspaceParameter(frame, keyspaceAt);
      if (keyspace === null) return REASON_BAD_KEYSPACE;
      return this.analyser.analyse(frame, queryAt + 4, length, keyspace, null, this.statements, this.scratch);
    }
    const tracking = this.session.keyspace;
    const changing = tracking.changeInFlight;
    const problem = this.analyser.analyse(frame, queryAt + 4, length, changing ? null : tracking.keyspace, changing ? NO_KEYSPACE_WHILE_USE_IN_FLIGHT : null, this.statements, this.scratch);
    if (this.analyser.usedDefaultKeyspace) this.usedConnectionKeyspace = true;
    return problem;
  }

  // Appends the statements prepared under the id at `idAt`; false when the id is unknown.
  private addPrepared(frame: ByteView, idAt: i32): bool {
    const idLength = frame.u16be(idAt);
    const prepared = this.session.prepared.find(frame, idAt + 2, idLength);
    if (prepared === null) return false;
    for (let i = 0; i < prepared.actions.length; i++) {
      const statement = this.statements.add();
      statement.action = prepared.actions[i];
      statement.conditional = prepared.conditional[i];
      statement.actionOffset = <i32>this.scratch.length;
      this.scratch.appendAscii(actionName(statement.action));
      statement.actionLength = <i32>this.scratch.length - statement.actionOffset;
      const table = prepared.tables[i];
      if (table !== null) {
        statement.tableOffset = <i32>this.scratch.length;
        this.scratch.appendArrayBuffer(table);
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
    for (let i = 0; i < this.statements.count; i++) if (this.statements.at(i).action == QueryAction.Use) this.changesKeyspace = true;
    const keyspaceBlocked = this.changesKeyspace && !this.session.keyspace.mayChange();
    let allowed = !keyspaceBlocked;
    for (let i = 0; i < this.statements.count && allowed; i++) allowed = this.statementAllowed(this.statements.at(i)) === null;
    for (let i = 0; i < this.statements.count; i++) {
      const statement = this.statements.at(i);
      this.fillFields(statement);
      if (allowed) {
        this.connection.log(EntryType.Request, '');
        continue;
      }
      let reason = keyspaceBlocked ? USE_WHILE_DEPENDENTS_IN_FLIGHT : this.statementAllowed(statement);
      if (reason === null) reason = REASON_DENIED_WITH_BATCH;
      this.connection.log(EntryType.Denied, reason);
    }
    if (!allowed) return this.deny(unauthorizedReply(this.version, this.stream));
    return this.forward();
  }

  // Null when the rules allow `statement`, else why not. USE is always allowed (Cilium's rule).
  private statementAllowed(statement: Statement): string | null {
    if (statement.action == QueryAction.Use) return null;
    const view = this.scratch.viewInto(this.scratchView);
    if (!this.allows(view, statement.actionOffset, statement.actionLength, statement)) return REASON_DENIED;
    if (!statement.conditional) return null;
    return this.allows(this.selectAction, 0, this.selectAction.length, statement) ? null : REASON_CONDITIONAL;
  }

  // Whether the rules allow the action at `actionView` on the statement's table.
  private allows(actionView: ByteView, actionOffset: i32, actionLength: i32, statement: Statement): bool {
    const record = this.connection.record;
    record.clear();
    record.set(CassandraKey.QueryAction, actionView, actionOffset, actionLength);
    if (statement.tableLength >= 0) record.set(CassandraKey.QueryTable, this.scratch.viewInto(this.scratchView), statement.tableOffset, statement.tableLength);
    return this.connection.allowsRequest();
  }

  private fillFields(statement: Statement): void {
    const view = this.scratch.viewInto(this.scratchView);
    const fields = this.connection.fields.clear();
    fields.addBytes('query_action', view, statement.actionOffset, statement.actionLength);
    if (statement.tableLength >= 0) fields.addBytes('query_table', view, statement.tableOffset, statement.tableLength);
    if (statement.conditional) fields.addString('conditional', 'true');
  }

  // The analysed statements, copied for a PREPARE awaiting its id.
  private snapshot(): PreparedStatement {
    const prepared = new PreparedStatement();
    for (let i = 0; i < this.statements.count; i++) {
      const statement = this.statements.at(i);
      prepared.actions.push(statement.action);
      prepared.tables.push(actionHasTable(statement.action) && statement.tableLength >= 0 ? this.scratch.copyOut(statement.tableOffset, statement.tableLength) : null);
      prepared.conditional.push(statement.conditional);
    }
    return prepared;
  }
}

// Offset after `count` batch entries starting at `at` (where the query parameters begin), or
// NEED_MORE / MALFORMED. Each entry: <kind:byte> then a [long string] query (0) or a [short
// bytes] id (1), then its bound values (BatchMessage.codec.decode).
function walkBatch(frame: ByteView, at: i32, count: i32, version: i32): i32 {
  let offset = at;
  for (let i = 0; i < count && offset >= 0; i++) {
    const kind = frame.byteAt(offset);
    if (kind < 0) return NEED_MORE;
    if (kind == 0) offset = skipLongString(frame, offset + 1);
    else if (kind == 1) offset = skipShortBytes(frame, offset + 1);
    else return MALFORMED;
    offset = skipBoundValues(frame, offset, version);
  }
  return offset;
}

// The keyspace [string] at `at` as a name Cassandra could have created ([A-Za-z0-9_]+), copied;
// null when it is not such a name (the server would use it verbatim and find nothing).
function keyspaceParameter(frame: ByteView, at: i32): ArrayBuffer | null {
  const length = frame.u16be(at);
  if (length <= 0 || !frame.has(at + 2, length)) return null;
  const copy = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const byte = frame.byteAt(at + 2 + i);
    const word = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || byte == 0x5f;
    if (!word) return null;
    copy[i] = <u8>byte;
  }
  return copy.buffer;
}
