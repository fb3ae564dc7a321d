// Reads the query parameters that end QUERY, EXECUTE and BATCH bodies exactly as Cassandra 5.0
// decodes them (org.apache.cassandra.cql3.QueryOptions.Codec.decode), at every protocol version
// it accepts: <consistency:short><flags> then, in this order and only when flagged, values
// (0x01; with names when 0x40 is also set), page size (0x04), paging state (0x08), serial
// consistency (0x10), default timestamp (0x20), keyspace (0x80) and now_in_seconds (0x100).
// The flags are an [int] from v5 on and a [byte] before, and Cassandra honours every bit the
// field can hold at every version: the keyspace flag (0x80) fits in v3/v4's byte, so a v4 QUERY
// or BATCH can name its keyspace too. Unknown bits are ignored, as the server ignores them.
// The keyspace is the one field that changes what a request touches; the reader reports where
// it is so the analysis resolves bare table names against it.
import { ByteView, MALFORMED, NEED_MORE } from '../../sdk/index';
import { QueryFlag, signedIntAt, skipString } from './cql';

export class QueryOptions {
  flags: i64 = 0;
  // Offset of the [string] keyspace (its length prefix), or -1 when the flag is not set.
  keyspaceAt: i32 = -1;
  // Offset after the last field the server reads.
  end: i32 = 0;
}

// Reads the parameters at `at` into `out`; returns `out.end`, or MALFORMED (the server would fail
// the request for a field it cannot read) / NEED_MORE (the envelope ends inside a field: the
// server fails it too, so callers treat both as malformed).
export function readQueryOptions(view: ByteView, at: i32, version: i32, out: QueryOptions): i32 {
  out.keyspaceAt = -1;
  if (!view.has(at, 2)) return NEED_MORE;
  let offset = at + 2; // consistency
  const flags = version >= 5 ? view.u32be(offset) : <i64>view.byteAt(offset);
  if (flags < 0) return <i32>flags;
  out.flags = flags;
  offset += version >= 5 ? 4 : 1;
  if ((flags & QueryFlag.Values) != 0) offset = (flags & QueryFlag.NamesForValues) != 0 ? skipNamedBoundValues(view, offset, version) : skipBoundValues(view, offset, version);
  if (offset >= 0 && (flags & QueryFlag.PageSize) != 0) offset = fixed(view, offset, 4);
  if (offset >= 0 && (flags & QueryFlag.PagingState) != 0) offset = skipPagingState(view, offset);
  if (offset >= 0 && (flags & QueryFlag.SerialConsistency) != 0) offset = fixed(view, offset, 2);
  if (offset >= 0 && (flags & QueryFlag.DefaultTimestamp) != 0) offset = timestamp(view, offset);
  if (offset >= 0 && (flags & QueryFlag.Keyspace) != 0) {
    out.keyspaceAt = offset;
    offset = skipString(view, offset);
  }
  if (offset >= 0 && (flags & QueryFlag.NowInSeconds) != 0) offset = fixed(view, offset, 4);
  out.end = offset;
  return offset;
}

// [short] n, then n bound values (CBUtil.readValueList).
export function skipBoundValues(view: ByteView, at: i32, version: i32): i32 {
  if (at < 0) return at;
  const count = view.u16be(at);
  if (count < 0) return count;
  let offset = at + 2;
  for (let i = 0; i < count && offset >= 0; i++) offset = skipBoundValue(view, offset, version);
  return offset;
}

// [short] n, then n ([string] name, bound value) (CBUtil.readNameAndValueList).
function skipNamedBoundValues(view: ByteView, at: i32, version: i32): i32 {
  if (at < 0) return at;
  const count = view.u16be(at);
  if (count < 0) return count;
  let offset = at + 2;
  for (let i = 0; i < count && offset >= 0; i++) offset = skipBoundValue(view, skipString(view, offset), version);
  return offset;
}

// CBUtil.readBoundValue: an [int] length; before v4 any negative length is null, from v4 on only
// -1 (null) and -2 (unset) are, and other negative lengths fail the request.
function skipBoundValue(view: ByteView, at: i32, version: i32): i32 {
  if (at < 0) return at;
  if (!view.has(at, 4)) return NEED_MORE;
  const length = signedIntAt(view, at);
  if (length < 0) return version < 4 || length >= -2 ? at + 4 : MALFORMED;
  return clampedEnd(view, at + 4, length);
}

// CBUtil.readValueNoCopy: negative is null; a length past the body fails.
function skipPagingState(view: ByteView, at: i32): i32 {
  if (!view.has(at, 4)) return NEED_MORE;
  const length = signedIntAt(view, at);
  if (length < 0) return at + 4;
  return clampedEnd(view, at + 4, length);
}

// The default timestamp: a [long]; Long.MIN_VALUE is refused by the server.
function timestamp(view: ByteView, at: i32): i32 {
  if (!view.has(at, 8)) return NEED_MORE;
  if (view.u32be(at) == 0x80000000 && view.u32be(at + 4) == 0) return MALFORMED;
  return at + 8;
}

function fixed(view: ByteView, at: i32, size: i32): i32 {
  return view.has(at, size) ? at + size : NEED_MORE;
}

function clampedEnd(view: ByteView, at: i32, length: i64): i32 {
  const end = <i64>at + length;
  if (end > <i64>view.length) return NEED_MORE;
  return <i32>end;
}
