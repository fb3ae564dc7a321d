// Builds the response a client expects for a request Weir denied, for any API key and version,
// from the response program of the protocol table: the request's correlation id in the response
// header of that version, and a body with every field at its neutral value (0, -1 for offsets,
// nodes and leaders, empty strings and arrays, null where the schema allows a null) except:
// - every topic array of the response lists the request's topics again (name or topic id as the
//   request gave it), each with the request's partitions, and every error code inside a topic
//   entry carries that topic's code (TOPIC_AUTHORIZATION_FAILED for a denied topic,
//   OPERATION_NOT_ATTEMPTED for an allowed topic of a denied request, UNKNOWN_TOPIC_ID for a topic
//   id the filter cannot name);
// - error codes outside topic entries carry `requestCode`, or 0 when the response has topic
//   entries (clients read a top-level error of Fetch or OffsetFetch as a broken session or group,
//   not as an authorization failure of a topic).
// Also builds ApiVersions' own refusal of a version it does not know.
import { ByteView } from '../../sdk/index';
import { ByteWriter } from './byte-writer';
import { MessageFacts } from './message-facts';
import { ApiVersion, FieldOp, ProtocolTable, ROLE_FLAG, Role } from './protocol-table-layout';

export const enum KafkaError {
  None = 0,
  UnsupportedVersion = 35,
  TopicAuthorizationFailed = 29,
  GroupAuthorizationFailed = 30,
  ClusterAuthorizationFailed = 31,
  TransactionalIdAuthorizationFailed = 53,
  OperationNotAttempted = 55,
  UnknownTopicId = 100,
}

const API_VERSIONS_KEY: i32 = 18;

export class DenyResponseWriter {
  private out: ByteWriter = new ByteWriter();
  private programs: ByteView;
  // The request being answered, set per build().
  private request: ByteView = new ByteView();
  private facts: MessageFacts = new MessageFacts();
  private entryCodes: Array<i32> = new Array<i32>();
  private outsideCode: i32 = 0;

  constructor(private table: ProtocolTable) {
    this.programs = table.programs;
  }

  // The deny response for a request of `api` with `correlationId`, whose topics the walker put in
  // `facts` (offsets into `request`), with `entryCodes[i]` for topic entry i.
  build(api: ApiVersion, correlationId: i32, request: ByteView, facts: MessageFacts, entryCodes: Array<i32>, requestCode: i32): ArrayBuffer {
    this.request = request;
    this.facts = facts;
    this.entryCodes = entryCodes;
    const out = this.out;
    out.reset();
    out.i32(0); // size, patched below
    out.i32(correlationId);
    if (api.responseHeaderVersion >= 1) out.unsignedVarint(0);
    this.outsideCode = this.hasTopicEntries(api.responseProgram) ? 0 : requestCode;
    this.fields(api.responseProgram, -1, 0);
    out.patchI32(0, out.length - 4);
    return out.toArrayBuffer();
  }

  // The elements of a topic array (element program at `elementPc`) for the topic entries of
  // `facts` (offsets into `source`), each entry's error from `entryCodes`, without a count.
  topicEntries(elementPc: i32, source: ByteView, facts: MessageFacts, entryCodes: Array<i32>): ArrayBuffer {
    this.request = source;
    this.facts = facts;
    this.entryCodes = entryCodes;
    this.outsideCode = 0;
    this.out.reset();
    for (let e = 0; e < facts.topicCount; e++) this.element(elementPc, e, 0);
    return this.out.toArrayBuffer();
  }

  // ApiVersions' answer to a request version above the highest it knows: UNSUPPORTED_VERSION in
  // the v0 layout with the one API key the client needs next, as the broker answers it.
  unsupportedApiVersions(correlationId: i32): ArrayBuffer {
    const out = this.out;
    out.reset();
    out.i32(0);
    out.i32(correlationId);
    out.i16(KafkaError.UnsupportedVersion);
    out.i32(1);
    out.i16(API_VERSIONS_KEY);
    out.i16(this.table.lowestVersion(API_VERSIONS_KEY));
    out.i16(this.table.highestVersion(API_VERSIONS_KEY));
    out.patchI32(0, out.length - 4);
    return out.toArrayBuffer();
  }

  // Writes the struct program at `pc` (its field count first) for topic entry `entry` (-1: none)
  // and partition `partition`.
  private fields(pc: i32, entry: i32, partition: i32): void {
    const count = this.programs.byteAt(pc);
    pc += 1;
    for (let i = 0; i < count; i++) {
      this.field(pc, entry, partition);
      pc = this.table.fieldEnd(pc);
    }
  }

  private field(pc: i32, entry: i32, partition: i32): void {
    let op = this.programs.byteAt(pc);
    let role: i32 = Role.None;
    pc += 1;
    if ((op & ROLE_FLAG) != 0) {
      op &= ~ROLE_FLAG;
      role = this.programs.byteAt(pc);
      pc += 1;
    }
    const out = this.out;
    switch (op) {
      case FieldOp.Bool:
      case FieldOp.Int8:
      case FieldOp.Varint:
      case FieldOp.Varlong:
        out.u8(0);
        return;
      case FieldOp.Int16:
        out.i16(role == Role.ErrorCode ? this.codeFor(entry) : 0);
        return;
      case FieldOp.Uint16:
        out.i16(0);
        return;
      case FieldOp.Int32:
        out.i32(role == Role.PartitionIndex && entry >= 0 ? partition : role == Role.MinusOne ? -1 : 0);
        return;
      case FieldOp.Uint32:
        out.i32(0);
        return;
      case FieldOp.Int64:
        out.i64(-1);
        return;
      case FieldOp.Float64:
        out.zeros(8);
        return;
      case FieldOp.Uuid:
        if (role == Role.TopicId && entry >= 0 && this.facts.hasId(entry)) out.fromView(this.request, this.facts.idOffset[entry], 16);
        else out.zeros(16);
        return;
      case FieldOp.String:
      case FieldOp.NullableString:
      case FieldOp.CompactString:
      case FieldOp.CompactNullableString:
        this.stringField(op, role, entry);
        return;
      case FieldOp.Bytes:
      case FieldOp.CompactBytes:
      case FieldOp.Records:
      case FieldOp.NullableRecords:
      case FieldOp.CompactRecords:
      case FieldOp.CompactNullableRecords:
        // Records are empty, never null: every client reads an empty record set.
        out.lengthPrefix(op >= FieldOp.CompactBytes && op != FieldOp.Records && op != FieldOp.NullableRecords, false, 0);
        return;
      case FieldOp.NullableBytes:
        out.i32(-1);
        return;
      case FieldOp.CompactNullableBytes:
        out.unsignedVarint(0);
        return;
      case FieldOp.Array:
      case FieldOp.NullableArray:
      case FieldOp.CompactArray:
      case FieldOp.CompactNullableArray:
        this.arrayField(op, pc, role, entry, partition);
        return;
      case FieldOp.Struct:
        this.fields(pc, entry, partition);
        return;
      case FieldOp.NullableStruct:
        out.u8(0xff); // null (tagged fields are written empty, so no tagged null marker is needed)
        return;
      case FieldOp.Tagged:
        out.unsignedVarint(0);
        return;
    }
  }

  private stringField(op: i32, role: i32, entry: i32): void {
    const out = this.out;
    const compact = op == FieldOp.CompactString || op == FieldOp.CompactNullableString;
    const nullable = op == FieldOp.NullableString || op == FieldOp.CompactNullableString;
    if (role == Role.TopicName && entry >= 0 && this.facts.hasName(entry)) {
      const length = this.facts.nameLength[entry];
      out.lengthPrefix(compact, true, length);
      out.fromView(this.request, this.facts.nameOffset[entry], length);
      return;
    }
    out.lengthPrefix(compact, true, nullable ? -1 : 0);
  }

  private arrayField(op: i32, elementPc: i32, role: i32, entry: i32, partition: i32): void {
    const out = this.out;
    const compact = op == FieldOp.CompactArray || op == FieldOp.CompactNullableArray;
    const facts = this.facts;
    if ((role == Role.TopicEntries || role == Role.MetadataTopics) && entry < 0) {
      // Denied topics first: clients that report the first error they meet (kafkajs) then report
      // the authorization failure rather than OPERATION_NOT_ATTEMPTED of an allowed topic.
      out.lengthPrefix(compact, false, facts.topicCount);
      for (let e = 0; e < facts.topicCount; e++) if (this.codeFor(e) != KafkaError.OperationNotAttempted) this.element(elementPc, e, 0);
      for (let e = 0; e < facts.topicCount; e++) if (this.codeFor(e) == KafkaError.OperationNotAttempted) this.element(elementPc, e, 0);
      return;
    }
    if (role == Role.Partitions && entry >= 0) {
      const count = facts.partitionCount[entry];
      const first = facts.partitionStart[entry];
      out.lengthPrefix(compact, false, count);
      const int32Elements = (this.programs.byteAt(elementPc) & ~ROLE_FLAG) == FieldOp.Int32;
      for (let p = 0; p < count; p++) {
        const index = facts.partitions[first + p];
        if (int32Elements) out.i32(index);
        else this.element(elementPc, entry, index);
      }
      return;
    }
    out.lengthPrefix(compact, false, 0);
  }

  // One array element: a struct (its fields) or a single field.
  private element(pc: i32, entry: i32, partition: i32): void {
    const op = this.programs.byteAt(pc) & ~ROLE_FLAG;
    if (op == FieldOp.Struct) this.fields(pc + 1, entry, partition);
    else this.field(pc, entry, partition);
  }

  private codeFor(entry: i32): i32 {
    if (entry >= 0 && entry < this.entryCodes.length) return this.entryCodes[entry];
    return this.outsideCode;
  }

  // True when the response program (a top-level struct) has a topic array among its fields.
  private hasTopicEntries(pc: i32): bool {
    const count = this.programs.byteAt(pc);
    pc += 1;
    for (let i = 0; i < count; i++) {
      const op = this.programs.byteAt(pc);
      if ((op & ROLE_FLAG) != 0) {
        const role = this.programs.byteAt(pc + 1);
        if (role == Role.TopicEntries || role == Role.MetadataTopics) return true;
      }
      pc = this.table.fieldEnd(pc);
    }
    return false;
  }
}
