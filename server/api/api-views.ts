// The JSON shapes the REST API answers with, built from the store state and the proxy status
// registry: policy files, endpoints with their identities, identities and the IP map, proxies with
// the revision each one enforces. Pure functions; the CLI reads the same shapes (api-types).
import { formatLabel } from '../identity/labels.ts';
import type { PolicyStoreState } from '../store/policy-store.ts';
import type { ProxyStatus } from '../xds/proxy-status.ts';
import type { EndpointView, IdentitiesView, PoliciesView, ProxiesView, ProxyView } from './api-types.ts';
import { runsPolicyAgent, type RevisionHistory } from './revision-history.ts';

export function policiesView(state: PolicyStoreState): PoliciesView {
  return {
    revision: state.revision,
    enforcementMode: state.policySet.enforcementMode,
    files: state.files.map((file) => ({ file: file.name, policies: file.policies.map((name) => name ?? '(rule list)'), endpoints: [...file.endpoints] })),
  };
}

/** A redirect as the endpoint view shows it (weir.yaml's redirects). */
export interface RedirectLike {
  name: string;
  parser: string;
  listen: { address: string; port: number };
  upstream: { address: string; port: number };
  endpoint?: string;
  endpointPort?: number;
}

export function endpointsView(state: PolicyStoreState, redirects: readonly RedirectLike[] = []): { revision: string; endpoints: EndpointView[] } {
  const compiled = new Map(state.policySet.endpoints.map((policy) => [policy.endpoint, policy]));
  return {
    revision: state.revision,
    endpoints: state.endpoints.map((endpoint) => {
      const policy = compiled.get(endpoint.name);
      return {
        name: endpoint.name,
        namespace: endpoint.namespace,
        identity: policy?.identity,
        ips: [...endpoint.ips],
        labels: endpoint.labels.map(formatLabel),
        labelsKnown: endpoint.labelsKnown,
        source: state.endpointSources?.get(endpoint.name) ?? 'store',
        ingress: policy?.ingress.enforcement,
        egress: policy?.egress.enforcement,
        ingressPorts: (policy?.ingress.ports ?? []).map((port) => (port.port === 0 ? 'any' : port.endPort > port.port ? `${port.port}-${port.endPort}` : String(port.port))),
        redirects: redirects
          .filter((redirect) => redirect.endpoint === endpoint.name)
          .map((redirect) => ({
            name: redirect.name,
            parser: redirect.parser,
            listener: `${redirect.listen.address}:${redirect.listen.port}`,
            upstream: `${redirect.upstream.address}:${redirect.upstream.port}`,
            port: redirect.endpointPort ?? redirect.upstream.port,
          })),
      };
    }),
  };
}

export function identitiesView(state: PolicyStoreState): IdentitiesView {
  return {
    revision: state.revision,
    identities: state.policySet.identities.map((identity) => ({ identity: identity.identity, labels: [...identity.labels] })),
    ipIdentities: state.policySet.ipIdentities.map((entry) => ({ cidr: entry.cidr, identity: entry.identity })),
  };
}

export function proxiesView(proxies: readonly ProxyStatus[], history: RevisionHistory): ProxiesView {
  return { revision: history.latest()?.revision, proxies: proxies.map((proxy) => proxyView(proxy, history)) };
}

function proxyView(proxy: ProxyStatus, history: RevisionHistory): ProxyView {
  return {
    nodeId: proxy.nodeId,
    cluster: proxy.cluster,
    connected: proxy.connected,
    openStreams: proxy.openStreams,
    variant: proxy.variant,
    peer: proxy.peer,
    connectedAt: proxy.connectedAt?.toISOString(),
    disconnectedAt: proxy.disconnectedAt?.toISOString(),
    policyAgent: runsPolicyAgent(proxy),
    enforcedRevision: history.enforcedBy(proxy)?.revision,
    types: proxy.types.map((state) => ({
      typeUrl: state.typeUrl,
      variant: state.variant,
      sentVersion: state.sentVersion,
      sentAt: state.sentAt?.toISOString(),
      awaitingReply: state.awaitingReply,
      ackedVersion: state.ackedVersion,
      ackedAt: state.ackedAt?.toISOString(),
      lastNack: state.lastNack ? { version: state.lastNack.version, message: state.lastNack.message, at: state.lastNack.at.toISOString() } : undefined,
    })),
  };
}
