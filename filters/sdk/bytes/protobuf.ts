// The little protobuf Weir's filters speak: tags and varints appended to a ByteBuffer (parser VMs
// encode their access-log entries with them, access-log/entry-protobuf.ts), a writer for the
// agent's messages (varints, strings, nested messages) and a bounds-checked reader that walks the
// fields of a message without trapping (a malformed message sets `failed` and stops). Wire format
// only; which fields mean what is in the modules that use it (filters/agent/discovery.ts,
// weir-resources.ts, accesslog-batch.ts).
import { ByteBuffer } from './byte-buffer';

export const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  Fixed32 = 5,
}

// Appends `value` as a base-128 varint.
export function appendVarint(buffer: ByteBuffer, value: u64): void {
  let rest = value;
  while (rest >= 0x80) {
    buffer.appendByte(<u8>((rest & 0x7f) | 0x80));
    rest >>= 7;
  }
  buffer.appendByte(<u8>rest);
}

// Bytes appendVarint() writes for `value`.
export function varintSize(value: u64): usize {
  let size: usize = 1;
  for (let rest = value; rest >= 0x80; rest >>= 7) size++;
  return size;
}

// Appends the key of field `field` with wire type `wireType`.
export function appendTag(buffer: ByteBuffer, field: u32, wireType: WireType): void {
  appendVarint(buffer, <u64>((field << 3) | <u32>wireType));
}

export class ProtoWriter {
  readonly buffer: ByteBuffer = new ByteBuffer();

  get length(): usize {
    return this.buffer.length;
  }

  varintField(field: u32, value: u64): void {
    this.varint(<u64>((field << 3) | WireType.Varint));
    this.varint(value);
  }

  stringField(field: u32, text: string): void {
    const encoded = String.UTF8.encode(text);
    this.bytesField(field, changetype<usize>(encoded), <usize>encoded.byteLength);
  }

  bytesField(field: u32, pointer: usize, length: usize): void {
    this.varint(<u64>((field << 3) | WireType.LengthDelimited));
    this.varint(<u64>length);
    this.buffer.appendBytes(pointer, length);
  }

  messageField(field: u32, nested: ProtoWriter): void {
    this.bytesField(field, nested.buffer.readPtr, nested.buffer.length);
  }

  release(): void {
    this.buffer.release();
  }

  private varint(value: u64): void {
    appendVarint(this.buffer, value);
  }
}

// Reads fields in order: `while (reader.next()) { switch on reader.field ... }`. A length-delimited
// field's bytes are [valuePointer, valuePointer + valueLength); a varint's value is `varint`.
export class ProtoReader {
  private position: i32 = 0;
  field: u32 = 0;
  wireType: u32 = 0;
  varint: u64 = 0;
  valuePointer: usize = 0;
  valueLength: i32 = 0;
  failed: bool = false;

  constructor(
    private base: usize,
    private length: i32,
  ) {}

  // Advances to the next field; false at the end or on malformed input (then `failed`).
  next(): bool {
    if (this.failed || this.position >= this.length) return false;
    const tag = this.readVarint();
    if (this.failed) return false;
    this.field = <u32>(tag >> 3);
    this.wireType = <u32>(tag & 7);
    if (this.field == 0) return this.fail();
    if (this.wireType == WireType.Varint) {
      this.varint = this.readVarint();
    } else if (this.wireType == WireType.LengthDelimited) {
      const size = this.readVarint();
      if (this.failed || size > <u64>(this.length - this.position)) return this.fail();
      this.valuePointer = this.base + <usize>this.position;
      this.valueLength = <i32>size;
      this.position += <i32>size;
    } else if (this.wireType == WireType.Fixed64) {
      if (this.length - this.position < 8) return this.fail();
      this.position += 8;
    } else if (this.wireType == WireType.Fixed32) {
      if (this.length - this.position < 4) return this.fail();
      this.position += 4;
    } else {
      return this.fail(); // groups (3, 4) and unknown wire types
    }
    return !this.failed;
  }

  // The current length-delimited field as UTF-8 text.
  stringValue(): string {
    return String.UTF8.decodeUnsafe(this.valuePointer, <usize>this.valueLength);
  }

  // A reader over the current length-delimited field (a nested message).
  nested(): ProtoReader {
    return new ProtoReader(this.valuePointer, this.valueLength);
  }

  private readVarint(): u64 {
    let value: u64 = 0;
    for (let shift: u64 = 0; shift < 70; shift += 7) {
      if (this.position >= this.length) {
        this.fail();
        return 0;
      }
      const byte = load<u8>(this.base + <usize>this.position); // safe: position < length
      this.position++;
      value |= (<u64>(byte & 0x7f)) << shift;
      if ((byte & 0x80) == 0) return value;
    }
    this.fail();
    return 0;
  }

  private fail(): bool {
    this.failed = true;
    return false;
  }
}
