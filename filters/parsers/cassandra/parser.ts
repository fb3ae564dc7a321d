// Cassandra's CQL native protocol (v3, v4 and v5) as a Weir parser, Cilium's `cassandra` l7proto.
// Frames both directions: 9-byte-header frames, and after a v5 STARTUP is answered, v5 segments
// (segments.ts) holding one or more envelopes or a part of a large one. Each request envelope is
// decided by request-policy.ts; a denied one never reaches the server and is answered on its own
// stream id with ERROR 0x2100 "Request Unauthorized" (or UNPREPARED 0x2500 for an unknown prepared
// id): at the next reply boundary when a reply is outstanding, else by an OPTIONS probe on that
// stream id whose SUPPORTED answer is replaced (the SDK's StreamReplies keeps the books). Reply
// frames are passed, reading only what the session needs: prepared ids, the keyspace of USE,
// the switch to v5 segments. Segments that change are rebuilt with fresh CRCs; nothing the
// parser could not inspect is passed (compressed frames fail the connection).
// See README.md for rules, logs and limits.
import {
  ByteView,
  Connection,
  ConstraintKind,
  Direction,
  EntryType,
  ErrorCode,
  MALFORMED,
  Op,
  Parser,
  ParserFactory,
  Rule,
  RuleSchema,
  StreamDenial,
  drop,
  error,
  inject,
  more,
  nop,
  pass,
} from '../../sdk/index';
import {
  FrameFlag,
  HEADER_BYTES,
  Opcode,
  ResultKind,
  bodyLengthOf,
  flagsOf,
  isResponse,
  opcodeOf,
  responseMessageStart,
  skipString,
  streamOf,
  versionOf,
} from './cql';
import { Handshake, Phase } from './handshake';
import { OwnedBytes, narrowView } from './owned-bytes';
import { CassandraKey, RequestPolicy, Verdict } from './request-policy';
import { actionByName, actionHasTable, QUERY_ACTION_NAMES } from './query-actions';
import { optionsProbe, versionRefusalStream, versionRefusedReply } from './replies';
import { SEGMENT_HEADER_BYTES, SegmentHeader, payloadCrcMatches, selfContainedSegment, selfContainedSegmentOf } from './segments';
import { CqlSession } from './session';

// The probe version before the start (for a refused version or STARTUP): v5, which Cassandra 5
// always accepts (v3 and v4 only while native_transport_allow_older_protocols is on).
const PROBE_VERSION: i32 = 5;
// Cassandra 5.0's beta protocol version (ProtocolVersion.V6), which it serves with USE_BETA.
const BETA_VERSION: i32 = 6;

export class CassandraRuleSchema extends RuleSchema {
  constructor() {
    super(['query_action', 'query_table']);
  }

  validateRule(rule: Rule): string | null {
    const action = rule.constraintOn(CassandraKey.QueryAction);
    if (action === null) return null;
    if (action.kind != ConstraintKind.Exact) return 'query_action must be one exact action name';
    const name = action.exactText();
    const id = actionByName(name);
    if (id < 0) return 'unknown query_action "' + name + '"; use one of ' + QUERY_ACTION_NAMES.join(', ');
    if (!actionHasTable(id) && rule.constraintOn(CassandraKey.QueryTable) !== null) {
      return 'query_table does not apply to query_action "' + name + '" (it names no table)';
    }
    return null;
  }
}

export class CassandraParser extends Parser {
  private session: CqlSession;
  private policy: RequestPolicy;
  private frameView: ByteView = new ByteView();
  private segment: SegmentHeader = new SegmentHeader();
  private rebuilt: OwnedBytes = new OwnedBytes();
  private assembled: OwnedBytes = new OwnedBytes();
  // Bytes to DROP on the next call of a direction, after an INJECT that replaces them.
  private requestDropNext: u32 = 0;
  private replyDropNext: u32 = 0;
  // Reply bytes of a large v5 envelope still to come in further segments.
  private replyEnvelopeRemaining: i64 = 0;
  // Set by replyEffects when a reply does not fit the requests in flight (the connection fails).
  private replyProblem: string = '';

  constructor(private connection: Connection) {
    super();
    const session = new CqlSession();
    this.session = session;
    this.policy = new RequestPolicy(connection, session);
  }

  onData(reply: bool, endStream: bool, data: ByteView): Op {
    if (reply) {
      if (this.replyDropNext > 0) return this.dropNext(Direction.Reply);
      if (this.session.replies.hasPending && this.replyEnvelopeRemaining == 0) return this.flushDenials();
      if (data.length == 0) return nop();
      return this.session.segmented ? this.replySegment(data) : this.replyFrame(data);
    }
    if (this.requestDropNext > 0) return this.dropNext(Direction.Request);
    if (data.length == 0) return nop();
    const gate = this.requestGate(data);
    if (gate != 0) return gate;
    return this.session.segmented ? this.requestSegment(data) : this.requestFrame(data);
  }

  // ---- requests -------------------------------------------------------------------------

  private requestFrame(data: ByteView): Op {
    const frameLength = this.frameLength(data, 0);
    if (frameLength < 0) return frameLength == -1 ? more(<u32>(HEADER_BYTES - data.length)) : this.fail('request frame body is over the protocol limit of 256 MB');
    if (frameLength > <i64>this.connection.settings.maxBufferBytes) return this.tooLarge(frameLength);
    if (<i64>data.length < frameLength) return more(<u32>(frameLength - <i64>data.length));
    narrowView(data, 0, <i32>frameLength, this.frameView);
    const verdict = this.policy.decide(this.frameView);
    if (verdict == Verdict.Forward) return pass(<u32>frameLength);
    if (verdict == Verdict.Malformed) return this.fail(this.policy.problem);
    const denial = this.denyCurrent();
    if (denial == StreamDenial.Full) return error(ErrorCode.TooManyPendingReplies);
    if (denial == StreamDenial.Queued) return drop(<u32>frameLength);
    const probeVersion = this.session.handshake.phase == Phase.Initial ? PROBE_VERSION : this.policy.version;
    return this.replaceWith(Direction.Request, optionsProbe(probeVersion, this.policy.stream), <u32>frameLength);
  }

  // Before request bytes are framed: what the connection's phase and (for legacy frames) the first
  // byte already decide. 0 to go on, else the op (the connection fails; or a refused protocol
  // version is answered and its bytes dropped).
  private requestGate(data: ByteView): Op {
    const handshake = this.session.handshake;
    if (handshake.phase == Phase.Refused) return this.fail(handshake.refusal);
    if (handshake.phase == Phase.StartupPending) return this.fail('a request arrived before Cassandra answered STARTUP; Cassandra may read it in either framing');
    if (handshake.segmented) return 0;
    const version = versionOf(data, 0);
    if (handshake.phase == Phase.Started && version != handshake.version) return this.fail('protocol version ' + version.toString() + ' on a connection started with v' + handshake.version.toString() + '; Cassandra refuses it');
    if (handshake.phase != Phase.Initial || Handshake.supports(version)) return 0;
    if (!Handshake.answersRefusal(version)) return this.fail('the first frame is in protocol version ' + version.toString() + ', which no CQL client sends (a TLS ClientHello starts with 0x16); Weir forwards v3, v4 and v5');
    return this.refuseVersion(data, version);
  }

  // A first frame in a version Weir does not forward that a client may downgrade from (v1, v2,
  // the v6 beta, DSE's): Cassandra would answer with a protocol error and discard every byte it
  // had read, a number the filter cannot know; so the server never sees it. Once 9 bytes are here (Cassandra answers no
  // sooner), the client gets Cassandra's own error through a probe, and the connection is refused.
  private refuseVersion(data: ByteView, version: i32): Op {
    if (data.length < HEADER_BYTES) return more(<u32>(HEADER_BYTES - data.length));
    const reply = versionRefusedReply(data);
    let stream = versionRefusalStream(data);
    if (stream < 0 || this.session.inFlight.has(stream)) stream = this.freeStream();
    this.session.handshake.refuse('protocol version ' + version.toString() + ' was refused (Weir forwards v3, v4 and v5); reconnect with one of those');
    // Cassandra refuses every version but its v6 beta itself (drivers probe with them): only
    // refusing the beta is Weir's own decision, so only that is logged.
    if (version == BETA_VERSION) {
      this.connection.fields.clear().addNumber('version', <u64>version);
      this.connection.log(EntryType.Denied, 'protocol version 6 (Cassandra\'s beta) is not forwarded (Weir forwards v3, v4 and v5); answered with a protocol error so the client downgrades');
    }
    const denial = this.session.replies.deny(stream, reply);
    if (denial == StreamDenial.Full) return error(ErrorCode.TooManyPendingReplies);
    if (denial == StreamDenial.Queued) return drop(<u32>data.length);
    this.session.inFlight.add(stream);
    return this.replaceWith(Direction.Request, optionsProbe(PROBE_VERSION, stream), <u32>data.length);
  }

  // A stream id with no request in flight, for a probe of the filter's own.
  private freeStream(): i32 {
    let stream = 0;
    while (this.session.inFlight.has(stream)) stream++;
    return stream;
  }

  // Books the denial of the request just decided; a probe takes the request's stream id.
  private denyCurrent(): StreamDenial {
    const denial = this.session.replies.deny(this.policy.stream, this.policy.denyReply);
    if (denial == StreamDenial.Probe) this.session.inFlight.add(this.policy.stream);
    return denial;
  }

  private requestSegment(data: ByteView): Op {
    const ready = this.readSegment(data, 0);
    if (ready != 0) return ready;
    const total = this.segment.totalLength;
    if (!payloadCrcMatches(data, 0, this.segment.payloadLength)) return this.fail('v5 request segment payload fails its CRC32');
    if (!this.segment.selfContained) return this.largeRequest(data);
    const payloadEnd = SEGMENT_HEADER_BYTES + this.segment.payloadLength;
    let changed = false;
    let at = SEGMENT_HEADER_BYTES;
    while (at < payloadEnd) {
      const envelopeLength = this.envelopeIn(data, at, payloadEnd);
      if (envelopeLength < 0) return this.fail('v5 request segment holds a truncated envelope');
      narrowView(data, at, envelopeLength, this.frameView);
      const verdict = this.policy.decide(this.frameView);
      if (verdict == Verdict.Malformed) return this.fail(this.policy.problem);
      if (verdict == Verdict.Deny || changed) {
        if (!changed) this.startRebuild(data, SEGMENT_HEADER_BYTES, at);
        changed = true;
        if (verdict == Verdict.Forward) this.rebuilt.appendFromView(data, at, envelopeLength, false);
        else {
          const denial = this.denyCurrent();
          if (denial == StreamDenial.Full) return error(ErrorCode.TooManyPendingReplies);
          if (denial == StreamDenial.Probe) this.rebuilt.appendBuffer(optionsProbe(this.policy.version, this.policy.stream));
        }
      }
      at += envelopeLength;
    }
    if (!changed) return pass(<u32>total);
    if (this.rebuilt.length == 0) return drop(<u32>total);
    return this.replaceWith(Direction.Request, selfContainedSegment(this.rebuilt.toUint8Array()), <u32>total);
  }

  // A request envelope larger than one segment: reassembled from consecutive segments that are
  // not self-contained, decided as a whole, passed or replaced as a whole.
  private largeRequest(data: ByteView): Op {
    this.assembled.reset();
    let at = 0;
    while (true) {
      const ready = this.readSegment(data, at);
      if (ready != 0) return ready;
      if (this.segment.selfContained) return this.fail('a self-contained v5 segment interrupts a large request envelope');
      if (!payloadCrcMatches(data, at, this.segment.payloadLength)) return this.fail('v5 request segment payload fails its CRC32');
      if (at == 0 && this.segment.payloadLength < HEADER_BYTES) return this.fail('the first v5 segment of a large request holds no whole envelope header; Cassandra closes on that');
      this.assembled.appendFromView(data, at + SEGMENT_HEADER_BYTES, this.segment.payloadLength, false);
      at += this.segment.totalLength;
      const envelopeLength = this.frameLength(this.assembled.view, 0);
      if (envelopeLength == -2) return this.fail('large request envelope is over the protocol limit of 256 MB');
      if (envelopeLength > <i64>this.connection.settings.maxBufferBytes) return this.tooLarge(envelopeLength);
      if (envelopeLength > 0 && <i64>this.assembled.length >= envelopeLength) {
        if (<i64>this.assembled.length > envelopeLength) return this.fail('v5 segments of a large envelope carry extra bytes');
        break;
      }
    }
    const verdict = this.policy.decide(this.assembled.view);
    if (verdict == Verdict.Forward) return pass(<u32>at);
    if (verdict == Verdict.Malformed) return this.fail(this.policy.problem);
    const denial = this.denyCurrent();
    if (denial == StreamDenial.Full) return error(ErrorCode.TooManyPendingReplies);
    if (denial == StreamDenial.Queued) return drop(<u32>at);
    return this.replaceWith(Direction.Request, selfContainedSegmentOf(optionsProbe(this.policy.version, this.policy.stream)), <u32>at);
  }

  // ---- replies --------------------------------------------------------------------------

  private replyFrame(data: ByteView): Op {
    const frameLength = this.frameLength(data, 0);
    if (frameLength < 0) return frameLength == -1 ? more(<u32>(HEADER_BYTES - data.length)) : this.fail('reply frame body is over the protocol limit of 256 MB');
    if (!isResponse(data, 0)) return this.fail('a request frame (no response bit) arrived from the server');
    if ((flagsOf(data, 0) & FrameFlag.Compression) != 0) return this.fail('the server sent a compressed frame; Weir inspects only uncompressed CQL');
    const needed = this.replyBytesNeeded(data, <i32>frameLength);
    if (needed > data.length) return more(<u32>(needed - data.length));
    if (needed > 0) narrowView(data, 0, <i32>frameLength, this.frameView);
    const replacement = this.replyEffects(needed > 0 ? this.frameView : data, needed > 0);
    if (this.replyProblem.length > 0) return this.fail(this.replyProblem);
    if (replacement === null) return pass(<u32>frameLength);
    return this.replaceWith(Direction.Reply, replacement, <u32>frameLength);
  }

  private replySegment(data: ByteView): Op {
    const ready = this.readSegment(data, 0);
    if (ready != 0) return ready;
    const total = this.segment.totalLength;
    const payloadEnd = SEGMENT_HEADER_BYTES + this.segment.payloadLength;
    if (!this.segment.selfContained) return this.largeReplyPart(data, total);
    let changed = false;
    let at = SEGMENT_HEADER_BYTES;
    while (at < payloadEnd) {
      const envelopeLength = this.envelopeIn(data, at, payloadEnd);
      if (envelopeLength < 0) return this.fail('v5 reply segment holds a truncated envelope');
      narrowView(data, at, envelopeLength, this.frameView);
      const replacement = this.replyEffects(this.frameView, true);
      if (this.replyProblem.length > 0) return this.fail(this.replyProblem);
      if (replacement !== null || changed) {
        if (!changed) this.startRebuild(data, SEGMENT_HEADER_BYTES, at);
        changed = true;
        if (replacement !== null) this.rebuilt.appendBuffer(replacement);
        else this.rebuilt.appendFromView(data, at, envelopeLength, false);
      }
      at += envelopeLength;
    }
    if (!changed) return pass(<u32>total);
    if (!payloadCrcMatches(data, 0, this.segment.payloadLength)) return this.fail('v5 reply segment payload fails its CRC32');
    return this.replaceWith(Direction.Reply, selfContainedSegment(this.rebuilt.toUint8Array()), <u32>total);
  }

  // One segment of a large reply envelope: the first names the envelope (stream, opcode), the
  // rest are counted through.
  private largeReplyPart(data: ByteView, total: i32): Op {
    const payloadLength = this.segment.payloadLength;
    if (this.replyEnvelopeRemaining > 0) {
      this.replyEnvelopeRemaining -= <i64>payloadLength;
      if (this.replyEnvelopeRemaining < 0) return this.fail('v5 segments of a large reply carry extra bytes');
      return pass(<u32>total);
    }
    const envelopeLength = this.frameLength(data, SEGMENT_HEADER_BYTES);
    if (envelopeLength < 0 || payloadLength < HEADER_BYTES) return this.fail('large v5 reply does not start with an envelope header');
    this.replyEnvelopeRemaining = envelopeLength - <i64>payloadLength;
    narrowView(data, SEGMENT_HEADER_BYTES, payloadLength, this.frameView);
    const replacement = this.replyEffects(this.frameView, true);
    if (this.replyProblem.length > 0) return this.fail(this.replyProblem);
    if (replacement !== null) return this.fail('the answer to a probe spans several v5 segments');
    return pass(<u32>total);
  }

  // How many bytes of a reply frame must be buffered before it is passed: the whole frame when
  // the session reads its body (RESULT Prepared / Set_keyspace), else 0 (passed as it streams).
  private replyBytesNeeded(data: ByteView, frameLength: i32): i32 {
    if (opcodeOf(data, 0) != Opcode.Result) return 0;
    const kindAt = responseMessageStart(data, 0, flagsOf(data, 0));
    if (kindAt >= 0 && kindAt + 4 <= frameLength && data.has(kindAt, 4)) {
      const kind = data.u32be(kindAt);
      return kind == ResultKind.Prepared || kind == ResultKind.SetKeyspace ? frameLength : 0;
    }
    if (kindAt == MALFORMED || (kindAt >= 0 && kindAt + 4 > frameLength)) return 0; // nothing to read: pass it
    // the result kind has not arrived yet
    return data.length + 1 < frameLength ? data.length + 1 : frameLength;
  }

  // Reads what the session needs from one reply envelope (`whole`: the view holds all of it) and
  // returns the deny reply that replaces it when it answers one of our probes. Sets
  // `replyProblem` when the reply cannot be squared with the requests in flight.
  private replyEffects(view: ByteView, whole: bool): ArrayBuffer | null {
    this.replyProblem = '';
    const stream = streamOf(view, 0);
    const opcode = opcodeOf(view, 0);
    const session = this.session;
    if (opcode == Opcode.Event && stream == -1) return null; // a pushed event answers no request
    if (!session.inFlight.remove(stream)) {
      this.replyProblem = 'Cassandra sent a reply on stream ' + stream.toString() + ', which carries no request in flight';
      return null;
    }
    if (!session.handshake.replied(stream, opcode)) {
      this.replyProblem = 'Cassandra answered STARTUP with opcode 0x' + opcode.toString(16) + ', neither READY, AUTHENTICATE nor ERROR';
      return null;
    }
    let keyspace: ArrayBuffer | null = null;
    if (opcode == Opcode.Result && whole) keyspace = this.resultEffects(view, stream);
    else session.prepared.forgetStream(stream);
    session.keyspace.replied(stream, keyspace, opcode == Opcode.Error);
    return session.replies.replied(stream);
  }

  // A RESULT: binds a prepared id, or returns the keyspace of a Set_keyspace result.
  private resultEffects(view: ByteView, stream: i32): ArrayBuffer | null {
    const kindAt = responseMessageStart(view, 0, flagsOf(view, 0));
    const kind = kindAt < 0 ? -1 : view.u32be(kindAt);
    if (kind == ResultKind.Prepared) {
      const idLength = view.u16be(kindAt + 4);
      if (idLength >= 0 && view.has(kindAt + 6, idLength)) this.session.prepared.bind(stream, view, kindAt + 6, idLength);
      else this.session.prepared.forgetStream(stream);
      return null;
    }
    this.session.prepared.forgetStream(stream);
    if (kind != ResultKind.SetKeyspace) return null;
    const end = skipString(view, kindAt + 4);
    if (end < 0) return null;
    const length = end - kindAt - 6;
    const keyspace = new Uint8Array(length);
    for (let i = 0; i < length; i++) keyspace[i] = <u8>view.byteAt(kindAt + 6 + i);
    return keyspace.buffer;
  }

  // Deny replies waiting for a reply boundary go out now (each in its own segment under v5).
  private flushDenials(): Op {
    let count: u32 = 0;
    while (true) {
      const denyReply = this.session.replies.takePending();
      if (denyReply === null) break;
      const bytes = this.session.segmented ? selfContainedSegmentOf(denyReply) : denyReply;
      this.connection.injectHere(Direction.Reply, bytes);
      count += <u32>bytes.byteLength;
    }
    return inject(count);
  }

  // ---- shared framing -------------------------------------------------------------------

  // Total length of the envelope at `at` (header + body), -1 while the header is incomplete, -2
  // when the body length is over the protocol's limit.
  private frameLength(view: ByteView, at: i32): i64 {
    if (!view.has(at, HEADER_BYTES)) return -1;
    const body = bodyLengthOf(view, at);
    if (body < 0) return -2;
    return <i64>HEADER_BYTES + body;
  }

  // Length of the envelope at `at` that must end by `limit`, or -1.
  private envelopeIn(data: ByteView, at: i32, limit: i32): i32 {
    const length = this.frameLength(data, at);
    if (length < 0 || <i64>at + length > <i64>limit) return -1;
    return <i32>length;
  }

  // 0 when the whole segment at `at` is buffered (header in this.segment), else the op to return.
  private readSegment(data: ByteView, at: i32): Op {
    const payload = this.segment.read(data, at);
    if (payload == -1) return more(<u32>(at + SEGMENT_HEADER_BYTES - data.length));
    if (payload < 0) return this.fail('v5 segment header fails its CRC24 (or uses the compressed format)');
    const end = at + this.segment.totalLength;
    if (end > data.length) return more(<u32>(end - data.length));
    return 0;
  }

  private startRebuild(data: ByteView, from: i32, to: i32): void {
    this.rebuilt.reset();
    this.rebuilt.appendFromView(data, from, to - from, false);
  }

  // INJECT `bytes` where the next `count` bytes were, then DROP those on the next call.
  private replaceWith(direction: Direction, bytes: ArrayBuffer, count: u32): Op {
    if (direction == Direction.Request) this.requestDropNext = count;
    else this.replyDropNext = count;
    if (bytes.byteLength == 0) return this.dropNext(direction);
    this.connection.injectHere(direction, bytes);
    return inject(<u32>bytes.byteLength);
  }

  private dropNext(direction: Direction): Op {
    const count = direction == Direction.Request ? this.requestDropNext : this.replyDropNext;
    if (direction == Direction.Request) this.requestDropNext = 0;
    else this.replyDropNext = 0;
    return drop(count);
  }

  private tooLarge(frameLength: i64): Op {
    this.connection.errorDetail = 'CQL frame of ' + frameLength.toString() + ' bytes exceeds maxBufferBytes (' + this.connection.settings.maxBufferBytes.toString() + '); raise maxBufferBytes in the plugin configuration if such frames are legitimate';
    return error(ErrorCode.InvalidFrameLength);
  }

  private fail(problem: string): Op {
    this.connection.errorDetail = problem;
    return error(ErrorCode.InvalidFrameType);
  }
}

export class CassandraFactory extends ParserFactory {
  private schema: CassandraRuleSchema = new CassandraRuleSchema();

  get protocol(): string {
    return 'cassandra';
  }

  ruleSchema(): RuleSchema {
    return this.schema;
  }

  create(connection: Connection): Parser {
    return new CassandraParser(connection);
  }
}
