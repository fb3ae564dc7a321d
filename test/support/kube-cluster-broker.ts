// vitest global setup: one etcd and one kube-apiserver for the whole test run, started only when
// the first test file asks for them (kube-cluster.ts), so runs without Kubernetes tests pay
// nothing. Test files run in worker processes; they reach this process through a small HTTP
// broker on loopback whose address is provided as `kubeClusterBroker`. The broker starts the
// cluster once (CRDs and Weir's RBAC applied), answers every file with the same coordinates, and
// teardown stops both processes by pid, also when tests failed.
import http from 'node:http';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { kubectl, startEtcd, startKubeApiserver, type RunningEtcd, type RunningKubeApiserver } from '../../demo/servers/index.ts';
import { projectRoot } from '../../demo/servers/project-paths.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeClusterBroker: string;
  }
}

/** What a test file gets: where the API server is and how to act as admin. */
export interface SharedKubeCluster {
  url: string;
  caFile: string;
  adminKubeconfig: string;
  etcdUrl: string;
}

export const KUBE_MANIFESTS = path.join(projectRoot, 'envoy', 'kubernetes');

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let etcd: RunningEtcd | undefined;
  let apiserver: RunningKubeApiserver | undefined;
  let starting: Promise<SharedKubeCluster> | undefined;
  const start = async (): Promise<SharedKubeCluster> => {
    etcd = await startEtcd();
    apiserver = await startKubeApiserver({ etcdUrl: etcd.clientUrl });
    const admin = apiserver.kubeconfig('admin');
    for (const manifest of ['crds.yaml', 'rbac.yaml']) {
      // rbac.yaml names the weir-system namespace.
      if (manifest === 'rbac.yaml') await kubectl(admin, ['create', 'namespace', 'weir-system']);
      const applied = await kubectl(admin, ['apply', '-f', path.join(KUBE_MANIFESTS, manifest)]);
      if (applied.status !== 0) throw new Error(`kubectl apply -f ${manifest} failed: ${applied.stderr}`);
    }
    const established = await kubectl(admin, ['wait', '--for=condition=Established', '--timeout=120s', 'crd/ciliumnetworkpolicies.cilium.io', 'crd/ciliumclusterwidenetworkpolicies.cilium.io', 'crd/ciliumidentities.cilium.io']);
    if (established.status !== 0) throw new Error(`the CRDs were not established: ${established.stderr}`);
    return { url: apiserver.url, caFile: apiserver.caFile, adminKubeconfig: admin, etcdUrl: etcd.clientUrl };
  };
  const broker = http.createServer((request, response) => {
    starting ??= start();
    starting.then(
      (cluster) => response.end(JSON.stringify({ ok: true, cluster })),
      (error: unknown) => response.end(JSON.stringify({ ok: false, error: error instanceof Error ? error.message : String(error) })),
    );
    request.resume();
  });
  await new Promise<void>((resolve) => broker.listen(0, '127.0.0.1', resolve));
  const address = broker.address();
  if (address === null || typeof address !== 'object') throw new Error('the Kubernetes test broker got no port');
  project.provide('kubeClusterBroker', `http://127.0.0.1:${address.port}`);
  return async () => {
    broker.close();
    await starting?.catch(() => undefined);
    await apiserver?.destroy();
    await etcd?.destroy();
  };
}
