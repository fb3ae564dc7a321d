// What a test file uses of the shared Kubernetes test cluster (kube-cluster-broker.ts): the
// cluster's coordinates (started on first use, once per run), a namespace of its own with the
// `default` ServiceAccount (no controller-manager creates it), the credentials weir serve runs with
// (a token of the `weir` ServiceAccount bound by envoy/kubernetes/rbac.yaml: least rights, really
// checked), pods with the IP a kubelet would report, and kubectl as admin.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import { kubectl, kubeconfigText, type KubectlResult } from '../../demo/servers/index.ts';
import type { SharedKubeCluster } from './kube-cluster-broker.ts';

export type { SharedKubeCluster } from './kube-cluster-broker.ts';

/** The run's cluster; the first call in the run starts it (minutes on a loaded machine). */
export function sharedKubeCluster(): Promise<SharedKubeCluster> {
  const broker = inject('kubeClusterBroker');
  return new Promise((resolve, reject) => {
    const request = http.get(broker, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      response.on('end', () => {
        const answer = JSON.parse(body) as { ok: true; cluster: SharedKubeCluster } | { ok: false; error: string };
        if (answer.ok) resolve(answer.cluster);
        else reject(new Error(`the shared Kubernetes test cluster did not start: ${answer.error}`));
      });
    });
    request.on('error', reject);
  });
}

/** kubectl as admin; throws with kubectl's own words when it fails. */
export async function kubectlOk(cluster: SharedKubeCluster, args: readonly string[], stdin?: string): Promise<string> {
  const result: KubectlResult = await kubectl(cluster.adminKubeconfig, args, stdin);
  if (result.status !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
  return result.stdout;
}

/** A fresh namespace (`weir-<label>-<pid>-<n>`) with its default ServiceAccount. Deletion is not awaited: nothing finishes it here. */
export async function testNamespace(cluster: SharedKubeCluster, label: string): Promise<{ name: string; remove(): Promise<void> }> {
  const name = `weir-${label}-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  await kubectlOk(cluster, ['create', 'namespace', name]);
  await kubectlOk(cluster, ['create', 'serviceaccount', 'default', '-n', name]);
  return { name, remove: async () => void (await kubectl(cluster.adminKubeconfig, ['delete', 'namespace', name, '--wait=false'])) };
}

/** A kubeconfig file with a token of the `weir` ServiceAccount (envoy/kubernetes/rbac.yaml), in `dir`. */
export async function weirKubeconfig(cluster: SharedKubeCluster, dir: string): Promise<string> {
  const token = (await kubectlOk(cluster, ['create', 'token', 'weir', '-n', 'weir-system', '--duration=2h'])).trim();
  const file = path.join(dir, 'weir.kubeconfig');
  fs.writeFileSync(file, kubeconfigText({ url: cluster.url, caPem: fs.readFileSync(cluster.caFile, 'utf8'), user: 'weir', token }), { mode: 0o600 });
  return file;
}

export interface TestPod {
  name: string;
  node: string;
  ip: string;
  labels: Record<string, string>;
  serviceAccount?: string;
}

/** Creates a pod bound to `node` and reports its IP through the status subresource, as a kubelet would. */
export async function createPod(cluster: SharedKubeCluster, namespace: string, pod: TestPod): Promise<void> {
  const manifest = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: pod.name, namespace, labels: pod.labels },
    spec: { nodeName: pod.node, serviceAccountName: pod.serviceAccount ?? 'default', containers: [{ name: 'main', image: 'weir-test/none' }] },
  };
  await kubectlOk(cluster, ['apply', '-f', '-'], JSON.stringify(manifest));
  await setPodIp(cluster, namespace, pod.name, pod.ip);
}

export async function setPodIp(cluster: SharedKubeCluster, namespace: string, name: string, ip: string): Promise<void> {
  const status = { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } };
  await kubectlOk(cluster, ['patch', 'pod', name, '-n', namespace, '--subresource=status', '--type=merge', '-p', JSON.stringify(status)]);
}

/** A temporary directory removed by the returned function. */
export function temporaryDirectory(prefix: string): { dir: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
