// Hands access-log entries from a parser VM to the Weir agent on the Wasm shared queue
// `weir/accesslog` of vm_id `weir` (or the empty vm_id inside Istio; docs/accesslog.md). A queue
// message holds one or more entries, each a weir.AccessLogEntry after its length (access-log-wire.ts).
// Entries written in data callbacks are collected per VM and enqueued as one message on the next
// root tick (every ROOT_TICK_MS, asked for by the first callback with entries), or at once when
// the message reaches MAX_MESSAGE_BYTES: each enqueue wakes the agent's thread (Envoy's main
// thread), which cost ~30 us of Envoy CPU per request with one request in flight when it happened
// per callback. The abort handler sends what is collected before its trap (flushAccessLogNow).
// An entry that cannot be enqueued (no agent registered the queue yet) is counted, never silently
// lost: the count is added to the shared-data counter `weir/accesslog/dropped` (8 bytes
// little-endian, compare-and-swap), which the agent reports to the server. Owns the queue protocol
// on the parser side (names and framing: access-log-wire.ts); entries are encoded by
// entry-protobuf.ts.
//
// Host calls per data callback with entries: none here but one tick-period call when the
// collection starts (the clock read is the entry's, abi/host.ts); resolving the queue, enqueuing
// and counting drops happen on the tick. Host calls are dear in Envoy (about 2 us each when a callback
// runs on a cold CPU).
import { ByteBuffer } from '../bytes/byte-buffer';
import { ACCESS_LOG_DROPPED_KEY, ACCESS_LOG_QUEUE, ACCESS_LOG_VM_ID, ENTRY_LENGTH_BYTES } from './access-log-wire';
import { Status, proxy_enqueue_shared_queue, proxy_get_shared_data, proxy_resolve_shared_queue, proxy_set_shared_data } from '../abi/imports';
import { ROOT_TICK_MS, clockReadThisCallback, nowMilliseconds, setTickPeriod } from '../abi/host';


// A callback's entries are sent early once they reach this size, to keep queue messages small.
const MAX_MESSAGE_BYTES: usize = 32768;
const STALE_TICK_MS: u64 = 3 * <u64>ROOT_TICK_MS;

// Return slots: [0] token / pointer, [8] length, [16] CAS, [32] counter value.
const slots: usize = memory.data(40);

// Per VM: the resolved queue (0 = not resolved yet) and drops not yet added to the shared counter.
let queueToken: u32 = 0;
let unreportedDrops: u64 = 0;

// Entries collected from data callbacks, made on first use (no allocating initializers: see
// HostNames), and the root context whose next tick sends them (0: no tick asked for).
let pending: ByteBuffer | null = null;
let pendingEntries: u32 = 0;
let flushRoot: u32 = 0;
let flushAskedAtMs: u64 = 0;
// Length of the collected message before the entry being written (-1: none is being written).
let openEntryAt: isize = -1;

// Host-call arguments, encoded once per VM on first use (no allocating initializers here: the
// abort handler's call graph reaches this module while other modules' globals are initialized).
class HostNames {
  vmId: ArrayBuffer = String.UTF8.encode(ACCESS_LOG_VM_ID);
  queue: ArrayBuffer = String.UTF8.encode(ACCESS_LOG_QUEUE);
  droppedKey: ArrayBuffer = String.UTF8.encode(ACCESS_LOG_DROPPED_KEY);
}
let hostNamesMade: HostNames | null = null;

function hostNames(): HostNames {
  let names = hostNamesMade;
  if (names === null) {
    names = new HostNames();
    hostNamesMade = names;
  }
  return names;
}

// Where the next entry is written (access-log.ts, config-report.ts): straight into the collected
// message, after room for its length, which endAccessLogEntry() fills in. An entry left unfinished
// (the abort handler logging while an entry was being written) is cut off first, so the message
// stays well-formed.
export function beginAccessLogEntry(): ByteBuffer {
  let batch = pending;
  if (batch === null) {
    batch = new ByteBuffer();
    pending = batch;
  }
  if (openEntryAt >= 0) batch.truncate(<usize>openEntryAt);
  openEntryAt = <isize>batch.length;
  const lengthAt = batch.writePtr(ENTRY_LENGTH_BYTES);
  store<u32>(lengthAt, 0); // safe: ENTRY_LENGTH_BYTES reserved
  batch.advanceEnd(ENTRY_LENGTH_BYTES);
  return batch;
}

// The entry begun with beginAccessLogEntry() is complete: it waits for the tick, or goes out with
// the message once that reaches MAX_MESSAGE_BYTES.
export function endAccessLogEntry(): void {
  const batch = pending!;
  const lengthAt = batch.readPtr + <usize>openEntryAt;
  store<u32>(lengthAt, <u32>(batch.length - <usize>openEntryAt - ENTRY_LENGTH_BYTES)); // safe: written by beginAccessLogEntry
  openEntryAt = -1;
  pendingEntries += 1;
  if (pending!.length >= MAX_MESSAGE_BYTES) flushAccessLogNow();
}

// End of a data callback of a connection under `rootContextId`: asks that root for a tick when
// entries (or drops of a message sent early) wait for one. A root asked earlier that has not
// ticked within STALE_TICK_MS (its plugin replaced or its timer gone) is given up for this one, so
// entries never wait on a tick that will not come while traffic flows.
export function finishAccessLogCallback(rootContextId: u32): void {
  if (pendingEntries == 0 && unreportedDrops == 0) return;
  // A callback that wrote no entry has not read the clock: the next one that does checks the root.
  if (flushRoot != 0 && !clockReadThisCallback()) return;
  const now = nowMilliseconds();
  if (flushRoot != 0 && now >= flushAskedAtMs && now - flushAskedAtMs < STALE_TICK_MS) return;
  flushRoot = rootContextId;
  flushAskedAtMs = now;
  setTickPeriod(ROOT_TICK_MS);
}

// A root context's tick (or its deletion): sends the collected entries and adds drops to the
// shared counter (one read and one compare-and-swap write, however many) if this root was asked
// to. Afterwards the access log needs no more ticks from this root until the next collection.
export function flushAccessLogOnTick(rootContextId: u32): void {
  if (rootContextId != flushRoot) return;
  flushRoot = 0;
  flushAccessLogNow();
}

// Everything collected and written so far goes out now (the tick, and the abort handler before its
// trap).
export function flushAccessLogNow(): void {
  sendPending();
  if (unreportedDrops > 0) reportDrops();
}

function sendPending(): void {
  const batch = pending;
  if (batch === null || pendingEntries == 0) return;
  send(batch.readPtr, batch.length, pendingEntries);
  batch.clear();
  pendingEntries = 0;
}

// Enqueues one message of `entries` entries, or counts them as dropped.
function send(messagePtr: usize, messageLength: usize, entries: u32): void {
  if (queueToken == 0) queueToken = resolveQueue();
  if (queueToken != 0 && proxy_enqueue_shared_queue(queueToken, messagePtr, messageLength) == Status.Ok) return;
  queueToken = 0; // the agent may have restarted: resolve again on the next message
  unreportedDrops += <u64>entries;
}

// The agent's queue: under vm_id `weir` (Weir's bootstrap), else under the empty vm_id, where the
// agent runs inside Istio's sidecars because a WasmPlugin cannot set a vm_id (docs/istio.md).
function resolveQueue(): u32 {
  const names = hostNames();
  const token = resolveQueueOf(changetype<usize>(names.vmId), <usize>names.vmId.byteLength);
  return token != 0 ? token : resolveQueueOf(changetype<usize>(names.vmId), 0); // a valid pointer, zero bytes: ''
}

function resolveQueueOf(vmIdPtr: usize, vmIdLength: usize): u32 {
  const names = hostNames();
  store<u32>(slots, 0);
  const status = proxy_resolve_shared_queue(vmIdPtr, vmIdLength, changetype<usize>(names.queue), <usize>names.queue.byteLength, slots);
  return status == Status.Ok ? load<u32>(slots) : 0;
}

// Adds the unreported drops to the shared counter with compare-and-swap; on a conflict with
// another VM they stay unreported and are added on the next report.
function reportDrops(): void {
  const key = hostNames().droppedKey;
  store<usize>(slots, 0);
  store<usize>(slots + 8, 0);
  store<u32>(slots + 16, 0);
  let current: u64 = 0;
  let cas: u32 = 0;
  if (proxy_get_shared_data(changetype<usize>(key), <usize>key.byteLength, slots, slots + 8, slots + 16) == Status.Ok) {
    const pointer = load<usize>(slots);
    const size = load<usize>(slots + 8);
    cas = load<u32>(slots + 16);
    if (pointer != 0 && size == 8) current = load<u64>(pointer); // safe: the host gave 8 bytes
    if (pointer != 0) heap.free(pointer);
  }
  store<u64>(slots + 32, current + unreportedDrops);
  if (proxy_set_shared_data(changetype<usize>(key), <usize>key.byteLength, slots + 32, 8, cas) == Status.Ok) unreportedDrops = 0;
}
