// Shared helpers for filter tests on the TypeScript Proxy-Wasm test host (server/wasm-host/):
// load a built filter with a plugin configuration, and read the weir-accesslog entries it wrote.
import { loadFilter, type FilterVm, type HostConnection, type FakeUpstream } from '../../server/wasm-host/index.ts';
import { buildFilters, filterWasm, type AccessLogEntry } from './envoy-harness.ts';

let built = false;

// Builds the filters once per test process (the build skips modules that are up to date).
export function ensureFiltersBuilt(): void {
  if (built) return;
  buildFilters();
  built = true;
}

export function loadWeirFilter(name: string, rootId: string, configuration: object | string, upstream?: () => FakeUpstream): FilterVm {
  ensureFiltersBuilt();
  const pluginConfig = typeof configuration === 'string' ? configuration : JSON.stringify(configuration);
  return loadFilter({ wasm: filterWasm(name), rootId, pluginConfig, failurePolicy: 'FAIL_RELOAD', upstream });
}

export function accessLog(source: FilterVm | HostConnection): AccessLogEntry[] {
  return source.logs
    .map((record) => record.message)
    .filter((message) => message.startsWith('weir-accesslog '))
    .map((message) => JSON.parse(message.slice('weir-accesslog '.length)) as AccessLogEntry);
}
