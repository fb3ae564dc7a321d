// `npm run bench:memcache -- --mode sidecar`: memcached get and set through a Weir sidecar with
// Istio's layout, in network namespaces, against the same layout with only tcp_proxy and against
// no proxy, in the same run. A node namespace routes between a server namespace (memcached on its
// own address, `weir sidecar iptables` capture, Envoy as uid 1337) and a client namespace, where
// the load generator (bench/memcache-load.ts workers, in a child process) connects to the server's
// address and port 11211, unmodified. Targets, switched by reinstalling the capture rules:
// `direct` (no capture), `tcp_proxy` (captured to a second Envoy whose 15106 listener only does
// original_dst + tcp_proxy to the original destination from 127.0.0.6, Istio's passthrough) and
// `weir` (captured to virtualInbound on 15006, pushed by `weir serve` with the memcache parser
// deciding every request with the agent's policy: get and set under bench/). Prints the table and
// the ratios weir/tcp_proxy and tcp_proxy/direct. The same BENCH_* settings as bench:memcache.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { projectRoot } from '../demo/servers/project-paths.ts';
import { startEnvoy, type EnvoyProcess } from '../demo/servers/envoy/process.ts';
import { buildFilters } from '../test/filters/envoy-harness.ts';
import { createLab, gatewayOf, labPrerequisites, type Lab, type Workload } from '../test/support/netns-lab.ts';
import { curlIn, ENVOY_UID, startMemcachedIn, startNamespacedEnvoy, startServeIn, type NamespacedServe } from '../test/support/interception-lab.ts';
import { cpuSeconds, type BenchOptions, type Measurement } from './memcache.ts';
import type { LoadSpec } from './memcache-load.ts';

const TCP_PROXY_CAPTURE_PORT = 15106;
const WEIR_BIN = path.join(projectRoot, 'bin', 'weir.js');
const TSX_BIN = path.join(projectRoot, 'node_modules', '.bin', 'tsx');

type Target = 'direct' | 'tcp_proxy' | 'weir';

const BENCH_POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: bench }
spec:
  endpointSelector: { matchLabels: { app: bench-memcached } }
  ingress:
    - fromEndpoints: [{ matchLabels: { app: bench-client } }]
      toPorts:
        - ports: [{ port: '11211', protocol: TCP }]
          rules:
            l7proto: memcache
            l7:
              - { command: get, keyPrefix: bench/ }
              - { command: set, keyPrefix: bench/ }
`;

export async function runSidecarBench(options: Omit<BenchOptions, 'scenarios'> & { scenarios: ReadonlyArray<{ operation: 'get' | 'set'; depth: number }> }): Promise<void> {
  const missing = labPrerequisites();
  if (missing !== undefined) throw new Error(`--mode sidecar ${missing}`);
  buildFilters();
  const lab = createLab(['srv', 'cli']);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-bench-sidecar-'));
  const envoys: EnvoyProcess[] = [];
  let serve: NamespacedServe | undefined;
  try {
    const { srv: server, cli: client } = lab.workloads as Record<'srv' | 'cli', Workload>;
    serve = await startServeIn(lab, lab.node.ns, dir, {
      'bench.yaml': BENCH_POLICY,
      'bench-client.yaml': `apiVersion: weir.dev/v1\nkind: Endpoint\nmetadata: { name: bench-client }\nspec: { ips: [${client.ip}], labels: { app: bench-client } }\n`,
    });
    await startMemcachedIn(lab, server);
    const weir = await startNamespacedEnvoy(lab, server.ns, serve, ['--mode', 'sidecar', '--endpoint-name', 'bench-memcached', '--endpoint-ip', server.ip, '--label', 'app=bench-memcached', '--xds', `${gatewayOf(server)}:${serve.xdsPort}`], { concurrency: options.envoyConcurrency, logLevel: 'warning' });
    envoys.push(weir.envoy);
    const plain = await startEnvoy({ bootstrapYaml: tcpProxyBootstrap(), launcher: lab.launcher(server.ns, ENVOY_UID), workDirOwner: { uid: ENVOY_UID, gid: ENVOY_UID }, concurrency: options.envoyConcurrency, logLevel: 'warning' });
    envoys.push(plain);
    capture(lab, server, 'weir');
    for (let attempt = 0; curlIn(lab, server.ns, `http://${server.ip}:15021/healthz/ready`).status !== 200; attempt++) {
      if (attempt > 300) throw new Error(`the Weir sidecar did not get ready:\n${weir.envoy.log()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await serve.waitEnforcing(weir.nodeId);
    const pids: Record<Target, number | undefined> = { direct: undefined, tcp_proxy: plain.pid, weir: weir.envoy.pid };
    console.log(`memcache bench, sidecar in network namespaces: ${options.workers} workers x ${options.connectionsPerWorker} connections from ${client.ns} to ${server.ip}:11211, ${options.durationMs / 1000}s per run, ${options.rounds} round(s), ${os.cpus().length} CPUs, load average ${os.loadavg()[0]?.toFixed(1)}`);
    console.log('scenario        target           ops/s     p50 us   p99 us  errors  envoy CPU us/op');
    const ratios: string[] = [];
    for (const scenario of options.scenarios) {
      const name = `${scenario.operation} depth ${scenario.depth}`;
      const completed = new Map<Target, number>();
      for (let round = 0; round < options.rounds; round++) {
        for (const target of ['direct', 'tcp_proxy', 'weir'] as const) {
          capture(lab, server, target);
          const pid = pids[target];
          const cpuBefore = pid === undefined ? 0 : cpuSeconds(pid);
          const spec: LoadSpec = { host: server.ip, port: 11211, operation: scenario.operation, depth: scenario.depth, connections: options.connectionsPerWorker, durationMs: options.durationMs };
          const measurement = measureIn(lab, client, spec);
          const cpuPerOp = pid === undefined ? '-' : (((cpuSeconds(pid) - cpuBefore) * 1e6) / (measurement.opsPerSecond * (options.durationMs / 1000))).toFixed(1).padStart(15);
          completed.set(target, (completed.get(target) ?? 0) + measurement.opsPerSecond);
          console.log(`${name.padEnd(15)} ${target.padEnd(15)} ${measurement.opsPerSecond.toFixed(0).padStart(8)} ${measurement.p50Us.toFixed(0).padStart(9)} ${measurement.p99Us.toFixed(0).padStart(8)} ${String(measurement.errors).padStart(7)}  ${cpuPerOp}`);
        }
      }
      const ratio = (a: Target, b: Target): string => ((completed.get(a) ?? 0) / (completed.get(b) || 1)).toFixed(3);
      ratios.push(`${name}: weir/tcp_proxy throughput ${ratio('weir', 'tcp_proxy')}, tcp_proxy/direct ${ratio('tcp_proxy', 'direct')}, weir/direct ${ratio('weir', 'direct')}`);
    }
    console.log('\nratios');
    for (const line of ratios) console.log(`  ${line}`);
  } finally {
    for (const envoy of envoys) await envoy.stop();
    await serve?.stop();
    await lab.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Points the server namespace's capture at `target`: none, the tcp_proxy Envoy or Weir's virtualInbound. */
function capture(lab: Lab, server: Workload, target: Target): void {
  const args = target === 'direct' ? ['--cleanup'] : target === 'tcp_proxy' ? ['-z', String(TCP_PROXY_CAPTURE_PORT)] : [];
  execFileSync(process.execPath, [WEIR_BIN, 'sidecar', 'iptables', '--network-namespace', server.ns, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** One measurement by the load generator's workers, in a process inside the client's namespace. */
function measureIn(lab: Lab, client: Workload, spec: LoadSpec): Measurement {
  const run = lab.exec(client.ns, TSX_BIN, [path.join(projectRoot, 'bench', 'memcache.ts'), '--measure', JSON.stringify(spec)], { timeoutMs: spec.durationMs + 120_000 });
  if (run.status !== 0) throw new Error(`the load generator in ${client.ns} failed: ${run.stderr}`);
  return JSON.parse(run.stdout.trim().split('\n').pop() ?? '{}') as Measurement;
}

/** Istio's inbound passthrough and nothing else: original_dst, tcp_proxy to the original destination from 127.0.0.6. */
function tcpProxyBootstrap(): string {
  return stringify({
    node: { id: 'bench-tcp-proxy', cluster: 'bench' },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 15100 } } },
    static_resources: {
      listeners: [{
        name: 'passthrough',
        address: { socket_address: { address: '0.0.0.0', port_value: TCP_PROXY_CAPTURE_PORT } },
        listener_filters: [{ name: 'envoy.filters.listener.original_dst', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' } }],
        filter_chains: [{ filters: [{ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy', stat_prefix: 'passthrough', cluster: 'InboundPassthroughCluster' } }] }],
      }],
      clusters: [{ name: 'InboundPassthroughCluster', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: '10s', upstream_bind_config: { source_address: { address: '127.0.0.6', port_value: 0 } } }],
    },
  });
}
