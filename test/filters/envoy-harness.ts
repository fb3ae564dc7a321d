// Runs a real Envoy in front of TCP backends with Weir Wasm network filters, for filter tests:
// builds a static bootstrap (listeners on free loopback ports -> Wasm filter -> tcp_proxy), starts
// it with demo/servers/envoy/process.ts (--concurrency 1, stopped by pid), waits until the listeners are
// bound, parses the access-log lines of Envoy's log and reads admin stats. Also builds the filters.
// Talks to no xDS server.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { acceptsConnections, freeLoopbackPort } from '../../demo/servers/loopback-port.ts';
import { startEnvoy, type EnvoyProcess, type EnvoyProcessOptions } from '../../demo/servers/envoy/process.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface WasmEnvoyOptions {
  wasmFile: string; // absolute path of the filter module
  rootId: string; // the parser name
  configuration: string; // plugin configuration JSON
  backendPort: number;
  // The loopback address Envoy connects to the backend from (e.g. 127.0.0.2), so the backend's own
  // logs tell this listener's connections apart; default: the kernel's choice.
  upstreamSourceAddress?: string;
}

export interface WasmEnvoy {
  listenerPort: number;
  log(): string; // everything Envoy printed so far
  accessLogEntries(): AccessLogEntry[];
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface AccessLogEntry {
  type: 'Request' | 'Response' | 'Denied' | 'Error';
  proto: string;
  connection: number;
  fields: Record<string, string | number>;
  reason: string;
  // Attribution, present only when known (docs/accesslog.md).
  direction?: 'ingress' | 'egress';
  endpoint?: string;
  revision?: string;
  rule?: string;
  sourceIdentity?: number;
  destinationIdentity?: number;
}

// Builds build/filters/*.wasm (and checked/) with the project's build script: only the named
// filters (`r2d2`, `testparsers/lineparser`) when names are given, else every filter.
export function buildFilters(...names: string[]): void {
  execFileSync(process.execPath, [path.join(repoRoot, 'scripts', 'build-filters.mjs'), ...names], { cwd: repoRoot, stdio: 'pipe' });
}

// For tests that run `weir serve`, which loads build/filters/*.wasm as they are: fails early, saying
// what to run, when one of `modules` (e.g. 'r2d2.wasm') was never built.
export function requireBuiltFilters(...modules: string[]): void {
  for (const module of modules) {
    if (!existsSync(path.join(repoRoot, 'build', 'filters', module))) throw new Error(`build/filters/${module} is missing; run \`npm run build:filters\``);
  }
}

// The filter file under test: the checked build unless WEIR_FILTER_VARIANT=release (toy parsers
// under testparsers/ exist only as checked builds).
export function filterWasm(name: string): string {
  const release = process.env.WEIR_FILTER_VARIANT === 'release' && !name.startsWith('testparsers/');
  const variant = release ? '' : 'checked';
  return path.join(repoRoot, 'build', 'filters', variant, `${name}.wasm`);
}

export async function startWasmEnvoy(options: WasmEnvoyOptions): Promise<WasmEnvoy> {
  const envoy = await startWasmEnvoyListeners({ listeners: [{ name: 'filter_under_test', ...options }] });
  const listenerPort = envoy.listenerPorts.filter_under_test;
  if (listenerPort === undefined) throw new Error('startWasmEnvoy: no listener port');
  return { ...envoy, listenerPort };
}

// One listener of a multi-listener Envoy: its own Wasm filter (its own VM unless vmId is shared)
// in front of its own backend.
export interface WasmListenerOptions extends WasmEnvoyOptions {
  name: string; // listener name, also the key of listenerPorts
  vmId?: string; // default weir-<rootId>
  listenerPort?: number; // default: a free loopback port
  pluginName?: string; // PluginConfig.name, the wasm.<name>.* stats prefix; default weir-<rootId>
}

export interface MultiWasmEnvoy extends Omit<WasmEnvoy, 'listenerPort'> {
  listenerPorts: Record<string, number>;
  pid: number;
  running(): boolean;
  // Counters and gauges from the admin /stats whose name starts with `prefix`.
  stats(prefix: string): Promise<Record<string, number>>;
}

// Starts Envoy with several listeners (each with one Weir Wasm filter) and an admin interface on a
// loopback port Envoy picks, for tests that look at more than one VM or at Envoy's stats.
export async function startWasmEnvoyListeners(options: { listeners: WasmListenerOptions[] }): Promise<MultiWasmEnvoy> {
  const listenerPorts: Record<string, number> = {};
  for (const listener of options.listeners) listenerPorts[listener.name] = listener.listenerPort ?? (await freeLoopbackPort());
  const configured = (log: string): boolean => log.split('configured,').length - 1 >= options.listeners.length;
  const envoyProcess = await startListeningEnvoy(
    { bootstrapYaml: JSON.stringify(bootstrap(options.listeners, listenerPorts)), logLevel: 'warning', componentLogLevel: 'wasm:info' },
    listenerPorts,
    { what: 'every Weir filter to be configured', ready: configured },
  );
  let exited = false;
  void envoyProcess.exited.then(() => (exited = true));
  return {
    listenerPorts,
    pid: envoyProcess.pid,
    running: () => !exited,
    log: () => envoyProcess.log(),
    accessLogEntries: () => parseAccessLog(envoyProcess.log()),
    waitForLog: async (pattern, timeoutMs = 5000) => {
      await envoyProcess.waitForLog(pattern, timeoutMs);
    },
    stats: async (prefix) => await readStats(envoyProcess, prefix),
    stop: () => envoyProcess.stop(),
  };
}

// Starts Envoy from `options` and resolves once its log satisfies `logCondition` (when given) and
// every one of `listenerPorts` (name -> loopback port) accepts connections; stops it and throws
// with its log when that does not happen in time. For static bootstraps (tests and benches).
export async function startListeningEnvoy(
  options: EnvoyProcessOptions,
  listenerPorts: Record<string, number>,
  logCondition?: { what: string; ready: (log: string) => boolean },
): Promise<EnvoyProcess> {
  const envoy = await startEnvoy(options);
  let exited = false;
  void envoy.exited.then(() => (exited = true));
  try {
    if (logCondition !== undefined) {
      await waitFor(() => exited || logCondition.ready(envoy.log()), 15000, logCondition.what, () => envoy.log());
    }
    for (const [name, port] of Object.entries(listenerPorts)) {
      await waitFor(() => exited || acceptsConnections(port), 15000, `Envoy listener ${name} on 127.0.0.1:${port}`, () => envoy.log());
      if (exited) throw new Error('Envoy exited');
    }
  } catch (err) {
    await envoy.stop();
    throw new Error(`${(err as Error).message}\n--- Envoy log ---\n${envoy.log()}`);
  }
  return envoy;
}

async function readStats(envoy: EnvoyProcess, prefix: string): Promise<Record<string, number>> {
  const response = await envoy.admin('/stats?format=json');
  if (response.status !== 200) throw new Error(`Envoy admin /stats answered ${response.status}`);
  const body = JSON.parse(response.body) as { stats: Array<{ name?: string; value?: number }> };
  const result: Record<string, number> = {};
  for (const stat of body.stats) {
    if (stat.name !== undefined && stat.value !== undefined && stat.name.startsWith(prefix)) result[stat.name] = stat.value;
  }
  return result;
}

// Entries the filter wrote with proxy_log, in log order.
export function parseAccessLog(output: string): AccessLogEntry[] {
  const entries: AccessLogEntry[] = [];
  for (const line of output.split('\n')) {
    const at = line.indexOf('weir-accesslog ');
    if (at < 0) continue;
    entries.push(JSON.parse(line.slice(at + 'weir-accesslog '.length)) as AccessLogEntry);
  }
  return entries;
}

function bootstrap(listeners: WasmListenerOptions[], listenerPorts: Record<string, number>): object {
  return {
    node: { id: 'weir-filter-test', cluster: 'weir-filter-test' },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: {
      listeners: listeners.map((listener) => listenerConfig(listener, listenerPorts[listener.name] ?? 0)),
      clusters: listeners.map((listener) => ({
        name: `backend_${listener.name}`,
        type: 'STATIC',
        connect_timeout: '1s',
        ...(listener.upstreamSourceAddress === undefined ? {} : { upstream_bind_config: { source_address: { address: listener.upstreamSourceAddress, port_value: 0 } } }),
        load_assignment: {
          cluster_name: `backend_${listener.name}`,
          endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: listener.backendPort } } } }] }],
        },
      })),
    },
  };
}

function listenerConfig(listener: WasmListenerOptions, port: number): object {
  const wasm = {
    name: listener.pluginName ?? `weir-${listener.rootId}`,
    root_id: listener.rootId,
    failure_policy: 'FAIL_RELOAD',
    configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: listener.configuration },
    vm_config: { vm_id: listener.vmId ?? `weir-${listener.rootId}`, runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: listener.wasmFile } } },
  };
  return {
    name: listener.name,
    address: { socket_address: { address: '127.0.0.1', port_value: port } },
    filter_chains: [
      {
        filters: [
          { name: `weir.${listener.rootId}`, typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm', config: wasm } },
          {
            name: 'envoy.filters.network.tcp_proxy',
            typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: listener.name, cluster: `backend_${listener.name}` },
          },
        ],
      },
    ],
  };
}

// Polls `probe` every 25 ms until it returns something other than undefined or false, and returns
// that; throws after `timeoutMs`, naming `what` and the tail of `context()` (e.g. Envoy's log).
export async function waitFor<T>(probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, what: string, context?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const extra = context === undefined ? '' : `\n${context().slice(-4000)}`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${extra}`);
}
