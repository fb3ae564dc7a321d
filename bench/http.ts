// `npm run bench:http`: requests per second and p99 latency of HTTP/1.1 (keep-alive) and HTTP/2
// through one Envoy, in the same run, on three listeners that differ only in their HTTP filters:
// `envoy` (the HTTP connection manager and the router, no rules), `weir` (Weir's HTTP filter
// deciding with the policy the Weir agent publishes, every request matched against the issue's
// rules and access-logged: allowed requests counted into Request entries shipped to `weir serve`,
// docs/http.md "Access log") and `rbac`
// (Envoy's native RBAC filter with the same rule, for the choice of mechanism in docs/http.md), and
// `rbac-als`: the same RBAC plus Envoy's gRPC access log (`http_grpc`, every request's entry
// streamed to a sink in this process), what a native mechanism would need for the access log.
// Load: h2load (Debian's nghttp2-client, installed by `node scripts/setup.mjs --for bench:http`).
// The upstream is a second Envoy answering 200 itself (direct_response), so the upstream costs
// little and the same for every target. `weir serve` runs as its own process, as in production.
// Prints a table and each target's throughput ratio against `envoy`; the last column is the Envoy
// under test's CPU time per request (user + system, /proc), which moves less than throughput on a
// shared machine.
// Settings (bench/README.md): BENCH_SECONDS per measurement (default 5), BENCH_ROUNDS (default 3;
// targets interleaved, ratios from summed requests), BENCH_CONNECTIONS (HTTP/1.1, default 16),
// BENCH_H2_CONNECTIONS x BENCH_H2_STREAMS (HTTP/2, default 4 x 16), BENCH_ENVOY_THREADS (default 1).
// BENCH_COMPARE_WASM=<file>[,<file>...] adds a target per file, `compare:<file name>`: another
// build of the HTTP filter in the same place (static listener, same agent policy), same run. Each
// is first checked to deny GET /private, except a build whose file name starts with `noop` (a
// filter that returns at once, to measure the cost of entering the VM itself).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import * as grpc from '@grpc/grpc-js';
import { runWeirCli, startWeirServe } from '../demo/weir-process.ts';
import { freeLoopbackPort } from '../demo/servers/loopback-port.ts';
import { H2LOAD_BINARY } from '../demo/servers/http-clients.ts';
import { projectRoot } from '../demo/servers/project-paths.ts';
import { listenerPort } from '../demo/servers/envoy/listeners.ts';
import { startEnvoy, type EnvoyProcess } from '../demo/servers/envoy/process.ts';

const OPTIONS = {
  seconds: Number(process.env['BENCH_SECONDS'] ?? 5),
  rounds: Number(process.env['BENCH_ROUNDS'] ?? 3),
  connections: Number(process.env['BENCH_CONNECTIONS'] ?? 16),
  h2Connections: Number(process.env['BENCH_H2_CONNECTIONS'] ?? 4),
  h2Streams: Number(process.env['BENCH_H2_STREAMS'] ?? 16),
  envoyThreads: Number(process.env['BENCH_ENVOY_THREADS'] ?? 1),
  // Total requests per second offered to each target (0: as fast as the target answers). At a
  // fixed rate below saturation every target does the same work per second, so Envoy's CPU per
  // request compares the filters without the batching that saturation brings.
  rps: Number(process.env['BENCH_RPS'] ?? 0),
  compareWasm: (process.env['BENCH_COMPARE_WASM'] ?? '').split(',').filter((file) => file !== '').map((file) => path.resolve(file)),
};

const TARGETS = ['envoy', 'weir', 'rbac', 'rbac-als', ...OPTIONS.compareWasm.map(compareTargetOf)];
type Target = string;

function compareTargetOf(file: string): string {
  return `compare:${path.basename(file, '.wasm')}`;
}
const PROTOCOLS = ['http/1.1', 'h2'] as const;
type Protocol = (typeof PROTOCOLS)[number];

// The issue's example rules: GET /public/.* with the X-Token header, from the bench client
// (127.0.0.1, h2load's source address) to endpoint leia.
const REQUEST_PATH = '/public/bench';
const TOKEN_HEADER = 'x-token: 1234';
const POLICIES = `apiVersion: weir.dev/v1
kind: Endpoint
metadata: { name: leia }
spec: { labels: { app: leia }, ips: [127.0.0.10] }
---
apiVersion: weir.dev/v1
kind: Endpoint
metadata: { name: bench-client }
spec: { labels: { app: bench-client }, ips: [127.0.0.1] }
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: bench-public }
spec:
  endpointSelector: { matchLabels: { app: leia } }
  ingress:
    - fromEndpoints: [{ matchLabels: { app: bench-client } }]
      toPorts:
        - ports: [{ port: "UPSTREAM_PORT", protocol: TCP }]
          rules:
            http: [{ method: GET, path: "/public/.*", headers: [X-Token] }]
`;

interface Measurement {
  requests: number;
  seconds: number;
  p99Ms: number;
  envoyCpuSeconds: number;
  serveCpuSeconds: number;
}

async function main(): Promise<void> {
  if (!fs.existsSync(H2LOAD_BINARY)) throw new Error(`${H2LOAD_BINARY} is missing; run \`node scripts/setup.mjs --for bench:http\` (npm run bench:http does)`);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-bench-http-'));
  const stops: Array<() => Promise<void>> = [async () => fs.rmSync(workDir, { recursive: true, force: true })];
  try {
    const upstream = await startEnvoy({ bootstrapYaml: upstreamBootstrap(await freeLoopbackPort()), concurrency: 1, logLevel: 'warning' });
    stops.push(() => upstream.stop());
    await upstream.waitReady();
    const upstreamPort = await listenerPort(upstream, 'upstream');
    const xdsPort = await freeLoopbackPort();
    const configFile = writeServeConfig(workDir, xdsPort, upstreamPort, await freeLoopbackPort());
    const serve = await startWeirServe({ configFile, xdsPort, logFile: path.join(workDir, 'serve.log') });
    stops.push(() => serve.stop(5_000));
    // `weir bootstrap` enrols the bench's node (mTLS, as every proxy) and prints Weir's bootstrap.
    const enrolled = await runWeirCli(['bootstrap', '--node-id', 'bench-http', '--xds', `127.0.0.1:${xdsPort}`, '--admin-port', '0', '--certs', path.join(workDir, 'node')], { socket: path.join(workDir, 'weir.sock') });
    if (enrolled.code !== 0) throw new Error(`weir bootstrap failed (${enrolled.code}): ${enrolled.stderr}`);
    const accessLogSink = await startAccessLogSink();
    stops.push(accessLogSink.stop);
    const envoy = await startEnvoy({ bootstrapYaml: benchBootstrap(enrolled.stdout, upstreamPort, accessLogSink.port), concurrency: OPTIONS.envoyThreads, logLevel: 'warning' });
    stops.push(() => envoy.stop());
    await envoy.waitReady();
    const ports: Record<Target, number> = {};
    for (const target of TARGETS) ports[target] = await listenerPort(envoy, target === 'envoy' ? 'plain' : target === 'weir' ? 'weir-web' : target);
    const waited = await runWeirCli(['policy', 'wait', '--node', 'bench-http', '--timeout', '30'], { socket: path.join(workDir, 'weir.sock') });
    if (waited.code !== 0) throw new Error(`the Weir agent did not enforce the bench policy: ${waited.stderr}\n${envoy.log().slice(-3000)}`);
    for (const target of TARGETS.filter((name) => name === 'weir' || (name.startsWith('compare:') && !name.startsWith('compare:noop')))) await checkRulesApply(ports[target]!, workDir);
    await runRounds(ports, envoy, serve.pid, workDir);
    console.log(`rbac-als: the access-log sink received ${accessLogSink.messages()} messages (Envoy batches entries per message)`);
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}

const WIDTH = Math.max(...TARGETS.map((target) => target.length));

async function runRounds(ports: Record<Target, number>, envoy: EnvoyProcess, servePid: number, workDir: string): Promise<void> {
  console.log(`http bench: ${OPTIONS.seconds} s per measurement, ${OPTIONS.rounds} round(s); HTTP/1.1 ${OPTIONS.connections} keep-alive connections x 1 request in flight, HTTP/2 ${OPTIONS.h2Connections} connections x ${OPTIONS.h2Streams} streams; h2load 1 thread${OPTIONS.rps > 0 ? `, offering ${OPTIONS.rps} req/s (fixed rate: compare the CPU per request, not the throughput)` : ""}; Envoy --concurrency ${OPTIONS.envoyThreads}; ${os.cpus().length} CPUs, load average ${os.loadavg()[0]?.toFixed(1)}`);
  console.log(`${'protocol'.padEnd(9)} ${'target'.padEnd(WIDTH)} ${'req/s'.padStart(10)} ${'p99 ms'.padStart(8)} ${'envoy CPU us/req'.padStart(17)} ${'serve CPU us/req'.padStart(17)}`);
  const totals = new Map<string, Measurement>();
  const roundRatios = new Map<string, number[]>();
  const roundCpuRatios = new Map<string, number[]>();
  // The least Envoy CPU per request of each target over the rounds: contention from other work on
  // the machine only adds CPU time (cache misses, migrations), so the lowest is the least disturbed.
  const lowestCpu = new Map<string, number>();
  for (let round = 0; round < OPTIONS.rounds; round++) {
    for (const protocol of PROTOCOLS) {
      let baseline = 0;
      let baselineCpu = 0;
      for (const target of TARGETS) {
        const measured = await measure(protocol, ports[target]!, envoy.pid, servePid, path.join(workDir, `h2load-${protocol.replace('/', '')}-${target}.log`));
        const key = `${protocol} ${target}`;
        const total = totals.get(key);
        totals.set(key, total === undefined ? measured : sum(total, measured));
        const cpuPerRequest = measured.requests === 0 ? 0 : measured.envoyCpuSeconds / measured.requests;
        if (target === 'envoy') {
          baseline = measured.requests;
          baselineCpu = cpuPerRequest;
        }
        roundRatios.set(key, [...(roundRatios.get(key) ?? []), baseline === 0 ? 0 : measured.requests / baseline]);
        roundCpuRatios.set(key, [...(roundCpuRatios.get(key) ?? []), baselineCpu === 0 ? 0 : cpuPerRequest / baselineCpu]);
        if (cpuPerRequest > 0) lowestCpu.set(key, Math.min(lowestCpu.get(key) ?? Infinity, cpuPerRequest));
        console.log(`${protocol.padEnd(9)} ${target.padEnd(WIDTH)} ${(measured.requests / measured.seconds).toFixed(0).padStart(10)} ${measured.p99Ms.toFixed(2).padStart(8)} ${perRequestUs(measured.envoyCpuSeconds, measured.requests).padStart(17)} ${perRequestUs(measured.serveCpuSeconds, measured.requests).padStart(17)}`);
      }
    }
  }
  console.log('\nsummed over the rounds (ratio = target req/s / envoy req/s; the medians of the rounds\' ratios, of throughput and of Envoy CPU per request, compare measurements taken a minute apart at most, which a shared machine needs):');
  for (const protocol of PROTOCOLS) {
    const baseline = totals.get(`${protocol} envoy`)!;
    for (const target of TARGETS) {
      const total = totals.get(`${protocol} ${target}`)!;
      const ratio = total.requests / total.seconds / (baseline.requests / baseline.seconds);
      const median = medianOf(roundRatios.get(`${protocol} ${target}`) ?? []);
      const cpuMedian = medianOf(roundCpuRatios.get(`${protocol} ${target}`) ?? []);
      const cpuLowest = lowestCpu.get(`${protocol} ${target}`) ?? 0;
      console.log(`${protocol.padEnd(9)} ${target.padEnd(WIDTH)} ${(total.requests / total.seconds).toFixed(0).padStart(10)} req/s  ratio ${ratio.toFixed(3)}  median round ratio ${median.toFixed(3)}  worst p99 ${total.p99Ms.toFixed(2)} ms  envoy CPU ${perRequestUs(total.envoyCpuSeconds, total.requests)} us/req (median round ratio ${cpuMedian.toFixed(2)}x, lowest round ${(cpuLowest * 1e6).toFixed(1)} us/req = ${(cpuLowest / (lowestCpu.get(`${protocol} envoy`) ?? cpuLowest)).toFixed(2)}x)  serve CPU ${perRequestUs(total.serveCpuSeconds, total.requests)} us/req`);
    }
  }
}

function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function sum(a: Measurement, b: Measurement): Measurement {
  return { requests: a.requests + b.requests, seconds: a.seconds + b.seconds, p99Ms: Math.max(a.p99Ms, b.p99Ms), envoyCpuSeconds: a.envoyCpuSeconds + b.envoyCpuSeconds, serveCpuSeconds: a.serveCpuSeconds + b.serveCpuSeconds };
}

function perRequestUs(cpuSeconds: number, requests: number): string {
  return requests === 0 ? '-' : ((cpuSeconds * 1e6) / requests).toFixed(1);
}

// One h2load run; fails when any request was not answered 2xx (the rules must allow the load).
async function measure(protocol: Protocol, port: number, envoyPid: number, servePid: number, logFile: string): Promise<Measurement> {
  const clients = protocol === 'h2' ? OPTIONS.h2Connections : OPTIONS.connections;
  const load = protocol === 'h2' ? ['-c', String(clients), '-m', String(OPTIONS.h2Streams)] : ['--h1', '-c', String(clients), '-m', '1'];
  if (OPTIONS.rps > 0) load.push(`--rps=${Math.max(1, Math.round(OPTIONS.rps / clients))}`);
  const args = [...load, '-t', '1', '-D', String(OPTIONS.seconds), '--warm-up-time', '1', '-H', TOKEN_HEADER, '--log-file', logFile, `http://127.0.0.1:${port}${REQUEST_PATH}`];
  await settle(servePid);
  const envoyBefore = cpuSeconds(envoyPid);
  const serveBefore = cpuSeconds(servePid);
  const output = await run(H2LOAD_BINARY, args);
  const envoyCpuSeconds = cpuSeconds(envoyPid) - envoyBefore;
  const serveCpuSeconds = cpuSeconds(servePid) - serveBefore;
  const done = /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(output);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(output);
  if (done === null || codes === null) throw new Error(`unexpected h2load output:\n${output}`);
  if (Number(codes[3]) + Number(codes[4]) + Number(done[3]) + Number(done[4]) > 0) throw new Error(`requests were not all answered 2xx (h2load ${args.join(' ')}):\n${output}`);
  return { requests: Number(codes[1]), seconds: OPTIONS.seconds, p99Ms: p99FromLog(logFile), envoyCpuSeconds, serveCpuSeconds };
}

// Waits (at most 10 s) until `weir serve` used at most one clock tick of CPU in 250 ms: a target
// that logs faster than the server takes entries leaves a backlog, which the agent (in the Envoy
// under test) and the server would otherwise work off during the next target's measurement and
// charge to it (seen: a build measured right after the one-entry-per-request build).
async function settle(servePid: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const before = cpuSeconds(servePid);
    await new Promise((resolve) => setTimeout(resolve, 250));
    if (cpuSeconds(servePid) - before <= 0.01) return;
  }
}

// h2load --log-file: one line per request, `start time (us)\tstatus\tduration (us)`.
function p99FromLog(logFile: string): number {
  const durations = fs.readFileSync(logFile, 'utf8').split('\n').filter((line) => line !== '').map((line) => Number(line.split('\t')[2])).sort((a, b) => a - b);
  if (durations.length === 0) return 0;
  return (durations[Math.min(durations.length - 1, Math.floor(durations.length * 0.99))] ?? 0) / 1000;
}

// A 403 for a request the rules do not allow proves the Weir listener enforces them.
async function checkRulesApply(port: number, workDir: string): Promise<void> {
  const logFile = path.join(workDir, 'check.log');
  const output = await run(H2LOAD_BINARY, ['--h1', '-n', '1', '-c', '1', '--log-file', logFile, `http://127.0.0.1:${port}/private`]);
  if (!/status codes: 0 2xx, 0 3xx, 1 4xx/.test(output)) throw new Error(`the weir listener did not deny GET /private:\n${output}`);
}

// CPU seconds (user + system, all threads) a process has used so far, from /proc/<pid>/stat;
// Linux reports clock ticks of 1/100 s (USER_HZ).
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function run(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => (error ? reject(new Error(`${command} ${args.join(' ')}: ${stderr || error.message}`)) : resolve(stdout)));
  });
}

function writeServeConfig(dir: string, xdsPort: number, upstreamPort: number, listenPort: number): string {
  fs.mkdirSync(path.join(dir, 'policies'));
  fs.writeFileSync(path.join(dir, 'policies', 'bench.yaml'), POLICIES.replace('UPSTREAM_PORT', String(upstreamPort)));
  const configFile = path.join(dir, 'weir.yaml');
  fs.writeFileSync(configFile, [
    `xds: { address: 127.0.0.1, port: ${xdsPort} }`,
    'policies: { dir: policies, enforcementMode: default }',
    'api: { socket: weir.sock }',
    'redirects:',
    `  - { name: web, parser: http, endpoint: leia, listen: { address: 127.0.0.1, port: ${listenPort} }, upstream: { address: 127.0.0.1, port: ${upstreamPort} } }`,
    `filters: { dir: ${JSON.stringify(path.join(projectRoot, 'build', 'filters'))} }`,
  ].join('\n'));
  return configFile;
}

// The Envoy under test: Weir's bootstrap from `weir bootstrap` (agent, ADS over mTLS to weir serve, which adds the `weir-web`
// listener) plus two static listeners with the same connection manager settings as Weir's
// (server/xds/resources/http-listener.ts): without filters, and with native RBAC.
function benchBootstrap(weirBootstrapYaml: string, upstreamPort: number, accessLogPort: number): string {
  const bootstrap = YAML.parse(weirBootstrapYaml) as { static_resources: { clusters: object[]; listeners?: object[] } };
  bootstrap.static_resources.clusters.push({
    name: 'bench-upstream',
    type: 'STATIC',
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} },
      },
    },
    load_assignment: { cluster_name: 'bench-upstream', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: upstreamPort } } } }] }] },
  });
  const rbac = {
    name: 'envoy.filters.http.rbac',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC',
      rules: {
        action: 'ALLOW',
        policies: {
          'bench-public': {
            principals: [{ direct_remote_ip: { address_prefix: '127.0.0.1', prefix_len: 32 } }],
            permissions: [{
              and_rules: {
                rules: [
                  { header: { name: ':method', string_match: { safe_regex: { regex: 'GET' } } } },
                  { header: { name: ':path', string_match: { safe_regex: { regex: '/public/.*' } } } },
                  { header: { name: 'x-token', present_match: true } },
                ],
              },
            }],
          },
        },
      },
    },
  };
  bootstrap.static_resources.clusters.push({
    name: 'bench-access-log',
    type: 'STATIC',
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
    load_assignment: { cluster_name: 'bench-access-log', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: accessLogPort } } } }] }] },
  });
  const grpcAccessLog = {
    name: 'envoy.access_loggers.http_grpc',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.access_loggers.grpc.v3.HttpGrpcAccessLogConfig',
      common_config: { log_name: 'rbac-als', transport_api_version: 'V3', grpc_service: { envoy_grpc: { cluster_name: 'bench-access-log' } } },
    },
  };
  const compared = OPTIONS.compareWasm.map((file) => staticListener(compareTargetOf(file), [weirFilter(file, upstreamPort)]));
  bootstrap.static_resources.listeners = [staticListener('plain', []), staticListener('rbac', [rbac]), staticListener('rbac-als', [rbac], [grpcAccessLog]), ...compared];
  return YAML.stringify(bootstrap);
}

// Weir's HTTP filter from `file`, configured as weir serve configures the `web` redirect's.
function weirFilter(file: string, upstreamPort: number): object {
  return {
    name: 'envoy.filters.http.wasm',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm',
      config: {
        name: compareTargetOf(file),
        root_id: 'http',
        vm_config: { vm_id: 'weir', runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: file } } },
        configuration: { '@type': 'type.googleapis.com/google.protobuf.StringValue', value: JSON.stringify({ parser: 'http', policy: 'agent', endpoint: 'leia', direction: 'ingress', port: upstreamPort }) },
        failure_policy: 'FAIL_RELOAD',
      },
    },
  };
}

function staticListener(name: string, filters: object[], accessLog: object[] = []): object {
  return {
    name,
    address: { socket_address: { address: '127.0.0.1', port_value: 0 } },
    filter_chains: [{
      filters: [{
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
          stat_prefix: name,
          codec_type: 'AUTO',
          access_log: accessLog,
          use_remote_address: true,
          normalize_path: true,
          merge_slashes: true,
          path_with_escaped_slashes_action: 'UNESCAPE_AND_FORWARD',
          route_config: { name, virtual_hosts: [{ name, domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'bench-upstream', timeout: '0s' } }] }] },
          http_filters: [...filters, { name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
        },
      }],
    }],
  };
}

// Envoy's access-log service (envoy.service.accesslog.v3), receiving and dropping what the
// `rbac-als` listener streams: the messages are counted, never decoded.
async function startAccessLogSink(): Promise<{ port: number; messages: () => number; stop: () => Promise<void> }> {
  const server = new grpc.Server();
  let messages = 0;
  const passThrough = (bytes: Buffer): Buffer => bytes;
  server.addService({
    StreamAccessLogs: {
      path: '/envoy.service.accesslog.v3.AccessLogService/StreamAccessLogs',
      requestStream: true,
      responseStream: false,
      requestSerialize: passThrough,
      requestDeserialize: passThrough,
      responseSerialize: passThrough,
      responseDeserialize: passThrough,
    },
  }, {
    StreamAccessLogs: (call: grpc.ServerReadableStream<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
      call.on('data', () => {
        messages += 1;
      });
      call.on('end', () => callback(null, Buffer.alloc(0)));
      call.on('error', () => undefined);
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error === null ? resolve(bound) : reject(error))));
  return { port, messages: () => messages, stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())) };
}

// The upstream: an Envoy that answers every request itself, HTTP/1.1 or HTTP/2.
function upstreamBootstrap(port: number): string {
  return YAML.stringify({
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 0 } } },
    static_resources: {
      listeners: [{
        name: 'upstream',
        address: { socket_address: { address: '127.0.0.1', port_value: port } },
        filter_chains: [{
          filters: [{
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
              stat_prefix: 'upstream',
              codec_type: 'AUTO',
              route_config: { virtual_hosts: [{ name: 'upstream', domains: ['*'], routes: [{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'ok\n' } } }] }] },
              http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
            },
          }],
        }],
      }],
    },
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
