// Reading one memcached text line the way memcached 1.6 does: the line ends at the first "\n"
// (a "\r" before it is dropped), tokens are separated by one or more spaces (tabs are part of a
// token), and numbers are plain decimal digits. Keeping to memcached's own reading is what stops
// a request from meaning one thing to the filter and another to the server. No allocation.
import { Ascii, ByteView } from '../../sdk/index';

// Tokens whose positions are kept; later tokens are only counted (and re-scanned when needed).
const STORED_TOKENS: i32 = 24;

export class LineTokens {
  private starts: StaticArray<i32> = new StaticArray<i32>(STORED_TOKENS);
  private ends: StaticArray<i32> = new StaticArray<i32>(STORED_TOKENS);
  count: i32 = 0; // every token of the line, stored or not
  lastEnd: i32 = 0; // end offset of the last token

  // Splits [from, end) of `data` into tokens.
  scan(data: ByteView, from: i32, end: i32): void {
    this.count = 0;
    this.lastEnd = from;
    let at = from;
    while (at < end) {
      while (at < end && data.byteAt(at) == Ascii.Space) at++;
      if (at >= end) break;
      const start = at;
      while (at < end && data.byteAt(at) != Ascii.Space) at++;
      if (this.count < STORED_TOKENS) {
        this.starts[this.count] = start;
        this.ends[this.count] = at;
      }
      this.count++;
      this.lastEnd = at;
    }
  }

  // Start of token `index` (only the first STORED_TOKENS are kept), or -1.
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

// Where a request or reply line ends: `lineEnd` excludes the "\r\n" (or "\n"), `next` is the
// offset after the "\n". found is false until the "\n" has arrived.
export class LineBounds {
  found: bool = false;
  lineEnd: i32 = 0;
  next: i32 = 0;

  locate(data: ByteView): void {
    const lf = data.indexOf(<u8>Ascii.LF, 0);
    this.found = lf >= 0;
    if (!this.found) return;
    // memcached drops the "\r" only when the line has something before it
    this.lineEnd = lf > 1 && data.byteAt(lf - 1) == Ascii.CR ? lf - 1 : lf;
    this.next = lf + 1;
  }
}

// The value of the decimal digits [start, start + length), or -1 when they are not all digits,
// are empty, or exceed `max`.
export function decimalValue(data: ByteView, start: i32, length: i32, max: i64): i64 {
  if (length <= 0 || length > 19) return -1;
  let value: i64 = 0;
  for (let i = 0; i < length; i++) {
    const digit = data.byteAt(start + i) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    value = value * 10 + <i64>digit;
  }
  return value <= max ? value : -1;
}

// True for an optionally negative decimal integer of at most 10 digits (memcached's exptime).
export function isSignedDecimal(data: ByteView, start: i32, length: i32): bool {
  const negative = length > 1 && data.byteAt(start) == 0x2d;
  const digitsStart = negative ? start + 1 : start;
  const digits = negative ? length - 1 : length;
  return digits <= 10 && decimalValue(data, digitsStart, digits, 9999999999) >= 0;
}

// True for 1..20 decimal digits (memcached's unsigned flags and cas values).
export function isUnsignedDecimal(data: ByteView, start: i32, length: i32): bool {
  if (length <= 0 || length > 20) return false;
  for (let i = 0; i < length; i++) {
    const digit = data.byteAt(start + i) - 0x30;
    if (digit < 0 || digit > 9) return false;
  }
  return true;
}
