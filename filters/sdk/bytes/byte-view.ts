// The bounds-checked reader a parser gets as `data`: a window onto the SDK's buffered bytes that
// starts on a frame boundary. Every read checks its offset first and returns NEED_MORE (the bytes
// are not there yet) or MALFORMED as a value; nothing here can trap, throw or allocate, except the
// explicitly named *String helpers meant for log fields. Only the SDK creates or moves views.

// Returned by reads whose bytes have not arrived yet.
export const NEED_MORE: i32 = -1;
// Returned by reads whose bytes are there but do not form a valid value.
export const MALFORMED: i32 = -2;

export const enum Ascii {
  LF = 0x0a,
  CR = 0x0d,
  Space = 0x20,
  Quote = 0x22,
  Backslash = 0x5c,
}

export class ByteView {
  // Start of the window in Wasm memory and its length; set only by the SDK (setWindow).
  private base: usize = 0;
  private count: i32 = 0;

  get length(): i32 {
    return this.count;
  }

  // Raw start address, for SDK code that copies bytes out (log fields, rule matching).
  get pointer(): usize {
    return this.base;
  }

  setWindow(base: usize, count: i32): void {
    this.base = base;
    this.count = count;
  }

  // Points this view at bytes [offset, offset + length) of `parent` (one frame of a read, so
  // reads past the frame return NEED_MORE); false, the view untouched, when out of range.
  narrowTo(parent: ByteView, offset: i32, length: i32): bool {
    if (!parent.has(offset, length)) return false;
    this.setWindow(parent.pointer + <usize>offset, length);
    return true;
  }

  // True when [offset, offset + size) lies inside the window; one unsigned compare per bound
  // catches negative offsets and overruns together.
  has(offset: i32, size: i32): bool {
    return <u32>offset <= <u32>this.count && <u32>size <= <u32>(this.count - offset);
  }

  // The byte at `offset`, or NEED_MORE.
  byteAt(offset: i32): i32 {
    if (!this.has(offset, 1)) return NEED_MORE;
    // safe: has(offset, 1) proved base + offset is inside the window
    return <i32>load<u8>(this.base + <usize>offset);
  }

  u16be(offset: i32): i32 {
    if (!this.has(offset, 2)) return NEED_MORE;
    const at = this.base + <usize>offset; // safe: has(offset, 2)
    return (<i32>load<u8>(at) << 8) | <i32>load<u8>(at + 1);
  }

  u16le(offset: i32): i32 {
    if (!this.has(offset, 2)) return NEED_MORE;
    const at = this.base + <usize>offset; // safe: has(offset, 2)
    return <i32>load<u8>(at) | (<i32>load<u8>(at + 1) << 8);
  }

  // Unsigned 32-bit reads widen to i64 so that NEED_MORE stays distinguishable from the value.
  u32be(offset: i32): i64 {
    if (!this.has(offset, 4)) return NEED_MORE;
    const at = this.base + <usize>offset; // safe: has(offset, 4)
    return <i64>bswap<u32>(load<u32>(at));
  }

  u32le(offset: i32): i64 {
    if (!this.has(offset, 4)) return NEED_MORE;
    return <i64>load<u32>(this.base + <usize>offset); // safe: has(offset, 4)
  }

  // Offset of the first `value` at or after `from`, or NEED_MORE when the window has none.
  indexOf(value: u8, from: i32): i32 {
    if (from < 0) return MALFORMED;
    for (let i = from; i < this.count; i++) {
      // safe: 0 <= from <= i < count
      if (load<u8>(this.base + <usize>i) == value) return i;
    }
    return NEED_MORE;
  }

  // Offset of the first `value` in [from, end), or NEED_MORE when there is none.
  indexOfBefore(value: u8, from: i32, end: i32): i32 {
    if (from < 0) return MALFORMED;
    const limit = end < this.count ? end : this.count;
    for (let i = from; i < limit; i++) {
      // safe: 0 <= from <= i < limit <= count
      if (load<u8>(this.base + <usize>i) == value) return i;
    }
    return NEED_MORE;
  }

  // Length of the line starting at `from`, excluding its "\r\n", or NEED_MORE when no "\r\n" has
  // arrived yet. A bare "\n" does not end a line.
  lineLength(from: i32): i32 {
    let searchFrom = from;
    while (true) {
      const lf = this.indexOf(<u8>Ascii.LF, searchFrom);
      if (lf < 0) return lf;
      if (lf > from && this.byteAt(lf - 1) == Ascii.CR) return lf - 1 - from;
      searchFrom = lf + 1;
    }
    return NEED_MORE; // unreachable; keeps the compiler's flow analysis satisfied
  }

  // End offset of a string whose length precedes it as an unsigned big-endian integer of
  // `prefixBytes` (1, 2 or 4) at `offset`; NEED_MORE until the whole string is there, MALFORMED
  // for another prefix width or a length past i32.
  lengthPrefixedEnd(offset: i32, prefixBytes: i32): i64 {
    let size: i64;
    if (prefixBytes == 1) size = this.byteAt(offset);
    else if (prefixBytes == 2) size = this.u16be(offset);
    else if (prefixBytes == 4) size = this.u32be(offset);
    else return MALFORMED;
    if (size < 0) return size;
    const end = <i64>offset + <i64>prefixBytes + size;
    if (end > <i64>i32.MAX_VALUE) return MALFORMED;
    if (end > <i64>this.count) return NEED_MORE;
    return end;
  }

  // True when the `length` bytes at `offset` equal the ASCII text `expected`.
  equalsAscii(offset: i32, length: i32, expected: string): bool {
    if (length != expected.length || !this.has(offset, length)) return false;
    return this.matchesAsciiAt(offset, expected);
  }

  startsWithAscii(offset: i32, expected: string): bool {
    if (!this.has(offset, expected.length)) return false;
    return this.matchesAsciiAt(offset, expected);
  }

  // True when the ASCII text `needle` occurs inside the `length` bytes at `offset`.
  containsAscii(offset: i32, length: i32, needle: string): bool {
    if (!this.has(offset, length)) return false;
    const last = offset + length - needle.length;
    for (let at = offset; at <= last; at++) {
      if (this.matchesAsciiAt(at, needle)) return true;
    }
    return false;
  }

  // Allocates: the bytes as a string, each byte one character (Latin-1). For log fields and
  // diagnostics, never for matching.
  latin1String(offset: i32, length: i32): string {
    if (!this.has(offset, length)) return '';
    let text = '';
    for (let i = 0; i < length; i++) text += String.fromCharCode(<i32>load<u8>(this.base + <usize>(offset + i)));
    return text;
  }

  // Caller proved has(offset, expected.length).
  private matchesAsciiAt(offset: i32, expected: string): bool {
    const at = this.base + <usize>offset;
    for (let i = 0; i < expected.length; i++) {
      if (<i32>load<u8>(at + <usize>i) != expected.charCodeAt(i)) return false;
    }
    return true;
  }
}
