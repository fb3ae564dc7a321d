// A growable run of bytes in raw (non-GC) Wasm memory with a read offset: the per-connection,
// per-direction input and output buffers of the op loop, and scratch space for log lines.
// Owns its heap block and frees it in release(). Knows nothing about frames or ops.

import { ByteView } from './byte-view';

export const enum LetterCase {
  AsIs = 0,
  Lower = 1,
}

export class ByteBuffer {
  ptr: usize = 0;
  capacity: usize = 0;
  start: usize = 0; // first unread byte (offset from ptr)
  end: usize = 0; // one past the last written byte (offset from ptr)

  get length(): usize {
    return this.end - this.start;
  }

  get readPtr(): usize {
    return this.ptr + this.start;
  }

  // Makes room for `extra` more bytes after `end`, first sliding unread bytes to the front.
  // Inlined check, out-of-line work: appends are the hot path of building log entries.
  @inline reserve(extra: usize): void {
    if (this.start > 0 || this.end + extra > this.capacity) this.makeRoom(extra);
  }

  private makeRoom(extra: usize): void {
    if (this.start > 0) this.compact();
    const needed = this.end + extra;
    if (needed <= this.capacity) return;
    let grown = this.capacity < 256 ? <usize>256 : this.capacity;
    while (grown < needed) grown <<= 1;
    this.ptr = this.ptr == 0 ? heap.alloc(grown) : heap.realloc(this.ptr, grown);
    this.capacity = grown;
  }

  // Pointer where the next `extra` bytes may be written; call advanceEnd(n) after writing n.
  @inline writePtr(extra: usize): usize {
    this.reserve(extra);
    return this.ptr + this.end;
  }

  advanceEnd(written: usize): void {
    this.end += written;
  }

  appendBytes(source: usize, count: usize): void {
    if (count == 0) return;
    const target = this.writePtr(count);
    memory.copy(target, source, count);
    this.end += count;
  }

  appendByte(value: u8): void {
    const end = this.end;
    if (end < this.capacity) {
      store<u8>(this.ptr + end, value); // safe: end < capacity, the size of the block at ptr
      this.end = end + 1;
      return;
    }
    const target = this.writePtr(1);
    store<u8>(target, value);
    this.end += 1;
  }

  appendArrayBuffer(bytes: ArrayBuffer): void {
    this.appendBytes(changetype<usize>(bytes), <usize>bytes.byteLength);
  }

  // Appends an ASCII/Latin-1 string byte by byte (the string's UTF-16 code units truncated to a
  // byte); for the fixed text of log lines and protocol constants.
  appendAscii(text: string): void {
    const count = <usize>text.length;
    const target = this.writePtr(count);
    const units = changetype<usize>(text);
    for (let i: usize = 0; i < count; i++) store<u8>(target + i, <u8>load<u16>(units + (i << 1))); // safe: i < text.length code units
    this.end += count;
  }

  appendDecimal(value: u64): void {
    if (value == 0) {
      this.appendByte(0x30);
      return;
    }
    let digits: usize = 0;
    for (let rest = value; rest > 0; rest /= 10) digits++;
    const target = this.writePtr(digits);
    let rest = value;
    for (let i = digits; i > 0; i--) {
      store<u8>(target + i - 1, <u8>(0x30 + <u32>(rest % 10)));
      rest /= 10;
    }
    this.end += digits;
  }

  // Appends bytes [offset, offset + length) of `view` (nothing when out of range); with
  // LetterCase.Lower, ASCII capitals lower-cased (names a server folds).
  appendFromView(view: ByteView, offset: i32, length: i32, letters: LetterCase = LetterCase.AsIs): void {
    if (!view.has(offset, length)) return;
    const target = this.writePtr(<usize>length);
    memory.copy(target, view.pointer + <usize>offset, <usize>length); // safe: view.has checked the range
    if (letters == LetterCase.Lower) {
      for (let i: usize = 0; i < <usize>length; i++) {
        const byte = load<u8>(target + i); // safe: i < length bytes just reserved
        if (byte >= 0x41 && byte <= 0x5a) store<u8>(target + i, byte + 0x20);
      }
    }
    this.end += <usize>length;
  }

  // Points `view` at the unread bytes; again after every change (the buffer moves as it grows).
  viewInto(view: ByteView): ByteView {
    view.setWindow(this.readPtr, <i32>this.length);
    return view;
  }

  // A copy of unread bytes [offset, offset + length), empty when out of range.
  copyOut(offset: i32, length: i32): ArrayBuffer {
    if (offset < 0 || length < 0 || <usize>offset + <usize>length > this.length) return new ArrayBuffer(0);
    const copy = new ArrayBuffer(length);
    memory.copy(changetype<usize>(copy), this.readPtr + <usize>offset, <usize>length);
    return copy;
  }

  // Marks `count` unread bytes as consumed (count must not exceed length).
  consume(count: usize): void {
    this.start += count;
    if (this.start >= this.end) this.clear();
  }

  // Keeps only the first `length` unread bytes (no effect when there are fewer).
  truncate(length: usize): void {
    if (length < this.length) this.end = this.start + length;
  }

  clear(): void {
    this.start = 0;
    this.end = 0;
  }

  compact(): void {
    if (this.start == 0) return;
    const remaining = this.end - this.start;
    if (remaining > 0) memory.copy(this.ptr, this.ptr + this.start, remaining);
    this.start = 0;
    this.end = remaining;
  }

  // Frees the heap block; the buffer is empty and reusable afterwards.
  release(): void {
    if (this.ptr != 0) heap.free(this.ptr);
    this.ptr = 0;
    this.capacity = 0;
    this.clear();
  }
}
