// The Proxy-Wasm 0.2.1 entry points Envoy calls, as raw exports. Each parser's entry file
// re-exports this module (`export * from './exports'`). They only translate ABI
// arguments and hand over to filter-context.ts, inside enterEntryPoint()/leaveEntryPoint() so that
// garbage is collected only between callbacks (garbage-collection.ts); the exports every Weir
// module shares (and the abort handler's registration) are in common-exports.ts.
import { Action } from '../abi/imports';
import { enterEntryPoint, leaveEntryPoint } from '../abi/garbage-collection';
import { Direction } from '../contract/connection';
import { configureRoot, createContext, deleteContext, onConnectionData, onDownstreamClose, onRootTick } from '../contract/filter-context';
import { declaredRuleKeys, parserFactory } from '../contract/registry';
import { RuleKeys } from '../policy/rule-keys';
export * from './common-exports';

// Not a Proxy-Wasm callback (Envoy never calls it): the parser's rule-key declaration as UTF-8
// JSON (rule-keys.ts), read by scripts/build-filters.mjs into `<name>.rules.json` beside the
// module: the parser's RuleKeys, or the declaration given to declareRuleKeys(); else empty.
export function weir_rule_keys(): ArrayBuffer {
  const factory = parserFactory();
  if (factory === null) return new ArrayBuffer(0);
  const schema = factory.ruleSchema();
  if (schema instanceof RuleKeys) return String.UTF8.encode((<RuleKeys>schema).toJson());
  const declared = declaredRuleKeys();
  return declared !== null ? String.UTF8.encode(declared.toJson()) : new ArrayBuffer(0);
}

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
