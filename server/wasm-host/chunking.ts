// How a test cuts a byte script into reads: whole, one byte per read, at given split points, or in
// given sizes. everySplit() lists every two-read cut of a script, so a test can prove a parser gives
// the same result wherever TCP happens to split the bytes.
import { toBytes } from './envoy-buffer.ts';

export type Chunking = 'whole' | 'per-byte' | { splitAt: readonly number[] } | { sizes: readonly number[] };

export function chunk(input: Uint8Array | string, chunking: Chunking = 'whole'): Uint8Array[] {
  const bytes = toBytes(input);
  if (bytes.length === 0) return [];
  if (chunking === 'whole') return [bytes];
  if (chunking === 'per-byte') return Array.from(bytes, (_, index) => bytes.subarray(index, index + 1));
  if ('splitAt' in chunking) {
    const points = [...new Set(chunking.splitAt.filter((point) => point > 0 && point < bytes.length))].sort((a, b) => a - b);
    const bounds = [0, ...points, bytes.length];
    return bounds.slice(1).map((end, index) => bytes.subarray(bounds[index] ?? 0, end));
  }
  const pieces: Uint8Array[] = [];
  let offset = 0;
  for (const size of chunking.sizes) {
    if (offset >= bytes.length) break;
    if (size <= 0) throw new Error(`chunking: size ${size} is not positive; give sizes >= 1`);
    pieces.push(bytes.subarray(offset, offset + size));
    offset += size;
  }
  if (offset < bytes.length) pieces.push(bytes.subarray(offset));
  return pieces;
}

// Every way to deliver the script as two reads (split after byte 1 .. length-1).
export function everySplit(input: Uint8Array | string): Chunking[] {
  const length = toBytes(input).length;
  return Array.from({ length: Math.max(0, length - 1) }, (_, index) => ({ splitAt: [index + 1] }));
}

export function describeChunking(chunking: Chunking): string {
  if (typeof chunking === 'string') return chunking;
  return 'splitAt' in chunking ? `split at ${chunking.splitAt.join(',')}` : `sizes ${chunking.sizes.join(',')}`;
}
