// Hands access-log entries from a parser VM to the Weir agent: each entry is one JSON object on the
// Wasm shared queue `weir/accesslog` of vm_id `weir` (docs/accesslog.md), stamped here with the
// time and the connection's addresses. An entry that cannot be enqueued (no agent registered the
// queue yet) is counted, never silently lost: the count is added to the shared-data counter
// `weir/accesslog/dropped` (8 bytes little-endian, compare-and-swap), which the agent reports to the
// server. Owns the queue protocol on the parser side; the JSON is built by access-log.ts.
import { ByteBuffer } from './byte-buffer';

@external("env", "proxy_resolve_shared_queue")
declare function proxy_resolve_shared_queue(vmIdPtr: usize, vmIdLen: usize, namePtr: usize, nameLen: usize, tokenPtr: usize): u32;

@external("env", "proxy_enqueue_shared_queue")
declare function proxy_enqueue_shared_queue(token: u32, valuePtr: usize, valueLen: usize): u32;

@external("env", "proxy_get_shared_data")
declare function proxy_get_shared_data(keyPtr: usize, keyLen: usize, valuePtrPtr: usize, valueLenPtr: usize, casPtr: usize): u32;

@external("env", "proxy_set_shared_data")
declare function proxy_set_shared_data(keyPtr: usize, keyLen: usize, valuePtr: usize, valueLen: usize, cas: u32): u32;

@external("env", "proxy_get_current_time_nanoseconds")
declare function proxy_get_current_time_nanoseconds(returnTimePtr: usize): u32;

@external("env", "proxy_get_property")
declare function proxy_get_property(pathPtr: usize, pathLen: usize, returnValuePtrPtr: usize, returnValueLenPtr: usize): u32;

export const ACCESS_LOG_VM_ID = 'weir';
export const ACCESS_LOG_QUEUE = 'weir/accesslog';
export const ACCESS_LOG_DROPPED_KEY = 'weir/accesslog/dropped';

const STATUS_OK: u32 = 0;

// Return slots: [0] token / pointer, [8] length, [16] CAS, [24] time.
const slots: usize = memory.data(32);

// Per VM: the resolved queue (0 = not resolved yet) and drops not yet added to the shared counter.
let queueToken: u32 = 0;
let unreportedDrops: u64 = 0;
let entryBuffer: ByteBuffer | null = null;

// Enqueues `{"time":<ns>,"source":"<ip:port>","destination":"<ip:port>",<members>}` where
// `members` are the bytes of a JSON object's members (without braces).
export function enqueueAccessLog(membersPtr: usize, membersLength: usize): void {
  let entry = entryBuffer;
  if (entry === null) {
    entry = new ByteBuffer();
    entryBuffer = entry;
  }
  entry.clear();
  entry.appendAscii('{"time":');
  entry.appendDecimal(nowNanoseconds());
  appendAddress(entry, ',"source":', 'source.address');
  appendAddress(entry, ',"destination":', 'destination.address');
  entry.appendByte(0x2c); // ,
  entry.appendBytes(membersPtr, membersLength);
  entry.appendByte(0x7d); // }
  if (queueToken == 0) queueToken = resolveQueue();
  if (queueToken != 0 && proxy_enqueue_shared_queue(queueToken, entry.readPtr, entry.length) == STATUS_OK) {
    if (unreportedDrops > 0) reportDrops();
    return;
  }
  queueToken = 0; // the agent may have restarted: resolve again next time
  unreportedDrops += 1;
  reportDrops();
}

function resolveQueue(): u32 {
  const vmId = String.UTF8.encode(ACCESS_LOG_VM_ID);
  const name = String.UTF8.encode(ACCESS_LOG_QUEUE);
  store<u32>(slots, 0);
  const status = proxy_resolve_shared_queue(changetype<usize>(vmId), <usize>vmId.byteLength, changetype<usize>(name), <usize>name.byteLength, slots);
  return status == STATUS_OK ? load<u32>(slots) : 0;
}

// Adds the unreported drops to the shared counter with compare-and-swap; on a conflict with
// another VM they stay unreported and are added on the next entry.
function reportDrops(): void {
  const key = String.UTF8.encode(ACCESS_LOG_DROPPED_KEY);
  store<usize>(slots, 0);
  store<usize>(slots + 8, 0);
  store<u32>(slots + 16, 0);
  let current: u64 = 0;
  let cas: u32 = 0;
  if (proxy_get_shared_data(changetype<usize>(key), <usize>key.byteLength, slots, slots + 8, slots + 16) == STATUS_OK) {
    const pointer = load<usize>(slots);
    const size = load<usize>(slots + 8);
    cas = load<u32>(slots + 16);
    if (pointer != 0 && size == 8) current = load<u64>(pointer); // safe: the host gave 8 bytes
    if (pointer != 0) heap.free(pointer);
  }
  const value = new ArrayBuffer(8);
  store<u64>(changetype<usize>(value), current + unreportedDrops);
  if (proxy_set_shared_data(changetype<usize>(key), <usize>key.byteLength, changetype<usize>(value), 8, cas) == STATUS_OK) unreportedDrops = 0;
}

function nowNanoseconds(): u64 {
  store<u64>(slots + 24, 0);
  proxy_get_current_time_nanoseconds(slots + 24);
  return load<u64>(slots + 24);
}

// Appends `prefix` and the property as a JSON string ("" when Envoy has none). Addresses are
// ip:port text, so no escaping is needed beyond refusing quotes and backslashes.
function appendAddress(target: ByteBuffer, prefix: string, path: string): void {
  target.appendAscii(prefix);
  target.appendByte(0x22);
  const encodedPath = String.UTF8.encode(path);
  const bytes = Uint8Array.wrap(encodedPath);
  for (let i = 0; i < bytes.length; i++) if (bytes[i] == 0x2e) bytes[i] = 0; // Envoy separates segments with NUL
  store<usize>(slots, 0);
  store<usize>(slots + 8, 0);
  if (proxy_get_property(changetype<usize>(encodedPath), <usize>encodedPath.byteLength, slots, slots + 8) == STATUS_OK) {
    const pointer = load<usize>(slots);
    const size = load<usize>(slots + 8);
    for (let i: usize = 0; i < size; i++) {
      const byte = load<u8>(pointer + i); // safe: i < size, the host's buffer length
      if (byte >= 0x20 && byte < 0x7f && byte != 0x22 && byte != 0x5c) target.appendByte(byte);
    }
    if (pointer != 0) heap.free(pointer);
  }
  target.appendByte(0x22);
}
