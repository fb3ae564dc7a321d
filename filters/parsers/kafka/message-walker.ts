// Walks one Kafka request or response body with its program from the protocol table, reading every
// field exactly as the broker's generated readers do: classic (INT16/INT32-prefixed) and compact
// (unsigned-varint, length+1) strings, bytes, records and arrays, null where the schema allows it
// and an error where it does not, strings over 32767 bytes refused, an array count above the bytes
// left refused, nullable structs with their marker byte, and tagged fields (a known tag read by its
// type, whatever size it declares; an unknown one skipped by its size; a negative count read as
// none, as Java's loop does). Records are skipped by their length, never parsed. What the roles of
// the program mark (topics, partitions, error codes, a few fields the parser acts on) is collected
// into MessageFacts. Returns the offset where the body ended, or MALFORMED.
import { ByteView, MALFORMED } from '../../sdk/index';
import { FieldOp, ProtocolTable, ROLE_FLAG, Role } from './protocol-table-layout';
import { MessageFacts } from './message-facts';
import { VarintReader, i16be, i32be } from './wire';

const MAX_STRING_BYTES: i32 = 0x7fff;
const MAX_DEPTH: i32 = 16;

export class MessageWalker {
  private program: ByteView;
  private table: ProtocolTable;
  private varint: VarintReader = new VarintReader();
  private view: ByteView = new ByteView();
  private facts: MessageFacts = new MessageFacts();
  private depth: i32 = 0;

  constructor(table: ProtocolTable) {
    this.program = table.programs;
    this.table = table;
  }

  // Walks the struct program at `program` over `view` from `start`; the view must end where the
  // body ends. Returns the end offset or MALFORMED; `facts` gets what the roles marked.
  walk(view: ByteView, start: i32, program: i32, facts: MessageFacts): i32 {
    this.view = view;
    this.facts = facts;
    this.depth = 0;
    return this.structFields(program, start);
  }

  // Reads `count` fields starting at program `pc` (after a struct opcode's count byte).
  private structFields(pc: i32, at: i32): i32 {
    const count = this.program.byteAt(pc);
    pc += 1;
    for (let i = 0; i < count; i++) {
      at = this.field(pc, at, false);
      if (at < 0) return MALFORMED;
      pc = this.table.fieldEnd(pc);
    }
    return at;
  }

  // Reads one field; `tagged` when it is the value of a known tagged field.
  private field(pc: i32, at: i32, tagged: bool): i32 {
    let op = this.program.byteAt(pc);
    let role: i32 = Role.None;
    pc += 1;
    if ((op & ROLE_FLAG) != 0) {
      op &= ~ROLE_FLAG;
      role = this.program.byteAt(pc);
      pc += 1;
    }
    const view = this.view;
    switch (op) {
      case FieldOp.Bool:
      case FieldOp.Int8:
        return this.fixed(at, 1, role);
      case FieldOp.Int16:
      case FieldOp.Uint16:
        return this.fixed(at, 2, role);
      case FieldOp.Int32:
      case FieldOp.Uint32:
        return this.fixed(at, 4, role);
      case FieldOp.Int64:
      case FieldOp.Float64:
        return this.fixed(at, 8, role);
      case FieldOp.Uuid:
        return this.fixed(at, 16, role);
      case FieldOp.Varint: {
        this.varint.unsigned(view, at);
        return this.varint.varintBytes < 0 ? MALFORMED : at + this.varint.varintBytes;
      }
      case FieldOp.Varlong: {
        const size = this.varint.varlongLength(view, at);
        return size < 0 ? MALFORMED : at + size;
      }
      case FieldOp.String:
      case FieldOp.NullableString:
      case FieldOp.CompactString:
      case FieldOp.CompactNullableString:
        return this.stringField(op, at, role);
      case FieldOp.Bytes:
      case FieldOp.NullableBytes:
      case FieldOp.CompactBytes:
      case FieldOp.CompactNullableBytes:
      case FieldOp.Records:
      case FieldOp.NullableRecords:
      case FieldOp.CompactRecords:
      case FieldOp.CompactNullableRecords:
        return this.bytesField(op, at);
      case FieldOp.Array:
      case FieldOp.NullableArray:
      case FieldOp.CompactArray:
      case FieldOp.CompactNullableArray:
        return this.arrayField(op, pc, at, role);
      case FieldOp.Struct:
        return this.nested(pc, at);
      case FieldOp.NullableStruct: {
        // A struct field's null marker: a byte (< 0 is null), or in a tagged field a varint (<= 0).
        if (tagged) {
          const marker = this.varint.unsigned(view, at);
          if (this.varint.varintBytes < 0) return MALFORMED;
          at += this.varint.varintBytes;
          if (marker <= 0) return at;
        } else {
          const marker = view.byteAt(at);
          if (marker < 0) return MALFORMED;
          at += 1;
          if (marker >= 0x80) return at;
        }
        return this.nested(pc, at);
      }
      case FieldOp.Tagged:
        return this.taggedFields(pc, at);
    }
    return MALFORMED; // a table bug: refuse rather than guess
  }

  private fixed(at: i32, size: i32, role: i32): i32 {
    if (!this.view.has(at, size)) return MALFORMED;
    if (role != Role.None) this.facts.fixedField(role, this.view, at, size);
    return at + size;
  }

  private nested(pc: i32, at: i32): i32 {
    if (++this.depth > MAX_DEPTH) return MALFORMED;
    const end = this.structFields(pc, at);
    this.depth--;
    return end;
  }

  // Length prefix of a string, bytes, records or array: returns the length (-1 for null) and the
  // prefix size in `prefixBytes`, or MALFORMED for a missing or over-long prefix.
  private prefixBytes: i32 = 0;
  private lengthPrefix(compact: bool, short: bool, at: i32): i32 {
    const view = this.view;
    if (compact) {
      const raw = this.varint.unsigned(view, at);
      if (this.varint.varintBytes < 0) return MALFORMED;
      this.prefixBytes = this.varint.varintBytes;
      const length = raw - 1;
      return length < 0 ? -1 : length;
    }
    const size = short ? 2 : 4;
    if (!view.has(at, size)) return MALFORMED;
    this.prefixBytes = size;
    const length = short ? i16be(view, at) : i32be(view, at);
    return length < 0 ? -1 : length;
  }

  private stringField(op: i32, at: i32, role: i32): i32 {
    const compact = op == FieldOp.CompactString || op == FieldOp.CompactNullableString;
    const nullable = op == FieldOp.NullableString || op == FieldOp.CompactNullableString;
    const length = this.lengthPrefix(compact, true, at);
    if (length == MALFORMED) return MALFORMED;
    at += this.prefixBytes;
    if (length < 0) {
      if (!nullable) return MALFORMED;
      if (role != Role.None) this.facts.nullString(role);
      return at;
    }
    if (length > MAX_STRING_BYTES || !this.view.has(at, length)) return MALFORMED;
    if (role != Role.None) this.facts.stringField(role, this.view, at, length);
    return at + length;
  }

  private bytesField(op: i32, at: i32): i32 {
    const compact = op == FieldOp.CompactBytes || op == FieldOp.CompactNullableBytes || op == FieldOp.CompactRecords || op == FieldOp.CompactNullableRecords;
    const nullable = op == FieldOp.NullableBytes || op == FieldOp.CompactNullableBytes || op == FieldOp.NullableRecords || op == FieldOp.CompactNullableRecords;
    const length = this.lengthPrefix(compact, false, at);
    if (length == MALFORMED) return MALFORMED;
    at += this.prefixBytes;
    if (length < 0) return nullable ? at : MALFORMED;
    if (!this.view.has(at, length)) return MALFORMED;
    if (length > 0) this.facts.recordBytes += length;
    return at + length;
  }

  private arrayField(op: i32, elementPc: i32, at: i32, role: i32): i32 {
    const compact = op == FieldOp.CompactArray || op == FieldOp.CompactNullableArray;
    const nullable = op == FieldOp.NullableArray || op == FieldOp.CompactNullableArray;
    const countAt = at;
    const count = this.lengthPrefix(compact, false, at);
    if (count == MALFORMED) return MALFORMED;
    at += this.prefixBytes;
    if (count < 0) {
      if (!nullable) return MALFORMED;
      if (role != Role.None) this.facts.nullArray(role, countAt, this.prefixBytes);
      return at;
    }
    // Kafka refuses a count above the bytes left before allocating the collection.
    if (count > this.view.length - at) return MALFORMED;
    const facts = this.facts;
    const entries = role == Role.TopicEntries || role == Role.AllTopicsWhenNull || role == Role.MetadataTopics;
    if (role != Role.None) facts.arrayStart(role, countAt, this.prefixBytes, count);
    const int32Partitions = role == Role.Partitions && (this.program.byteAt(elementPc) & ~ROLE_FLAG) == FieldOp.Int32;
    for (let i = 0; i < count; i++) {
      const elementStart = at;
      if (entries) facts.beginTopicEntry(elementStart);
      else if (role == Role.ApiVersionsArray) facts.beginApiVersion(elementStart);
      if (int32Partitions) {
        if (!this.view.has(at, 4)) return MALFORMED;
        facts.partition(i32be(this.view, at));
      }
      if (role == Role.TopicNames) facts.inTopicNames = true;
      at = this.field(elementPc, at, false);
      if (role == Role.TopicNames) facts.inTopicNames = false;
      if (at < 0) return MALFORMED;
      if (entries) facts.endTopicEntry(at);
      else if (role == Role.ApiVersionsArray) facts.endApiVersion(at);
    }
    if (role != Role.None) facts.arrayEnd(role, at);
    return at;
  }

  private taggedFields(pc: i32, at: i32): i32 {
    const view = this.view;
    const known = this.program.byteAt(pc);
    const firstTag = pc + 1;
    let count = this.varint.unsigned(view, at);
    if (this.varint.varintBytes < 0) return MALFORMED;
    at += this.varint.varintBytes;
    for (let i = 0; i < count; i++) {
      const tag = this.varint.unsigned(view, at);
      if (this.varint.varintBytes < 0) return MALFORMED;
      at += this.varint.varintBytes;
      const size = this.varint.unsigned(view, at);
      if (this.varint.varintBytes < 0 || size < 0) return MALFORMED;
      at += this.varint.varintBytes;
      const fieldPc = this.knownTag(firstTag, known, tag);
      if (fieldPc < 0) {
        if (!view.has(at, size)) return MALFORMED;
        at += size;
      } else {
        at = this.field(fieldPc, at, true);
        if (at < 0) return MALFORMED;
      }
    }
    return at;
  }

  // Program offset of tag `tag`'s field among `count` known tags starting at `pc`, or -1.
  private knownTag(pc: i32, count: i32, tag: i32): i32 {
    for (let i = 0; i < count; i++) {
      if (this.program.byteAt(pc) == tag) return pc + 1;
      pc = this.table.fieldEnd(pc + 1);
    }
    return -1;
  }
}
