// A small pull reader for the plugin configuration's JSON: objects, arrays, strings, numbers,
// true/false/null, nested up to MAX_DEPTH. It never traps: every read checks bounds, and the first
// problem is kept (with its byte offset) in `problem` while later reads fail quietly. Allocates
// strings for keys and string values; meant for configuration time, not for connection bytes.
import { ByteBuffer } from './byte-buffer';

const MAX_DEPTH: i32 = 32;

export const enum JsonKind {
  Invalid = 0,
  Object = 1,
  Array = 2,
  String = 3,
  Number = 4,
  True = 5,
  False = 6,
  Null = 7,
}

export class JsonReader {
  private position: i32 = 0;
  private depth: i32 = 0;
  // Per open container: how many members/elements were read, to require commas between them.
  private itemsRead: StaticArray<i32> = new StaticArray<i32>(MAX_DEPTH + 1);
  problem: string = '';

  constructor(
    private base: usize,
    private length: i32,
  ) {}

  get failed(): bool {
    return this.problem.length > 0;
  }

  fail(reason: string): void {
    if (!this.failed) this.problem = 'byte ' + this.position.toString() + ': ' + reason;
  }

  // The kind of the next value, without consuming it.
  peekKind(): JsonKind {
    this.skipWhitespace();
    const c = this.peekByte();
    if (c == 0x7b) return JsonKind.Object;
    if (c == 0x5b) return JsonKind.Array;
    if (c == 0x22) return JsonKind.String;
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return JsonKind.Number;
    if (c == 0x74) return JsonKind.True;
    if (c == 0x66) return JsonKind.False;
    if (c == 0x6e) return JsonKind.Null;
    return JsonKind.Invalid;
  }

  beginObject(): bool {
    return this.openContainer(0x7b, 'expected an object');
  }

  // Reads the next member's key (and its ':'); null at the closing '}' or on a problem.
  nextKey(): string | null {
    if (!this.nextItem(0x7d)) return null;
    if (this.peekKind() != JsonKind.String) {
      this.fail('expected a member name in double quotes');
      return null;
    }
    const key = this.readString();
    this.skipWhitespace();
    if (this.peekByte() != 0x3a) {
      this.fail("expected ':' after member name");
      return null;
    }
    this.position++;
    return key;
  }

  beginArray(): bool {
    return this.openContainer(0x5b, 'expected an array');
  }

  // True when another element follows (then read it); false at the closing ']' or on a problem.
  nextElement(): bool {
    return this.nextItem(0x5d);
  }

  readString(): string {
    this.skipWhitespace();
    if (this.peekByte() != 0x22) {
      this.fail('expected a string');
      return '';
    }
    this.position++;
    const text = new ByteBuffer();
    while (!this.failed) {
      const c = this.peekByte();
      if (c < 0) this.fail('unterminated string');
      else if (c == 0x22) break;
      else if (c < 0x20) this.fail('control character in string');
      else if (c == 0x5c) this.readEscape(text);
      else {
        text.appendByte(<u8>c);
        this.position++;
      }
    }
    this.position++;
    const value = this.failed ? '' : String.UTF8.decodeUnsafe(text.readPtr, text.length);
    text.release();
    return value;
  }

  // A JSON number; NaN (and a problem) when the next value is not one.
  readNumber(): f64 {
    this.skipWhitespace();
    const begin = this.position;
    if (this.peekByte() == 0x2d) this.position++;
    if (this.skipDigits() == 0) {
      this.fail('expected a number');
      return NaN;
    }
    if (this.peekByte() == 0x2e) {
      this.position++;
      if (this.skipDigits() == 0) this.fail('expected digits after the decimal point');
    }
    const e = this.peekByte();
    if (e == 0x65 || e == 0x45) {
      this.position++;
      const sign = this.peekByte();
      if (sign == 0x2b || sign == 0x2d) this.position++;
      if (this.skipDigits() == 0) this.fail('expected digits in the exponent');
    }
    if (this.failed) return NaN;
    return parseFloat(String.UTF8.decodeUnsafe(this.base + <usize>begin, <usize>(this.position - begin)));
  }

  // An integer in [min, max]; `fallback` (and a problem naming `what`) otherwise.
  readInteger(what: string, min: f64, max: f64, fallback: i64): i64 {
    const value = this.readNumber();
    if (this.failed) return fallback;
    if (value != Math.floor(value) || value < min || value > max) {
      this.fail(what + ' must be an integer from ' + (<i64>min).toString() + ' to ' + (<i64>max).toString());
      return fallback;
    }
    return <i64>value;
  }

  readBool(): bool {
    const kind = this.peekKind();
    if (kind == JsonKind.True) return this.expectWord('true');
    if (kind == JsonKind.False) {
      this.expectWord('false');
      return false;
    }
    this.fail('expected true or false');
    return false;
  }

  // Skips one value of any kind, nested containers included.
  skipValue(): void {
    const kind = this.peekKind();
    if (kind == JsonKind.Object) {
      if (!this.beginObject()) return;
      while (this.nextKey() !== null) this.skipValue();
    } else if (kind == JsonKind.Array) {
      if (!this.beginArray()) return;
      while (this.nextElement()) this.skipValue();
    } else if (kind == JsonKind.String) this.readString();
    else if (kind == JsonKind.Number) this.readNumber();
    else if (kind == JsonKind.True) this.expectWord('true');
    else if (kind == JsonKind.False) this.expectWord('false');
    else if (kind == JsonKind.Null) this.expectWord('null');
    else this.fail('expected a JSON value');
  }

  // True when only whitespace remains.
  atEnd(): bool {
    this.skipWhitespace();
    return this.position >= this.length;
  }

  private openContainer(open: i32, expectation: string): bool {
    this.skipWhitespace();
    if (this.failed || this.peekByte() != open) {
      this.fail(expectation);
      return false;
    }
    if (this.depth >= MAX_DEPTH) {
      this.fail('nested deeper than ' + MAX_DEPTH.toString() + ' levels');
      return false;
    }
    this.position++;
    this.depth++;
    this.itemsRead[this.depth] = 0;
    return true;
  }

  private nextItem(close: i32): bool {
    if (this.failed || this.depth == 0) return false;
    this.skipWhitespace();
    if (this.peekByte() == close) {
      this.position++;
      this.depth--;
      return false;
    }
    if (this.itemsRead[this.depth] > 0) {
      if (this.peekByte() != 0x2c) {
        this.fail(close == 0x7d ? "expected ',' or '}'" : "expected ',' or ']'");
        return false;
      }
      this.position++;
    }
    this.itemsRead[this.depth] += 1;
    return true;
  }

  private readEscape(text: ByteBuffer): void {
    this.position++;
    const c = this.peekByte();
    this.position++;
    if (c == 0x22 || c == 0x5c || c == 0x2f) text.appendByte(<u8>c);
    else if (c == 0x62) text.appendByte(0x08);
    else if (c == 0x66) text.appendByte(0x0c);
    else if (c == 0x6e) text.appendByte(0x0a);
    else if (c == 0x72) text.appendByte(0x0d);
    else if (c == 0x74) text.appendByte(0x09);
    else if (c == 0x75) this.readUnicodeEscape(text);
    else this.fail('invalid escape in string');
  }

  // \uXXXX, written as UTF-8 (a lone surrogate is written as its 3-byte form).
  private readUnicodeEscape(text: ByteBuffer): void {
    let code: u32 = 0;
    for (let i = 0; i < 4; i++) {
      const digit = hexValue(this.peekByte());
      if (digit < 0) {
        this.fail('invalid \\u escape');
        return;
      }
      code = (code << 4) | <u32>digit;
      this.position++;
    }
    if (code < 0x80) text.appendByte(<u8>code);
    else if (code < 0x800) {
      text.appendByte(<u8>(0xc0 | (code >> 6)));
      text.appendByte(<u8>(0x80 | (code & 0x3f)));
    } else {
      text.appendByte(<u8>(0xe0 | (code >> 12)));
      text.appendByte(<u8>(0x80 | ((code >> 6) & 0x3f)));
      text.appendByte(<u8>(0x80 | (code & 0x3f)));
    }
  }

  private expectWord(word: string): bool {
    for (let i = 0; i < word.length; i++) {
      if (this.peekByte() != word.charCodeAt(i)) {
        this.fail('expected ' + word);
        return false;
      }
      this.position++;
    }
    return true;
  }

  private skipDigits(): i32 {
    let count = 0;
    while (true) {
      const c = this.peekByte();
      if (c < 0x30 || c > 0x39) return count;
      this.position++;
      count++;
    }
    return count;
  }

  private skipWhitespace(): void {
    while (true) {
      const c = this.peekByte();
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) return;
      this.position++;
    }
  }

  // The byte at the current position, or -1 past the end.
  private peekByte(): i32 {
    if (<u32>this.position >= <u32>this.length) return -1;
    return <i32>load<u8>(this.base + <usize>this.position); // safe: position < length
  }
}

function hexValue(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}
