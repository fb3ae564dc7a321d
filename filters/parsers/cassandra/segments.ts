// CQL protocol v5's outer framing ("segments"; the spec calls them frames): once STARTUP is
// answered, both directions carry segments of a 3-byte little-endian header (17-bit payload
// length, bit 17 = self-contained) protected by a CRC24, the payload, and a little-endian CRC32
// of the payload. A self-contained segment holds whole envelopes; a large envelope is split over
// consecutive segments that are not. Only the uncompressed format: compression is refused at
// STARTUP (see parser.ts). Reads through the SDK's ByteView; builds segments into new buffers.
import { ByteView, MALFORMED, NEED_MORE } from '../../sdk/index';

export const SEGMENT_HEADER_BYTES: i32 = 6; // 3 header bytes + CRC24
export const SEGMENT_TRAILER_BYTES: i32 = 4; // CRC32 of the payload
export const MAX_SEGMENT_PAYLOAD: i32 = 128 * 1024 - 1;

const SELF_CONTAINED_BIT: u32 = 1 << 17;
const CRC24_INITIAL: u32 = 0x875060;
const CRC24_POLYNOMIAL: u32 = 0x1974f0b;
// Cassandra seeds the payload CRC32 by first running it over these four bytes.
const CRC32_SEED_BYTES: StaticArray<u8> = [0xfa, 0x2d, 0x55, 0xca];
const CRC32_TABLE: StaticArray<u32> = buildCrc32Table();

// The decoded header of the segment at `at`: payload length (or NEED_MORE / MALFORMED on a bad
// CRC24 or a set compression field) and whether it is self-contained.
export class SegmentHeader {
  payloadLength: i32 = 0;
  selfContained: bool = false;

  get totalLength(): i32 {
    return SEGMENT_HEADER_BYTES + this.payloadLength + SEGMENT_TRAILER_BYTES;
  }

  read(view: ByteView, at: i32): i32 {
    if (!view.has(at, SEGMENT_HEADER_BYTES)) return NEED_MORE;
    const bits = readLe(view, at, 3);
    if (crc24(bits) != readLe(view, at + 3, 3)) return MALFORMED;
    if ((bits >> 18) != 0) return MALFORMED; // only bits 0..17 exist in the uncompressed format
    this.payloadLength = <i32>(bits & <u32>MAX_SEGMENT_PAYLOAD);
    this.selfContained = (bits & SELF_CONTAINED_BIT) != 0;
    return this.payloadLength;
  }
}

// True when the CRC32 trailer matches the payload of the (fully buffered) segment at `at`.
export function payloadCrcMatches(view: ByteView, at: i32, payloadLength: i32): bool {
  const start = at + SEGMENT_HEADER_BYTES;
  if (!view.has(start, payloadLength + SEGMENT_TRAILER_BYTES)) return false;
  let crc = crc32Begin();
  for (let i = 0; i < payloadLength; i++) crc = crc32Step(crc, <u32>view.byteAt(start + i));
  return crc32End(crc) == readLe(view, start + payloadLength, 4);
}

// A self-contained segment around `payload` (at most MAX_SEGMENT_PAYLOAD bytes).
export function selfContainedSegment(payload: Uint8Array): ArrayBuffer {
  const length = payload.length;
  const segment = new Uint8Array(SEGMENT_HEADER_BYTES + length + SEGMENT_TRAILER_BYTES);
  const bits = (<u32>length & <u32>MAX_SEGMENT_PAYLOAD) | SELF_CONTAINED_BIT;
  writeLe(segment, 0, bits, 3);
  writeLe(segment, 3, crc24(bits), 3);
  let crc = crc32Begin();
  for (let i = 0; i < length; i++) {
    segment[SEGMENT_HEADER_BYTES + i] = payload[i];
    crc = crc32Step(crc, <u32>payload[i]);
  }
  writeLe(segment, SEGMENT_HEADER_BYTES + length, crc32End(crc), 4);
  return segment.buffer;
}

export function selfContainedSegmentOf(envelope: ArrayBuffer): ArrayBuffer {
  return selfContainedSegment(Uint8Array.wrap(envelope));
}

function crc24(bits: u32): u32 {
  let crc = CRC24_INITIAL;
  let rest = bits;
  for (let byte = 0; byte < 3; byte++) {
    crc ^= (rest & 0xff) << 16;
    rest >>= 8;
    for (let bit = 0; bit < 8; bit++) {
      crc <<= 1;
      if ((crc & 0x1000000) != 0) crc ^= CRC24_POLYNOMIAL;
    }
  }
  return crc & 0xffffff;
}

function crc32Begin(): u32 {
  let crc: u32 = 0xffffffff;
  for (let i = 0; i < CRC32_SEED_BYTES.length; i++) crc = crc32Step(crc, <u32>CRC32_SEED_BYTES[i]);
  return crc;
}

function crc32Step(crc: u32, byte: u32): u32 {
  return CRC32_TABLE[(crc ^ byte) & 0xff] ^ (crc >> 8);
}

function crc32End(crc: u32): u32 {
  return crc ^ 0xffffffff;
}

// The reflected CRC-32 (zlib) table for polynomial 0xEDB88320.
function buildCrc32Table(): StaticArray<u32> {
  const table = new StaticArray<u32>(256);
  for (let n: u32 = 0; n < 256; n++) {
    let value = n;
    for (let bit = 0; bit < 8; bit++) value = (value & 1) != 0 ? 0xedb88320 ^ (value >> 1) : value >> 1;
    table[n] = value;
  }
  return table;
}

function readLe(view: ByteView, at: i32, count: i32): u32 {
  let value: u32 = 0;
  for (let i = count - 1; i >= 0; i--) value = (value << 8) | <u32>(view.byteAt(at + i) & 0xff);
  return value;
}

function writeLe(target: Uint8Array, at: i32, value: u32, count: i32): void {
  for (let i = 0; i < count; i++) target[at + i] = <u8>((value >> (<u32>i * 8)) & 0xff);
}
