// CQL wire bytes for the Cassandra filter tests, written from the protocol specs: request frames
// for v3/v4/v5 (STARTUP, OPTIONS, QUERY, PREPARE, EXECUTE, BATCH, REGISTER, AUTH_RESPONSE),
// v5 segments (CRC24 header, CRC32 payload), a reader that splits a byte stream back into frames
// (through segments when asked), and a fake Cassandra for the test host that answers like the
// real one (SUPPORTED, READY and the switch to segments, RESULT Void/Rows/Set_keyspace/Prepared,
// UNPREPARED for ids it never prepared) and records what reached it.
import { createHash } from 'node:crypto';
import zlib from 'node:zlib';
import type { FakeUpstream, UpstreamPeer } from '../../../../server/wasm-host/index.ts';

export const Opcode = {
  Error: 0x00,
  Startup: 0x01,
  Ready: 0x02,
  Authenticate: 0x03,
  Options: 0x05,
  Supported: 0x06,
  Query: 0x07,
  Result: 0x08,
  Prepare: 0x09,
  Execute: 0x0a,
  Register: 0x0b,
  Event: 0x0c,
  Batch: 0x0d,
  AuthResponse: 0x0f,
} as const;

export interface Frame {
  version: number;
  response: boolean;
  flags: number;
  stream: number;
  opcode: number;
  body: Buffer;
}

export function frame(version: number, stream: number, opcode: number, body: Buffer, options: { response?: boolean; flags?: number } = {}): Buffer {
  const header = Buffer.alloc(9);
  header[0] = (options.response === true ? 0x80 : 0) | version;
  header[1] = options.flags ?? 0;
  header.writeInt16BE(stream, 2);
  header[4] = opcode;
  header.writeUInt32BE(body.length, 5);
  return Buffer.concat([header, body]);
}

export const short = (value: number): Buffer => {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16BE(value);
  return bytes;
};
export const int = (value: number): Buffer => {
  const bytes = Buffer.alloc(4);
  bytes.writeInt32BE(value);
  return bytes;
};
export const string = (text: string): Buffer => Buffer.concat([short(Buffer.byteLength(text)), Buffer.from(text)]);
export const longString = (text: string): Buffer => Buffer.concat([int(Buffer.byteLength(text)), Buffer.from(text)]);
export const shortBytes = (bytes: Buffer): Buffer => Buffer.concat([short(bytes.length), bytes]);
export const stringMap = (entries: Record<string, string>): Buffer =>
  Buffer.concat([short(Object.keys(entries).length), ...Object.entries(entries).flatMap(([key, value]) => [string(key), string(value)])]);

// Query parameters (QueryOptions): consistency, the flags field ([byte] before v5, [int] from
// v5) computed from the fields given, then the flagged fields in the order Cassandra reads them.
// `extraFlags` ORs further bits in (e.g. unknown ones) without adding fields.
export interface QueryParams {
  consistency?: number;
  values?: Buffer[];
  names?: string[]; // with values: NAMES_FOR_VALUES (0x40)
  skipMetadata?: boolean;
  pageSize?: number;
  pagingState?: Buffer;
  serialConsistency?: number;
  timestamp?: bigint;
  keyspace?: string;
  nowInSeconds?: number;
  extraFlags?: number;
}

export function queryParams(version: number, params: QueryParams = {}): Buffer {
  const values = params.values ?? [];
  let flags = params.extraFlags ?? 0;
  if (values.length > 0 || params.names !== undefined) flags |= 0x01;
  if (params.skipMetadata === true) flags |= 0x02;
  if (params.pageSize !== undefined) flags |= 0x04;
  if (params.pagingState !== undefined) flags |= 0x08;
  if (params.serialConsistency !== undefined) flags |= 0x10;
  if (params.timestamp !== undefined) flags |= 0x20;
  if (params.names !== undefined) flags |= 0x40;
  if (params.keyspace !== undefined) flags |= 0x80;
  if (params.nowInSeconds !== undefined) flags |= 0x100;
  const parts: Buffer[] = [short(params.consistency ?? 1), version >= 5 ? int(flags) : Buffer.from([flags & 0xff])];
  if ((flags & 0x01) !== 0) {
    parts.push(short(values.length));
    values.forEach((value, index) => {
      if (params.names !== undefined) parts.push(string(params.names[index] ?? `v${index}`));
      parts.push(int(value.length), value);
    });
  }
  if (params.pageSize !== undefined) parts.push(int(params.pageSize));
  if (params.pagingState !== undefined) parts.push(int(params.pagingState.length), params.pagingState);
  if (params.serialConsistency !== undefined) parts.push(short(params.serialConsistency));
  if (params.timestamp !== undefined) {
    const bytes = Buffer.alloc(8);
    bytes.writeBigInt64BE(params.timestamp);
    parts.push(bytes);
  }
  if (params.keyspace !== undefined) parts.push(string(params.keyspace));
  if (params.nowInSeconds !== undefined && version >= 5) parts.push(int(params.nowInSeconds));
  return Buffer.concat(parts);
}

export const startup = (version: number, stream = 0, extra: Record<string, string> = {}): Buffer =>
  frame(version, stream, Opcode.Startup, stringMap({ CQL_VERSION: '3.0.0', ...extra }));
// STARTUP with exactly these options (no CQL_VERSION unless given).
export const startupWith = (version: number, stream: number, entries: Record<string, string>, options: { flags?: number } = {}): Buffer =>
  frame(version, stream, Opcode.Startup, stringMap(entries), options);
export const options = (version: number, stream: number): Buffer => frame(version, stream, Opcode.Options, Buffer.alloc(0));
export const register = (version: number, stream: number): Buffer =>
  frame(version, stream, Opcode.Register, Buffer.concat([short(1), string('SCHEMA_CHANGE')]));
export const authResponse = (version: number, stream: number): Buffer => frame(version, stream, Opcode.AuthResponse, Buffer.concat([int(4), Buffer.from('\0u\0p')]));
export const query = (version: number, stream: number, text: string, params: QueryParams = {}): Buffer =>
  frame(version, stream, Opcode.Query, Buffer.concat([longString(text), queryParams(version, params)]));
export const prepare = (version: number, stream: number, text: string, keyspace?: string): Buffer =>
  frame(version, stream, Opcode.Prepare, Buffer.concat([longString(text), version >= 5 ? (keyspace === undefined ? int(0) : Buffer.concat([int(1), string(keyspace)])) : Buffer.alloc(0)]));
export const execute = (version: number, stream: number, id: Buffer, values: Buffer[] = [], params: QueryParams = {}): Buffer =>
  frame(version, stream, Opcode.Execute, Buffer.concat([shortBytes(id), version >= 5 ? shortBytes(id) : Buffer.alloc(0), queryParams(version, { values, ...params })]));

export type BatchEntry = { query: string; values?: Buffer[] } | { id: Buffer; values?: Buffer[] };
export function batch(version: number, stream: number, entries: BatchEntry[], params: QueryParams = {}, type = 0): Buffer {
  const parts: Buffer[] = [Buffer.from([type]), short(entries.length)];
  for (const entry of entries) {
    const values = entry.values ?? [];
    parts.push('query' in entry ? Buffer.concat([Buffer.from([0]), longString(entry.query)]) : Buffer.concat([Buffer.from([1]), shortBytes(entry.id)]));
    parts.push(short(values.length), ...values.map((value) => Buffer.concat([int(value.length), value])));
  }
  parts.push(queryParams(version, params));
  return frame(version, stream, Opcode.Batch, Buffer.concat(parts));
}

// ---- v5 segments -------------------------------------------------------------------------

// Cassandra seeds the payload CRC32 with these four bytes; the header's CRC24 covers its 3 bytes.
export const CRC32_SEED = zlib.crc32(Buffer.from([0xfa, 0x2d, 0x55, 0xca]));

export function crc24(bits: number): number {
  let crc = 0x875060;
  let rest = bits;
  for (let byte = 0; byte < 3; byte++) {
    crc ^= (rest & 0xff) << 16;
    rest >>>= 8;
    for (let bit = 0; bit < 8; bit++) {
      crc <<= 1;
      if ((crc & 0x1000000) !== 0) crc ^= 0x1974f0b;
    }
  }
  return crc & 0xffffff;
}

export function segment(payload: Buffer, selfContained = true): Buffer {
  const bits = payload.length | (selfContained ? 1 << 17 : 0);
  const header = Buffer.alloc(6);
  header.writeUIntLE(bits, 0, 3);
  header.writeUIntLE(crc24(bits), 3, 3);
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32LE(zlib.crc32(payload, CRC32_SEED));
  return Buffer.concat([header, payload, trailer]);
}

// A large envelope split into segments of at most `size` payload bytes (not self-contained).
export function largeSegments(envelope: Buffer, size: number): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < envelope.length; at += size) parts.push(segment(envelope.subarray(at, at + size), false));
  return Buffer.concat(parts);
}

// ---- reading frames back ------------------------------------------------------------------

// Splits `bytes` into frames; with `segmentsAfter` frames, the rest is read as v5 segments
// (checking both CRCs). Throws on bad CRCs or trailing garbage.
export function readFrames(bytes: Uint8Array, segmentsAfter = Number.POSITIVE_INFINITY): Frame[] {
  const { frames, incomplete } = splitFrames(bytes, segmentsAfter);
  if (incomplete > 0) throw new Error(`readFrames: ${incomplete} bytes of an unfinished frame or envelope`);
  return frames;
}

// The complete frames at the start of `bytes` (as readFrames reads them) and how many bytes of an
// unfinished one follow; throws on bad CRCs.
export function splitFrames(bytes: Uint8Array, segmentsAfter = Number.POSITIVE_INFINITY): { frames: Frame[]; incomplete: number } {
  const frames: Frame[] = [];
  let buffer = Buffer.from(bytes);
  while (buffer.length > 0 && frames.length < segmentsAfter) {
    if (buffer.length < 9 || buffer.length < 9 + buffer.readUInt32BE(5)) return { frames, incomplete: buffer.length };
    const length = 9 + buffer.readUInt32BE(5);
    frames.push(decodeFrame(buffer.subarray(0, length)));
    buffer = buffer.subarray(length);
  }
  let payload = Buffer.alloc(0);
  while (buffer.length >= 6) {
    const bits = buffer.readUIntLE(0, 3);
    if (crc24(bits) !== buffer.readUIntLE(3, 3)) throw new Error('readFrames: segment header CRC24 mismatch');
    const length = bits & 0x1ffff;
    if (buffer.length < 10 + length) break;
    const body = buffer.subarray(6, 6 + length);
    if (zlib.crc32(body, CRC32_SEED) !== buffer.readUInt32LE(6 + length)) throw new Error('readFrames: segment payload CRC32 mismatch');
    payload = Buffer.concat([payload, body]);
    buffer = buffer.subarray(10 + length);
    while (payload.length >= 9 && payload.length >= 9 + payload.readUInt32BE(5)) {
      const envelopeLength = 9 + payload.readUInt32BE(5);
      frames.push(decodeFrame(payload.subarray(0, envelopeLength)));
      payload = payload.subarray(envelopeLength);
    }
  }
  return { frames, incomplete: buffer.length + payload.length };
}

function decodeFrame(bytes: Buffer): Frame {
  return { version: bytes[0]! & 0x7f, response: (bytes[0]! & 0x80) !== 0, flags: bytes[1]!, stream: bytes.readInt16BE(2), opcode: bytes[4]!, body: Buffer.from(bytes.subarray(9)) };
}

// The error code and message of an ERROR frame.
export function errorOf(reply: Frame): { code: number; message: string; id?: Buffer } {
  const code = reply.body.readInt32BE(0);
  const messageLength = reply.body.readUInt16BE(4);
  const message = reply.body.subarray(6, 6 + messageLength).toString();
  const rest = reply.body.subarray(6 + messageLength);
  return code === 0x2500 ? { code, message, id: rest.subarray(2, 2 + rest.readUInt16BE(0)) } : { code, message };
}

export function queryTextOf(request: Frame): string {
  return request.body.subarray(4, 4 + request.body.readInt32BE(0)).toString();
}

// ---- a fake Cassandra --------------------------------------------------------------------

export interface FakeCassandra extends FakeUpstream {
  requests: Frame[]; // every request envelope that reached the server
  queries(): string[]; // texts of QUERY / PREPARE requests that reached it
}

export function preparedId(text: string): Buffer {
  return createHash('md5').update(text).digest();
}

// Answers like Cassandra 5: v5 clients get segments after READY. `supportedBody` lets a test
// check that a probe's answer is replaced whatever its content.
export function fakeCassandra(): FakeCassandra {
  let pending = Buffer.alloc(0);
  let segmented = false;
  let segmentPayload = Buffer.alloc(0);
  const prepared = new Map<string, string>();
  const requests: Frame[] = [];
  const send = (peer: UpstreamPeer, reply: Buffer): void => peer.send(segmented ? segment(reply) : reply);
  const answer = (request: Frame, peer: UpstreamPeer): void => {
    requests.push(request);
    const reply = (opcode: number, body: Buffer): Buffer => frame(request.version, request.stream, opcode, body, { response: true });
    const result = (kind: number, rest: Buffer = Buffer.alloc(0)): Buffer => reply(Opcode.Result, Buffer.concat([int(kind), rest]));
    switch (request.opcode) {
      case Opcode.Options:
        send(peer, reply(Opcode.Supported, Buffer.concat([short(2), string('CQL_VERSION'), short(1), string('3.4.7'), string('COMPRESSION'), short(2), string('snappy'), string('lz4')])));
        return;
      case Opcode.Startup:
        // Like Cassandra: an ERROR without CQL_VERSION, and v5 segments after any answer.
        if (request.body.includes(Buffer.from('CQL_VERSION'))) send(peer, reply(Opcode.Ready, Buffer.alloc(0)));
        else send(peer, reply(Opcode.Error, Buffer.concat([int(0x000a), string('Missing value CQL_VERSION in STARTUP message')])));
        if (request.version >= 5) segmented = true;
        return;
      case Opcode.Register:
        send(peer, reply(Opcode.Ready, Buffer.alloc(0)));
        return;
      case Opcode.Query: {
        const text = queryTextOf(request);
        // USE: a quoted keyspace kept exactly, an unquoted one lower-cased (as Cassandra answers)
        const use = /^\s*use\s+(?:"(\w+)"|(\w+))/i.exec(text);
        if (use !== null) send(peer, result(3, string(use[1] ?? use[2]!.toLowerCase())));
        else if (/^\s*select/i.test(text)) send(peer, result(2, Buffer.concat([int(0x0004), int(0), int(0)])));
        else send(peer, result(1));
        return;
      }
      case Opcode.Prepare: {
        const text = queryTextOf(request);
        const id = preparedId(text);
        prepared.set(id.toString('hex'), text);
        const metadata = Buffer.concat([int(0), int(0), int(0)]);
        send(peer, result(4, Buffer.concat([shortBytes(id), request.version >= 5 ? shortBytes(id) : Buffer.alloc(0), metadata, int(0x0004), int(0)])));
        return;
      }
      case Opcode.Execute: {
        const id = request.body.subarray(2, 2 + request.body.readUInt16BE(0));
        if (!prepared.has(id.toString('hex'))) send(peer, reply(Opcode.Error, Buffer.concat([int(0x2500), string('unknown id'), shortBytes(id)])));
        else send(peer, result(1));
        return;
      }
      default:
        send(peer, result(1));
    }
  };
  return {
    requests,
    queries: () => requests.filter((request) => request.opcode === Opcode.Query || request.opcode === Opcode.Prepare).map(queryTextOf),
    onData(bytes, peer) {
      pending = Buffer.concat([pending, Buffer.from(bytes)]);
      while (true) {
        if (!segmented) {
          if (pending.length < 9 || pending.length < 9 + pending.readUInt32BE(5)) return;
          const length = 9 + pending.readUInt32BE(5);
          const request = decodeFrame(pending.subarray(0, length));
          pending = pending.subarray(length);
          answer(request, peer);
          continue;
        }
        if (pending.length < 6) return;
        const bits = pending.readUIntLE(0, 3);
        if (crc24(bits) !== pending.readUIntLE(3, 3)) throw new Error('fake Cassandra: request segment header CRC24 mismatch');
        const length = bits & 0x1ffff;
        if (pending.length < 10 + length) return;
        const body = pending.subarray(6, 6 + length);
        if (zlib.crc32(body, CRC32_SEED) !== pending.readUInt32LE(6 + length)) throw new Error('fake Cassandra: request segment CRC32 mismatch');
        segmentPayload = Buffer.concat([segmentPayload, body]);
        pending = pending.subarray(10 + length);
        while (segmentPayload.length >= 9 && segmentPayload.length >= 9 + segmentPayload.readUInt32BE(5)) {
          const envelopeLength = 9 + segmentPayload.readUInt32BE(5);
          const request = decodeFrame(segmentPayload.subarray(0, envelopeLength));
          segmentPayload = segmentPayload.subarray(envelopeLength);
          answer(request, peer);
        }
      }
    },
  };
}
