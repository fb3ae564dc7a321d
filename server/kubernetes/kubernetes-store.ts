// Policies and endpoints from Kubernetes: watches cilium.io/v2 CiliumNetworkPolicy and
// CiliumClusterwideNetworkPolicy objects, Pods and Namespaces, and feeds an ObjectSetStore. Each
// policy object is one "file" of the store (`cnp.<namespace>.<name>.json`, `ccnp.<name>.json`),
// versioned by its metadata.generation, so status writes (which do not change the generation)
// never recompile. Each Pod with an IP becomes the endpoint `<namespace>/<pod>`: its labels, the
// namespace and service account labels Cilium adds (k8s:io.kubernetes.pod.namespace,
// k8s:io.cilium.k8s.policy.serviceaccount) and the namespace's labels as
// k8s:io.cilium.k8s.namespace.labels.<key>. Identities are claimed as CiliumIdentity objects
// (kube-identities.ts). Writes through Weir's REST API are refused: kubectl apply is the way in.
import type { Logger } from 'pino';
import type { EndpointSpec } from '../identity/endpoints.ts';
import { sharedIdentityTable } from '../identity/identity-table.ts';
import { NAMESPACE_LABELS_PREFIX } from '../identity/labels.ts';
import type { L7RuleRegistry } from '../policy/l7-rule-keys.ts';
import type { EnforcementMode } from '../policy/policy-model.ts';
import { ObjectSetStore } from '../store/object-set-store.ts';
import type { SidecarEndpointFeed } from '../store/store-contents.ts';
import { kubeIdentityClaims } from './kube-identities.ts';
import { KubeClient, type CollectionWatch, type KubeObject } from './kube-client.ts';

export interface KubernetesStoreOptions {
  readonly client: KubeClient;
  readonly enforcementMode: EnforcementMode;
  readonly registry?: L7RuleRegistry;
  readonly logger: Logger;
  /** Endpoints of this replica's connected sidecars, compiled beside the Pods. */
  readonly sidecars?: SidecarEndpointFeed;
}

export const CNP_PATH = '/apis/cilium.io/v2/ciliumnetworkpolicies';
export const CCNP_PATH = '/apis/cilium.io/v2/ciliumclusterwidenetworkpolicies';

/** Where a store object came from in Kubernetes, to write its status back. */
export interface PolicyObjectRef {
  readonly kind: 'CiliumNetworkPolicy' | 'CiliumClusterwideNetworkPolicy';
  readonly namespace: string | undefined;
  readonly name: string;
}

export function policyObjectName(ref: PolicyObjectRef): string {
  return ref.kind === 'CiliumNetworkPolicy' ? `cnp.${ref.namespace ?? ''}.${ref.name}.json` : `ccnp.${ref.name}.json`;
}

/** The status subresource of a policy object. */
export function policyStatusPath(ref: PolicyObjectRef): string {
  return ref.kind === 'CiliumNetworkPolicy'
    ? `/apis/cilium.io/v2/namespaces/${ref.namespace ?? ''}/ciliumnetworkpolicies/${ref.name}/status`
    : `${CCNP_PATH}/${ref.name}/status`;
}

export interface KubernetesStore {
  readonly store: ObjectSetStore;
  /** The Kubernetes object behind each store object name. */
  policyObjects(): ReadonlyMap<string, PolicyObjectRef>;
}

export function openKubernetesStore(options: KubernetesStoreOptions): KubernetesStore {
  const { client, logger } = options;
  const sourceName = `Kubernetes ${client.server}`;
  const store = new ObjectSetStore({
    enforcementMode: options.enforcementMode,
    ...(options.registry === undefined ? {} : { registry: options.registry }),
    identities: sharedIdentityTable(kubeIdentityClaims(client)),
    logger,
    sourceName,
    ...(options.sidecars === undefined ? {} : { sidecars: options.sidecars }),
    writer: { kind: 'read-only', refusal: 'policies come from Kubernetes here: apply them as CiliumNetworkPolicy objects (kubectl apply -f FILE); weir policy import is for the directory and etcd stores' },
  });
  const refs = new Map<string, PolicyObjectRef>();
  const pods = new Map<string, KubeObject>();
  const namespaces = new Map<string, KubeObject>();
  const endpointsChanged = (): void => store.setEndpoints(podEndpoints(pods, namespaces));
  const failed = (what: string) => (error: Error) => logger.warn({ source: sourceName, watch: what, error: error.message }, 'Kubernetes watch interrupted; the policy in force stays, retrying');

  const policyHandlers = (kind: PolicyObjectRef['kind']) => {
    const keyOf = (object: KubeObject): string => policyObjectName({ kind, namespace: object.metadata.namespace, name: object.metadata.name });
    const upsert = (object: KubeObject): void => {
      const ref: PolicyObjectRef = { kind, namespace: object.metadata.namespace, name: object.metadata.name };
      refs.set(keyOf(object), ref);
      store.setObject(keyOf(object), policyText(kind, object), String(object.metadata.generation ?? object.metadata.resourceVersion ?? ''));
    };
    return {
      replaced: (items: readonly KubeObject[]) => {
        const present = new Set(items.map(keyOf));
        for (const [name, ref] of refs) {
          if (ref.kind === kind && !present.has(name)) {
            refs.delete(name);
            store.removeObject(name);
          }
        }
        for (const item of items) upsert(item);
      },
      upserted: upsert,
      deleted: (object: KubeObject) => {
        refs.delete(keyOf(object));
        store.removeObject(keyOf(object));
      },
      failed: failed(kind),
    };
  };
  const mapHandlers = (map: Map<string, KubeObject>, what: string) => {
    const keyOf = (object: KubeObject): string => `${object.metadata.namespace ?? ''}/${object.metadata.name}`;
    return {
      replaced: (items: readonly KubeObject[]) => {
        map.clear();
        for (const item of items) map.set(keyOf(item), item);
        endpointsChanged();
      },
      upserted: (item: KubeObject) => {
        map.set(keyOf(item), item);
        endpointsChanged();
      },
      deleted: (item: KubeObject) => {
        map.delete(keyOf(item));
        endpointsChanged();
      },
      failed: failed(what),
    };
  };
  const watches: CollectionWatch[] = [
    client.watchCollection(CNP_PATH, policyHandlers('CiliumNetworkPolicy')),
    client.watchCollection(CCNP_PATH, policyHandlers('CiliumClusterwideNetworkPolicy')),
    client.watchCollection('/api/v1/pods', mapHandlers(pods, 'pods')),
    client.watchCollection('/api/v1/namespaces', mapHandlers(namespaces, 'namespaces')),
  ];
  void Promise.all(watches.map((watch) => watch.synced())).then(() => store.markSynced());
  store.onClose(async () => {
    for (const watch of watches) watch.stop();
  });
  return { store, policyObjects: () => refs };
}

/** What Weir validates of a policy object: its kind, name, namespace and spec(s), as JSON. */
function policyText(kind: PolicyObjectRef['kind'], object: KubeObject): string {
  const metadata = kind === 'CiliumNetworkPolicy' ? { name: object.metadata.name, namespace: object.metadata.namespace } : { name: object.metadata.name };
  const document: Record<string, unknown> = { apiVersion: 'cilium.io/v2', kind, metadata };
  for (const field of ['spec', 'specs']) if (object[field] !== undefined) document[field] = object[field];
  return JSON.stringify(document);
}

function podEndpoints(pods: ReadonlyMap<string, KubeObject>, namespaces: ReadonlyMap<string, KubeObject>): EndpointSpec[] {
  const endpoints: EndpointSpec[] = [];
  for (const pod of pods.values()) {
    const spec = (pod['spec'] ?? {}) as { serviceAccountName?: string; hostNetwork?: boolean };
    const status = (pod['status'] ?? {}) as { podIP?: string; podIPs?: Array<{ ip: string }>; phase?: string };
    if (spec.hostNetwork === true || status.phase === 'Succeeded' || status.phase === 'Failed') continue;
    const ips = [...new Set([...(status.podIPs ?? []).map((entry) => entry.ip), ...(status.podIP === undefined ? [] : [status.podIP])])];
    if (ips.length === 0) continue;
    const namespace = pod.metadata.namespace ?? 'default';
    const namespaceLabels = namespaces.get(`/${namespace}`)?.metadata.labels ?? {};
    const labels: Record<string, string> = { ...(pod.metadata.labels ?? {}) };
    for (const [key, value] of Object.entries(namespaceLabels)) labels[`k8s:${NAMESPACE_LABELS_PREFIX}${key}`] = value;
    endpoints.push({ name: `${namespace}/${pod.metadata.name}`, namespace, serviceAccount: spec.serviceAccountName ?? 'default', labels, ips });
  }
  return endpoints;
}
