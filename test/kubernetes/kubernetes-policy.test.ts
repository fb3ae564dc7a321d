// Policies from a real kube-apiserver, enforced by two simulated nodes: `kubectl apply` of the
// Rebel Alliance (memcached) and Empire (Cassandra) policies and of the pods, then each node's own
// `weir serve` (source kubernetes, credentials of the `weir` ServiceAccount from rbac.yaml) and its
// Envoy enforce them on real memcached traffic from the pods' addresses. Also: the per-node status
// on the policy object, a label change moving an identity and the verdict on an open connection,
// and an invalid object's Valid condition while its previous generation stays in force.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMemcached, type RunningMemcached } from '../../demo/servers/index.ts';
import { projectRoot } from '../../demo/servers/project-paths.ts';
import { createPod, kubectlOk, sharedKubeCluster, temporaryDirectory, testNamespace, weirKubeconfig, type SharedKubeCluster, type TestPod } from '../support/kube-cluster.ts';
import { memcachedOnce, openMemcachedSession } from '../support/memcached-session.ts';
import { startWeirNode, type WeirNode } from '../support/weir-node.ts';

/** Each step waits on a loaded 2-core machine for real processes (Envoy, etcd, kube-apiserver). */
const TEST_TIMEOUT_MS = 300_000;
const ALLIANCE_POLICY = path.join(projectRoot, 'examples', 'policies', 'memcached-rebel-alliance.yaml');
const EMPIRE_POLICY = path.join(projectRoot, 'examples', 'policies', 'cassandra-empire.yaml');
const ALLIANCE = 'secure-rebel-alliance-memcache';

const MAINTENANCE_IP = '127.0.0.34';
const MONITORING_IP = '127.0.0.35';
const DENIED = 'CLIENT_ERROR access denied';

interface PolicyStatus {
  metadata: { generation: number };
  status?: {
    conditions?: Array<{ type: string; status: string; message: string; observedGeneration: number }>;
    nodes?: Record<string, { ok: boolean; enforcing: boolean; revision?: number; proxies: number; error?: string }>;
  };
}

describe('policies from Kubernetes, enforced by two nodes', () => {
  let cluster: SharedKubeCluster;
  let namespace: { name: string; remove(): Promise<void> };
  let scratch: { dir: string; remove(): void };
  let memcached: RunningMemcached;
  const nodes: WeirNode[] = [];

  const policyStatus = async (name: string): Promise<PolicyStatus> => JSON.parse(await kubectlOk(cluster, ['get', 'cnp', name, '-n', namespace.name, '-o', 'json'])) as PolicyStatus;
  /** kubectl wait on a JSONPath of the policy object: an event-driven wait by the API server's watch. */
  const waitFor = async (name: string, jsonPath: string, value: string): Promise<void> => {
    await kubectlOk(cluster, ['wait', `cnp/${name}`, '-n', namespace.name, `--for=jsonpath=${jsonPath}=${value}`, '--timeout=120s']);
  };

  beforeAll(async () => {
    cluster = await sharedKubeCluster();
    namespace = await testNamespace(cluster, 'policy');
    scratch = temporaryDirectory('weir-kube-policy-');
    memcached = await startMemcached();
    const pods: TestPod[] = [
      { name: 'memcd-a', node: 'node-a', ip: '127.0.0.41', labels: { app: 'memcached' } },
      { name: 'memcd-b', node: 'node-b', ip: '127.0.0.42', labels: { app: 'memcached' } },
      { name: 'maintenance', node: 'node-a', ip: MAINTENANCE_IP, labels: { function: 'fleet-maintanence' } },
      { name: 'monitoring', node: 'node-b', ip: MONITORING_IP, labels: { function: 'fleet-monitoring' } },
    ];
    for (const pod of pods) await createPod(cluster, namespace.name, pod);
    await kubectlOk(cluster, ['apply', '-n', namespace.name, '-f', ALLIANCE_POLICY, '-f', EMPIRE_POLICY]);
    const kubeconfig = await weirKubeconfig(cluster, scratch.dir);
    for (const [node, pod] of [['node-a', 'memcd-a'], ['node-b', 'memcd-b']] as const) {
      nodes.push(
        await startWeirNode({
          node,
          dir: scratch.dir,
          policies: `{ source: kubernetes, kubernetes: { kubeconfig: ${JSON.stringify(kubeconfig)} } }`,
          endpoint: `${namespace.name}/${pod}`,
          endpointPort: 11211,
          memcachedPort: memcached.port,
        }),
      );
    }
    for (const node of nodes) await node.waitEnforced();
  }, 600_000);

  afterAll(async () => {
    for (const node of nodes) await node.stop();
    await memcached?.stop();
    await namespace?.remove();
    scratch?.remove();
  }, TEST_TIMEOUT_MS);

  it('each node writes into the policy object that it enforces it, and which generation', async () => {
    await waitFor(ALLIANCE, '{.status.nodes.node-a.enforcing}', 'true');
    await waitFor(ALLIANCE, '{.status.nodes.node-b.enforcing}', 'true');
    const status = await policyStatus(ALLIANCE);
    expect(status.status?.conditions).toEqual([expect.objectContaining({ type: 'Valid', status: 'True', observedGeneration: status.metadata.generation })]);
    for (const node of ['node-a', 'node-b']) {
      expect(status.status?.nodes?.[node]).toMatchObject({ ok: true, enforcing: true, revision: status.metadata.generation, proxies: 1 });
    }
    const empire = JSON.parse(await kubectlOk(cluster, ['get', 'cnp', '-n', namespace.name, '-o', 'json'])) as { items: Array<{ metadata: { name: string }; status?: PolicyStatus['status'] }> };
    expect(empire.items.map((item) => item.metadata.name).sort()).toEqual(expect.arrayContaining([ALLIANCE]));
    expect(empire.items.every((item) => item.status?.conditions?.[0]?.status === 'True')).toBe(true);
  }, TEST_TIMEOUT_MS);

  it('enforces the Alliance policy on real memcached traffic from the pods on both nodes', async () => {
    for (const node of nodes) {
      expect(await memcachedOnce(node.proxyPort, MAINTENANCE_IP, `set alliance/fleet/${node.node} 0 0 2\r\nok\r\n`)).toBe('STORED');
      expect(await memcachedOnce(node.proxyPort, MONITORING_IP, `get alliance/fleet/${node.node}\r\n`)).toBe(`VALUE alliance/fleet/${node.node} 0 2\r\nok\r\nEND`);
      expect(await memcachedOnce(node.proxyPort, MONITORING_IP, `set alliance/fleet/${node.node} 0 0 3\r\nbad\r\n`)).toBe(DENIED);
      expect(await memcachedOnce(node.proxyPort, MAINTENANCE_IP, `set empire/${node.node} 0 0 1\r\nx\r\n`)).toBe(DENIED);
    }
    // The server's own record: the denied writes never reached memcached.
    expect(await memcachedOnce(memcached.port, '127.0.0.1', 'get alliance/fleet/node-a empire/node-a\r\n')).toBe('VALUE alliance/fleet/node-a 0 2\r\nok\r\nEND');
  }, TEST_TIMEOUT_MS);

  it('a label change on a pod moves its identity, and the verdict on an open connection', async () => {
    const nodeB = nodes[1] as WeirNode;
    const identityOf = (): number | undefined => nodeB.serve.store.current().policySet.ipIdentities.find((entry) => entry.cidr === `${MONITORING_IP}/32`)?.identity;
    const maintenanceIdentity = nodeB.serve.store.current().policySet.ipIdentities.find((entry) => entry.cidr === `${MAINTENANCE_IP}/32`)?.identity;
    const before = identityOf();
    const session = await openMemcachedSession(nodeB.proxyPort, MONITORING_IP);
    try {
      expect(await session.command('set alliance/fleet/relabel 0 0 1\r\n1\r\n')).toBe(DENIED);
      await kubectlOk(cluster, ['label', 'pod', 'monitoring', '-n', namespace.name, 'function=fleet-maintanence', '--overwrite']);
      await nodes[0]?.waitEnforced();
      await nodeB.waitEnforced();
      const after = identityOf();
      expect(after).not.toBe(before);
      expect(after).toBe(maintenanceIdentity);
      // Both nodes number the label set alike (claimed through CiliumIdentity objects).
      expect(nodes[0]?.serve.store.current().policySet.ipIdentities.find((entry) => entry.cidr === `${MONITORING_IP}/32`)?.identity).toBe(after);
      expect(await session.command('set alliance/fleet/relabel 0 0 1\r\n2\r\n')).toBe('STORED');
    } finally {
      session.close();
      await kubectlOk(cluster, ['label', 'pod', 'monitoring', '-n', namespace.name, 'function=fleet-monitoring', '--overwrite']);
    }
  }, TEST_TIMEOUT_MS);

  it('an invalid object gets a Valid=False condition with the exact error, and its previous generation stays in force', async () => {
    const policy = (command: string): string => JSON.stringify({
      apiVersion: 'cilium.io/v2',
      kind: 'CiliumNetworkPolicy',
      metadata: { name: 'fleet-readers', namespace: namespace.name },
      spec: {
        endpointSelector: { matchLabels: { app: 'memcached' } },
        ingress: [{ fromEndpoints: [{ matchLabels: { function: 'fleet-monitoring' } }], toPorts: [{ ports: [{ port: '11211', protocol: 'TCP' }], rules: { l7proto: 'memcache', l7: [{ command, keyExact: 'readers' }] } }] }],
      },
    });
    await kubectlOk(cluster, ['apply', '-f', '-'], policy('get'));
    await waitFor('fleet-readers', '{.status.nodes.node-a.enforcing}', 'true');
    await kubectlOk(cluster, ['apply', '-f', '-'], policy('fly'));
    await waitFor('fleet-readers', '{.status.conditions[0].status}', 'False');
    const status = await policyStatus('fleet-readers');
    expect(status.metadata.generation).toBe(2);
    const condition = status.status?.conditions?.[0];
    expect(condition).toMatchObject({ type: 'Valid', status: 'False', observedGeneration: 2 });
    expect(condition?.message).toContain('spec.ingress[0].toPorts[0].rules.l7[0].command');
    expect(condition?.message).toContain('fly');
    expect(condition?.message).toContain('generation 1 stays in force');
    await waitFor('fleet-readers', '{.status.nodes.node-a.ok}', 'false');
    expect((await policyStatus('fleet-readers')).status?.nodes?.['node-a']).toMatchObject({ ok: false, enforcing: true, revision: 1 });
    // Generation 1 still decides: monitoring may get `readers`.
    expect(await memcachedOnce((nodes[0] as WeirNode).proxyPort, MONITORING_IP, 'get readers\r\n')).toBe('END');
  }, TEST_TIMEOUT_MS);
});
