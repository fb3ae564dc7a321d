// The CQL native protocol's envelope (v3, v4 and v5: a 9-byte header, then the body) and the
// body notations the Cassandra parser reads: opcodes, flags, result kinds, error codes, and
// bounds-checked readers for [short], [int], [string], [long string], [short bytes], [bytes map]
// and [value] on the SDK's ByteView. Each reader returns the offset after the value, or
// NEED_MORE / MALFORMED. v5's outer segment framing is in segments.ts; building reply frames is
// in replies.ts.
import { ByteView, MALFORMED, NEED_MORE } from '../../sdk/index';

export const HEADER_BYTES: i32 = 9;
// The protocol's own cap on a frame body (native_protocol_v4.spec, section 2.5).
export const MAX_BODY_BYTES: i64 = 256 * 1024 * 1024;

export const enum HeaderOffset {
  Version = 0,
  Flags = 1,
  Stream = 2,
  Opcode = 4,
  Length = 5,
}

export const RESPONSE_BIT: i32 = 0x80;

export const enum FrameFlag {
  Compression = 0x01,
  Tracing = 0x02,
  CustomPayload = 0x04,
  Warning = 0x08,
}

export const enum Opcode {
  Error = 0x00,
  Startup = 0x01,
  Ready = 0x02,
  Authenticate = 0x03,
  Options = 0x05,
  Supported = 0x06,
  Query = 0x07,
  Result = 0x08,
  Prepare = 0x09,
  Execute = 0x0a,
  Register = 0x0b,
  Event = 0x0c,
  Batch = 0x0d,
  AuthChallenge = 0x0e,
  AuthResponse = 0x0f,
  AuthSuccess = 0x10,
}

export const enum ResultKind {
  Void = 1,
  Rows = 2,
  SetKeyspace = 3,
  Prepared = 4,
  SchemaChange = 5,
}

export const enum ErrorCodeCql {
  ProtocolError = 0x000a,
  Unauthorized = 0x2100,
  Unprepared = 0x2500,
}

// Query parameter flags of protocol v5 ([int]); v3/v4 use a [byte] with the low 7 of them.
export const enum QueryFlag {
  Values = 0x01,
  PageSize = 0x04,
  PagingState = 0x08,
  SerialConsistency = 0x10,
  DefaultTimestamp = 0x20,
  NamesForValues = 0x40,
  Keyspace = 0x80,
  NowInSeconds = 0x100,
}

export const PREPARE_FLAG_KEYSPACE: i64 = 0x01;

export function versionOf(view: ByteView, at: i32): i32 {
  const byte = view.byteAt(at + HeaderOffset.Version);
  return byte < 0 ? byte : byte & 0x7f;
}

export function isResponse(view: ByteView, at: i32): bool {
  return (view.byteAt(at + HeaderOffset.Version) & RESPONSE_BIT) != 0;
}

export function flagsOf(view: ByteView, at: i32): i32 {
  return view.byteAt(at + HeaderOffset.Flags);
}

// The signed 16-bit stream id (server events use -1).
export function streamOf(view: ByteView, at: i32): i32 {
  const raw = view.u16be(at + HeaderOffset.Stream);
  if (raw < 0) return raw;
  return raw >= 0x8000 ? raw - 0x10000 : raw;
}

export function opcodeOf(view: ByteView, at: i32): i32 {
  return view.byteAt(at + HeaderOffset.Opcode);
}

// Body length from the header, NEED_MORE, or MALFORMED when over the protocol's 256 MB cap.
export function bodyLengthOf(view: ByteView, at: i32): i64 {
  const length = view.u32be(at + HeaderOffset.Length);
  if (length < 0) return length;
  return length > MAX_BODY_BYTES ? <i64>MALFORMED : length;
}

// Where the message itself starts in a request body: after the custom payload when flagged.
export function requestMessageStart(view: ByteView, at: i32, flags: i32): i32 {
  const body = at + HEADER_BYTES;
  return (flags & FrameFlag.CustomPayload) != 0 ? skipBytesMap(view, body) : body;
}

// Where the message starts in a response body: after tracing id, warnings and custom payload.
export function responseMessageStart(view: ByteView, at: i32, flags: i32): i32 {
  let offset = at + HEADER_BYTES;
  if ((flags & FrameFlag.Tracing) != 0) offset = view.has(offset, 16) ? offset + 16 : NEED_MORE;
  if (offset >= 0 && (flags & FrameFlag.Warning) != 0) offset = skipStringList(view, offset);
  if (offset >= 0 && (flags & FrameFlag.CustomPayload) != 0) offset = skipBytesMap(view, offset);
  return offset;
}

// [int] as a signed 32-bit value; only after view.has(offset, 4) (a -1 here is a value).
export function signedIntAt(view: ByteView, offset: i32): i64 {
  const raw = view.u32be(offset);
  if (raw < 0) return 0;
  return raw >= 0x80000000 ? raw - 0x100000000 : raw;
}

export function skipString(view: ByteView, offset: i32): i32 {
  if (offset < 0) return offset;
  return clampEnd(view.lengthPrefixedEnd(offset, 2));
}

export function skipLongString(view: ByteView, offset: i32): i32 {
  if (offset < 0) return offset;
  if (!view.has(offset, 4)) return NEED_MORE;
  if (signedIntAt(view, offset) < 0) return MALFORMED;
  return clampEnd(view.lengthPrefixedEnd(offset, 4));
}

export function skipShortBytes(view: ByteView, offset: i32): i32 {
  if (offset < 0) return offset;
  return clampEnd(view.lengthPrefixedEnd(offset, 2));
}

// [bytes] or [value]: an [int] length, negative for null / not set (no bytes follow).
export function skipValue(view: ByteView, offset: i32): i32 {
  if (offset < 0) return offset;
  if (!view.has(offset, 4)) return NEED_MORE;
  const length = signedIntAt(view, offset);
  if (length < 0) return length < -2 ? MALFORMED : offset + 4;
  return clampEnd(view.lengthPrefixedEnd(offset, 4));
}

export function skipStringList(view: ByteView, offset: i32): i32 {
  if (offset < 0) return offset;
  const count = view.u16be(offset);
  if (count < 0) return count;
  let at = offset + 2;
  for (let i = 0; i < count && at >= 0; i++) at = skipString(view, at);
  return at;
}

export function skipBytesMap(view: ByteView, offset: i32): i32 {
  if (offset < 0) return offset;
  const count = view.u16be(offset);
  if (count < 0) return count;
  let at = offset + 2;
  for (let i = 0; i < count && at >= 0; i++) at = skipValue(view, skipString(view, at));
  return at;
}

function clampEnd(end: i64): i32 {
  if (end < 0) return <i32>end;
  return end > <i64>i32.MAX_VALUE ? MALFORMED : <i32>end;
}
