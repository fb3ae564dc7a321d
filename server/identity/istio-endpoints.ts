// Endpoints of workloads in Istio's own sidecars. There Envoy's node belongs to istiod, and the
// Weir agent connects with a node id of its own (its certificate's, one per workload) and forwards
// Envoy's node metadata as pilot-agent wrote it (pkg/model/proxy.go in istio.io/istio): NAMESPACE,
// LABELS, SERVICE_ACCOUNT, INSTANCE_IPS. This module reads those keys into an endpoint named after
// the agent's node id, so the name a WasmPlugin's pluginConfig binds to is the one the certificate
// carries (docs/istio.md). Registering it is left to sidecar-endpoints.ts.
import type { EndpointSpec } from './endpoints.ts';
import { validateEndpointSpec } from './endpoints.ts';

/** Istio's node metadata keys this reader uses. */
export const ISTIO_METADATA_KEYS = { namespace: 'NAMESPACE', labels: 'LABELS', serviceAccount: 'SERVICE_ACCOUNT', ips: 'INSTANCE_IPS' } as const;

export type IstioEndpointRead =
  | { readonly kind: 'absent' }
  | { readonly kind: 'invalid'; readonly problems: readonly string[] }
  | { readonly kind: 'endpoint'; readonly spec: EndpointSpec };

/**
 * The endpoint of `nodeId` from Istio node metadata (plain JSON); `absent` when the metadata is
 * not Istio's (no NAMESPACE and INSTANCE_IPS). Problems name the metadata key at fault.
 */
export function readIstioEndpoint(nodeId: string, metadata: unknown): IstioEndpointRead {
  if (!isPlainObject(metadata)) return { kind: 'absent' };
  const { namespace, labels, serviceAccount, ips } = ISTIO_METADATA_KEYS;
  if (!(namespace in metadata) || !(ips in metadata)) return { kind: 'absent' };
  const problems: string[] = [];
  const text = (key: string): string | undefined => {
    const value = metadata[key];
    if (value === undefined) return undefined;
    if (typeof value === 'string') return value;
    problems.push(`${key}: must be a string`);
    return undefined;
  };
  const labelMap = metadata[labels];
  if (labelMap !== undefined && (!isPlainObject(labelMap) || Object.values(labelMap).some((value) => typeof value !== 'string'))) problems.push(`${labels}: must be a map of strings`);
  const instanceIps = (text(ips) ?? '').split(',').map((ip) => ip.trim()).filter((ip) => ip !== '');
  const account = text(serviceAccount);
  const spec: EndpointSpec = {
    name: nodeId,
    namespace: text(namespace) ?? '',
    ips: instanceIps,
    ...(account === undefined || account === '' ? {} : { serviceAccount: account }),
    ...(isPlainObject(labelMap) ? { labels: labelMap as Record<string, string> } : {}),
  };
  if (instanceIps.length === 0) problems.push(`${ips}: no IP address`);
  problems.push(...validateEndpointSpec(spec).map(({ field, reason }) => `${metadataKeyOf(field)}: ${reason}`));
  return problems.length > 0 ? { kind: 'invalid', problems } : { kind: 'endpoint', spec };
}

function metadataKeyOf(field: string): string {
  if (field.startsWith('ips')) return `${ISTIO_METADATA_KEYS.ips} (${field})`;
  if (field.startsWith('labels')) return `${ISTIO_METADATA_KEYS.labels} (${field})`;
  if (field === 'namespace') return ISTIO_METADATA_KEYS.namespace;
  if (field === 'serviceAccount') return ISTIO_METADATA_KEYS.serviceAccount;
  return field;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
