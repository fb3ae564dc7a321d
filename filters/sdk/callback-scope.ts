// Marks the span of one data callback, so that host values which cannot change in a way that
// matters while it runs are read from Envoy once per callback instead of once per request: the
// policy publish generation (a shared-data read under Envoy's global lock, policy-decision.ts) and
// the host's log level (access-log.ts). filter-context.ts opens and closes the scope; outside it
// (root ticks, configuration, the abort handler) every read goes to the host.
// Has no allocating initializers and imports nothing with them: the abort handler's call graph
// (connection -> access log) reaches this module while other modules' globals are initialized.
import { Status, proxy_get_log_level } from './abi/imports';

const levelSlot: usize = memory.data(4);

// 0 outside a data callback; else a number that differs from the previous callback's.
let epoch: u32 = 0;
let lastEpoch: u32 = 0;
let levelEpoch: u32 = 0;
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

// Whether Envoy's `wasm` logger prints lines at `wanted` (spdlog levels: trace 0 ... critical 5),
// asked once per callback. When the host cannot tell, every line is written.
export function hostLogsAt(wanted: u32): bool {
  if (epoch == 0 || levelEpoch != epoch) {
    level = proxy_get_log_level(levelSlot) == Status.Ok ? load<u32>(levelSlot) : 0;
    levelEpoch = epoch;
  }
  return wanted >= level;
}
