// The CQL envelopes the Cassandra filter writes itself: the deny reply (ERROR 0x2100
// "Request Unauthorized"), UNPREPARED (0x2500 with the unknown id, so the driver prepares again),
// the protocol errors that refuse compression, non-ASCII STARTUP option names and unsupported
// protocol versions, and the OPTIONS probe sent on a denied request's stream id when no reply is
// outstanding. Each carries the request's version and stream id (a refused version is answered
// the way Cassandra answers it, see versionRefusedReply); wrapping into v5 segments is
// segments.ts's job. Built per denial (the denied path only).
import { ByteView } from '../../sdk/index';
import { ErrorCodeCql, HEADER_BYTES, Opcode, RESPONSE_BIT } from './cql';

export const UNAUTHORIZED_MESSAGE = 'Request Unauthorized';
export const UNPREPARED_MESSAGE = 'Unprepared query: Weir has not seen this statement prepared on this connection';
export const COMPRESSION_MESSAGE = 'Weir (CQL proxy) cannot inspect compressed frames; connect without compression (remove COMPRESSION from STARTUP)';
export const NON_ASCII_OPTION_MESSAGE = 'Weir (CQL proxy) accepts only STARTUP options whose names and values are printable ASCII of at most 255 bytes';
// Cassandra's own wording (ProtocolVersion.invalidVersionMessage), which drivers look for to
// retry with a lower version, listing the versions Weir forwards.
const VERSION_MESSAGE_START = 'Invalid or unsupported protocol version (';
const VERSION_MESSAGE_END = '); supported versions are (3/v3, 4/v4, 5/v5)';
const CURRENT_VERSION: i32 = 5;

export function unauthorizedReply(version: i32, stream: i32): ArrayBuffer {
  return errorReply(version, stream, ErrorCodeCql.Unauthorized, UNAUTHORIZED_MESSAGE, null, 0, 0);
}

export function compressionRefusedReply(version: i32, stream: i32): ArrayBuffer {
  return errorReply(version, stream, ErrorCodeCql.ProtocolError, COMPRESSION_MESSAGE, null, 0, 0);
}

export function nonAsciiOptionReply(version: i32, stream: i32): ArrayBuffer {
  return errorReply(version, stream, ErrorCodeCql.ProtocolError, NON_ASCII_OPTION_MESSAGE, null, 0, 0);
}

// The protocol error Cassandra 5.0 sends for a frame whose version it does not serve
// (Envelope.Decoder.decode, ErrorMessage.forcedProtocolVersion): for v1 and v2 a reply in that
// version's own 8-byte header with the one-byte stream id of such a header; for any other
// version a v5 reply on the 16-bit stream id at bytes 2-3. `frame` holds the refused frame's
// first 9 bytes at least.
export function versionRefusedReply(frame: ByteView): ArrayBuffer {
  const version = frame.byteAt(0) & 0x7f;
  const message = VERSION_MESSAGE_START + version.toString() + VERSION_MESSAGE_END;
  if (version == 1 || version == 2) return shortHeaderError(version, frame.byteAt(2), message);
  return errorReply(CURRENT_VERSION, frame.u16be(2), ErrorCodeCql.ProtocolError, message, null, 0, 0);
}

// The stream id a refused version's frame carries when it is a usable v3+ id (0..32767), else -1.
export function versionRefusalStream(frame: ByteView): i32 {
  const version = frame.byteAt(0) & 0x7f;
  const stream = version == 1 || version == 2 ? frame.byteAt(2) : frame.u16be(2);
  return stream >= 0 && stream < 0x8000 ? stream : -1;
}

function shortHeaderError(version: i32, stream: i32, message: string): ArrayBuffer {
  const bodyLength = 4 + 2 + message.length;
  const frame = new Uint8Array(8 + bodyLength);
  frame[0] = <u8>(version | RESPONSE_BIT);
  frame[1] = 0;
  frame[2] = <u8>stream;
  frame[3] = <u8>Opcode.Error;
  let at = writeBigEndian(frame, 4, bodyLength, 4);
  at = writeBigEndian(frame, at, ErrorCodeCql.ProtocolError, 4);
  at = writeBigEndian(frame, at, message.length, 2);
  for (let i = 0; i < message.length; i++) frame[at++] = <u8>message.charCodeAt(i);
  return frame.buffer;
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
