// Opens the policy store `weir serve` runs on, as the config's policies.source says: the watched
// directory, etcd (several replicas share it) or Kubernetes (CiliumNetworkPolicy objects and Pods).
// After the xDS server is up, attach() starts what a shared store adds: writing per-node status into
// the policy objects (Kubernetes), registering this replica with a lease (etcd). In etcd mode the
// replicas also share node enrolments (server/store/etcd-enrolments.ts), before any proxy connects.
import path from 'node:path';
import type { Logger } from 'pino';
import type { Fleet } from '../api/fleet.ts';
import type { RevisionHistory } from '../api/revision-history.ts';
import { runsPolicyAgent } from '../api/revision-history.ts';
import type { WeirConfig } from '../config/weir-config.ts';
import type { Endpoint, EndpointSpec } from '../identity/endpoints.ts';
import { formatLabel } from '../identity/labels.ts';
import type { SidecarEndpointRegistry } from '../identity/sidecar-endpoints.ts';
import { KubeClient } from '../kubernetes/kube-client.ts';
import { openKubernetesStore } from '../kubernetes/kubernetes-store.ts';
import { PolicyStatusWriter } from '../kubernetes/policy-status-writer.ts';
import { registryWithDeclaredParsers } from '../policy/l7-rule-keys.ts';
import { formatProblem } from '../policy/policy-problems.ts';
import { DirectoryStore } from '../store/directory-store.ts';
import type { NodeAuthority } from '../pki/node-authority.ts';
import { EtcdEnrolments } from '../store/etcd-enrolments.ts';
import { EtcdReplicaRegistry } from '../store/etcd-replicas.ts';
import { openEtcdStore } from '../store/etcd-store.ts';
import type { PolicyStore } from '../store/policy-store.ts';
import type { ProxyStatusRegistry } from '../xds/proxy-status.ts';
import { callApi } from './api-client.ts';

export interface ServingContext {
  readonly status: ProxyStatusRegistry;
  readonly history: RevisionHistory;
  /** This replica's API and xDS addresses, announced to the other replicas. */
  readonly apiSocket: string;
  readonly xds: { address: string; port: number };
  /** The endpoints this replica's sidecars announce; a source that shares them (etcd) publishes them. */
  readonly sidecars: SidecarEndpointRegistry;
}

export interface AttachedSource {
  stop(): Promise<void>;
  /** The replicas sharing the store, for the REST API's fleet answers; undefined when there are none. */
  fleet: Fleet | undefined;
}

export interface PolicySource {
  readonly store: PolicyStore;
  /** What the source shows in `weir status` and logs: `directory /x`, `etcd http://...`, `Kubernetes https://...`. */
  readonly description: string;
  /** Starts the source's side jobs once proxies can connect. */
  attach(context: ServingContext): AttachedSource;
  /**
   * Node enrolments shared with the other replicas (etcd): settled(nodeId) resolves once this
   * replica's change of that node is shared, and rejects naming etcd if it could not be.
   */
  readonly sharedEnrolments: { settled(nodeId: string): Promise<void> } | undefined;
}

/**
 * `authority`: the replica's node authority when the xDS port runs mTLS (its enrolments are shared
 * in etcd mode). `sidecars`: the endpoints this replica's sidecars announce. The directory and
 * Kubernetes stores compile them in with their own (one compile per change); in etcd mode attach()
 * publishes them to etcd, whence every replica's store reads them, so they are not added twice.
 */
export async function openPolicySource(config: WeirConfig, logger: Logger, sidecars: SidecarEndpointRegistry, authority?: NodeAuthority): Promise<PolicySource> {
  const source = config.policies.source;
  const enforcementMode = config.policies.enforcementMode;
  // The parsers in filters.dir that declare their rule keys (weir parser new) get policies too.
  const registry = registryWithDeclaredParsers(config.filtersDir);
  if (source.kind === 'etcd') {
    const etcd = openEtcdStore({ endpoints: source.endpoints, prefix: source.prefix, enforcementMode, registry, logger });
    await etcd.store.load();
    const enrolments = authority === undefined ? undefined : new EtcdEnrolments(etcd.client, etcd.prefix, authority, logger);
    await enrolments?.start();
    return {
      sharedEnrolments: enrolments,
      store: etcd.store,
      description: `etcd ${source.endpoints.join(',')} (prefix ${source.prefix})`,
      attach: (context) => {
        const registry = new EtcdReplicaRegistry(etcd.client, etcd.prefix, { node: config.node, apiSocket: path.resolve(context.apiSocket), xds: context.xds }, logger);
        registry.start();
        const publish = (): void => registry.setEndpoints(context.sidecars.list().map((sidecar) => endpointSpecOf(sidecar.endpoint)));
        const unwatch = context.sidecars.watch(publish);
        publish();
        const fleet: Fleet = {
          members: async () =>
            (await registry.list()).map((replica) => ({
              name: replica.node,
              get: async (pathAndQuery: string, timeoutMs: number) => {
                const reply = await callApi({ kind: 'socket', socket: replica.apiSocket }, { method: 'GET', path: pathAndQuery, timeoutMs });
                return { status: reply.status, body: JSON.parse(reply.text) as unknown };
              },
            })),
        };
        return {
          stop: async () => {
            unwatch();
            await enrolments?.stop();
            await registry.stop();
          },
          fleet,
        };
      },
    };
  }
  if (source.kind === 'kubernetes') {
    const client = new KubeClient(source.kubeconfig === undefined ? {} : { kubeconfig: source.kubeconfig });
    const kubernetes = openKubernetesStore({ client, enforcementMode, registry, logger, sidecars });
    await kubernetes.store.load();
    return {
      store: kubernetes.store,
      description: `Kubernetes ${client.server} (node ${config.node})`,
      sharedEnrolments: undefined,
      attach: (context) => {
        const writer = new PolicyStatusWriter({
          client,
          store: kubernetes.store,
          policyObjects: kubernetes.policyObjects,
          node: config.node,
          enforcedRevisions: () => context.status.list().filter((proxy) => proxy.connected && runsPolicyAgent(proxy)).map((proxy) => context.history.enforcedBy(proxy)?.revision),
          onProxyChange: (listener) => context.status.subscribe(listener),
          logger,
        });
        return { stop: () => writer.stop(), fleet: undefined };
      },
    };
  }
  const store = new DirectoryStore({ directory: config.policies.dir, enforcementMode, registry, sidecars, logger });
  const loaded = await store.load();
  if (!loaded.ok) {
    await store.close();
    const problems = loaded.problems.map(formatProblem).join('\n');
    throw new Error(`the policies in ${config.policies.dir} do not compile; fix or remove these files and start again:\n${problems}`);
  }
  return { store, description: `directory ${config.policies.dir}`, sharedEnrolments: undefined, attach: () => ({ stop: async () => undefined, fleet: undefined }) };
}

/** An endpoint back as the description it came from; its labels keep their sources (`k8s:app`). */
function endpointSpecOf(endpoint: Endpoint): EndpointSpec {
  const labels = endpoint.labelsKnown ? Object.fromEntries(endpoint.labels.map((label) => [formatLabel({ ...label, value: '' }), label.value])) : undefined;
  return { name: endpoint.name, ips: [...endpoint.ips], ...(endpoint.namespace === undefined ? {} : { namespace: endpoint.namespace }), ...(labels === undefined ? {} : { labels }) };
}
