// `npm run bench:kube`: how long `kubectl apply` of a policy that selects every endpoint takes to be
// ACKed by every proxy of N nodes, each node with its own `weir serve` (source kubernetes) and its
// simulated proxies, for N = 2, 10, 50; and what it costs the API server and each replica in CPU.
//
// A real etcd and kube-apiserver (built by the set-up); one pod per node (the endpoints) plus a
// client pod; replicas run in child processes (bench/kube/replica-host.ts; one replica per process
// up to 10 nodes, 5 per process above, so 50 nodes fit a 2-core machine), with simulated proxies
// that ACK like the Weir agent. Each round applies a new generation of the policy at t0 and takes,
// per node, the `lastUpdated` its weir serve wrote into status.nodes.<node> once all its proxies
// ACKed that generation. Baseline, measured in the same round: when a plain watch of the policy
// object (the bench's own) saw the new generation, i.e. Kubernetes' own propagation; the ratio is
// Weir's p50 over it.
//
//   npx tsx bench/kube.ts [--nodes 2,10,50] [--rounds 5] [--proxies 1]
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { kubectl, startEtcd, startKubeApiserver, type RunningKubeApiserver } from '../demo/servers/index.ts';
import { projectRoot } from '../demo/servers/project-paths.ts';
import { KubeClient, type KubeObject } from '../server/kubernetes/kube-client.ts';
import { percentile } from './xds/results.ts';

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '2,10,50' }, rounds: { type: 'string', default: '5' }, proxies: { type: 'string', default: '1' } } });
const nodeCounts = (values.nodes ?? '').split(',').map(Number);
const rounds = Number(values.rounds);
const proxiesPerNode = Number(values.proxies);
const NAMESPACE = 'bench';
const POLICY = 'bench-all';

interface Host {
  child: ChildProcess;
  nodes: string[];
  next(kind: string): Promise<Record<string, unknown>>;
}

interface RoundResult {
  nodes: number;
  latenciesMs: number[];
  watchMs: number;
  apiserverCpuMs: number;
  replicaCpuMs: number[];
}

const say = (message: string): void => console.error(`[bench:kube] ${message}`);

const etcd = await startEtcd();
const apiserver = await startKubeApiserver({ etcdUrl: etcd.clientUrl, users: [{ name: 'weir-node' }] });
const admin = apiserver.kubeconfig('admin');
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-bench-kube-'));
const results: RoundResult[] = [];
try {
  await setUpCluster(apiserver);
  const client = new KubeClient({ kubeconfig: admin });
  for (const count of nodeCounts) {
    say(`N = ${count}: starting ${count} weir serve replicas with ${proxiesPerNode} simulated prox${proxiesPerNode === 1 ? 'y' : 'ies'} each (load average ${os.loadavg()[0]?.toFixed(1)})`);
    const nodes = Array.from({ length: count }, (_, index) => `bench-node-${index}`);
    await createPods(nodes);
    const hosts = await startHosts(nodes, apiserver.kubeconfig('weir-node'));
    try {
      for (let round = 1; round <= rounds; round++) results.push(await measureRound(client, hosts, nodes, round));
    } finally {
      for (const host of hosts) host.child.stdin?.end('stop\n');
      await Promise.all(hosts.map((host) => new Promise((resolve) => host.child.once('exit', resolve))));
      await kubectl(admin, ['delete', 'cnp', POLICY, '-n', NAMESPACE, '--ignore-not-found']);
    }
  }
  printTable(results);
} finally {
  await apiserver.destroy();
  await etcd.destroy();
  fs.rmSync(scratch, { recursive: true, force: true });
}

async function run(args: string[], stdin?: string): Promise<string> {
  const result = await kubectl(admin, args, stdin);
  if (result.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

async function setUpCluster(server: RunningKubeApiserver): Promise<void> {
  say(`kube-apiserver ${server.url} (pid ${server.pid()}) on etcd ${etcd.clientUrl}`);
  const manifests = path.join(projectRoot, 'envoy', 'kubernetes');
  await run(['create', 'namespace', 'weir-system']);
  await run(['apply', '-f', path.join(manifests, 'crds.yaml'), '-f', path.join(manifests, 'rbac.yaml')]);
  await run(['create', 'clusterrolebinding', 'weir-node', '--clusterrole=weir', '--user=weir-node']);
  await run(['wait', '--for=condition=Established', '--timeout=120s', 'crd/ciliumnetworkpolicies.cilium.io']);
  await run(['create', 'namespace', NAMESPACE]);
  // No controller-manager runs, so nothing creates the namespace's default ServiceAccount that pods need.
  await run(['create', 'serviceaccount', 'default', '-n', NAMESPACE]);
  await createPod('bench-client', 'bench-node-0', '127.1.255.1', { app: 'bench-client' });
}

async function createPods(nodes: readonly string[]): Promise<void> {
  for (const [index, node] of nodes.entries()) {
    const name = `endpoint-${node}`;
    if ((await kubectl(admin, ['get', 'pod', name, '-n', NAMESPACE])).status === 0) continue;
    await createPod(name, node, `127.1.${Math.floor(index / 250)}.${(index % 250) + 1}`, { app: 'bench-server' });
  }
}

async function createPod(name: string, node: string, ip: string, labels: Record<string, string>): Promise<void> {
  const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NAMESPACE, labels }, spec: { nodeName: node, containers: [{ name: 'main', image: 'none' }] } };
  await run(['apply', '-f', '-'], JSON.stringify(pod));
  await run(['patch', 'pod', name, '-n', NAMESPACE, '--subresource=status', '--type=merge', '-p', JSON.stringify({ status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } })]);
}

async function startHosts(nodes: readonly string[], kubeconfig: string): Promise<Host[]> {
  const perProcess = nodes.length <= 10 ? 1 : 5;
  const hosts: Host[] = [];
  for (let start = 0; start < nodes.length; start += perProcess) {
    const slice = nodes.slice(start, start + perProcess);
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(projectRoot, 'bench', 'kube', 'replica-host.ts'), '--nodes', slice.join(','), '--proxies', String(proxiesPerNode), '--kubeconfig', kubeconfig], {
      stdio: ['pipe', 'pipe', 'inherit'],
      cwd: projectRoot,
    });
    const lines = readline.createInterface({ input: child.stdout as NodeJS.ReadableStream });
    const queued: Array<Record<string, unknown>> = [];
    const waiters: Array<(message: Record<string, unknown>) => void> = [];
    lines.on('line', (line) => {
      const message = JSON.parse(line) as Record<string, unknown>;
      const waiter = waiters.shift();
      if (waiter) waiter(message);
      else queued.push(message);
    });
    const next = (kind: string): Promise<Record<string, unknown>> =>
      new Promise((resolve, reject) => {
        const take = (message: Record<string, unknown>): void => (message['kind'] === kind ? resolve(message) : reject(new Error(`replica host sent ${String(message['kind'])}, expected ${kind}`)));
        const queuedMessage = queued.shift();
        if (queuedMessage !== undefined) take(queuedMessage);
        else {
          waiters.push(take);
          child.once('exit', (code) => reject(new Error(`replica host for ${slice.join(',')} exited with ${code}`)));
        }
      });
    hosts.push({ child, nodes: slice, next });
  }
  await Promise.all(hosts.map((host) => host.next('ready')));
  return hosts;
}

function policy(round: number): string {
  return JSON.stringify({
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumNetworkPolicy',
    metadata: { name: POLICY, namespace: NAMESPACE },
    spec: {
      endpointSelector: {},
      ingress: [{ fromEndpoints: [{ matchLabels: { app: 'bench-client' } }], toPorts: [{ ports: [{ port: '11211', protocol: 'TCP' }], rules: { l7proto: 'memcache', l7: [{ command: 'get', keyPrefix: `round-${round}/` }] } }] }],
    },
  });
}

async function measureRound(client: KubeClient, hosts: readonly Host[], nodes: readonly string[], round: number): Promise<RoundResult> {
  const cpuBefore = await hostCpu(hosts);
  const apiserverBefore = processCpuMs(apiserver.pid());
  const generation = await currentGeneration() + 1;
  let watchSeenAt: number | undefined;
  const done = new Promise<Map<string, number>>((resolve, reject) => {
    const watch = client.watchCollection(`/apis/cilium.io/v2/namespaces/${NAMESPACE}/ciliumnetworkpolicies?fieldSelector=metadata.name%3D${POLICY}`, {
      replaced: (items) => items.forEach(check),
      upserted: check,
      deleted: () => undefined,
      failed: (error) => reject(error),
    });
    function check(object: KubeObject): void {
      if ((object.metadata.generation ?? 0) < generation) return;
      watchSeenAt ??= Date.now();
      const status = (object['status'] ?? {}) as { nodes?: Record<string, { revision?: number; lastUpdated?: string; proxies?: number }> };
      const acked = new Map<string, number>();
      for (const node of nodes) {
        const entry = status.nodes?.[node];
        if (entry?.revision === generation && entry.proxies === proxiesPerNode && entry.lastUpdated !== undefined) acked.set(node, Date.parse(entry.lastUpdated));
      }
      if (acked.size === nodes.length) {
        watch.stop();
        resolve(acked);
      }
    }
  });
  const t0 = Date.now();
  await run(['apply', '-f', '-'], policy(round));
  const acked = await done;
  const latenciesMs = [...acked.values()].map((at) => at - t0).sort((a, b) => a - b);
  const cpuAfter = await hostCpu(hosts);
  const replicaCpuMs = hosts.flatMap((host, index) => host.nodes.map(() => ((cpuAfter[index] ?? 0) - (cpuBefore[index] ?? 0)) / host.nodes.length));
  const result = { nodes: nodes.length, latenciesMs, watchMs: (watchSeenAt ?? t0) - t0, apiserverCpuMs: processCpuMs(apiserver.pid()) - apiserverBefore, replicaCpuMs };
  say(`N = ${nodes.length} round ${round}: p50 ${percentile(latenciesMs, 0.5)} ms, p99 ${percentile(latenciesMs, 0.99)} ms, watch ${result.watchMs} ms`);
  return result;
}

async function currentGeneration(): Promise<number> {
  const found = await kubectl(admin, ['get', 'cnp', POLICY, '-n', NAMESPACE, '-o', 'jsonpath={.metadata.generation}']);
  return found.status === 0 ? Number(found.stdout) : 0;
}

async function hostCpu(hosts: readonly Host[]): Promise<number[]> {
  return Promise.all(
    hosts.map(async (host) => {
      host.child.stdin?.write('cpu\n');
      const message = await host.next('cpu');
      return Number(message['userMs']) + Number(message['systemMs']);
    }),
  );
}

/** User + system CPU of a process, from /proc (clock ticks of 10 ms on Linux). */
function processCpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function printTable(all: readonly RoundResult[]): void {
  const header = ['nodes', 'proxies', 'rounds', 'p50 ms', 'p99 ms', 'max ms', 'watch p50 ms', 'p50 / watch', 'apiserver CPU ms/round', 'replica CPU ms/round (mean, max)'];
  const rows: string[][] = [];
  for (const count of nodeCounts) {
    const mine = all.filter((result) => result.nodes === count);
    if (mine.length === 0) continue;
    const latencies = mine.flatMap((result) => result.latenciesMs).sort((a, b) => a - b);
    const watches = mine.map((result) => result.watchMs).sort((a, b) => a - b);
    const replica = mine.flatMap((result) => result.replicaCpuMs);
    const p50 = percentile(latencies, 0.5);
    const watchP50 = percentile(watches, 0.5);
    rows.push([
      String(count),
      String(count * proxiesPerNode),
      String(mine.length),
      String(p50),
      String(percentile(latencies, 0.99)),
      String(latencies.at(-1) ?? ''),
      String(watchP50),
      watchP50 > 0 ? (p50 / watchP50).toFixed(1) : '-',
      (mine.reduce((sum, result) => sum + result.apiserverCpuMs, 0) / mine.length).toFixed(0),
      `${(replica.reduce((sum, value) => sum + value, 0) / Math.max(1, replica.length)).toFixed(0)}, ${Math.max(...replica).toFixed(0)}`,
    ]);
  }
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ');
  console.log(`bench:kube  ${new Date().toISOString()}  load average ${os.loadavg().map((value) => value.toFixed(1)).join(' ')}  ${os.cpus().length} CPUs`);
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}
