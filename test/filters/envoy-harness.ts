// Runs a real Envoy in front of a TCP backend with one Weir Wasm network filter, for filter tests:
// writes a static bootstrap (listener on a free loopback port -> Wasm filter -> tcp_proxy) into a
// temp dir, starts Envoy with --concurrency 1, waits until the listener is bound, collects Envoy's
// log, and stops Envoy by pid. Also builds the filters once per test run. Talks to no xDS server.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface WasmEnvoyOptions {
  wasmFile: string; // absolute path of the filter module
  rootId: string; // the parser name
  configuration: string; // plugin configuration JSON
  backendPort: number;
}

export interface WasmEnvoy {
  listenerPort: number;
  log(): string; // everything Envoy printed so far
  accessLogEntries(): AccessLogEntry[];
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface AccessLogEntry {
  type: 'Request' | 'Denied' | 'Error';
  proto: string;
  connection: number;
  fields: Record<string, string | number>;
  reason: string;
}

export function resolveEnvoyPath(): string {
  const fromEnv = process.env.ENVOY_BIN;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const venv = path.join(repoRoot, '.venv', 'bin', 'envoy');
  return existsSync(venv) ? venv : 'envoy';
}

// Builds build/filters/*.wasm (and checked/) with the project's build script: only the named
// filters (`r2d2`, `testparsers/lineparser`) when names are given, else every filter.
export function buildFilters(...names: string[]): void {
  execFileSync(process.execPath, [path.join(repoRoot, 'scripts', 'build-filters.mjs'), ...names], { cwd: repoRoot, stdio: 'pipe' });
}

// The filter file under test: the checked build unless WEIR_FILTER_VARIANT=release (toy parsers
// under testparsers/ exist only as checked builds).
export function filterWasm(name: string): string {
  const release = process.env.WEIR_FILTER_VARIANT === 'release' && !name.startsWith('testparsers/');
  const variant = release ? '' : 'checked';
  return path.join(repoRoot, 'build', 'filters', variant, `${name}.wasm`);
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('freePort: no TCP address');
  return address.port;
}

export async function startWasmEnvoy(options: WasmEnvoyOptions): Promise<WasmEnvoy> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'weir-filter-envoy-'));
  const listenerPort = await freePort();
  const bootstrapFile = path.join(dir, 'envoy.json');
  writeFileSync(bootstrapFile, JSON.stringify(bootstrap(options, listenerPort)));
  const child = spawn(
    resolveEnvoyPath(),
    ['-c', bootstrapFile, '--concurrency', '1', '--log-level', 'warn', '--component-log-level', 'wasm:info', '--base-id', String(process.pid % 10000 + listenerPort), '--disable-hot-restart'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const envoy: WasmEnvoy = {
    listenerPort,
    log: () => output,
    accessLogEntries: () => parseAccessLog(output),
    waitForLog: (pattern, timeoutMs = 5000) => waitFor(() => pattern.test(output), timeoutMs, `Envoy log matching ${pattern}`, () => output),
    stop: async () => {
      await stopProcess(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await waitFor(() => child.exitCode !== null || output.includes('configured,'), 15000, 'the Weir filter to be configured', () => output);
    if (child.exitCode !== null) throw new Error(`Envoy exited with code ${child.exitCode}`);
    await waitFor(async () => await canConnect(listenerPort), 10000, `Envoy listener on 127.0.0.1:${listenerPort}`, () => output);
  } catch (err) {
    await envoy.stop();
    throw new Error(`${(err as Error).message}\n--- Envoy log ---\n${output}`);
  }
  return envoy;
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

function bootstrap(options: WasmEnvoyOptions, listenerPort: number): object {
  return {
    node: { id: 'weir-filter-test', cluster: 'weir-filter-test' },
    static_resources: {
      listeners: [
        {
          name: 'filter_under_test',
          address: { socket_address: { address: '127.0.0.1', port_value: listenerPort } },
          filter_chains: [
            {
              filters: [
                {
                  name: `weir.${options.rootId}`,
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm',
                    config: {
                      name: `weir-${options.rootId}`,
                      root_id: options.rootId,
                      failure_policy: 'FAIL_RELOAD',
                      configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: options.configuration },
                      vm_config: { vm_id: `weir-${options.rootId}`, runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: options.wasmFile } } },
                    },
                  },
                },
                {
                  name: 'envoy.filters.network.tcp_proxy',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
                    stat_prefix: 'weir_filter_test',
                    cluster: 'backend',
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: 'backend',
          type: 'STATIC',
          connect_timeout: '1s',
          load_assignment: {
            cluster_name: 'backend',
            endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: options.backendPort } } } }] }],
          },
        },
      ],
    },
  };
}

async function canConnect(port: number): Promise<boolean> {
  return await new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string, context?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const extra = context === undefined ? '' : `\n${context().slice(-4000)}`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${extra}`);
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.kill(child.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  }, 3000);
  await exited;
  clearTimeout(timer);
}
