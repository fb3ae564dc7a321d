// Cassandra's CQL native protocol (v3, v4 and v5) as a Weir parser, Cilium's `cassandra` l7proto.
// Frames both directions: 9-byte-header frames, and after a v5 STARTUP is answered, v5 segments
// (segments.ts) holding one or more envelopes or a part of a large one. Each request envelope is
// decided by request-policy.ts; a denied one never reaches the server and is answered on its own
// stream id with ERROR 0x2100 "Request Unauthorized" (or UNPREPARED 0x2500 for an unknown prepared
// id): at the next reply boundary when a reply is outstanding, else by an OPTIONS probe on that
// stream id whose SUPPORTED answer is replaced (the SDK's stream-id reply correlation). Reply
// frames are passed, reading only what the session needs: prepared ids, the keyspace of USE,
// the switch to v5 segments. Segments that change are rebuilt with fresh CRCs; nothing the
// parser could not inspect is passed (compressed frames fail the connection).
// See README.md for rules, logs and limits.
import { ByteBuffer, ByteView, Connection, Denial, Direction, EntryType, ErrorCode, MALFORMED, Op, Parser, ParserFactory, RuleSchema, drop, error, inject, more, nop, pass } from '../../sdk/index';
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
import { MAX_STREAM_IDS } from './keyspace-tracking';
import { RequestPolicy, Verdict } from './request-policy';
import { CASSANDRA_RULE_KEYS } from './rule-keys';
import { optionsProbe, versionRefusalStream, versionRefusedReply } from './replies';
import { SEGMENT_HEADER_BYTES, SegmentHeader, payloadCrcMatches, selfContainedSegment, selfContainedSegmentOf } from './segments';
import { CqlSession } from './session';

// The probe version before the start (for a refused version or STARTUP): v5, which Cassandra 5
// always accepts (v3 and v4 only while native_transport_allow_older_protocols is on).
const PROBE_VERSION: i32 = 5;
// Cassandra 5.0's beta protocol version (ProtocolVersion.V6), which it serves with USE_BETA.
const BETA_VERSION: i32 = 6;

// How much of a reply envelope the view passed to replyEffects holds.
const enum Body {
  Whole = 0,
  Streaming = 1, // only its start: the rest is passed as it arrives
}

const enum Framing {
  Frame = 0, // a v3/v4 frame
  Segment = 1, // a v5 segment
}

export class CassandraParser extends Parser {
  private session: CqlSession;
  private policy: RequestPolicy;
  private frameView: ByteView = new ByteView();
  private segment: SegmentHeader = new SegmentHeader();
  // A segment being rebuilt, and a large envelope reassembled from its segments.
  private rebuilt: ByteBuffer;
  private assembled: ByteBuffer;
  private assembledView: ByteView = new ByteView();
  // Reply bytes of a large v5 envelope still to come in further segments.
  private replyEnvelopeRemaining: i64 = 0;
  // Set by replyEffects when a reply does not fit the requests in flight (the connection fails).
  private replyProblem: string = '';

  constructor(private connection: Connection) {
    super();
    connection.answersByStreamId(MAX_STREAM_IDS);
    const session = new CqlSession();
    this.session = session;
    this.policy = new RequestPolicy(connection, session);
    this.rebuilt = connection.buffer();
    this.assembled = connection.buffer();
  }

  onData(reply: bool, endStream: bool, data: ByteView): Op {
    if (reply) {
      const denials = this.replyEnvelopeRemaining == 0 ? this.queueDenials() : 0;
      if (denials > 0) return inject(denials);
      if (data.length == 0) return nop();
      return this.session.segmented ? this.replySegment(data) : this.replyFrame(data);
    }
    if (data.length == 0) return nop();
    const gate = this.requestGate(data);
    if (gate != 0) return gate;
    return this.session.segmented ? this.requestSegment(data) : this.requestFrame(data);
  }

  // ---- requests -------------------------------------------------------------------------

  private requestFrame(data: ByteView): Op {
    const frameLength = this.frameLength(data, 0);
    if (frameLength < 0) return frameLength == -1 ? more(<u32>(HEADER_BYTES - data.length)) : this.fail('request frame body is over the protocol limit of 256 MB');
    if (!this.connection.fitsBuffer(frameLength)) return this.connection.tooLarge(frameLength, 'CQL frame');
    if (<i64>data.length < frameLength) return more(<u32>(frameLength - <i64>data.length));
    this.frameView.narrowTo(data, 0, <i32>frameLength);
    const verdict = this.policy.decide(this.frameView);
    const probeVersion = this.session.handshake.phase == Phase.Initial ? PROBE_VERSION : this.policy.version;
    return this.settle(verdict, <u32>frameLength, probeVersion, Framing.Frame);
  }

  // The op for a decided request of `length` bytes: PASS, fail, or refused (the deny reply on its
  // stream id, queued or through an OPTIONS probe in its place, framed as the request was).
  private settle(verdict: Verdict, length: u32, probeVersion: i32, framing: Framing): Op {
    if (verdict == Verdict.Forward) return pass(length);
    if (verdict == Verdict.Malformed) return this.fail(this.policy.problem);
    const probe = optionsProbe(probeVersion, this.policy.stream);
    return this.connection.refuse(length, this.policy.denyReply, framing == Framing.Segment ? selfContainedSegmentOf(probe) : probe, this.policy.stream);
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
    if (stream < 0 || this.connection.awaitsReply(stream)) stream = this.freeStream();
    this.session.handshake.refuse('protocol version ' + version.toString() + ' was refused (Weir forwards v3, v4 and v5); reconnect with one of those');
    // Cassandra refuses every version but its v6 beta itself (drivers probe with them): only
    // refusing the beta is Weir's own decision, so only that is logged.
    if (version == BETA_VERSION) {
      this.connection.fields.clear().addNumber('version', <u64>version);
      this.connection.log(EntryType.Denied, 'protocol version 6 (Cassandra\'s beta) is not forwarded (Weir forwards v3, v4 and v5); answered with a protocol error so the client downgrades');
    }
    return this.connection.refuse(<u32>data.length, reply, optionsProbe(PROBE_VERSION, stream), stream);
  }

  // A stream id with no request in flight, for a probe of the filter's own.
  private freeStream(): i32 {
    let stream = 0;
    while (this.connection.awaitsReply(stream)) stream++;
    return stream;
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
      this.frameView.narrowTo(data, at, envelopeLength);
      const verdict = this.policy.decide(this.frameView);
      if (verdict == Verdict.Malformed) return this.fail(this.policy.problem);
      if (verdict == Verdict.Deny || changed) {
        if (!changed) this.startRebuild(data, SEGMENT_HEADER_BYTES, at);
        changed = true;
        if (verdict == Verdict.Forward) this.rebuilt.appendFromView(data, at, envelopeLength);
        else {
          // one envelope of several: the probe, if any, goes into the rebuilt segment
          const denial = this.connection.denyOn(this.policy.stream, this.policy.denyReply);
          if (denial == Denial.Full) return this.connection.tooManyPending();
          if (denial == Denial.Probe) this.rebuilt.appendArrayBuffer(optionsProbe(this.policy.version, this.policy.stream));
        }
      }
      at += envelopeLength;
    }
    if (!changed) return pass(<u32>total);
    return this.connection.replace(<u32>total, this.rebuiltSegment());
  }

  // A request envelope larger than one segment: reassembled from consecutive segments that are
  // not self-contained, decided as a whole, passed or replaced as a whole.
  private largeRequest(data: ByteView): Op {
    this.assembled.clear();
    let at = 0;
    while (true) {
      const ready = this.readSegment(data, at);
      if (ready != 0) return ready;
      if (this.segment.selfContained) return this.fail('a self-contained v5 segment interrupts a large request envelope');
      if (!payloadCrcMatches(data, at, this.segment.payloadLength)) return this.fail('v5 request segment payload fails its CRC32');
      if (at == 0 && this.segment.payloadLength < HEADER_BYTES) return this.fail('the first v5 segment of a large request holds no whole envelope header; Cassandra closes on that');
      this.assembled.appendFromView(data, at + SEGMENT_HEADER_BYTES, this.segment.payloadLength);
      at += this.segment.totalLength;
      const envelopeLength = this.frameLength(this.assembled.viewInto(this.assembledView), 0);
      if (envelopeLength == -2) return this.fail('large request envelope is over the protocol limit of 256 MB');
      if (!this.connection.fitsBuffer(envelopeLength)) return this.connection.tooLarge(envelopeLength, 'CQL frame');
      if (envelopeLength > 0 && <i64>this.assembled.length >= envelopeLength) {
        if (<i64>this.assembled.length > envelopeLength) return this.fail('v5 segments of a large envelope carry extra bytes');
        break;
      }
    }
    const verdict = this.policy.decide(this.assembled.viewInto(this.assembledView));
    return this.settle(verdict, <u32>at, this.policy.version, Framing.Segment);
  }

  // ---- replies --------------------------------------------------------------------------

  private replyFrame(data: ByteView): Op {
    const frameLength = this.frameLength(data, 0);
    if (frameLength < 0) return frameLength == -1 ? more(<u32>(HEADER_BYTES - data.length)) : this.fail('reply frame body is over the protocol limit of 256 MB');
    if (!isResponse(data, 0)) return this.fail('a request frame (no response bit) arrived from the server');
    if ((flagsOf(data, 0) & FrameFlag.Compression) != 0) return this.fail('the server sent a compressed frame; Weir inspects only uncompressed CQL');
    const needed = this.replyBytesNeeded(data, <i32>frameLength);
    if (needed > data.length) return more(<u32>(needed - data.length));
    if (needed > 0) this.frameView.narrowTo(data, 0, <i32>frameLength);
    const replacement = needed > 0 ? this.replyEffects(this.frameView, Body.Whole) : this.replyEffects(data, Body.Streaming);
    if (this.replyProblem.length > 0) return this.fail(this.replyProblem);
    if (replacement === null) return pass(<u32>frameLength);
    return this.connection.replace(<u32>frameLength, replacement);
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
      this.frameView.narrowTo(data, at, envelopeLength);
      const replacement = this.replyEffects(this.frameView, Body.Whole);
      if (this.replyProblem.length > 0) return this.fail(this.replyProblem);
      if (replacement !== null || changed) {
        if (!changed) this.startRebuild(data, SEGMENT_HEADER_BYTES, at);
        changed = true;
        if (replacement !== null) this.rebuilt.appendArrayBuffer(replacement);
        else this.rebuilt.appendFromView(data, at, envelopeLength);
      }
      at += envelopeLength;
    }
    if (!changed) return pass(<u32>total);
    if (!payloadCrcMatches(data, 0, this.segment.payloadLength)) return this.fail('v5 reply segment payload fails its CRC32');
    return this.connection.replace(<u32>total, this.rebuiltSegment());
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
    this.frameView.narrowTo(data, SEGMENT_HEADER_BYTES, payloadLength);
    const replacement = this.replyEffects(this.frameView, Body.Whole);
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

  // Reads what the session needs from one reply envelope (Body.Whole: the view holds all of it) and
  // returns the deny reply that replaces it when it answers one of our probes. Sets
  // `replyProblem` when the reply cannot be squared with the requests in flight.
  private replyEffects(view: ByteView, body: Body): ArrayBuffer | null {
    this.replyProblem = '';
    const stream = streamOf(view, 0);
    const opcode = opcodeOf(view, 0);
    const session = this.session;
    if (opcode == Opcode.Event && stream == -1) return null; // a pushed event answers no request
    if (!this.connection.awaitsReply(stream)) {
      this.replyProblem = 'Cassandra sent a reply on stream ' + stream.toString() + ', which carries no request in flight';
      return null;
    }
    if (!session.handshake.replied(stream, opcode)) {
      this.replyProblem = 'Cassandra answered STARTUP with opcode 0x' + opcode.toString(16) + ', neither READY, AUTHENTICATE nor ERROR';
      return null;
    }
    let keyspace: ArrayBuffer | null = null;
    if (opcode == Opcode.Result && body == Body.Whole) keyspace = this.resultEffects(view, stream);
    else session.prepared.forgetStream(stream);
    session.keyspace.replied(stream, keyspace, opcode == Opcode.Error);
    return this.connection.answered(stream);
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

  // At a reply boundary: queues the deny replies whose turn has come (each in its own segment
  // under v5) for an INJECT of the returned byte count (0: none).
  private queueDenials(): u32 {
    let count: u32 = 0;
    while (true) {
      const denyReply = this.connection.takeDueReply();
      if (denyReply === null) break;
      const bytes = this.session.segmented ? selfContainedSegmentOf(denyReply) : denyReply;
      this.connection.injectHere(Direction.Reply, bytes);
      count += <u32>bytes.byteLength;
    }
    return count;
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
    this.rebuilt.clear();
    this.rebuilt.appendFromView(data, from, to - from);
  }

  // The rebuilt payload as one self-contained segment; empty when no envelope is left.
  private rebuiltSegment(): ArrayBuffer {
    if (this.rebuilt.length == 0) return new ArrayBuffer(0);
    return selfContainedSegment(Uint8Array.wrap(this.rebuilt.copyOut(0, <i32>this.rebuilt.length)));
  }

  private fail(problem: string): Op {
    this.connection.errorDetail = problem;
    return error(ErrorCode.InvalidFrameType);
  }
}

export class CassandraFactory extends ParserFactory {
  get protocol(): string {
    return 'cassandra';
  }

  ruleSchema(): RuleSchema {
    return CASSANDRA_RULE_KEYS;
  }

  create(connection: Connection): Parser {
    return new CassandraParser(connection);
  }
}
