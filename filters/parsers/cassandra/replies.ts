// The CQL envelopes the Cassandra filter writes itself: the deny reply (ERROR 0x2100
// "Request Unauthorized"), UNPREPARED (0x2500 with the unknown id, so the driver prepares again),
// the protocol error that refuses compression, and the OPTIONS probe sent on a denied request's
// stream id when no reply is outstanding. Each carries the request's version and stream id;
// wrapping into v5 segments is segments.ts's job. Built per denial (the denied path only).
import { ByteView } from '../../sdk/index';
import { ErrorCodeCql, HEADER_BYTES, Opcode, RESPONSE_BIT } from './cql';

export const UNAUTHORIZED_MESSAGE = 'Request Unauthorized';
export const UNPREPARED_MESSAGE = 'Unprepared query: Weir has not seen this statement prepared on this connection';
export const COMPRESSION_MESSAGE = 'Weir (CQL proxy) cannot inspect compressed frames; connect without compression (remove COMPRESSION from STARTUP)';

export function unauthorizedReply(version: i32, stream: i32): ArrayBuffer {
  return errorReply(version, stream, ErrorCodeCql.Unauthorized, UNAUTHORIZED_MESSAGE, null, 0, 0);
}

export function compressionRefusedReply(version: i32, stream: i32): ArrayBuffer {
  return errorReply(version, stream, ErrorCodeCql.ProtocolError, COMPRESSION_MESSAGE, null, 0, 0);
}

// UNPREPARED carries the unknown id as [short bytes] after the message.
export function unpreparedReply(version: i32, stream: i32, idView: ByteView, idOffset: i32, idLength: i32): ArrayBuffer {
  return errorReply(version, stream, ErrorCodeCql.Unprepared, UNPREPARED_MESSAGE, idView, idOffset, idLength);
}

// OPTIONS with an empty body: the server answers SUPPORTED on the same stream id.
export function optionsProbe(version: i32, stream: i32): ArrayBuffer {
  const frame = new Uint8Array(HEADER_BYTES);
  writeHeader(frame, version & 0x7f, stream, Opcode.Options, 0);
  return frame.buffer;
}

function errorReply(version: i32, stream: i32, code: i32, message: string, idView: ByteView | null, idOffset: i32, idLength: i32): ArrayBuffer {
  const extra = idView === null ? 0 : 2 + idLength;
  const bodyLength = 4 + 2 + message.length + extra;
  const frame = new Uint8Array(HEADER_BYTES + bodyLength);
  writeHeader(frame, (version & 0x7f) | RESPONSE_BIT, stream, Opcode.Error, bodyLength);
  let at = HEADER_BYTES;
  at = writeBigEndian(frame, at, code, 4);
  at = writeBigEndian(frame, at, message.length, 2);
  for (let i = 0; i < message.length; i++) frame[at++] = <u8>message.charCodeAt(i);
  if (idView !== null) {
    at = writeBigEndian(frame, at, idLength, 2);
    for (let i = 0; i < idLength; i++) frame[at++] = <u8>idView.byteAt(idOffset + i);
  }
  return frame.buffer;
}

function writeHeader(frame: Uint8Array, versionByte: i32, stream: i32, opcode: i32, bodyLength: i32): void {
  frame[0] = <u8>versionByte;
  frame[1] = 0;
  writeBigEndian(frame, 2, stream & 0xffff, 2);
  frame[4] = <u8>opcode;
  writeBigEndian(frame, 5, bodyLength, 4);
}

function writeBigEndian(target: Uint8Array, at: i32, value: i32, count: i32): i32 {
  for (let i = 0; i < count; i++) target[at + i] = <u8>((value >>> ((count - 1 - i) * 8)) & 0xff);
  return at + count;
}
