// The Proxy-Wasm 0.2.1 exports every Weir module has, whatever kind of filter it is: the ABI
// version marker, the allocator the host writes into, VM start and context done. exports.ts (the
// parsers' network filter) and filters/http/exports.ts (the HTTP filter) re-export them beside
// their own callbacks.
import { allocateForHost } from './host';
import './abort'; // registers the global abort handler the build names with --use abort=weirAbort

export function proxy_abi_version_0_2_1(): void {}

export function proxy_on_memory_allocate(size: usize): usize {
  return allocateForHost(size);
}

export function proxy_on_vm_start(rootContextId: u32, vmConfigurationSize: u32): bool {
  return true;
}

export function proxy_on_done(contextId: u32): bool {
  return true;
}
