// Typed wrappers over the Proxy-Wasm host calls (imports.ts): logging, reading and replacing
// Envoy's connection buffers, closing the connection, reading properties. Also owns the memory
// the host writes into: proxy_on_memory_allocate (exports.ts) calls allocateForHost(), which can
// hand the host a slot inside a ByteBuffer so connection bytes land where the op loop reads them,
// without a second copy.
import { ByteBuffer } from '../bytes/byte-buffer';
import { callbackEpoch } from './callback-scope';
import {
  BufferType,
  LogLevel,
  MapType,
  Status,
  StreamType,
  proxy_close_stream,
  proxy_get_buffer_bytes,
  proxy_get_header_map_pairs,
  proxy_get_header_map_value,
  proxy_get_log_level,
  proxy_get_property,
  proxy_get_current_time_nanoseconds,
  proxy_log,
  proxy_set_buffer_bytes,
  proxy_set_effective_context,
  proxy_set_tick_period_milliseconds,
} from './imports';

// Two return slots (pointer, size) for host calls that return data.
const returnSlots: usize = memory.data(16);

// When non-zero, the next host allocation of at most `allocationTargetSize` bytes goes here.
let allocationTarget: usize = 0;
let allocationTargetSize: usize = 0;

export function allocateForHost(size: usize): usize {
  if (allocationTarget != 0 && size <= allocationTargetSize) {
    const target = allocationTarget;
    allocationTarget = 0;
    return target;
  }
  return heap.alloc(size == 0 ? 1 : size);
}

export function logText(level: LogLevel, text: string): void {
  const encoded = String.UTF8.encode(text);
  proxy_log(level, changetype<usize>(encoded), <usize>encoded.byteLength);
}

// Appends the first `size` bytes of Envoy's buffer `bufferType` to `target`. Returns false when
// the host refused (the buffer is then left as it was).
export function appendHostBuffer(bufferType: BufferType, size: u32, target: ByteBuffer): bool {
  return appendHostBufferRange(bufferType, 0, size, target);
}

// Appends `size` bytes of Envoy's buffer `bufferType` from offset `start` to `target` (fewer when
// the buffer ends sooner), so a caller copies only the bytes it reads. False when the host refused.
export function appendHostBufferRange(bufferType: BufferType, start: u32, size: u32, target: ByteBuffer): bool {
  if (size == 0) return true;
  const slot = target.writePtr(<usize>size);
  allocationTarget = slot;
  allocationTargetSize = <usize>size;
  // The host leaves the slots as they were when it copies nothing (start at or past the end).
  store<usize>(returnSlots, 0);
  store<usize>(returnSlots + 8, 0);
  const status = proxy_get_buffer_bytes(bufferType, start, size, returnSlots, returnSlots + 8);
  allocationTarget = 0;
  if (status != Status.Ok) return false;
  const returnedPtr = load<usize>(returnSlots);
  const returnedSize = load<usize>(returnSlots + 8);
  // safe: the host clamps the copy to the `size` we asked for, which writePtr reserved
  const copied = returnedSize < <usize>size ? returnedSize : <usize>size;
  if (returnedPtr != slot && returnedPtr != 0) {
    memory.copy(slot, returnedPtr, copied);
    heap.free(returnedPtr);
  }
  target.advanceEnd(copied);
  return true;
}

// Replaces `target`'s contents with an HTTP header map in Proxy-Wasm's serialized form (pair
// count, then each pair's key and value lengths, then each key and value with a NUL after it).
// The host writes straight into `target` when the map fits in `expectedBytes`. False when the
// host has no such map (outside an HTTP stream, or before the headers arrived).
export function readHostHeaderMap(mapType: MapType, target: ByteBuffer, expectedBytes: usize): bool {
  target.clear();
  const slot = target.writePtr(expectedBytes);
  allocationTarget = slot;
  allocationTargetSize = expectedBytes;
  const status = proxy_get_header_map_pairs(mapType, returnSlots, returnSlots + 8);
  allocationTarget = 0;
  if (status != Status.Ok) return false;
  const returnedPtr = load<usize>(returnSlots);
  const returnedSize = load<usize>(returnSlots + 8);
  if (returnedPtr == slot) {
    target.advanceEnd(returnedSize); // safe: the host wrote at most expectedBytes there
    return true;
  }
  if (returnedPtr != 0) {
    target.appendBytes(returnedPtr, returnedSize); // the map did not fit: the host allocated
    heap.free(returnedPtr);
  }
  return true;
}

// The value of header `name` (lowercase, pre-encoded) in map `mapType` read as a decimal number
// (`:status`), or `fallback` when absent or not a number. Allocates nothing.
export function headerDecimal(mapType: MapType, name: ArrayBuffer, fallback: u64): u64 {
  const status = proxy_get_header_map_value(mapType, changetype<usize>(name), <usize>name.byteLength, returnSlots, returnSlots + 8);
  if (status != Status.Ok) return fallback;
  const pointer = load<usize>(returnSlots);
  const size = load<usize>(returnSlots + 8);
  let value: u64 = 0;
  let valid = size > 0 && size <= 19;
  for (let i: usize = 0; valid && i < size; i++) {
    const digit = <u32>load<u8>(pointer + i) - 0x30; // safe: i < size bytes the host copied there
    if (digit > 9) valid = false;
    else value = value * 10 + <u64>digit;
  }
  if (pointer != 0) heap.free(pointer);
  return valid ? value : fallback;
}

// Replaces the first `replacedSize` bytes of Envoy's buffer with the unread bytes of `source`.
export function replaceHostBuffer(bufferType: BufferType, replacedSize: u32, source: ByteBuffer): void {
  if (replacedSize == 0 && source.length == 0) return;
  proxy_set_buffer_bytes(bufferType, 0, replacedSize, source.readPtr, source.length);
}

// Closes the downstream connection after the current callback, flushing bytes already written.
export function closeConnection(): void {
  proxy_close_stream(StreamType.Downstream);
}

// Closes another connection of this VM from a root callback (a tick): host calls then act on
// `contextId` as if its own callback were running. Envoy runs the close after the tick returns.
export function closeConnectionOf(contextId: u32, rootContextId: u32): void {
  proxy_set_effective_context(contextId);
  proxy_close_stream(StreamType.Downstream);
  proxy_set_effective_context(rootContextId);
}

// The period of every root tick the SDK asks for (closing connections, sending access logs).
export const ROOT_TICK_MS: u32 = 20;

// Asks Envoy to call proxy_on_tick on this context's root every `periodMs` (0 stops the ticks).
export function setTickPeriod(periodMs: u32): void {
  proxy_set_tick_period_milliseconds(periodMs);
}

// The clock as read in the running data callback (epoch 0: not read in one).
let clockEpoch: u32 = 0;
let clockNanoseconds: u64 = 0;

// Wall-clock time in nanoseconds since the epoch as Envoy's clock says, or 0 when the host cannot
// tell. Read once per data callback (callback-scope.ts): the entries and decisions of one read
// share it, and each host call is dear.
export function nowNanoseconds(): u64 {
  const epoch = callbackEpoch();
  if (epoch != 0 && epoch == clockEpoch) return clockNanoseconds;
  clockNanoseconds = proxy_get_current_time_nanoseconds(returnSlots) == Status.Ok ? load<u64>(returnSlots) : 0;
  clockEpoch = epoch;
  return clockNanoseconds;
}

// The same clock in milliseconds.
export function nowMilliseconds(): u64 {
  return nowNanoseconds() / 1000000;
}

// Whether the running data callback has read the clock already (so reading it again is free).
export function clockReadThisCallback(): bool {
  const epoch = callbackEpoch();
  return epoch != 0 && epoch == clockEpoch;
}

// Envoy's level for the `wasm` logger (spdlog levels: trace 0 ... critical 5), or `unknown` when
// the host cannot tell.
export function hostLogLevel(unknown: u32): u32 {
  return proxy_get_log_level(returnSlots) == Status.Ok ? load<u32>(returnSlots) : unknown;
}

const LEVEL_REFRESH_NS: u64 = 1_000_000_000;
let levelReadAt: u64 = 0; // callback clock when the level was read; 0: read it again
let level: u32 = 0;

// Whether Envoy prints `wasm` log lines at `wanted`. In data callbacks the level is asked at most
// once per second of `now` (the callback clock, nanoseconds), since each host call is dear: a
// level changed on Envoy's admin endpoint applies within a second.
export function hostLogsAt(wanted: u32, now: u64): bool {
  const inCallback = callbackEpoch() != 0;
  if (!inCallback || levelReadAt == 0 || now < levelReadAt || now - levelReadAt >= LEVEL_REFRESH_NS) {
    level = hostLogLevel(<u32>LogLevel.Trace); // unknown: write every line
    levelReadAt = !inCallback || now == 0 ? 0 : now;
  }
  return wanted >= level;
}

// The raw bytes of a property (`path` segments separated by '.'), or null when Envoy has none.
export function propertyBytes(path: string): ArrayBuffer | null {
  const encodedPath = encodePropertyPath(path);
  const status = proxy_get_property(changetype<usize>(encodedPath), <usize>encodedPath.byteLength, returnSlots, returnSlots + 8);
  if (status != Status.Ok) return null;
  const pointer = load<usize>(returnSlots);
  const size = load<usize>(returnSlots + 8);
  const copy = new ArrayBuffer(<i32>size);
  if (size > 0 && pointer != 0) memory.copy(changetype<usize>(copy), pointer, size);
  if (pointer != 0) heap.free(pointer);
  return copy;
}

// An integer property (Envoy encodes int/uint as 8 little-endian bytes), or `fallback`. Read
// straight from the host's copy: the HTTP filter reads two per request (connection.id,
// response.code), and garbage per request makes collections more frequent.
export function propertyU64(path: string, fallback: u64): u64 {
  const encodedPath = encodePropertyPath(path);
  const status = proxy_get_property(changetype<usize>(encodedPath), <usize>encodedPath.byteLength, returnSlots, returnSlots + 8);
  if (status != Status.Ok) return fallback;
  const pointer = load<usize>(returnSlots);
  const size = load<usize>(returnSlots + 8);
  if (pointer == 0) return fallback;
  const value = size == 8 ? load<u64>(pointer) : fallback; // safe: the host copied `size` bytes there
  heap.free(pointer);
  return value;
}

// A string property decoded as UTF-8, or `fallback`.
export function propertyString(path: string, fallback: string): string {
  const bytes = propertyBytes(path);
  if (bytes === null) return fallback;
  return String.UTF8.decode(bytes);
}

// Envoy separates property path segments with NUL bytes. Paths are a few constants, encoded once
// each (the map is made on first use: no allocating initializers in this module).
let encodedPaths: Map<string, ArrayBuffer> | null = null;

function encodePropertyPath(path: string): ArrayBuffer {
  let known = encodedPaths;
  if (known === null) {
    known = new Map<string, ArrayBuffer>();
    encodedPaths = known;
  }
  if (known.has(path)) return known.get(path);
  const encoded = String.UTF8.encode(path);
  const bytes = Uint8Array.wrap(encoded);
  for (let i = 0; i < bytes.length; i++) if (bytes[i] == 0x2e) bytes[i] = 0;
  known.set(path, encoded);
  return encoded;
}
