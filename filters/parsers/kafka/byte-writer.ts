// A growable big-endian byte buffer for the frames the Kafka parser builds itself: deny
// responses, rewritten requests and responses. Allocated once per connection; grows by doubling.
import { ByteView } from '../../sdk/index';

export class ByteWriter {
  private bytes: Uint8Array = new Uint8Array(256);
  private used: i32 = 0;

  get length(): i32 {
    return this.used;
  }

  reset(): void {
    this.used = 0;
  }

  u8(value: i32): void {
    this.reserve(1);
    this.bytes[this.used++] = <u8>value;
  }

  i16(value: i32): void {
    this.reserve(2);
    this.bytes[this.used++] = <u8>(value >> 8);
    this.bytes[this.used++] = <u8>value;
  }

  i32(value: i32): void {
    this.reserve(4);
    this.bytes[this.used++] = <u8>(value >> 24);
    this.bytes[this.used++] = <u8>(value >> 16);
    this.bytes[this.used++] = <u8>(value >> 8);
    this.bytes[this.used++] = <u8>value;
  }

  i64(value: i64): void {
    this.i32(<i32>(value >> 32));
    this.i32(<i32>value);
  }

  zeros(count: i32): void {
    this.reserve(count);
    for (let i = 0; i < count; i++) this.bytes[this.used++] = 0;
  }

  unsignedVarint(value: u32): void {
    this.reserve(5);
    while (value >= 0x80) {
      this.bytes[this.used++] = <u8>((value & 0x7f) | 0x80);
      value >>>= 7;
    }
    this.bytes[this.used++] = <u8>value;
  }

  // A length or count prefix: compact (unsigned varint of n + 1) or classic (INT16 or INT32).
  lengthPrefix(compact: bool, short: bool, length: i32): void {
    if (compact) this.unsignedVarint(<u32>(length + 1));
    else if (short) this.i16(length);
    else this.i32(length);
  }

  fromView(view: ByteView, offset: i32, length: i32): void {
    if (length <= 0 || !view.has(offset, length)) return;
    this.reserve(length);
    for (let i = 0; i < length; i++) this.bytes[this.used++] = <u8>view.byteAt(offset + i);
  }

  fromBuffer(source: ArrayBuffer): void {
    const from = Uint8Array.wrap(source);
    this.reserve(from.length);
    for (let i = 0; i < from.length; i++) this.bytes[this.used++] = from[i];
  }

  // Overwrites the INT32 at `at` (a size prefix written earlier).
  patchI32(at: i32, value: i32): void {
    if (at < 0 || at + 4 > this.used) return;
    this.bytes[at] = <u8>(value >> 24);
    this.bytes[at + 1] = <u8>(value >> 16);
    this.bytes[at + 2] = <u8>(value >> 8);
    this.bytes[at + 3] = <u8>value;
  }

  patchI16(at: i32, value: i32): void {
    if (at < 0 || at + 2 > this.used) return;
    this.bytes[at] = <u8>(value >> 8);
    this.bytes[at + 1] = <u8>value;
  }

  // A copy of what was written, as the SDK takes deny replies and injected bytes.
  toArrayBuffer(): ArrayBuffer {
    return this.bytes.slice(0, this.used).buffer;
  }

  private reserve(extra: i32): void {
    if (this.used + extra <= this.bytes.length) return;
    let capacity = this.bytes.length * 2;
    while (capacity < this.used + extra) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.bytes.subarray(0, this.used));
    this.bytes = grown;
  }
}
