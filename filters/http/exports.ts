// The Proxy-Wasm 0.2.1 entry points Envoy calls for an HTTP filter, as raw exports: they translate
// ABI arguments and hand over to http-filter.ts, inside enterEntryPoint()/leaveEntryPoint() so
// that garbage is collected only between callbacks (sdk/abi/garbage-collection.ts). Only the
// callbacks the filter needs are exported: Envoy skips the others (request body and trailers,
// response body and trailers) without entering the VM.
import { enterEntryPoint, leaveEntryPoint } from '../sdk/abi/garbage-collection';
import { configureRoot, createContext, deleteContext, onRequestHeaders, onResponseHeaders, onRootTick, onStreamLog } from './http-filter';
export * from '../sdk/abi/common-exports';

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

export function proxy_on_request_headers(contextId: u32, headerCount: u32, endOfStream: bool): u32 {
  enterEntryPoint();
  const action = onRequestHeaders(contextId);
  leaveEntryPoint();
  return action;
}

export function proxy_on_response_headers(contextId: u32, headerCount: u32, endOfStream: bool): u32 {
  enterEntryPoint();
  onResponseHeaders(contextId);
  leaveEntryPoint();
  return 0; // Continue
}

export function proxy_on_log(contextId: u32): void {
  enterEntryPoint();
  onStreamLog(contextId);
  leaveEntryPoint();
}

export function proxy_on_delete(contextId: u32): void {
  enterEntryPoint();
  deleteContext(contextId);
  leaveEntryPoint();
}
