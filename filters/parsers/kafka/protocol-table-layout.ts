// Reads the generated protocol table (protocol-table.ts): which API keys and versions exist, each
// version's request and response header versions, whether its request names topics, and where its
// request and response body programs start. The programs are bytecode the walker runs
// (message-walker.ts); their opcodes and roles are declared here, mirroring
// scripts/kafka-protocol/generate.ts, which writes the table.
//
// Table layout (little-endian): u32 key-table bytes, u32 version-table bytes; the key table has 4
// bytes per API key (u16 first version record, u8 lowest version, u8 highest version, 255 when the
// key has none); the version table 12 bytes per version (u8 request header version, u8 response
// header version, u8 flags, u8 0, u32 request program, u32 response program; all 0xff for a
// version left out); then the programs.
import { ByteView } from '../../sdk/index';
import { PROTOCOL_TABLE } from './protocol-table';

export const enum FieldOp {
  Bool = 1,
  Int8 = 2,
  Int16 = 3,
  Uint16 = 4,
  Int32 = 5,
  Uint32 = 6,
  Int64 = 7,
  Uuid = 8,
  Float64 = 9,
  Varint = 10,
  Varlong = 11,
  String = 16,
  NullableString = 17,
  CompactString = 18,
  CompactNullableString = 19,
  Bytes = 20,
  NullableBytes = 21,
  CompactBytes = 22,
  CompactNullableBytes = 23,
  Records = 24,
  NullableRecords = 25,
  CompactRecords = 26,
  CompactNullableRecords = 27,
  Array = 32,
  NullableArray = 33,
  CompactArray = 34,
  CompactNullableArray = 35,
  Struct = 48,
  NullableStruct = 49,
  Tagged = 50,
}

// An opcode with this bit set is followed by a role byte.
export const ROLE_FLAG: i32 = 0x80;

export const enum Role {
  None = 0,
  TopicName = 1,
  TopicId = 2,
  TopicEntries = 3,
  PartitionIndex = 4,
  ErrorCode = 5,
  TopicRegex = 6,
  ResourceType = 7,
  ResourceName = 8,
  Acks = 9,
  SessionId = 10,
  SessionEpoch = 11,
  Partitions = 12,
  TopicNames = 13,
  AllTopicsWhenNull = 14,
  ApiVersionMax = 15,
  ApiVersionKey = 16,
  ApiVersionsArray = 17,
  MetadataTopics = 18,
  MinusOne = 19,
}

const VERSION_RECORD_BYTES: i32 = 12;
const NO_VERSION: i32 = 255;

// One API version as the table describes it; filled by ProtocolTable.lookup.
export class ApiVersion {
  apiKey: i32 = 0;
  version: i32 = 0;
  requestHeaderVersion: i32 = 1;
  responseHeaderVersion: i32 = 0;
  namesTopics: bool = false;
  requestProgram: i32 = 0; // offset in ProtocolTable.programs
  responseProgram: i32 = 0;
}

export class ProtocolTable {
  // The whole table; `programs` is the window that starts at the first program.
  private table: ByteView = new ByteView();
  readonly programs: ByteView = new ByteView();
  private keyCount: i32 = 0;
  private versionTableStart: i32 = 0;

  constructor() {
    this.table.setWindow(changetype<usize>(PROTOCOL_TABLE), PROTOCOL_TABLE.length);
    const keyBytes = <i32>this.table.u32le(0);
    const versionBytes = <i32>this.table.u32le(4);
    this.keyCount = keyBytes / 4;
    this.versionTableStart = 8 + keyBytes;
    const programsStart = this.versionTableStart + versionBytes;
    this.programs.setWindow(changetype<usize>(PROTOCOL_TABLE) + <usize>programsStart, PROTOCOL_TABLE.length - programsStart);
  }

  lowestVersion(apiKey: i32): i32 {
    if (!this.knowsKey(apiKey)) return -1;
    return this.table.byteAt(8 + apiKey * 4 + 2);
  }

  // The highest version of `apiKey` the table has, or -1 when the key is unknown.
  highestVersion(apiKey: i32): i32 {
    if (!this.knowsKey(apiKey)) return -1;
    return this.table.byteAt(8 + apiKey * 4 + 3);
  }

  // Fills `out` for `apiKey` at `version`; false when the table does not have that version.
  lookup(apiKey: i32, version: i32, out: ApiVersion): bool {
    const lowest = this.lowestVersion(apiKey);
    const highest = this.highestVersion(apiKey);
    if (lowest < 0 || version < lowest || version > highest) return false;
    const keyEntry = 8 + apiKey * 4;
    const firstRecord = this.table.byteAt(keyEntry) | (this.table.byteAt(keyEntry + 1) << 8);
    const record = this.versionTableStart + (firstRecord + version - lowest) * VERSION_RECORD_BYTES;
    const requestHeader = this.table.byteAt(record);
    if (requestHeader < 0 || requestHeader == 0xff) return false;
    out.apiKey = apiKey;
    out.version = version;
    out.requestHeaderVersion = requestHeader;
    out.responseHeaderVersion = this.table.byteAt(record + 1);
    out.namesTopics = (this.table.byteAt(record + 2) & 1) != 0;
    out.requestProgram = <i32>this.table.u32le(record + 4);
    out.responseProgram = <i32>this.table.u32le(record + 8);
    return true;
  }

  // Program offset just past the field encoded at `pc` (reads the program, no message).
  fieldEnd(pc: i32): i32 {
    const programs = this.programs;
    let op = programs.byteAt(pc);
    pc += 1;
    if ((op & ROLE_FLAG) != 0) {
      op &= ~ROLE_FLAG;
      pc += 1;
    }
    if (op >= FieldOp.Array && op <= FieldOp.CompactNullableArray) return this.fieldEnd(pc);
    if (op == FieldOp.Struct || op == FieldOp.NullableStruct) {
      const count = programs.byteAt(pc);
      pc += 1;
      for (let i = 0; i < count; i++) pc = this.fieldEnd(pc);
      return pc;
    }
    if (op == FieldOp.Tagged) {
      const count = programs.byteAt(pc);
      pc += 1;
      for (let i = 0; i < count; i++) pc = this.fieldEnd(pc + 1);
      return pc;
    }
    return pc;
  }

  private knowsKey(apiKey: i32): bool {
    if (apiKey < 0 || apiKey >= this.keyCount) return false;
    return this.table.byteAt(8 + apiKey * 4 + 3) != NO_VERSION;
  }
}
