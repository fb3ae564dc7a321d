// Faults of the Kubernetes mode, on a kube-apiserver and etcd of this file's own (the shared one
// must stay up for the other files): the node's `weir serve` killed under traffic (its Envoy keeps
// enforcing the last ACKed policy, nothing is wrongly allowed, and it reconnects to the restarted
// replica), and kube-apiserver killed (enforcement unchanged, applies fail, and a policy applied
// once it is back is enforced).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubectl, startEtcd, startKubeApiserver, startMemcached, type RunningEtcd, type RunningKubeApiserver, type RunningMemcached } from '../../demo/servers/index.ts';
import { freeLoopbackPort } from '../../demo/servers/loopback-port.ts';
import { signalPid, type ServerProcess } from '../../demo/servers/server-process.ts';
import { runWeirCli, startWeirServe } from '../../demo/weir-process.ts';
import { listenerPort } from '../../demo/servers/envoy/listeners.ts';
import { startEnvoy, type EnvoyProcess } from '../../demo/servers/envoy/process.ts';
import { renderBootstrap } from '../../server/xds/bootstrap.ts';
import { KUBE_MANIFESTS } from '../support/kube-cluster-broker.ts';
import { createPod, kubectlOk, temporaryDirectory, type SharedKubeCluster, type TestPod } from '../support/kube-cluster.ts';
import { memcachedOnce, openMemcachedSession } from '../support/memcached-session.ts';
import { enrolThroughApi, writeWeirNodeConfig } from '../support/weir-node.ts';

/** Each step waits on a loaded 2-core machine for real processes (Envoy, etcd, kube-apiserver). */
const TEST_TIMEOUT_MS = 300_000;
const WRITER_IP = '127.0.0.51';
const READER_IP = '127.0.0.52';
const DENIED = 'CLIENT_ERROR access denied';
const NODE = 'fault-node';

function fleetPolicy(readerWrites: boolean): string {
  const readerRules = readerWrites ? [{ command: 'writeGroup', keyPrefix: 'f/' }, { command: 'get', keyPrefix: 'f/' }] : [{ command: 'get', keyPrefix: 'f/' }];
  const rule = (role: string, l7: object[]): object => ({ fromEndpoints: [{ matchLabels: { role } }], toPorts: [{ ports: [{ port: '11211', protocol: 'TCP' }], rules: { l7proto: 'memcache', l7 } }] });
  return JSON.stringify({
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumNetworkPolicy',
    metadata: { name: 'faults', namespace: 'default' },
    spec: { endpointSelector: { matchLabels: { app: 'memcached' } }, ingress: [rule('writer', [{ command: 'writeGroup', keyPrefix: 'f/' }, { command: 'get', keyPrefix: 'f/' }]), rule('reader', readerRules)] },
  });
}

describe('Kubernetes mode under faults', () => {
  let etcd: RunningEtcd;
  let apiserver: RunningKubeApiserver;
  let cluster: SharedKubeCluster;
  let memcached: RunningMemcached;
  let scratch: { dir: string; remove(): void };
  let serve: ServerProcess | undefined;
  let envoy: EnvoyProcess;
  let proxyPort: number;
  let configFile: string;
  let xdsPort: number;

  const socket = (): string => path.join(scratch.dir, `${NODE}.sock`);
  const startServe = async (): Promise<void> => {
    serve = await startWeirServe({ configFile, xdsPort, logFile: path.join(scratch.dir, 'serve.log'), startTimeoutMs: 120_000 });
  };
  const waitEnforced = async (): Promise<void> => {
    const waited = await runWeirCli(['policy', 'wait', '--node', NODE, '--timeout', '120'], { socket: socket() });
    if (waited.code !== 0) throw new Error(`weir policy wait failed (${waited.code}): ${waited.stderr}\nserve log:\n${fs.readFileSync(path.join(scratch.dir, 'serve.log'), 'utf8').slice(-3000)}`);
  };

  beforeAll(async () => {
    scratch = temporaryDirectory('weir-kube-faults-');
    etcd = await startEtcd();
    apiserver = await startKubeApiserver({ etcdUrl: etcd.clientUrl, users: [{ name: 'weir-node' }] });
    cluster = { url: apiserver.url, caFile: apiserver.caFile, adminKubeconfig: apiserver.kubeconfig('admin'), etcdUrl: etcd.clientUrl };
    await kubectlOk(cluster, ['create', 'namespace', 'weir-system']);
    await kubectlOk(cluster, ['apply', '-f', path.join(KUBE_MANIFESTS, 'crds.yaml'), '-f', path.join(KUBE_MANIFESTS, 'rbac.yaml')]);
    // The static user weir-node gets exactly the ClusterRole of rbac.yaml.
    await kubectlOk(cluster, ['create', 'clusterrolebinding', 'weir-node', '--clusterrole=weir', '--user=weir-node']);
    await kubectlOk(cluster, ['wait', '--for=condition=Established', '--timeout=120s', 'crd/ciliumnetworkpolicies.cilium.io']);
    await kubectlOk(cluster, ['create', 'serviceaccount', 'default', '-n', 'default']);
    memcached = await startMemcached();
    const pods: TestPod[] = [
      { name: 'memcd', node: NODE, ip: '127.0.0.50', labels: { app: 'memcached' } },
      { name: 'writer', node: NODE, ip: WRITER_IP, labels: { role: 'writer' } },
      { name: 'reader', node: NODE, ip: READER_IP, labels: { role: 'reader' } },
    ];
    for (const pod of pods) await createPod(cluster, 'default', pod);
    await kubectlOk(cluster, ['apply', '-f', '-'], fleetPolicy(false));
    xdsPort = await freeLoopbackPort();
    configFile = await writeWeirNodeConfig(
      { node: NODE, dir: scratch.dir, policies: `{ source: kubernetes, kubernetes: { kubeconfig: ${JSON.stringify(apiserver.kubeconfig('weir-node'))} } }`, endpoint: 'default/memcd', endpointPort: 11211, memcachedPort: memcached.port },
      xdsPort,
    );
    await startServe();
    // Enrolled once; the restarted weir serve keeps the node's PKI directory and honours it.
    const credentialsDir = await enrolThroughApi(socket(), NODE, path.join(scratch.dir, 'nodes', NODE));
    envoy = await startEnvoy({ bootstrapYaml: renderBootstrap({ nodeId: NODE, xdsPort, adminPort: 0, credentialsDir }) });
    await envoy.waitReady(60_000);
    proxyPort = await listenerPort(envoy, 'weir-memcache', 60_000);
    await waitEnforced();
  }, 600_000);

  afterAll(async () => {
    await envoy?.stop();
    await serve?.stop(5_000);
    await memcached?.stop();
    await apiserver?.destroy();
    await etcd?.destroy();
    scratch?.remove();
  }, TEST_TIMEOUT_MS);

  it('the node\'s weir serve killed under traffic: Envoy keeps enforcing, then reconnects to the restarted one', async () => {
    const reader = await openMemcachedSession(proxyPort, READER_IP);
    try {
      expect(await reader.command('set f/1 0 0 1\r\n1\r\n')).toBe(DENIED);
      signalPid(serve?.pid ?? 0, 'SIGKILL');
      await serve?.exited;
      expect(await reader.command('set f/1 0 0 1\r\n2\r\n')).toBe(DENIED);
      expect(await memcachedOnce(proxyPort, READER_IP, 'set f/1 0 0 1\r\n3\r\n')).toBe(DENIED);
      expect(await memcachedOnce(proxyPort, WRITER_IP, 'set f/1 0 0 1\r\n4\r\n')).toBe('STORED');
      await startServe();
      await waitEnforced();
      expect(await reader.command('get f/1\r\n')).toBe('VALUE f/1 0 1\r\n4\r\nEND');
      expect(await reader.command('set f/1 0 0 1\r\n5\r\n')).toBe(DENIED);
    } finally {
      reader.close();
    }
  }, TEST_TIMEOUT_MS);

  it('kube-apiserver killed: enforcement unchanged, applies fail, and what is applied once it is back is enforced', async () => {
    await apiserver.stop();
    expect(await memcachedOnce(proxyPort, READER_IP, 'set f/2 0 0 1\r\n1\r\n')).toBe(DENIED);
    expect(await memcachedOnce(proxyPort, WRITER_IP, 'set f/2 0 0 1\r\n2\r\n')).toBe('STORED');
    const refused = await kubectl(cluster.adminKubeconfig, ['apply', '-f', '-', '--request-timeout=5s'], fleetPolicy(true));
    expect(refused.status).not.toBe(0);
    // Weir's own API says where policies come from instead of accepting an import it cannot keep.
    const file = path.join(scratch.dir, 'import.json');
    fs.writeFileSync(file, fleetPolicy(true));
    const imported = await runWeirCli(['policy', 'import', file], { socket: socket() });
    expect(imported.code).not.toBe(0);
    expect(imported.stderr).toContain('kubectl apply');
    await apiserver.restart();
    await kubectlOk(cluster, ['apply', '-f', '-'], fleetPolicy(true));
    await kubectlOk(cluster, ['wait', 'cnp/faults', '-n', 'default', `--for=jsonpath={.status.nodes.${NODE}.revision}=2`, '--timeout=120s']);
    expect(await memcachedOnce(proxyPort, READER_IP, 'set f/2 0 0 1\r\n3\r\n')).toBe('STORED');
  }, TEST_TIMEOUT_MS);
});
