// Marks the span of one data callback. Host values that cannot change in a way that matters while
// it runs are read from Envoy once per callback instead of once per request: the clock and the
// host's log level (abi/host.ts) and the policy publish generation (policy-shared-data.ts) are
// cached with the epoch they were read in. filter-context.ts opens and closes the scope (with
// running-connection.ts); outside it (root ticks, configuration) every read goes to the host.
// Imports nothing: abi/host.ts depends on it, and the abort handler's call graph reaches it while
// other modules' globals are initialized.

// 0 outside a data callback; else a number that differs from the previous callback's.
let epoch: u32 = 0;
let lastEpoch: u32 = 0;

export function enterCallbackScope(): void {
  lastEpoch = lastEpoch == u32.MAX_VALUE ? 1 : lastEpoch + 1;
  epoch = lastEpoch;
}

export function leaveCallbackScope(): void {
  epoch = 0;
}

// Identifies the running data callback (0 outside one): a value cached with the epoch it was read
// in is current while callbackEpoch() still returns that epoch.
export function callbackEpoch(): u32 {
  return epoch;
}
