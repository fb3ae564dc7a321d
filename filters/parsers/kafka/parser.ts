// Apache Kafka as a Weir parser, l7proto `kafka`, with Cilium's Kafka rule keys: `apiKey` (a set
// of API names the control server expanded from `role` or `apiKey`), `apiVersion`, `clientID`
// and `topic`. Frames requests exactly as the broker does (INT32 size, request header v0-v2,
// every field of the body through the protocol table at every version Kafka 3.9 and 4.4 know) and
// closes the connection on anything the broker would not read the same way. Decides per topic:
// a request is forwarded only when every topic it names is allowed (each by some rule); otherwise
// it never reaches the broker and the client gets that API version's response with
// TOPIC_AUTHORIZATION_FAILED per denied topic (deny-response.ts). Metadata is the exception: its
// denied topics are taken out of the request and added back to the response with the error, so
// clients learn the brokers and fail with an authorization error instead of waiting. Responses
// are framed by size and matched to requests by correlation id (in-flight.ts). See README.md.
import { ByteView, Connection, EntryType, ErrorCode, Op, Parser, ParserFactory, Rule, RuleSchema, drop, error, inject, more, nop, pass } from '../../sdk/index';
import { Direction } from '../../sdk/index';
import { ApiNames } from './api-names';
import { KAFKA_RULE_KEYS, KafkaKey, KafkaRecord } from './kafka-record';
import { ByteWriter } from './byte-writer';
import { DenyResponseWriter, KafkaError } from './deny-response';
import { InFlightQueue, InFlightRequest, ResponseAction } from './in-flight';
import { MessageFacts } from './message-facts';
import { MessageWalker } from './message-walker';
import { ApiVersion, ProtocolTable } from './protocol-table-layout';
import { ResponseRewriter } from './response-rewrite';
import { PrefixStatus, ProduceStream, SegmentStatus } from './produce-stream';
import { idKey, TopicIds } from './topic-ids';
import { VarintReader, i16be, i32be } from './wire';


const enum ApiKeyNumber {
  Produce = 0,
  Fetch = 1,
  Metadata = 3,
  SaslHandshake = 17,
  ApiVersions = 18,
}

// The request-level error of a denied request that names no topic, by API key: group APIs answer
// GROUP_AUTHORIZATION_FAILED, transaction APIs TRANSACTIONAL_ID_AUTHORIZATION_FAILED, the rest
// CLUSTER_AUTHORIZATION_FAILED (topic APIs answer per topic).
const GROUP_APIS: Array<i32> = [10, 11, 12, 13, 14, 15, 16, 42, 68, 69, 76, 77, 88, 89];
const TRANSACTION_APIS: Array<i32> = [25, 26];

// The smallest request header: api key, api version, correlation id.
const MIN_REQUEST_BYTES: i32 = 8;
const SIZE_BYTES: i32 = 4;
const NULL_LENGTH: i32 = -1;

// Shared by every connection of this VM (read-only after start, except the topic id cache).
const TABLE = new ProtocolTable();
const NAMES = new ApiNames();
const TOPIC_IDS = new TopicIds();

export class KafkaParser extends Parser {
  private walker: MessageWalker = new MessageWalker(TABLE);
  private facts: MessageFacts = new MessageFacts();
  private api: ApiVersion = new ApiVersion();
  private frame: ByteView = new ByteView();
  private values: KafkaRecord;
  private varint: VarintReader = new VarintReader();
  private writer: ByteWriter = new ByteWriter();
  private denials: DenyResponseWriter;
  private rewriter: ResponseRewriter;
  private inFlight: InFlightQueue = new InFlightQueue();
  private produceStream: ProduceStream = new ProduceStream();
  private entryCodes: Array<i32> = new Array<i32>();
  // A frame replaced by INJECT: its original bytes are dropped by the next call, per direction.
  private pendingDrop: StaticArray<i32> = new StaticArray<i32>(2);
  private pendingReplyEnds: bool = false;
  // Request header fields of the request being decided.
  private correlationId: i32 = 0;
  private clientIdOffset: i32 = -1;
  private clientIdLength: i32 = NULL_LENGTH;
  private bodyStart: i32 = 0;

  constructor(private connection: Connection) {
    super();
    const denials = new DenyResponseWriter(TABLE);
    const values = new KafkaRecord(NAMES);
    this.denials = denials;
    this.values = values;
    this.rewriter = new ResponseRewriter(TABLE, denials, values);
  }

  onData(reply: bool, endStream: bool, data: ByteView): Op {
    const direction = reply ? Direction.Reply : Direction.Request;
    const pending = this.pendingDrop[direction];
    if (pending > 0) {
      this.pendingDrop[direction] = 0;
      if (reply && this.pendingReplyEnds) this.connection.endOfReply();
      return drop(<u32>pending);
    }
    if (!reply && this.produceStream.active) {
      const op = this.produceSegment(data);
      if (op != 0) return op;
    }
    if (data.length == 0) return nop();
    if (data.length < SIZE_BYTES) return more(<u32>(SIZE_BYTES - data.length));
    const size = i32be(data, 0);
    const smallest = reply ? SIZE_BYTES : MIN_REQUEST_BYTES;
    if (size < smallest) {
      return this.fail(ErrorCode.InvalidFrameLength, 'Kafka ' + (reply ? 'response' : 'request') + ' size ' + size.toString() + ' is below the smallest ' + (reply ? 'response' : 'request') + ' header');
    }
    if (!this.connection.fitsBuffer(<i64>size + SIZE_BYTES)) return this.connection.tooLarge(size, reply ? 'Kafka response' : 'Kafka request', ErrorCode.FrameTooLarge);
    return reply ? this.onResponse(data, size) : this.onRequest(data, size);
  }

  // ---- requests ----

  private onRequest(data: ByteView, size: i32): Op {
    const frameLength = SIZE_BYTES + size;
    if (data.length < frameLength) {
      const streamed = this.streamProduce(data, frameLength);
      return streamed != 0 ? streamed : more(<u32>(frameLength - data.length));
    }
    const frame = this.frame;
    frame.setWindow(data.pointer, frameLength);
    const apiKey = i16be(frame, 4);
    const version = i16be(frame, 6);
    this.correlationId = i32be(frame, 8);
    if (!TABLE.lookup(apiKey, version, this.api)) return this.unknownApi(frame, apiKey, version, frameLength);
    if (apiKey == ApiKeyNumber.SaslHandshake && version == 0) {
      return this.fail(ErrorCode.InvalidFrameType, 'SaslHandshake v0 switches the connection to raw SASL frames the filter cannot read; clients must use SaslHandshake v1 and SaslAuthenticate');
    }
    const bodyStart = this.requestHeader(frame, this.api.requestHeaderVersion);
    if (bodyStart < 0) return this.fail(ErrorCode.InvalidFrameType, 'malformed ' + NAMES.textOf(apiKey) + ' v' + version.toString() + ' request header');
    this.bodyStart = bodyStart;
    const facts = this.facts;
    facts.reset();
    const end = this.walker.walk(frame, bodyStart, this.api.requestProgram, facts);
    if (end != frameLength) {
      const why = end < 0 ? 'does not parse' : 'has ' + (frameLength - end).toString() + ' bytes after its last field';
      return this.fail(ErrorCode.InvalidFrameType, NAMES.textOf(apiKey) + ' v' + version.toString() + ' request (correlation id ' + this.correlationId.toString() + ') ' + why + '; the broker would not read it as the filter does');
    }
    if (this.inFlight.isFull) return this.fail(ErrorCode.TooManyPendingReplies, 'more than 4096 Kafka requests await a response');
    if (apiKey == ApiKeyNumber.Metadata) return this.metadataRequest(frame, frameLength);
    const allowed = this.decide(frame);
    this.logRequest(frame, allowed);
    if (!allowed) return this.deny(frame, frameLength);
    return this.forward(frame, frameLength);
  }

  // A Produce request to one allowed topic is forwarded while it arrives (produce-stream.ts);
  // returns 0 when the frame must be read whole instead.
  private streamProduce(data: ByteView, frameLength: i32): Op {
    if (data.length < 8 || i16be(data, 4) != ApiKeyNumber.Produce) return 0;
    const frame = this.frame;
    frame.setWindow(data.pointer, data.length);
    if (!TABLE.lookup(ApiKeyNumber.Produce, i16be(frame, 6), this.api)) return 0;
    const bodyStart = this.requestHeader(frame, this.api.requestHeaderVersion);
    if (bodyStart < 0) return more(1);
    const stream = this.produceStream;
    const status = stream.readPrefix(frame, bodyStart, this.api.version, this.api.requestHeaderVersion >= 2, frameLength);
    if (status == PrefixStatus.NeedMore) return more(1);
    if (status != PrefixStatus.Ready || this.inFlight.isFull) return 0;
    this.correlationId = i32be(frame, 8);
    this.bodyStart = bodyStart;
    const facts = this.facts;
    facts.reset();
    facts.addStandalone(stream.nameOffset, stream.nameLength, stream.idOffset);
    facts.acks = stream.acks;
    if (!this.decide(frame)) return 0; // denied: read it whole and answer it
    this.logRequest(frame, true);
    stream.begin(frameLength);
    return pass(<u32>stream.prefixEnd);
  }

  // The next piece of a streamed Produce request; 0 when it is complete and `data` starts a frame.
  private produceSegment(data: ByteView): Op {
    const stream = this.produceStream;
    const status = stream.segment(data);
    if (status == SegmentStatus.Pass) {
      // The broker has a complete request (and can answer it) only once this last pass is written;
      // a request that failed before never gets an answer, so none is expected before then.
      if (!stream.active && stream.acks != 0) {
        this.connection.expectReply();
        this.track(ResponseAction.Pass);
      }
      return pass(<u32>stream.count);
    }
    if (status == SegmentStatus.NeedMore) return more(1);
    if (status == SegmentStatus.Done) return 0;
    return this.fail(ErrorCode.InvalidFrameType, 'Produce request (correlation id ' + this.correlationId.toString() + ') does not parse after its record batch; the broker would not read it as the filter does (its last bytes were held back)');
  }

  // Parses the request header after api key, version and correlation id; returns the body's start.
  private requestHeader(frame: ByteView, headerVersion: i32): i32 {
    let at = 12;
    this.clientIdOffset = -1;
    this.clientIdLength = NULL_LENGTH;
    if (headerVersion >= 1) {
      // client_id is a classic nullable string in every header version.
      if (!frame.has(at, 2)) return -1;
      const length = i16be(frame, at);
      at += 2;
      if (length >= 0) {
        if (!frame.has(at, length)) return -1;
        this.clientIdOffset = at;
        this.clientIdLength = length;
        at += length;
      }
    }
    if (headerVersion >= 2) at = this.skipTaggedFields(frame, at);
    return at;
  }

  // The request header has no known tagged fields: each is skipped by its size.
  private skipTaggedFields(frame: ByteView, at: i32): i32 {
    const varint = this.varint;
    const count = varint.unsigned(frame, at);
    if (varint.varintBytes < 0) return -1;
    at += varint.varintBytes;
    for (let i = 0; i < count; i++) {
      varint.unsigned(frame, at);
      if (varint.varintBytes < 0) return -1;
      at += varint.varintBytes;
      const size = varint.unsigned(frame, at);
      if (varint.varintBytes < 0 || size < 0) return -1;
      at += varint.varintBytes;
      if (!frame.has(at, size)) return -1;
      at += size;
    }
    return at;
  }

  // A key or version the table lacks. ApiVersions above the highest known version is answered as
  // the broker answers it (UNSUPPORTED_VERSION, v0 layout), so clients fall back to one the filter
  // reads; anything else closes the connection: the filter cannot know how the broker frames it.
  private unknownApi(frame: ByteView, apiKey: i32, version: i32, frameLength: i32): Op {
    const highest = TABLE.highestVersion(apiKey);
    if (apiKey == ApiKeyNumber.ApiVersions && version > highest) {
      this.connection.fields.addString('apiKey', NAMES.textOf(apiKey)).addNumber('apiVersion', <u64>version);
      this.connection.log(EntryType.Denied, 'ApiVersions v' + version.toString() + ' is newer than the filter reads (v' + highest.toString() + '); answered UNSUPPORTED_VERSION so the client retries with v' + highest.toString());
      return this.denyWith(this.denials.unsupportedApiVersions(this.correlationId), frameLength);
    }
    const name = highest < 0 ? 'unknown API key ' + apiKey.toString() : NAMES.textOf(apiKey) + ' v' + version.toString() + ' (the filter reads v' + TABLE.lowestVersion(apiKey).toString() + '-v' + highest.toString() + ')';
    return this.fail(ErrorCode.InvalidFrameType, 'Kafka request for ' + name + '; the filter cannot frame it as the broker does');
  }

  // Fills entryCodes and returns true when the request may reach the broker.
  private decide(frame: ByteView): bool {
    const facts = this.facts;
    const codes = this.entryCodes;
    codes.length = 0;
    const api = this.api;
    if (!api.namesTopics || (facts.topicCount == 0 && !facts.allTopics && !facts.pattern)) {
      this.fillRecord(frame);
      this.connection.record.setUnconstrained(KafkaKey.Topic);
      return this.connection.allowsRequest();
    }
    let allowed = true;
    if (facts.allTopics || facts.pattern) {
      // Every topic (or a pattern): only a rule without a topic constraint allows it.
      this.fillRecord(frame);
      if (!this.connection.allowsRequest()) allowed = false;
    }
    for (let e = 0; e < facts.topicCount; e++) {
      const code = this.decideTopic(frame, e);
      codes.push(code);
      if (code != KafkaError.None) allowed = false;
    }
    if (!allowed) {
      for (let e = 0; e < codes.length; e++) if (codes[e] == KafkaError.None) codes[e] = KafkaError.OperationNotAttempted;
    }
    return allowed;
  }

  // The verdict for topic entry `e`: None, TOPIC_AUTHORIZATION_FAILED or UNKNOWN_TOPIC_ID.
  private decideTopic(frame: ByteView, e: i32): i32 {
    const facts = this.facts;
    this.fillRecord(frame);
    const record = this.connection.record;
    if (facts.hasName(e)) {
      record.set(KafkaKey.Topic, frame, facts.nameOffset[e], facts.nameLength[e]);
      return this.connection.allowsRequest() ? KafkaError.None : KafkaError.TopicAuthorizationFailed;
    }
    const name = facts.hasId(e) ? TOPIC_IDS.nameOf(frame, facts.idOffset[e]) : null;
    if (name === null) return this.connection.allowsRequest() ? KafkaError.None : KafkaError.UnknownTopicId;
    this.values.topicFromBuffer(record, name);
    return this.connection.allowsRequest() ? KafkaError.None : KafkaError.TopicAuthorizationFailed;
  }

  // apiKey, apiVersion and clientID of the current request; topic absent.
  private fillRecord(frame: ByteView): void {
    const record = this.connection.record;
    this.values.start(record, this.api.apiKey, this.api.version);
    if (this.clientIdLength >= 0) record.set(KafkaKey.ClientId, frame, this.clientIdOffset, this.clientIdLength);
  }

  private forward(frame: ByteView, frameLength: i32): Op {
    const api = this.api;
    if (api.apiKey == ApiKeyNumber.Produce && this.facts.acks == 0) return pass(<u32>frameLength); // acks=0: no response comes
    this.connection.expectReply();
    const entry = this.track(ResponseAction.Pass);
    if (api.apiKey == ApiKeyNumber.ApiVersions) entry.action = ResponseAction.ClampApiVersions;
    if (api.apiKey == ApiKeyNumber.Fetch && this.facts.sessionIdOffset >= 0) return this.sessionless(frame, frameLength);
    return pass(<u32>frameLength);
  }

  // Fetch v7+: the filter makes every fetch sessionless (session id 0, epoch -1). In a fetch
  // session the broker answers for partitions earlier requests named, so a request would not say
  // which topics it reads, and a policy change could not reach a consumer mid-stream.
  private sessionless(frame: ByteView, frameLength: i32): Op {
    const idAt = this.facts.sessionIdOffset;
    const epochAt = this.facts.sessionEpochOffset;
    if (i32be(frame, idAt) == 0 && i32be(frame, epochAt) == -1) return pass(<u32>frameLength);
    const out = this.writer;
    out.reset();
    out.fromView(frame, 0, frameLength);
    out.patchI32(idAt, 0);
    out.patchI32(epochAt, -1);
    return this.replaceFrame(Direction.Request, out.toArrayBuffer(), frameLength, false);
  }

  private deny(frame: ByteView, frameLength: i32): Op {
    const api = this.api;
    if (api.apiKey == ApiKeyNumber.Produce && this.facts.acks == 0) return drop(<u32>frameLength); // the client reads no response
    const requestCode = api.namesTopics ? KafkaError.TopicAuthorizationFailed : requestLevelCode(api.apiKey);
    const response = this.denials.build(api, this.correlationId, frame, this.facts, this.entryCodes, requestCode);
    return this.denyWith(response, frameLength);
  }

  // Drops the request; `response` reaches the client at its place among the responses (the SDK
  // sends a probe, ApiVersions v0 with the same correlation id, when none is outstanding).
  private denyWith(response: ArrayBuffer, frameLength: i32): Op {
    const probing = this.connection.replies.isEmpty;
    if (!this.connection.deny(response, this.probe())) return this.fail(ErrorCode.TooManyPendingReplies, 'too many denied Kafka requests await their turn');
    if (probing) {
      const entry = this.inFlight.push();
      entry.correlationId = this.correlationId;
      entry.apiKey = ApiKeyNumber.ApiVersions;
      entry.version = 0;
      entry.action = ResponseAction.Probe;
    }
    return drop(<u32>frameLength);
  }

  // ApiVersions v0 with the denied request's correlation id and no client id: every broker
  // answers it, and it changes nothing.
  private probe(): ArrayBuffer {
    const out = this.writer;
    out.reset();
    out.i32(10);
    out.i16(ApiKeyNumber.ApiVersions);
    out.i16(0);
    out.i32(this.correlationId);
    out.i16(NULL_LENGTH);
    return out.toArrayBuffer();
  }

  private track(action: ResponseAction): InFlightRequest {
    const entry = this.inFlight.push();
    entry.correlationId = this.correlationId;
    entry.apiKey = this.api.apiKey;
    entry.version = this.api.version;
    entry.action = action;
    return entry;
  }

  // Emits `bytes` in place of the frame of `frameLength` at the head of `direction`'s data: INJECT
  // now, DROP the original on the next call.
  private replaceFrame(direction: Direction, bytes: ArrayBuffer, frameLength: i32, endsReply: bool): Op {
    this.connection.injectHere(direction, bytes);
    this.pendingDrop[direction] = frameLength;
    this.pendingReplyEnds = endsReply;
    return inject(<u32>bytes.byteLength);
  }

  // Metadata: topics the policy denies are taken out of the request (the broker never sees them)
  // and added back to the response with their error; a request for every topic is answered with
  // the topics the policy allows. Only Metadata v0 (where an empty list means every topic) is
  // denied whole when none of its topics is allowed.
  private metadataRequest(frame: ByteView, frameLength: i32): Op {
    const facts = this.facts;
    const all = facts.allTopics || (this.api.version == 0 && facts.topicCount == 0);
    if (all) {
      this.fillRecord(frame);
      this.connection.record.setUnconstrained(KafkaKey.Topic);
      const allowed = this.connection.allowsRequest();
      this.logRequest(frame, allowed);
      if (!allowed) return this.deny(frame, frameLength);
      this.connection.expectReply();
      const entry = this.track(ResponseAction.FilterTopics);
      entry.clientId = this.clientIdCopy(frame);
      return pass(<u32>frameLength);
    }
    const allowed = this.decide(frame);
    this.logRequest(frame, allowed);
    if (allowed) {
      this.connection.expectReply();
      this.track(ResponseAction.LearnTopicIds);
      return pass(<u32>frameLength);
    }
    let kept = 0;
    for (let e = 0; e < this.entryCodes.length; e++) if (this.entryCodes[e] == KafkaError.OperationNotAttempted) kept++;
    if (kept == 0 && this.api.version == 0) return this.deny(frame, frameLength);
    this.connection.expectReply();
    const entry = this.track(ResponseAction.AddDeniedTopics);
    const out = this.writer;
    out.reset();
    out.i32(0);
    out.fromView(frame, SIZE_BYTES, facts.metadataCountOffset - SIZE_BYTES);
    out.lengthPrefix(this.api.requestHeaderVersion >= 2, false, kept);
    for (let e = 0; e < this.entryCodes.length; e++) {
      const start = facts.entryStart[e];
      if (this.entryCodes[e] == KafkaError.OperationNotAttempted) {
        out.fromView(frame, start, facts.entryEnd[e] - start);
      } else if (facts.hasName(e)) {
        entry.deniedNames.push(copyOf(frame, facts.nameOffset[e], facts.nameLength[e]));
        entry.deniedIsId.push(false);
        entry.deniedCodes.push(this.entryCodes[e]);
      } else {
        entry.deniedNames.push(copyOf(frame, facts.idOffset[e], facts.hasId(e) ? 16 : 0));
        entry.deniedIsId.push(true);
        entry.deniedCodes.push(this.entryCodes[e]);
      }
    }
    out.fromView(frame, facts.metadataArrayEnd, frameLength - facts.metadataArrayEnd);
    out.patchI32(0, out.length - SIZE_BYTES);
    return this.replaceFrame(Direction.Request, out.toArrayBuffer(), frameLength, false);
  }

  private clientIdCopy(frame: ByteView): ArrayBuffer | null {
    return this.clientIdLength < 0 ? null : copyOf(frame, this.clientIdOffset, this.clientIdLength);
  }

  // A Request entry, or a Denied entry naming the denied topics (all of them when the denial was
  // not about topics).
  private logRequest(frame: ByteView, allowed: bool): void {
    const fields = this.connection.fields;
    fields.addString('apiKey', NAMES.textOf(this.api.apiKey)).addNumber('apiVersion', <u64>this.api.version).addNumber('correlationId', <u64>(<u32>this.correlationId));
    if (this.clientIdLength >= 0) fields.addBytes('clientID', frame, this.clientIdOffset, this.clientIdLength);
    const topics = this.topicList(frame, !allowed);
    if (topics.length > 0) fields.addString('topic', topics);
    this.connection.log(allowed ? EntryType.Request : EntryType.Denied, allowed ? '' : this.denyReason());
  }

  private denyReason(): string {
    const codes = this.entryCodes;
    for (let e = 0; e < codes.length; e++) {
      if (codes[e] == KafkaError.UnknownTopicId) return 'topic id ' + idKey(this.frame, this.facts.idOffset[e]) + ' was never named in a Metadata response the filter saw; answered UNKNOWN_TOPIC_ID so the client refreshes its metadata';
    }
    return 'no kafka rule allows this request';
  }

  // The request's topics for the access log: names, "id:<hex>" for ids without a known name, "*"
  // for every topic, comma-separated.
  private topicList(frame: ByteView, deniedOnly: bool): string {
    const facts = this.facts;
    const codes = this.entryCodes;
    let denied = 0;
    if (deniedOnly) for (let e = 0; e < codes.length; e++) if (codes[e] != KafkaError.OperationNotAttempted) denied++;
    let text = facts.allTopics || facts.pattern ? '*' : '';
    for (let e = 0; e < facts.topicCount; e++) {
      if (denied > 0 && e < codes.length && codes[e] == KafkaError.OperationNotAttempted) continue;
      if (text.length > 0) text += ',';
      if (facts.hasName(e)) text += frame.latin1String(facts.nameOffset[e], facts.nameLength[e]);
      else if (facts.hasId(e)) {
        const name = TOPIC_IDS.nameOf(frame, facts.idOffset[e]);
        text += name !== null ? String.UTF8.decode(name) : 'id:' + idKey(frame, facts.idOffset[e]);
      }
    }
    return text;
  }

  // ---- responses ----

  private onResponse(data: ByteView, size: i32): Op {
    const frameLength = SIZE_BYTES + size;
    const entry = this.inFlight.peek();
    if (entry === null) return this.fail(ErrorCode.InvalidFrameType, 'Kafka response with no request outstanding');
    if (data.length < 8) return more(<u32>(8 - data.length));
    const correlationId = i32be(data, 4);
    if (correlationId != entry.correlationId) {
      return this.fail(ErrorCode.InvalidFrameType, 'Kafka response for correlation id ' + correlationId.toString() + ' while ' + entry.correlationId.toString() + ' was the oldest request outstanding');
    }
    if (entry.action == ResponseAction.Pass || entry.action == ResponseAction.Probe) return this.passResponse(data, entry, frameLength);
    if (data.length < frameLength) return more(<u32>(frameLength - data.length));
    this.frame.setWindow(data.pointer, frameLength);
    const rewritten = this.rewriter.rewrite(this.frame, entry, this.connection, TOPIC_IDS);
    if (rewritten === null && this.rewriter.failure.length > 0) return this.fail(ErrorCode.InvalidFrameType, this.rewriter.failure);
    this.logResponse(entry, this.rewriter.errorCode);
    this.inFlight.pop();
    if (rewritten === null) {
      this.connection.endOfReply();
      return pass(<u32>frameLength);
    }
    return this.replaceFrame(Direction.Reply, rewritten, frameLength, true);
  }

  private passResponse(data: ByteView, entry: InFlightRequest, frameLength: i32): Op {
    if (entry.action == ResponseAction.Probe) {
      this.inFlight.pop();
      this.connection.endOfReply();
      return pass(<u32>frameLength);
    }
    const errorAt = this.rewriter.errorCodeOffset(entry);
    if (errorAt >= 0 && errorAt + 2 <= frameLength && data.length < errorAt + 2) return more(<u32>(errorAt + 2 - data.length));
    const code = errorAt >= 0 && errorAt + 2 <= frameLength ? i16be(data, errorAt) : 0;
    this.logResponse(entry, code);
    this.inFlight.pop();
    this.connection.endOfReply();
    return pass(<u32>frameLength);
  }

  private logResponse(entry: InFlightRequest, code: i32): void {
    const fields = this.connection.fields;
    fields.addString('apiKey', NAMES.textOf(entry.apiKey)).addNumber('apiVersion', <u64>entry.version).addNumber('correlationId', <u64>(<u32>entry.correlationId));
    fields.addNumber('errorCode', <u64>(<u16>code));
    this.connection.logResponse();
  }

  private fail(code: ErrorCode, detail: string): Op {
    this.connection.errorDetail = detail;
    return error(code);
  }
}

function requestLevelCode(apiKey: i32): i32 {
  if (GROUP_APIS.includes(apiKey)) return KafkaError.GroupAuthorizationFailed;
  if (TRANSACTION_APIS.includes(apiKey)) return KafkaError.TransactionalIdAuthorizationFailed;
  return KafkaError.ClusterAuthorizationFailed;
}

function copyOf(view: ByteView, offset: i32, length: i32): ArrayBuffer {
  const copy = new Uint8Array(length);
  for (let i = 0; i < length; i++) copy[i] = <u8>view.byteAt(offset + i);
  return copy.buffer;
}

export class KafkaRuleSchema extends RuleSchema {
  constructor() {
    super(KAFKA_RULE_KEYS);
  }

  validateRule(rule: Rule): string | null {
    return null;
  }
}

export class KafkaFactory extends ParserFactory {
  get protocol(): string {
    return 'kafka';
  }

  ruleSchema(): RuleSchema {
    return new KafkaRuleSchema();
  }

  create(connection: Connection): Parser {
    return new KafkaParser(connection);
  }
}
