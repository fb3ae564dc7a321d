// Shared helpers for filter tests on the TypeScript Proxy-Wasm test host (server/wasm-host/):
// load a built filter with a plugin configuration, read the weir-accesslog entries it wrote and
// the 8-byte counters Weir keeps in shared data.
import { HostProcess, loadFilter, type FilterVm, type HostConnection, type FakeUpstream } from '../../server/wasm-host/index.ts';
import { IDENTITY_MAP_TYPE_URL } from '../../server/xds/resources/identity-map.ts';
import { NETWORK_POLICY_TYPE_URL } from '../../server/xds/resources/network-policy.ts';
import { asAny, discoveryResponse, type CompiledResources } from './agent/policy-resources.ts';
import { AGENT_ROOT_ID, AGENT_VM_ID } from '../../server/xds/bootstrap.ts';
import { buildFilters, filterWasm, type AccessLogEntry } from './envoy-harness.ts';

const built = new Set<string>();

// Builds the named filters once per test process (the build skips modules that are up to date);
// without names, every filter.
export function ensureFiltersBuilt(...names: string[]): void {
  const wanted = names.length === 0 ? ['*'] : names;
  const missing = wanted.filter((name) => !built.has(name) && !built.has('*'));
  if (missing.length === 0) return;
  buildFilters(...missing.filter((name) => name !== '*'));
  for (const name of missing) built.add(name);
}

// With `process`, the filter runs in that host process under the agent's vm_id, as in Envoy beside
// the Weir agent (shared data and queues in common).
export function loadWeirFilter(name: string, rootId: string, configuration: object | string, upstream?: () => FakeUpstream, process?: HostProcess): FilterVm {
  ensureFiltersBuilt(name);
  const pluginConfig = typeof configuration === 'string' ? configuration : JSON.stringify(configuration);
  const shared = process === undefined ? {} : { process, vmId: AGENT_VM_ID };
  return loadFilter({ wasm: filterWasm(name), rootId, pluginConfig, failurePolicy: 'FAIL_RELOAD', upstream, ...shared });
}

// The Weir agent in `process` as Envoy runs it beside the parsers (vm_id `weir`, node node-a in
// cluster edge), before its first tick. `configuration` is its plugin configuration (empty:
// defaults).
export function loadWeirAgent(process: HostProcess, configuration = ''): FilterVm {
  ensureFiltersBuilt('agent');
  return loadFilter({ wasm: filterWasm('agent'), rootId: AGENT_ROOT_ID, vmId: AGENT_VM_ID, pluginConfig: configuration, node: { id: 'node-a', cluster: 'edge' }, process });
}

// The same after its first tick opened its streams.
export function startWeirAgent(process: HostProcess, configuration = ''): FilterVm {
  const agent = loadWeirAgent(process, configuration);
  agent.advanceTime(100);
  return agent;
}

// A new host process whose agent received `compiled`'s policies and identity map over its ADS
// stream, as from `weir serve`: parsers loaded into it decide with that policy.
export function agentWithPublishedPolicy(compiled: CompiledResources): HostProcess {
  const process = new HostProcess();
  const agent = startWeirAgent(process);
  const ads = agent.grpc.exchanges.filter((exchange) => exchange.kind === 'stream' && exchange.method === 'StreamAggregatedResources').at(-1);
  if (ads === undefined) throw new Error('the agent opened no ADS stream');
  const server = agent.grpc.serverSide(ads.token);
  server.sendMessage(discoveryResponse({ versionInfo: 'v1', typeUrl: NETWORK_POLICY_TYPE_URL, nonce: 'n1', resources: compiled.policies.map(asAny) }));
  agent.settle();
  server.sendMessage(discoveryResponse({ versionInfo: 'i1', typeUrl: IDENTITY_MAP_TYPE_URL, nonce: 'n2', resources: [asAny(compiled.identityMap)] }));
  agent.settle();
  return process;
}

// A little-endian u64 in shared data of the agent's vm_id (`weir/generation`,
// `weir/accesslog/dropped`); 0 when the key is not set.
export function sharedCounter(process: HostProcess, key: string): bigint {
  const value = process.sharedData.get(AGENT_VM_ID, key)?.value;
  return value === undefined ? 0n : new DataView(value.buffer, value.byteOffset, value.byteLength).getBigUint64(0, true);
}

export function accessLog(source: FilterVm | HostConnection): AccessLogEntry[] {
  return source.logs
    .map((record) => record.message)
    .filter((message) => message.startsWith('weir-accesslog '))
    .map((message) => JSON.parse(message.slice('weir-accesslog '.length)) as AccessLogEntry);
}
