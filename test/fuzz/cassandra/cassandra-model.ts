// The fuzzers' model of how Cassandra 5.0 frames the bytes a client connection delivers to it,
// written from its code (transport/InitialConnectionHandler, Envelope.Decoder, PreV5Handlers,
// CQLMessageHandler, net/FrameDecoderCrc) and independent of the filter: 9-byte-header frames
// until a v5 STARTUP, v5 segments (CRC24 header, CRC32 payload; envelopes inside self-contained
// segments, large envelopes over consecutive segments that are not) from the end of that STARTUP
// on, whatever its answer. Where Cassandra would close, discard what it had read, or read bytes
// in a framing that depends on timing, the model stops and says why: the host fuzzer treats any
// such point in what reached the server as a filter failure. Also reads the query parameters and
// the request bodies the reference needs (QueryOptions.Codec, BatchMessage, ExecuteMessage,
// PrepareMessage codecs).
import zlib from 'node:zlib';
import { CRC32_SEED, crc24 } from '../../filters/parsers/cassandra/cql-wire.ts';

export interface ModelEnvelope {
  readonly start: number; // offset in the stream of the envelope (legacy) or of its first segment
  readonly end: number;
  readonly version: number;
  readonly flags: number;
  readonly stream: number;
  readonly opcode: number;
  readonly body: Buffer;
  readonly bytes: Buffer; // header + body
}

export interface ModelReading {
  readonly envelopes: readonly ModelEnvelope[];
  /** Why the server stops reading (closes, discards, or could read in either framing), if it does. */
  readonly stopped?: string;
  /** Bytes after the last whole envelope. */
  readonly incompleteTail: number;
}

const OPCODE_STARTUP = 0x01;
const REQUEST_OPCODES = new Set([0x01, 0x05, 0x07, 0x09, 0x0a, 0x0b, 0x0d, 0x0f]);

/** Frames `stream` (what one connection delivered to Cassandra, from its first byte). */
export function readAsCassandra(stream: Uint8Array): ModelReading {
  const bytes = Buffer.from(stream);
  const envelopes: ModelEnvelope[] = [];
  let at = 0;
  let started = false;
  let version = 0;
  // legacy frames
  while (at < bytes.length) {
    if (bytes.length - at < 9) return { envelopes, incompleteTail: bytes.length - at };
    const frameVersion = bytes[at]! & 0x7f;
    if ((bytes[at]! & 0x80) !== 0) return { envelopes, stopped: 'a response frame from the client', incompleteTail: 0 };
    if (frameVersion < 3 || frameVersion > 6) return { envelopes, stopped: `protocol version ${frameVersion}: Cassandra discards what it has read`, incompleteTail: 0 };
    if (frameVersion === 6 && (bytes[at + 1]! & 0x10) === 0) return { envelopes, stopped: 'v6 without USE_BETA: Cassandra never consumes the frame', incompleteTail: 0 };
    if (!REQUEST_OPCODES.has(bytes[at + 4]!)) return { envelopes, stopped: `opcode 0x${bytes[at + 4]!.toString(16)}: Cassandra never consumes the frame`, incompleteTail: 0 };
    if (started && frameVersion !== version) return { envelopes, stopped: 'a frame in another version than STARTUP', incompleteTail: 0 };
    const length = 9 + bytes.readUInt32BE(at + 5);
    if (bytes.length - at < length) return { envelopes, incompleteTail: bytes.length - at };
    const envelope = envelopeAt(bytes, at, length);
    envelopes.push(envelope);
    at += length;
    if (!started && envelope.opcode !== OPCODE_STARTUP && envelope.opcode !== 0x05) return { envelopes, stopped: 'a request before STARTUP: Cassandra closes', incompleteTail: 0 };
    if (envelope.opcode === OPCODE_STARTUP && !started) {
      started = true;
      version = envelope.version;
      if (version >= 5) return readSegments(bytes, at, envelopes, version);
    }
  }
  return { envelopes, incompleteTail: 0 };
}

function readSegments(bytes: Buffer, from: number, envelopes: ModelEnvelope[], version: number): ModelReading {
  let at = from;
  let large: Buffer[] | undefined;
  let largeStart = 0;
  let largeSize = 0;
  while (at < bytes.length) {
    if (bytes.length - at < 6) return { envelopes, incompleteTail: bytes.length - at };
    const bits = bytes.readUIntLE(at, 3);
    if (crc24(bits) !== bytes.readUIntLE(at + 3, 3)) return { envelopes, stopped: 'a segment header fails its CRC24: Cassandra closes', incompleteTail: 0 };
    const payloadLength = bits & 0x1ffff;
    const selfContained = (bits & (1 << 17)) !== 0;
    if (bytes.length - at < 10 + payloadLength) return { envelopes, incompleteTail: bytes.length - at };
    const payload = bytes.subarray(at + 6, at + 6 + payloadLength);
    if (zlib.crc32(payload, CRC32_SEED) !== bytes.readUInt32LE(at + 6 + payloadLength)) return { envelopes, stopped: 'a segment payload fails its CRC32: Cassandra closes', incompleteTail: 0 };
    const segmentStart = at;
    at += 10 + payloadLength;
    if (selfContained) {
      let inner = 0;
      while (inner < payload.length) {
        if (payload.length - inner < 9) return { envelopes, stopped: 'a truncated envelope header in a segment: Cassandra closes', incompleteTail: 0 };
        const length = 9 + payload.readUInt32BE(inner + 5);
        if (payload.length - inner < length) return { envelopes, stopped: 'an envelope runs past its segment: Cassandra closes', incompleteTail: 0 };
        const envelope = envelopeAt(payload, inner, length, segmentStart, at);
        if (envelope.version !== version) return { envelopes, stopped: 'an envelope in another version: Cassandra errors and skips by its length', incompleteTail: 0 };
        envelopes.push(envelope);
        inner += length;
      }
      continue;
    }
    if (large === undefined) {
      if (payload.length < 9) return { envelopes, stopped: 'a large message without a whole header: Cassandra closes', incompleteTail: 0 };
      large = [];
      largeStart = segmentStart;
      largeSize = 9 + payload.readUInt32BE(5);
    }
    large.push(payload);
    const received = large.reduce((sum, part) => sum + part.length, 0);
    if (received > largeSize) return { envelopes, stopped: 'a large message with extra bytes: Cassandra never completes it', incompleteTail: 0 };
    if (received === largeSize) {
      const whole = Buffer.concat(large);
      const envelope = envelopeAt(whole, 0, whole.length, largeStart, at);
      if (envelope.version !== version) return { envelopes, stopped: 'a large envelope in another version: Cassandra closes', incompleteTail: 0 };
      envelopes.push(envelope);
      large = undefined;
    }
  }
  return { envelopes, incompleteTail: large === undefined ? 0 : 1 };
}

/**
 * The envelopes of the client's own bytes, framed leniently as the filter must frame them: legacy
 * frames until `startedBy` (the STARTUP envelope that reached the server, if any), then v5
 * segments when that STARTUP is v5. Stops where bytes cannot be framed.
 */
export function clientEnvelopes(stream: Uint8Array, startedBy: Buffer | undefined): Buffer[] {
  const bytes = Buffer.from(stream);
  const out: Buffer[] = [];
  let at = 0;
  while (bytes.length - at >= 9) {
    const length = 9 + bytes.readUInt32BE(at + 5);
    if (bytes.length - at < length) return out;
    const envelope = bytes.subarray(at, at + length);
    out.push(envelope);
    at += length;
    if (startedBy !== undefined && envelope.equals(startedBy)) {
      if ((envelope[0]! & 0x7f) >= 5) return [...out, ...readSegments(bytes, at, [], envelope[0]! & 0x7f).envelopes.map((inner) => inner.bytes)];
      startedBy = undefined;
    }
  }
  return out;
}

function envelopeAt(source: Buffer, at: number, length: number, start = at, end = at + length): ModelEnvelope {
  const bytes = Buffer.from(source.subarray(at, at + length));
  return { start, end, version: bytes[0]! & 0x7f, flags: bytes[1]!, stream: bytes.readInt16BE(2), opcode: bytes[4]!, body: bytes.subarray(9), bytes };
}

// ---- request bodies ----------------------------------------------------------------------

/** A cursor over a request body that throws RangeError past its end (the server fails too). */
export class BodyReader {
  at = 0;
  constructor(readonly body: Buffer) {}
  u8(): number {
    return this.fixed(1).readUInt8(0);
  }
  u16(): number {
    return this.fixed(2).readUInt16BE(0);
  }
  i32(): number {
    return this.fixed(4).readInt32BE(0);
  }
  fixed(size: number): Buffer {
    if (this.at + size > this.body.length) throw new RangeError('past the end of the body');
    const bytes = this.body.subarray(this.at, this.at + size);
    this.at += size;
    return bytes;
  }
  string(): string {
    return this.fixed(this.u16()).toString('utf8');
  }
  longString(): string {
    const length = this.i32();
    if (length < 0) throw new RangeError('a negative [long string] length');
    return this.fixed(length).toString('utf8');
  }
  shortBytes(): Buffer {
    return this.fixed(this.u16());
  }
  // CBUtil.readBoundValue / readValue.
  value(version: number): void {
    const length = this.i32();
    if (length < 0) {
      if (version >= 4 && length < -2) throw new RangeError('a negative value length below -2');
      return;
    }
    this.fixed(length);
  }
  // The custom payload of a request with flag 0x04 ([bytes map]).
  customPayload(flags: number): void {
    if ((flags & 0x04) === 0) return;
    for (let count = this.u16(); count > 0; count--) {
      this.string();
      const length = this.i32();
      if (length > 0) this.fixed(length);
    }
  }
}

/** QueryOptions.Codec.decode: the keyspace parameter, or undefined. */
export function readQueryKeyspace(reader: BodyReader, version: number): string | undefined {
  reader.u16(); // consistency
  const flags = version >= 5 ? reader.fixed(4).readUInt32BE(0) : reader.u8();
  if ((flags & 0x01) !== 0) {
    for (let count = reader.u16(); count > 0; count--) {
      if ((flags & 0x40) !== 0) reader.string();
      reader.value(version);
    }
  }
  if ((flags & 0x04) !== 0) reader.i32();
  if ((flags & 0x08) !== 0) {
    const length = reader.i32();
    if (length > 0) reader.fixed(length);
  }
  if ((flags & 0x10) !== 0) reader.u16();
  if ((flags & 0x20) !== 0) reader.fixed(8);
  return (flags & 0x80) !== 0 ? reader.string() : undefined;
}
