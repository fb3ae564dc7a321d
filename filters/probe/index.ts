// The Wasm probe that set-up loads into Envoy before anything else: a network filter that turns a
// downstream "ping" into "pong". If the echo server behind it answers "pong", this Envoy build runs
// Proxy-Wasm network filters (ABI 0.2.1) with the V8 runtime. It is deliberately independent of
// filters/sdk, so that a failure here points at Envoy, not at Weir's SDK.

@external("env", "proxy_log")
declare function proxy_log(level: i32, messagePtr: usize, messageLen: usize): i32;
@external("env", "proxy_get_buffer_bytes")
declare function proxy_get_buffer_bytes(bufferType: i32, start: i32, maxSize: i32, returnPtr: usize, returnLen: usize): i32;
@external("env", "proxy_set_buffer_bytes")
declare function proxy_set_buffer_bytes(bufferType: i32, start: i32, size: i32, valuePtr: usize, valueLen: usize): i32;

const LOG_INFO: i32 = 2;
const DOWNSTREAM_DATA: i32 = 2;
const CONTINUE: i32 = 0;

export function proxy_abi_version_0_2_1(): void {}

export function proxy_on_memory_allocate(size: usize): usize {
  return heap.alloc(size);
}

export function proxy_on_context_create(contextId: u32, parentContextId: u32): void {}

export function proxy_on_vm_start(rootContextId: u32, configurationSize: u32): i32 {
  return 1;
}

export function proxy_on_configure(rootContextId: u32, configurationSize: u32): i32 {
  log("weir wasm probe: configured");
  return 1;
}

export function proxy_on_new_connection(contextId: u32): i32 {
  return CONTINUE;
}

export function proxy_on_downstream_data(contextId: u32, dataSize: u32, endOfStream: i32): i32 {
  if (dataSize < 4) return CONTINUE;
  const slots = memory.data(2 * sizeof<usize>());
  if (proxy_get_buffer_bytes(DOWNSTREAM_DATA, 0, 4, slots, slots + sizeof<usize>()) != 0) return CONTINUE;
  const bytes = load<usize>(slots);
  const length = load<usize>(slots + sizeof<usize>());
  // "ping" read as a little-endian u32
  const isPing = length == 4 && load<u32>(bytes) == 0x676e6970;
  heap.free(bytes);
  if (isPing) {
    const pong = String.UTF8.encode("pong");
    proxy_set_buffer_bytes(DOWNSTREAM_DATA, 0, 4, changetype<usize>(pong), 4);
    log("weir wasm probe: ping rewritten to pong");
  }
  return CONTINUE;
}

export function proxy_on_upstream_data(contextId: u32, dataSize: u32, endOfStream: i32): i32 {
  return CONTINUE;
}

export function proxy_on_done(contextId: u32): i32 {
  return 1;
}

export function proxy_on_delete(contextId: u32): void {}

function log(message: string): void {
  const bytes = String.UTF8.encode(message);
  proxy_log(LOG_INFO, changetype<usize>(bytes), bytes.byteLength);
}

// Reached only on an internal AssemblyScript error (allocation failure); traps after logging nothing,
// because Envoy provides no `env.abort`.
function probeAbort(message: usize, fileName: usize, line: u32, column: u32): void {
  unreachable();
}
