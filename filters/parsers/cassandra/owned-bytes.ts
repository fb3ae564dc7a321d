// Bytes the Cassandra parser builds itself (normalised `keyspace.table` names, action names, a
// large v5 envelope reassembled from its segments) exposed through the SDK's ByteView, so rule
// matching (RequestRecord) and access-log fields read them like wire bytes; and sub-views that
// bound reads to one frame. The buffer is allocated per connection and grows only when a longer
// value arrives; views are re-pointed after every change, never dereferenced here.
import { ByteView } from '../../sdk/index';

export class OwnedBytes {
  private bytes: Uint8Array = new Uint8Array(256);
  private used: i32 = 0;
  readonly view: ByteView = new ByteView();

  get length(): i32 {
    return this.used;
  }

  reset(): void {
    this.used = 0;
    this.refreshView();
  }

  appendByte(value: i32): void {
    this.reserve(1);
    this.bytes[this.used++] = <u8>value;
    this.refreshView();
  }

  appendAscii(text: string): void {
    this.reserve(text.length);
    for (let i = 0; i < text.length; i++) this.bytes[this.used++] = <u8>text.charCodeAt(i);
    this.refreshView();
  }

  appendBuffer(source: ArrayBuffer): void {
    const from = Uint8Array.wrap(source);
    this.reserve(from.length);
    for (let i = 0; i < from.length; i++) this.bytes[this.used++] = from[i];
    this.refreshView();
  }

  // Appends `length` bytes of `source` at `offset`, lower-casing ASCII letters when asked.
  appendFromView(source: ByteView, offset: i32, length: i32, lowerCase: bool): void {
    if (!source.has(offset, length)) return;
    this.reserve(length);
    for (let i = 0; i < length; i++) {
      let byte = source.byteAt(offset + i);
      if (lowerCase && byte >= 0x41 && byte <= 0x5a) byte += 0x20;
      this.bytes[this.used++] = <u8>byte;
    }
    this.refreshView();
  }

  // A copy of bytes [offset, offset + length), e.g. to keep a prepared statement's table.
  copyOut(offset: i32, length: i32): ArrayBuffer {
    const copy = new Uint8Array(length);
    if (offset < 0 || length < 0 || offset + length > this.used) return copy.buffer;
    for (let i = 0; i < length; i++) copy[i] = this.bytes[offset + i];
    return copy.buffer;
  }

  // A copy of everything, as the payload of a segment to build.
  toUint8Array(): Uint8Array {
    return this.bytes.slice(0, this.used);
  }

  private reserve(extra: i32): void {
    if (this.used + extra <= this.bytes.length) return;
    let capacity = this.bytes.length * 2;
    while (capacity < this.used + extra) capacity *= 2;
    const grown = new Uint8Array(capacity);
    grown.set(this.bytes.subarray(0, this.used));
    this.bytes = grown;
  }

  private refreshView(): void {
    this.view.setWindow(this.bytes.dataStart, this.used);
  }
}

// Points `target` at bytes [offset, offset + length) of `parent`, so reads past the frame fail
// as NEED_MORE instead of reading the next frame. False (target untouched) when out of range.
export function narrowView(parent: ByteView, offset: i32, length: i32, target: ByteView): bool {
  if (!parent.has(offset, length)) return false;
  target.setWindow(parent.pointer + <usize>offset, length);
  return true;
}
