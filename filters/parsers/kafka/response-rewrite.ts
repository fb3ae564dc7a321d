// Responses the Kafka parser reads whole and may rewrite before the client sees them:
// - ApiVersions: each API's version range is capped at what the filter reads (and APIs it cannot
//   read are left out), so clients negotiate versions the filter can frame instead of having
//   their connection closed;
// - Metadata: topic ids are learned (topic-ids.ts); for a request for every topic, the topics the
//   policy denies are left out; for a request whose denied topics were taken out, they are added
//   back with their error (TOPIC_AUTHORIZATION_FAILED or UNKNOWN_TOPIC_ID).
// Other responses are framed by size only; errorCodeOffset() finds a response's top-level error
// code for the access log when fixed-size fields precede it.
import { ByteView, Connection } from '../../sdk/index';
import { KafkaKey, KafkaRecord } from './kafka-record';
import { ByteWriter } from './byte-writer';
import { DenyResponseWriter, KafkaError } from './deny-response';
import { InFlightRequest, ResponseAction } from './in-flight';
import { MessageFacts } from './message-facts';
import { MessageWalker } from './message-walker';
import { ApiVersion, FieldOp, ProtocolTable, ROLE_FLAG, Role } from './protocol-table-layout';
import { TopicIds } from './topic-ids';
import { VarintReader, i16be } from './wire';

const API_VERSIONS_KEY: i32 = 18;

export class ResponseRewriter {
  // Why the last rewrite() failed ('' when it did not).
  failure: string = '';
  // The response's first top-level error code, from the last rewrite().
  errorCode: i32 = 0;
  private walker: MessageWalker;
  private facts: MessageFacts = new MessageFacts();
  private api: ApiVersion = new ApiVersion();
  private out: ByteWriter = new ByteWriter();
  private scratch: ByteWriter = new ByteWriter();
  private scratchFacts: MessageFacts = new MessageFacts();
  private scratchView: ByteView = new ByteView();
  private varint: VarintReader = new VarintReader();

  constructor(
    private table: ProtocolTable,
    private denials: DenyResponseWriter,
    private values: KafkaRecord,
  ) {
    this.walker = new MessageWalker(table);
  }

  // The response (whole frame in `frame`) for `entry`, rewritten, or null to forward it as it is
  // (then `failure` says whether it could not be read).
  rewrite(frame: ByteView, entry: InFlightRequest, connection: Connection, topicIds: TopicIds): ArrayBuffer | null {
    this.failure = '';
    this.errorCode = 0;
    const bodyStart = this.bodyStart(frame, entry);
    if (bodyStart < 0) return this.refuse(entry, 'header');
    let version = entry.version;
    // A broker answers an ApiVersions version it does not support in the v0 layout.
    if (entry.apiKey == API_VERSIONS_KEY && i16be(frame, bodyStart) == KafkaError.UnsupportedVersion) version = 0;
    if (!this.table.lookup(entry.apiKey, version, this.api)) return this.refuse(entry, 'version');
    const facts = this.facts;
    facts.reset();
    const end = this.walker.walk(frame, bodyStart, this.api.responseProgram, facts);
    if (end != frame.length) return this.refuse(entry, 'body');
    this.errorCode = facts.errorCode;
    if (entry.action == ResponseAction.ClampApiVersions) return this.clampApiVersions(frame);
    this.learnTopicIds(frame, topicIds);
    if (entry.action == ResponseAction.FilterTopics) return this.filterTopics(frame, entry, connection);
    if (entry.action == ResponseAction.AddDeniedTopics) return this.addDeniedTopics(frame, entry);
    return null;
  }

  // Offset in the frame of the response's top-level error code when only fixed-size fields (and a
  // response header without tagged fields) precede it; -1 otherwise.
  errorCodeOffset(entry: InFlightRequest): i32 {
    if (!this.table.lookup(entry.apiKey, entry.version, this.api)) return -1;
    // A flexible header's tagged fields are assumed empty (one 0 byte), as brokers write them.
    let at = this.api.responseHeaderVersion >= 1 ? 9 : 8;
    const programs = this.table.programs;
    let pc = this.api.responseProgram;
    const count = programs.byteAt(pc);
    pc += 1;
    for (let i = 0; i < count; i++) {
      let op = programs.byteAt(pc);
      let role = 0;
      if ((op & ROLE_FLAG) != 0) {
        op &= ~ROLE_FLAG;
        role = programs.byteAt(pc + 1);
      }
      if (role == Role.ErrorCode) return at;
      const size = fixedSize(op);
      if (size < 0) return -1;
      at += size;
      pc = this.table.fieldEnd(pc);
    }
    return -1;
  }

  private bodyStart(frame: ByteView, entry: InFlightRequest): i32 {
    if (!this.table.lookup(entry.apiKey, entry.version, this.api)) return -1;
    if (this.api.responseHeaderVersion < 1) return 8;
    // ApiVersions responses keep header v0 in every version; the table says so per version.
    let at = 8;
    const count = this.varint.unsigned(frame, at);
    if (this.varint.varintBytes < 0) return -1;
    at += this.varint.varintBytes;
    for (let i = 0; i < count; i++) {
      this.varint.unsigned(frame, at);
      if (this.varint.varintBytes < 0) return -1;
      at += this.varint.varintBytes;
      const size = this.varint.unsigned(frame, at);
      if (this.varint.varintBytes < 0 || size < 0 || !frame.has(at + this.varint.varintBytes, size)) return -1;
      at += this.varint.varintBytes + size;
    }
    return at;
  }

  private refuse(entry: InFlightRequest, part: string): ArrayBuffer | null {
    this.failure = 'the broker\'s response to correlation id ' + entry.correlationId.toString() + ' (API key ' + entry.apiKey.toString() + ' v' + entry.version.toString() + ') does not parse (' + part + ')';
    return null;
  }

  private clampApiVersions(frame: ByteView): ArrayBuffer | null {
    const facts = this.facts;
    const entries = facts.apiKeyOffsets.length;
    if (entries != facts.apiMaxOffsets.length || entries != facts.apiEntryStarts.length) return null;
    let changed = false;
    let kept = 0;
    for (let i = 0; i < entries; i++) {
      const verdict = this.clampedRange(frame, i);
      if (verdict != CLAMP_KEEP) changed = true;
      if (verdict != CLAMP_DROP) kept++;
    }
    if (!changed) return null;
    const out = this.out;
    out.reset();
    out.i32(0);
    out.fromView(frame, 4, facts.apiVersionsCountOffset - 4);
    out.lengthPrefix(facts.apiVersionsCountBytes != 4, false, kept);
    for (let i = 0; i < entries; i++) {
      const verdict = this.clampedRange(frame, i);
      if (verdict == CLAMP_DROP) continue;
      const start = facts.apiEntryStarts[i];
      const at = out.length;
      out.fromView(frame, start, facts.apiEntryEnds[i] - start);
      if (verdict == CLAMP_CHANGE) {
        const maxAt = at + (facts.apiMaxOffsets[i] - start);
        out.patchI16(maxAt - 2, this.clampMin);
        out.patchI16(maxAt, this.clampMax);
      }
    }
    out.fromView(frame, facts.apiVersionsArrayEnd, frame.length - facts.apiVersionsArrayEnd);
    out.patchI32(0, out.length - 4);
    return out.toArrayBuffer();
  }

  private clampMin: i32 = 0;
  private clampMax: i32 = 0;

  // Whether ApiVersions entry `i` stays, is narrowed (clampMin/clampMax) or is left out.
  private clampedRange(frame: ByteView, i: i32): i32 {
    const facts = this.facts;
    const apiKey = i16be(frame, facts.apiKeyOffsets[i]);
    const min = i16be(frame, facts.apiMaxOffsets[i] - 2);
    const max = i16be(frame, facts.apiMaxOffsets[i]);
    const lowest = this.table.lowestVersion(apiKey);
    const highest = this.table.highestVersion(apiKey);
    if (highest < 0) return CLAMP_DROP;
    this.clampMin = min > lowest ? min : lowest;
    this.clampMax = max < highest ? max : highest;
    if (this.clampMin > this.clampMax) return CLAMP_DROP;
    return this.clampMin == min && this.clampMax == max ? CLAMP_KEEP : CLAMP_CHANGE;
  }

  private learnTopicIds(frame: ByteView, topicIds: TopicIds): void {
    const facts = this.facts;
    for (let e = 0; e < facts.topicCount; e++) {
      if (facts.hasName(e) && facts.hasId(e)) topicIds.learn(frame, facts.idOffset[e], facts.nameOffset[e], facts.nameLength[e]);
    }
  }

  // Metadata for every topic: leaves out the topics the current policy denies this client.
  private filterTopics(frame: ByteView, entry: InFlightRequest, connection: Connection): ArrayBuffer | null {
    const facts = this.facts;
    if (facts.metadataCountOffset < 0) return null;
    const keep = new Array<bool>(facts.topicCount);
    let kept = 0;
    for (let e = 0; e < facts.topicCount; e++) {
      keep[e] = !facts.hasName(e) || this.allowsTopic(frame, facts.nameOffset[e], facts.nameLength[e], entry, connection);
      if (keep[e]) kept++;
    }
    if (kept == facts.topicCount) return null;
    const out = this.out;
    this.copyUpToTopics(frame, kept);
    for (let e = 0; e < facts.topicCount; e++) if (keep[e]) out.fromView(frame, facts.entryStart[e], facts.entryEnd[e] - facts.entryStart[e]);
    return this.finish(frame);
  }

  private allowsTopic(frame: ByteView, nameOffset: i32, nameLength: i32, entry: InFlightRequest, connection: Connection): bool {
    const record = connection.record;
    this.values.start(record, entry.apiKey, entry.version);
    this.values.clientIdFromBuffer(record, entry.clientId);
    record.set(KafkaKey.Topic, frame, nameOffset, nameLength);
    return connection.allowsRequest();
  }

  // Metadata whose denied topics the request left out: adds an entry per denied topic.
  private addDeniedTopics(frame: ByteView, entry: InFlightRequest): ArrayBuffer | null {
    const facts = this.facts;
    const elementPc = this.metadataTopicsElement();
    if (facts.metadataCountOffset < 0 || elementPc < 0) return null;
    const scratch = this.scratch;
    const scratchFacts = this.scratchFacts;
    scratch.reset();
    scratchFacts.reset();
    const offsets = new Array<i32>();
    for (let i = 0; i < entry.deniedNames.length; i++) {
      offsets.push(scratch.length);
      scratch.fromBuffer(entry.deniedNames[i]);
    }
    const source = scratch.toArrayBuffer();
    this.scratchView.setWindow(changetype<usize>(source), source.byteLength);
    for (let i = 0; i < entry.deniedNames.length; i++) {
      const length = entry.deniedNames[i].byteLength;
      if (entry.deniedIsId[i]) scratchFacts.addStandalone(-1, -1, length == 16 ? offsets[i] : -1);
      else scratchFacts.addStandalone(offsets[i], length, -1);
    }
    const added = this.denials.topicEntries(elementPc, this.scratchView, scratchFacts, entry.deniedCodes);
    const out = this.out;
    this.copyUpToTopics(frame, facts.topicCount + entry.deniedNames.length);
    const entriesStart = facts.metadataCountOffset + facts.metadataCountBytes;
    out.fromView(frame, entriesStart, facts.metadataArrayEnd - entriesStart);
    out.fromBuffer(added);
    return this.finish(frame);
  }

  // Starts the rewritten Metadata frame: size placeholder, everything before the topics array,
  // and the array's new count.
  private copyUpToTopics(frame: ByteView, count: i32): void {
    const out = this.out;
    const facts = this.facts;
    out.reset();
    out.i32(0);
    out.fromView(frame, 4, facts.metadataCountOffset - 4);
    out.lengthPrefix(this.api.responseHeaderVersion >= 1, false, count);
  }

  private finish(frame: ByteView): ArrayBuffer {
    const out = this.out;
    const facts = this.facts;
    out.fromView(frame, facts.metadataArrayEnd, frame.length - facts.metadataArrayEnd);
    out.patchI32(0, out.length - 4);
    return out.toArrayBuffer();
  }

  // The element program of the response's Metadata topics array, or -1.
  private metadataTopicsElement(): i32 {
    const programs = this.table.programs;
    let pc = this.api.responseProgram;
    const count = programs.byteAt(pc);
    pc += 1;
    for (let i = 0; i < count; i++) {
      const op = programs.byteAt(pc);
      if ((op & ROLE_FLAG) != 0 && programs.byteAt(pc + 1) == Role.MetadataTopics) return pc + 2;
      pc = this.table.fieldEnd(pc);
    }
    return -1;
  }
}

const CLAMP_KEEP: i32 = 0;
const CLAMP_CHANGE: i32 = 1;
const CLAMP_DROP: i32 = 2;

function fixedSize(op: i32): i32 {
  if (op == FieldOp.Bool || op == FieldOp.Int8) return 1;
  if (op == FieldOp.Int16 || op == FieldOp.Uint16) return 2;
  if (op == FieldOp.Int32 || op == FieldOp.Uint32) return 4;
  if (op == FieldOp.Int64 || op == FieldOp.Float64) return 8;
  if (op == FieldOp.Uuid) return 16;
  return -1;
}
