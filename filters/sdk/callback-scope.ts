// Marks the span of one data callback, so that host values which cannot change in a way that
// matters while it runs are read from Envoy once per callback instead of once per request: the
// policy publish generation (a shared-data read under Envoy's global lock, policy-decision.ts) and
// the clock (access-log-queue.ts); the host's log level is read at most once a second.
// filter-context.ts opens and closes the scope; outside it (root ticks, configuration, the abort
// handler) every read goes to the host.
// Has no allocating initializers and imports nothing with them: the abort handler's call graph
// (connection -> access log) reaches this module while other modules' globals are initialized.
import { Status, proxy_get_log_level } from './abi/imports';

const levelSlot: usize = memory.data(4);

// 0 outside a data callback; else a number that differs from the previous callback's.
let epoch: u32 = 0;
let lastEpoch: u32 = 0;
let levelReadAt: u64 = 0; // callback clock when the level was read; 0: read it again
let level: u32 = 0;

export function enterCallbackScope(): void {
  lastEpoch = lastEpoch == u32.MAX_VALUE ? 1 : lastEpoch + 1;
  epoch = lastEpoch;
}

export function leaveCallbackScope(): void {
  epoch = 0;
}

// True while a data callback runs.
export function inCallbackScope(): bool {
  return epoch != 0;
}

// Identifies the running data callback (0 outside one): a value cached with the epoch it was read
// in is current while callbackEpoch() still returns that epoch.
export function callbackEpoch(): u32 {
  return epoch;
}

const LEVEL_REFRESH_NS: u64 = 1_000_000_000;

// Whether Envoy's `wasm` logger prints lines at `wanted` (spdlog levels: trace 0 ... critical 5).
// In data callbacks the level is asked at most once per second of `now` (the callback clock,
// nanoseconds), since each host call is dear: a level changed on Envoy's admin endpoint applies
// within a second. When the host cannot tell, every line is written.
export function hostLogsAt(wanted: u32, now: u64): bool {
  if (epoch == 0 || levelReadAt == 0 || now < levelReadAt || now - levelReadAt >= LEVEL_REFRESH_NS) {
    level = proxy_get_log_level(levelSlot) == Status.Ok ? load<u32>(levelSlot) : 0;
    levelReadAt = epoch == 0 || now == 0 ? 0 : now;
  }
  return wanted >= level;
}
