// One Envoy network buffer as a filter sees it through proxy_get_buffer_bytes/proxy_set_buffer_bytes,
// with Envoy 1.40's exact edit rules (Buffer::copyFrom): start 0 drains `size` bytes then prepends;
// start at or past the end appends; anything in between is BAD_ARGUMENT. Who owns the bytes and when a
// filter may see them is decided by host-connection.ts, not here.
import { Status, type StatusCode } from './abi.ts';

export class EnvoyBuffer {
  private data: Uint8Array;

  constructor(initial: Uint8Array = new Uint8Array(0)) {
    this.data = initial;
  }

  get length(): number {
    return this.data.length;
  }

  bytes(): Uint8Array {
    return this.data;
  }

  append(more: Uint8Array): void {
    if (more.length === 0) return;
    this.data = concatBytes([this.data, more]);
  }

  // Removes and returns everything.
  drainAll(): Uint8Array {
    const all = this.data;
    this.data = new Uint8Array(0);
    return all;
  }

  // The bytes proxy_get_buffer_bytes would copy out: clamped to the buffer, empty past the end.
  slice(start: number, maxSize: number): Uint8Array {
    if (start >= this.data.length) return new Uint8Array(0);
    return this.data.subarray(start, Math.min(this.data.length, start + maxSize));
  }

  copyFrom(start: number, size: number, value: Uint8Array): StatusCode {
    if (start === 0) {
      const kept = this.data.subarray(Math.min(size, this.data.length));
      this.data = concatBytes([value, kept]);
      return Status.Ok;
    }
    if (start >= this.data.length) {
      this.append(value);
      return Status.Ok;
    }
    return Status.BadArgument;
  }
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

// Test inputs are often protocol text; latin1 keeps every byte value as one character.
export function toBytes(input: Uint8Array | string): Uint8Array {
  return typeof input === 'string' ? new Uint8Array(Buffer.from(input, 'latin1')) : input;
}

export function toLatin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
}
