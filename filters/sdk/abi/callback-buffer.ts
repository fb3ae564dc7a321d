// Envoy's buffer during one data callback of one direction: read into Wasm memory only as far as
// the parser looks, and what the callback forwards, written back to Envoy with as little copying
// as Envoy's edit rules allow. A PASS that goes past the bytes the parser read (a record batch, a
// value whose header was decided) forwards the rest as a range of Envoy's own buffer: those bytes
// are never copied into Wasm memory, compared or written back. Envoy's edits (Buffer::copyFrom)
// can drain a prefix and prepend bytes, or append, but not cut bytes out of the middle or the end,
// so only a range that runs to the end of the buffer stays in place; anything else is copied out
// and the buffer replaced whole. Knows nothing about frames or ops (op-loop.ts).
import { ByteBuffer } from '../bytes/byte-buffer';
import { BufferType } from './imports';
import { appendHostBufferRange, replaceHostBuffer } from './host';

// The first copy of a callback's bytes: room for the headers parsers decide on. Each further copy
// in the same callback doubles, so a callback of many small frames costs a few host calls.
const FIRST_COPY_BYTES: u32 = 4096;

export class CallbackBuffer {
  // Forwarded bytes that live in Wasm memory; the in-place range, if any, follows them.
  readonly copied: ByteBuffer = new ByteBuffer();
  private bufferType: BufferType = BufferType.DownstreamData;
  private size: u32 = 0; // bytes Envoy handed over in this callback
  private read: u32 = 0; // Envoy's bytes before this offset are in the input buffer or consumed in place
  private held: usize = 0; // bytes at the front of the input buffer from earlier callbacks
  private next: u32 = 0; // Envoy's offset of the first input byte after the held ones
  private nextCopy: u32 = FIRST_COPY_BYTES;
  private rangeStart: u32 = 0; // Envoy's bytes [rangeStart, rangeEnd) forwarded in place, after `copied`
  private rangeEnd: u32 = 0;
  // The forwarded bytes are Envoy's first `matched` bytes unchanged (-1: they are not).
  private matched: i64 = 0;
  // Set when Envoy refused to hand over bytes of its own buffer (the connection must fail).
  unreadable: bool = false;

  // Starts a callback in which Envoy holds `size` new bytes, after the `held` bytes buffered in
  // Wasm memory from earlier callbacks.
  begin(bufferType: BufferType, size: u32, held: usize): void {
    this.copied.clear();
    this.bufferType = bufferType;
    this.size = size;
    this.read = 0;
    this.held = held;
    this.next = 0;
    this.nextCopy = FIRST_COPY_BYTES;
    this.rangeStart = 0;
    this.rangeEnd = 0;
    this.matched = 0;
    this.unreadable = false;
  }

  // Envoy's bytes of this callback neither copied in nor consumed yet.
  get unread(): u32 {
    return this.size - this.read;
  }

  // How many bytes this callback forwards so far.
  get length(): usize {
    return this.copied.length + <usize>(this.rangeEnd - this.rangeStart);
  }

  // Copies at least `wanted` more of Envoy's bytes (all that are left, if fewer) to the end of
  // `input`. False when Envoy refused.
  copyIn(input: ByteBuffer, wanted: u64): bool {
    let count = this.nextCopy;
    if (wanted > <u64>count) count = wanted > <u64>this.unread ? this.unread : <u32>wanted;
    if (count > this.unread) count = this.unread;
    const before = input.length;
    if (!appendHostBufferRange(this.bufferType, this.read, count, input) || input.length - before != <usize>count) {
      input.truncate(before);
      this.unreadable = true;
      return false;
    }
    this.read += count;
    this.nextCopy = this.nextCopy << 1;
    return true;
  }

  // Forwards the first `count` bytes of `input` (the held ones, then this callback's) and consumes them.
  forwardInput(input: ByteBuffer, count: usize): void {
    if (count == 0) return;
    const ownCount = this.takeHeld(count);
    if (ownCount < count) this.appendBytes(input.readPtr, count - ownCount);
    if (ownCount > 0) {
      const at = this.next;
      const start = input.readPtr + (count - ownCount);
      if (this.rangeEnd > this.rangeStart && this.rangeEnd == at) {
        this.rangeEnd += <u32>ownCount; // still as Envoy holds them, right after the range
      } else {
        this.copyRangeOut();
        this.copied.appendBytes(start, ownCount);
      }
      this.noteEnvoyBytes(at, ownCount);
      this.next = at + <u32>ownCount;
    }
    input.consume(count);
  }

  // Discards the first `count` bytes of `input`.
  dropInput(input: ByteBuffer, count: usize): void {
    const ownCount = this.takeHeld(count);
    this.next += <u32>ownCount;
    input.consume(count);
  }

  // Forwards the next `count` unread bytes as Envoy holds them (the input buffer must be empty).
  forwardInPlace(count: u32): void {
    if (count == 0) return;
    const at = this.read;
    if (!(this.rangeEnd > this.rangeStart && this.rangeEnd == at)) {
      this.copyRangeOut();
      this.rangeStart = at;
      this.rangeEnd = at;
    }
    this.rangeEnd += count;
    this.noteEnvoyBytes(at, <usize>count);
    this.read = at + count;
    this.next = this.read;
  }

  // Discards the next `count` unread bytes without reading them (the input buffer must be empty).
  dropInPlace(count: u32): void {
    this.read += count;
    this.next = this.read;
  }

  // Forwards bytes that are not Envoy's (injected, deny replies, probes, held bytes).
  appendBytes(pointer: usize, count: usize): void {
    if (count == 0) return;
    this.copyRangeOut();
    this.copied.appendBytes(pointer, count);
    this.matched = -1;
  }

  appendArrayBuffer(bytes: ArrayBuffer): void {
    this.appendBytes(changetype<usize>(bytes), <usize>bytes.byteLength);
  }

  // Makes Envoy's buffer hold exactly the forwarded bytes: nothing to do when they are its own
  // bytes unchanged, one drain-and-prepend when they end with a range that runs to its end, else
  // one replacement of the whole buffer.
  finish(): void {
    if (this.matched == <i64>this.size) return;
    if (this.rangeEnd > this.rangeStart && this.rangeEnd == this.size) {
      replaceHostBuffer(this.bufferType, this.rangeStart, this.copied);
      return;
    }
    this.copyRangeOut();
    replaceHostBuffer(this.bufferType, this.size, this.copied);
  }

  release(): void {
    this.copied.release();
  }

  // Of `count` bytes taken from the front of the input buffer, how many are this callback's.
  private takeHeld(count: usize): usize {
    const fromHeld = count < this.held ? count : this.held;
    this.held -= fromHeld;
    return count - fromHeld;
  }

  private noteEnvoyBytes(at: u32, count: usize): void {
    this.matched = this.matched == <i64>at ? this.matched + <i64>count : -1;
  }

  // Something follows the in-place range that is not right after it in Envoy's buffer: copy the
  // range's bytes out so the forwarded bytes are all in Wasm memory, in order.
  private copyRangeOut(): void {
    const count = this.rangeEnd - this.rangeStart;
    if (count == 0) return;
    const before = this.copied.length;
    if (!appendHostBufferRange(this.bufferType, this.rangeStart, count, this.copied) || this.copied.length - before != <usize>count) {
      this.unreadable = true;
    }
    this.rangeStart = 0;
    this.rangeEnd = 0;
  }
}
