// `npm run bench:memcache`: throughput, p50/p99 latency and Envoy's CPU per request of memcached
// get and set, with 1 and 16 requests in flight per connection, in the same run: through Envoy
// with the Weir memcache filter (release build, the rules the control server ships for get and
// set under bench/, so every request is decoded, matched and logged), through the same Envoy with
// only tcp_proxy, and to memcached directly. Prints a table and the ratios against tcp_proxy.
// Load comes from Node worker threads (bench/memcache-load.ts), each with its own connections.
// Settings (bench/README.md): BENCH_ROUNDS repeats every scenario (targets interleaved; ratios use
// the summed throughput), BENCH_SCENARIOS picks scenarios (e.g. "set:1,get:16"), BENCH_SECONDS,
// BENCH_WORKERS, BENCH_CONNECTIONS (per worker), BENCH_ENVOY_THREADS.
// BENCH_COMPARE_WASM=<file>[,<file>...] adds a target per file, `compare:<file name>`: the same
// Weir setup with another build of the filter (e.g. the one before a change), in the same run.
// BENCH_FLOOR=1 adds two floors, the same Envoy with another Wasm filter in place of Weir's:
// `wasm-floor`, the Wasm probe (filters/probe: one 4-byte buffer read per downstream callback and
// nothing else), i.e. what entering a Wasm filter costs; and `sdk-floor`, the SDK's toy parser
// test.passer (reads every byte in both directions and passes it, no parsing, no logs), i.e. the
// least any Weir parser costs. Weir's ratio can only approach them.
// `--mode sidecar` measures the sidecar layout in network namespaces instead (bench/memcache-sidecar.ts).
// BENCH_AGENT=1 adds `weir+agent`: the Weir setup plus the Weir agent (bootstrap Wasm service), so
// entries are enqueued to the agent's thread and dequeued there, as in production. No control
// server runs (it would share the machine's CPUs with Envoy): the agent keeps retrying `weir-xds`
// and, once its buffer of 65,536 entries is full, counts further entries as dropped after
// dequeuing them.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { startMemcached } from '../demo/servers/memcached.ts';
import { BOOTSTRAP_DEFAULTS, agentBootstrapExtension, xdsCluster } from '../server/xds/bootstrap.ts';
import { buildFilters, repoRoot, startListeningEnvoy } from '../test/filters/envoy-harness.ts';
import { memcacheConfig, rule } from '../test/filters/parsers/memcache/memcache-rules.ts';
import type { LoadResult, LoadSpec } from './memcache-load.ts';
import { freeLoopbackPort } from '../demo/servers/loopback-port.ts';

export interface BenchOptions {
  workers: number;
  connectionsPerWorker: number;
  durationMs: number;
  envoyConcurrency: number;
  rounds: number;
  compareWasm: string[]; // other memcache.wasm builds, each measured as target `compare:<file name>`
  floor: boolean; // also measure the targets `wasm-floor` and `sdk-floor`
  agent: boolean; // also measure the target `weir+agent`
  scenarios: string | undefined; // e.g. "set:16,get:16"; default: all of SCENARIOS
}

const OPTIONS: BenchOptions = {
  workers: Number(process.env['BENCH_WORKERS'] ?? 4),
  connectionsPerWorker: Number(process.env['BENCH_CONNECTIONS'] ?? 8),
  durationMs: Number(process.env['BENCH_SECONDS'] ?? 4) * 1000,
  envoyConcurrency: Number(process.env['BENCH_ENVOY_THREADS'] ?? 2),
  rounds: Number(process.env['BENCH_ROUNDS'] ?? 1),
  compareWasm: distinctFileNames((process.env['BENCH_COMPARE_WASM'] ?? '').split(',').filter((file) => file !== '')),
  floor: process.env['BENCH_FLOOR'] === '1',
  agent: process.env['BENCH_AGENT'] === '1',
  scenarios: process.env['BENCH_SCENARIOS'],
};

// Each compared build is reported under its file name, so two with one name would be summed.
function distinctFileNames(files: string[]): string[] {
  const names = files.map((file) => path.basename(file, '.wasm'));
  const repeated = names.find((name, index) => names.indexOf(name) !== index);
  if (repeated !== undefined) throw new Error(`BENCH_COMPARE_WASM names two builds ${repeated}.wasm; copy one to another file name so their results stay apart`);
  return files;
}

const SCENARIOS: ReadonlyArray<{ operation: 'get' | 'set'; depth: number }> = [
  { operation: 'set', depth: 1 },
  { operation: 'get', depth: 1 },
  { operation: 'set', depth: 16 },
  { operation: 'get', depth: 16 },
];

// What the control server ships for `get` and `set` under bench/ (its own command groups).
const WEIR_CONFIGURATION = memcacheConfig([rule('get', { keyPrefix: 'bench/' }), rule('set', { keyPrefix: 'bench/' })]);

export interface Measurement {
  opsPerSecond: number;
  p50Us: number;
  p99Us: number;
  errors: number;
}

// How an Envoy target is set up; a target is one of them, memcached directly, or another build.
type EnvoyMode = 'tcp_proxy' | 'weir' | 'wasm-floor' | 'sdk-floor' | 'weir+agent';
type Target = 'direct' | EnvoyMode | `compare:${string}`;

// The target of a BENCH_COMPARE_WASM build: its file name, which must differ from the others'.
function compareTarget(file: string): Target {
  return `compare:${path.basename(file, '.wasm')}`;
}

async function main(): Promise<void> {
  const measureFlag = process.argv.indexOf('--measure');
  if (measureFlag >= 0) {
    // One measurement for bench/memcache-sidecar.ts, run inside the client's network namespace.
    process.stdout.write(`${JSON.stringify(await measure(JSON.parse(process.argv[measureFlag + 1] ?? '{}') as LoadSpec))}\n`);
    return;
  }
  const modeFlag = process.argv.indexOf('--mode');
  const mode = modeFlag < 0 ? 'loopback' : process.argv[modeFlag + 1];
  if (mode === 'sidecar') {
    const { runSidecarBench } = await import('./memcache-sidecar.ts');
    await runSidecarBench({ ...OPTIONS, scenarios: selectedScenarios() });
    return;
  }
  if (mode !== 'loopback') throw new Error(`--mode ${mode ?? ''}: expected sidecar (or nothing, for the loopback targets)`);
  buildFilters();
  const memcached = await startMemcached({ threads: 4, memoryMb: 256 });
  const targets: Array<[Target, number, BenchEnvoy | undefined]> = [['direct', memcached.port, undefined]];
  const addEnvoyTarget = async (target: Target, mode: EnvoyMode, wasmFile?: string): Promise<void> => {
    const envoy = await startBenchEnvoy(memcached.port, mode, wasmFile);
    targets.push([target, envoy.port, envoy]);
  };
  try {
    await addEnvoyTarget('tcp_proxy', 'tcp_proxy');
    await addEnvoyTarget('weir', 'weir');
    for (const file of OPTIONS.compareWasm) await addEnvoyTarget(compareTarget(file), 'weir', file);
    if (OPTIONS.agent) await addEnvoyTarget('weir+agent', 'weir+agent');
    if (OPTIONS.floor) for (const mode of ['wasm-floor', 'sdk-floor'] as const) await addEnvoyTarget(mode, mode);
    console.log(`memcache bench: ${OPTIONS.workers} workers x ${OPTIONS.connectionsPerWorker} connections, ${OPTIONS.durationMs / 1000}s per run, ${OPTIONS.rounds} round(s), Envoy --concurrency ${OPTIONS.envoyConcurrency}, ${os.cpus().length} CPUs, load average ${os.loadavg()[0]?.toFixed(1)}`);
    for (const file of OPTIONS.compareWasm) console.log(`${compareTarget(file)}: ${file}`);
    console.log('scenario        target           ops/s     p50 us   p99 us  errors  envoy CPU us/op');
    const ratios: string[] = [];
    for (const scenario of selectedScenarios()) {
      const name = `${scenario.operation} depth ${scenario.depth}`;
      const completed = new Map<Target, number>();
      const p99 = new Map<Target, number>();
      for (let round = 0; round < OPTIONS.rounds; round++) {
        for (const [target, port, envoy] of targets) {
          const cpuBefore = envoy === undefined ? 0 : cpuSeconds(envoy.pid);
          const measurement = await measure({ port, operation: scenario.operation, depth: scenario.depth, connections: OPTIONS.connectionsPerWorker, durationMs: OPTIONS.durationMs });
          // Envoy's own CPU per completed request: what the filter adds, whatever the load generator takes
          const cpuPerOp = envoy === undefined ? '-' : (((cpuSeconds(envoy.pid) - cpuBefore) * 1e6) / (measurement.opsPerSecond * (OPTIONS.durationMs / 1000))).toFixed(1).padStart(15);
          completed.set(target, (completed.get(target) ?? 0) + measurement.opsPerSecond);
          p99.set(target, Math.max(p99.get(target) ?? 0, measurement.p99Us));
          console.log(`${name.padEnd(15)} ${target.padEnd(15)} ${measurement.opsPerSecond.toFixed(0).padStart(8)} ${measurement.p50Us.toFixed(0).padStart(9)} ${measurement.p99Us.toFixed(0).padStart(8)} ${String(measurement.errors).padStart(7)}  ${cpuPerOp}`);
        }
      }
      const plainOps = completed.get('tcp_proxy') ?? 0;
      for (const [target] of targets) {
        const ops = completed.get(target);
        if (target === 'direct' || target === 'tcp_proxy') continue;
        if (ops === undefined || plainOps === 0) continue;
        ratios.push(`${name}: ${target}/tcp_proxy throughput ${(ops / plainOps).toFixed(3)}, worst p99 ${((p99.get(target) ?? 0) / (p99.get('tcp_proxy') ?? 1)).toFixed(2)}x`);
      }
    }
    console.log('\nratios');
    for (const line of ratios) console.log(`  ${line}`);
  } finally {
    for (const [, , envoy] of targets) await envoy?.stop();
    await memcached.stop();
  }
}

function selectedScenarios(): ReadonlyArray<{ operation: 'get' | 'set'; depth: number }> {
  if (OPTIONS.scenarios === undefined) return SCENARIOS;
  const wanted = new Set(OPTIONS.scenarios.split(',').map((item) => item.trim()));
  const chosen = SCENARIOS.filter((scenario) => wanted.has(`${scenario.operation}:${scenario.depth}`));
  if (chosen.length === 0) throw new Error(`BENCH_SCENARIOS=${OPTIONS.scenarios} names none of ${SCENARIOS.map((scenario) => `${scenario.operation}:${scenario.depth}`).join(',')}`);
  return chosen;
}

export async function measure(spec: LoadSpec): Promise<Measurement> {
  const workerFile = new URL('./memcache-load.ts', import.meta.url);
  const results = await Promise.all(
    Array.from({ length: OPTIONS.workers }, () =>
      new Promise<LoadResult>((resolve, reject) => {
        // the worker registers tsx itself, then loads the TypeScript load generator
        const bootstrap = `import('tsx/esm/api').then((api) => api.register()).then(() => import(${JSON.stringify(workerFile.href)}))`;
        const worker = new Worker(bootstrap, { eval: true, workerData: spec });
        worker.once('message', (result: LoadResult) => resolve(result));
        worker.once('error', reject);
      }),
    ),
  );
  const latencies = results.flatMap((result) => result.latenciesUs).sort((a, b) => a - b);
  const percentile = (p: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
  const completed = results.reduce((sum, result) => sum + result.completed, 0);
  return { opsPerSecond: completed / (spec.durationMs / 1000), p50Us: percentile(0.5), p99Us: percentile(0.99), errors: results.reduce((sum, result) => sum + result.errors, 0) };
}

interface BenchEnvoy {
  port: number;
  pid: number;
  stop(): Promise<void>;
}

// CPU seconds (user + system, all threads) a process has used so far, from /proc/<pid>/stat;
// Linux reports clock ticks of 1/100 s (USER_HZ).
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

// The Wasm filter in front of tcp_proxy for each target: module, root id and plugin configuration.
function wasmFilterOf(mode: Exclude<EnvoyMode, 'tcp_proxy'>, weirWasm: string): { file: string; rootId: string; configuration: string } {
  if (mode === 'weir' || mode === 'weir+agent') return { file: weirWasm, rootId: 'memcache', configuration: WEIR_CONFIGURATION };
  if (mode === 'wasm-floor') return { file: path.join(repoRoot, 'build', 'filters', 'probe.wasm'), rootId: 'probe', configuration: '' };
  // toy parsers are built only with bounds checks (build/filters/checked); the passer does next to no Wasm work
  return { file: path.join(repoRoot, 'build', 'filters', 'checked', 'testparsers', 'passer.wasm'), rootId: 'test.passer', configuration: JSON.stringify({ parser: 'test.passer' }) };
}

async function startBenchEnvoy(backendPort: number, mode: EnvoyMode, weirWasm = path.join(repoRoot, 'build', 'filters', 'memcache.wasm')): Promise<BenchEnvoy> {
  const port = await freeLoopbackPort();
  const filters: object[] = [];
  if (mode !== 'tcp_proxy') {
    const wasm = wasmFilterOf(mode, weirWasm);
    filters.push({
      name: `weir.${wasm.rootId}`,
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.filters.network.wasm.v3.Wasm',
        config: {
          name: `weir-${mode}`,
          root_id: wasm.rootId,
          failure_policy: 'FAIL_RELOAD',
          configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: wasm.configuration },
          vm_config: { vm_id: `weir-${mode}`, runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: wasm.file } } },
        },
      },
    });
  }
  filters.push({ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 'bench', cluster: 'memcached' } });
  const clusters: object[] = [staticCluster('memcached', backendPort)];
  if (mode === 'weir+agent') {
    // the agent's control-server cluster, on a free port nobody listens on (see the header); no
    // server answers, so no credentials are needed (plaintext, and nothing to authenticate to)
    clusters.push(xdsCluster('127.0.0.1', await freeLoopbackPort(), 'insecure'));
  }
  const bootstrap = {
    node: { id: `weir-bench-${mode}`, cluster: 'weir-bench' },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: {
      listeners: [{ name: 'memcached', address: { socket_address: { address: '127.0.0.1', port_value: port } }, filter_chains: [{ filters }] }],
      clusters,
    },
    ...(mode === 'weir+agent' ? { bootstrap_extensions: [agentBootstrapExtension(BOOTSTRAP_DEFAULTS.agentWasmFile ?? '')] } : {}),
  };
  // warn level everywhere, wasm included: the filter then builds no per-request access-log lines
  // (info), as in production where Envoy would drop them
  const envoy = await startListeningEnvoy({ bootstrapYaml: JSON.stringify(bootstrap), concurrency: OPTIONS.envoyConcurrency, logLevel: 'warning', componentLogLevel: 'wasm:warning' }, { [mode]: port });
  return { port, pid: envoy.pid, stop: () => envoy.stop() };
}

function staticCluster(name: string, port: number): object {
  return { name, type: 'STATIC', connect_timeout: '1s', load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: port } } } }] }] } };
}

void main().catch((err: unknown) => {
  console.error(`bench:memcache failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
