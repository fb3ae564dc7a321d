// Shared helpers for filter tests on the TypeScript Proxy-Wasm test host (server/wasm-host/):
// load a built filter with a plugin configuration, and read the weir-accesslog entries it wrote.
import { loadFilter, type FilterVm, type HostConnection, type FakeUpstream } from '../../server/wasm-host/index.ts';
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

export function loadWeirFilter(name: string, rootId: string, configuration: object | string, upstream?: () => FakeUpstream): FilterVm {
  ensureFiltersBuilt(name);
  const pluginConfig = typeof configuration === 'string' ? configuration : JSON.stringify(configuration);
  return loadFilter({ wasm: filterWasm(name), rootId, pluginConfig, failurePolicy: 'FAIL_RELOAD', upstream });
}

export function accessLog(source: FilterVm | HostConnection): AccessLogEntry[] {
  return source.logs
    .map((record) => record.message)
    .filter((message) => message.startsWith('weir-accesslog '))
    .map((message) => JSON.parse(message.slice('weir-accesslog '.length)) as AccessLogEntry);
}
