// The parser's own key-value pairs of one access-log entry (AccessLogEntry.fields), filled before
// Connection.log(). Keeps every pair as UTF-8 (bytes/utf8.ts) in one buffer, so an entry's two
// outputs, the protobuf entry for the agent (entry-protobuf.ts) and the `weir-accesslog` line
// (entry-line.ts), read the same pairs; a key given twice is sent twice (the server keeps the
// last). Allocates only when its buffer grows.
import { ByteBuffer } from '../bytes/byte-buffer';
import { ByteView } from '../bytes/byte-view';
import { appendUtf8OfBytes, appendUtf8OfString } from '../bytes/utf8';

// Layout of `pairs`, pair after pair: [u32 key length][u32 value length][key][value] (lengths in
// bytes, little-endian), so the value of the last pair can grow in place (appendToLastValue). The
// key length's top bit marks a number (addNumber), which the `weir-accesslog` line writes as a JSON
// number; the agent gets every value as text.
export const PAIR_HEADER_BYTES: usize = 8;
export const NUMBER_VALUE: u32 = 0x80000000;

export class LogFields {
  readonly pairs: ByteBuffer = new ByteBuffer();
  // Offset in `pairs` of the last pair's header (-1: none).
  private lastPairAt: isize = -1;

  clear(): LogFields {
    this.pairs.clear();
    this.lastPairAt = -1;
    return this;
  }

  // Adds "key": "<bytes of the view>"; a range outside the view adds an empty string.
  addBytes(key: string, view: ByteView, offset: i32, length: i32): LogFields {
    this.beginPair(key);
    if (view.has(offset, length)) appendUtf8OfBytes(this.pairs, view.pointer + <usize>offset, <usize>length);
    return this.endPair();
  }

  // Adds "key": "<the `length` bytes at `pointer`>"; the caller vouches for the range (a value of
  // a RequestRecord during the callback that filled it).
  addRecordValue(key: string, pointer: usize, length: i32): LogFields {
    this.beginPair(key);
    appendUtf8OfBytes(this.pairs, pointer, <usize>length);
    return this.endPair();
  }

  // Appends a space and the `length` bytes at `pointer` to the value of the pair added last: the
  // next value of a key that has several. The caller vouches for the range.
  appendToLastValue(pointer: usize, length: i32): LogFields {
    if (this.lastPairAt < 0) return this;
    this.pairs.appendByte(0x20);
    appendUtf8OfBytes(this.pairs, pointer, <usize>length);
    return this.endPair();
  }

  addString(key: string, value: string): LogFields {
    this.beginPair(key);
    appendUtf8OfString(this.pairs, value);
    return this.endPair();
  }

  addNumber(key: string, value: u64): LogFields {
    this.beginPair(key);
    this.pairs.appendDecimal(value);
    this.endPair();
    const header = this.pairs.readPtr + <usize>this.lastPairAt;
    store<u32>(header, load<u32>(header) | NUMBER_VALUE); // safe: the header is inside pairs
    return this;
  }

  // Frees the buffer (the connection is gone).
  release(): void {
    this.pairs.release();
    this.lastPairAt = -1;
  }

  // Writes the header with the key's length and the key; the value follows, its length is set by
  // endPair().
  private beginPair(key: string): void {
    const pairs = this.pairs;
    this.lastPairAt = <isize>pairs.length;
    const header = pairs.writePtr(PAIR_HEADER_BYTES);
    store<u64>(header, 0); // safe: PAIR_HEADER_BYTES reserved
    pairs.advanceEnd(PAIR_HEADER_BYTES);
    appendUtf8OfString(pairs, key);
    store<u32>(pairs.readPtr + <usize>this.lastPairAt, <u32>(pairs.length - <usize>this.lastPairAt - PAIR_HEADER_BYTES)); // safe: the header is inside pairs
  }

  // The last pair's value runs to the end of `pairs`.
  private endPair(): LogFields {
    const header = this.pairs.readPtr + <usize>this.lastPairAt;
    const keyLength = <usize>(load<u32>(header) & ~NUMBER_VALUE); // safe: the header is inside pairs
    store<u32>(header + 4, <u32>(this.pairs.length - <usize>this.lastPairAt - PAIR_HEADER_BYTES - keyLength)); // safe: as above
    return this;
  }
}
