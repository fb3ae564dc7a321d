// The Proxy-Wasm 0.2.1 entry points Envoy calls for an HTTP filter, as raw exports: they translate
// ABI arguments and hand over to http-filter.ts, inside enterEntryPoint()/leaveEntryPoint() so
// that garbage is collected only between callbacks (sdk/abi/garbage-collection.ts). Only the
// callbacks the filter needs are exported: Envoy skips the others (request body and trailers,
// response headers, body and trailers, proxy_on_log, proxy_on_done) without entering the VM, and
// each entry into the VM costs Envoy several microseconds per request (docs/benchmarks.md "HTTP").
// So the request is counted in proxy_on_delete, not at the response headers or in proxy_on_log,
// and proxy_on_done is left out (Envoy then treats every context as done, as the SDK's
// proxy_on_done would).
import { enterEntryPoint, leaveEntryPoint } from '../sdk/abi/garbage-collection';
import { configureRoot, createContext, deleteContext, onQueueReady, onRequestHeaders, onRootTick } from './http-filter';
export { proxy_abi_version_0_2_1, proxy_on_memory_allocate, proxy_on_vm_start } from '../sdk/module/common-exports';

export function proxy_on_context_create(contextId: u32, parentContextId: u32): void {
  enterEntryPoint();
  createContext(contextId, parentContextId);
  leaveEntryPoint();
}

export function proxy_on_configure(rootContextId: u32, pluginConfigurationSize: u32): bool {
  enterEntryPoint();
  const accepted = configureRoot(rootContextId, pluginConfigurationSize);
  leaveEntryPoint();
  return accepted;
}

export function proxy_on_tick(rootContextId: u32): void {
  enterEntryPoint();
  onRootTick(rootContextId);
  leaveEntryPoint();
}

// The agent rang this VM's generation queue (sdk/policy/generation-push.ts).
export function proxy_on_queue_ready(rootContextId: u32, token: u32): void {
  enterEntryPoint();
  onQueueReady(token);
  leaveEntryPoint();
}

export function proxy_on_request_headers(contextId: u32, headerCount: u32, endOfStream: bool): u32 {
  enterEntryPoint();
  const action = onRequestHeaders(contextId);
  leaveEntryPoint();
  return action;
}

export function proxy_on_delete(contextId: u32): void {
  enterEntryPoint();
  deleteContext(contextId);
  leaveEntryPoint();
}
