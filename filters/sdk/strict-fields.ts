// Reading the fields of a text protocol's request line strictly, so that a parser accepts a field
// only in the one form whose value it is sure the server reads the same way: tokens separated by
// a delimiter byte (runs of it count as one), decimal numbers as plain digits with no sign,
// whitespace or leading '+', and an upper bound checked without overflow. A field outside these
// forms is a reason to close the connection (close-on-doubt.ts), not to guess. No allocation.
import { ByteView } from './byte-view';

// Tokens whose positions are kept; later tokens are only counted (and re-scanned when needed).
const STORED_TOKENS: i32 = 24;

export class LineTokens {
  private starts: StaticArray<i32> = new StaticArray<i32>(STORED_TOKENS);
  private ends: StaticArray<i32> = new StaticArray<i32>(STORED_TOKENS);
  count: i32 = 0; // every token of the line, stored or not
  lastEnd: i32 = 0; // end offset of the last token

  // Splits [from, end) of `data` into tokens separated by runs of `delimiter`.
  scan(data: ByteView, from: i32, end: i32, delimiter: u8 = 0x20): void {
    this.count = 0;
    this.lastEnd = from;
    let at = from;
    while (at < end) {
      while (at < end && data.byteAt(at) == <i32>delimiter) at++;
      if (at >= end) break;
      const start = at;
      while (at < end && data.byteAt(at) != <i32>delimiter) at++;
      if (this.count < STORED_TOKENS) {
        this.starts[this.count] = start;
        this.ends[this.count] = at;
      }
      this.count++;
      this.lastEnd = at;
    }
  }

  // Start of token `index` (only the first 24 are kept), or -1.
  start(index: i32): i32 {
    return index >= 0 && index < this.count && index < STORED_TOKENS ? this.starts[index] : -1;
  }

  length(index: i32): i32 {
    return index >= 0 && index < this.count && index < STORED_TOKENS ? this.ends[index] - this.starts[index] : 0;
  }

  // True when token `index` equals the ASCII text `word`.
  is(data: ByteView, index: i32, word: string): bool {
    const start = this.start(index);
    return start >= 0 && data.equalsAscii(start, this.length(index), word);
  }
}

export const U64_MAX: u64 = 0xffffffffffffffff;

// True when [start, start + length) is one or more plain decimal digits whose value is at most
// `max` (any u64); false for a sign, whitespace, any other byte, or a larger value.
export function isDecimalAtMost(data: ByteView, start: i32, length: i32, max: u64): bool {
  if (length <= 0 || !data.has(start, length)) return false;
  let value: u64 = 0;
  for (let i = 0; i < length; i++) {
    const digit = data.byteAt(start + i) - 0x30;
    if (digit < 0 || digit > 9) return false;
    // value * 10 + digit <= max, checked without overflowing
    if (value > (max - <u64>digit) / 10) return false;
    value = value * 10 + <u64>digit;
  }
  return true;
}

// The value of plain decimal digits at most `max` (0 <= max <= i64.MAX), or -1 when the field is
// not plain digits or larger.
export function decimalAtMost(data: ByteView, start: i32, length: i32, max: i64): i64 {
  if (max < 0 || !isDecimalAtMost(data, start, length, <u64>max)) return -1;
  let value: i64 = 0;
  for (let i = 0; i < length; i++) value = value * 10 + <i64>(data.byteAt(start + i) - 0x30);
  return value;
}

// True for plain decimal digits, optionally after one '-', whose magnitude is at most `maxMagnitude`.
export function isSignedDecimalWithin(data: ByteView, start: i32, length: i32, maxMagnitude: u64): bool {
  const negative = length > 1 && data.byteAt(start) == 0x2d;
  return negative ? isDecimalAtMost(data, start + 1, length - 1, maxMagnitude) : isDecimalAtMost(data, start, length, maxMagnitude);
}
