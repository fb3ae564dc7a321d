// The Proxy-Wasm 0.2.1 entry points Envoy calls, as raw exports. Each parser's entry file
// re-exports this module (`export * from '../../sdk/abi/exports'`). They only translate ABI
// arguments and hand over to filter-context.ts, inside enterEntryPoint()/leaveEntryPoint() so that
// garbage is collected only between callbacks (garbage-collection.ts); the exports every Weir
// module shares (and the abort handler's registration) are in common-exports.ts.
import { Action } from './imports';
import { enterEntryPoint, leaveEntryPoint } from './garbage-collection';
import { Direction } from '../connection';
import { configureRoot, createContext, deleteContext, onConnectionData, onDownstreamClose, onRootTick } from '../filter-context';
export * from './common-exports';

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

export function proxy_on_new_connection(contextId: u32): u32 {
  return Action.Continue;
}

export function proxy_on_downstream_data(contextId: u32, dataSize: u32, endOfStream: bool): u32 {
  enterEntryPoint();
  onConnectionData(contextId, Direction.Request, dataSize, endOfStream);
  leaveEntryPoint();
  return Action.Continue;
}

export function proxy_on_upstream_data(contextId: u32, dataSize: u32, endOfStream: bool): u32 {
  enterEntryPoint();
  onConnectionData(contextId, Direction.Reply, dataSize, endOfStream);
  leaveEntryPoint();
  return Action.Continue;
}

export function proxy_on_downstream_connection_close(contextId: u32, peerType: u32): void {
  enterEntryPoint();
  onDownstreamClose(contextId);
  leaveEntryPoint();
}

export function proxy_on_upstream_connection_close(contextId: u32, peerType: u32): void {}

export function proxy_on_log(contextId: u32): void {}

export function proxy_on_delete(contextId: u32): void {
  enterEntryPoint();
  deleteContext(contextId);
  leaveEntryPoint();
}
