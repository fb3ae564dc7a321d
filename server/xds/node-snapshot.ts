// The per-node proxy's layout (docs/sidecar.md "Per-node mode"): one transparent listener that
// `weir node iptables` sends every workload connection to with TPROXY, so each connection keeps its
// client's address and is forwarded, from that same address (original_src), to its original
// destination. Filter chains pick policy by address, as DESIGN.md says: a connection to an
// endpoint's IP runs that endpoint's ingress filter (its parser on ports with L7 rules, the `tcp`
// guard elsewhere); one from an endpoint's IP runs its egress filter; one between two endpoints of
// the node runs both, egress first, and passes only what both allow. Envoy never falls back from a
// port-specific chain to a port-less one, so every named port gets a chain for every endpoint,
// on either side. Connections between addresses no endpoint has pass unfiltered.
import {
  buildAdminCluster,
  buildAdminProxyListener,
  buildInterceptionListener,
  buildOriginalDstCluster,
  PASSTHROUGH_CLUSTER,
  type GuardedChainSpec,
  type InterceptionResourceOptions,
} from './interception-resources.ts';
import type { EncodedResource } from './resources/encoded-resource.ts';
import { DEFAULT_MAX_BUFFER_BYTES, type AgentPolicyPluginConfiguration } from './resources/wasm-filter.ts';
import { PROMETHEUS_LISTENER, READINESS_LISTENER, SIDECAR_PORTS, TCP_GUARD_PARSER, type SidecarPortParser } from './sidecar-snapshot.ts';

export interface NodeEndpointSpec {
  name: string;
  ips: readonly string[];
  /** Ports whose ingress traffic a parser reads. */
  inbound: readonly SidecarPortParser[];
  /** Destination ports whose egress traffic a parser reads. */
  outbound: readonly SidecarPortParser[];
}

export interface NodeLayoutSpec {
  /** The transparent listener's port (`weir node iptables --port`). */
  listenerPort: number;
  adminPort: number;
  endpoints: readonly NodeEndpointSpec[];
}

export const NODE_LISTENER = 'weir-node';

export function buildNodeResources(spec: NodeLayoutSpec, options: InterceptionResourceOptions): EncodedResource[] {
  const endpoints = spec.endpoints.filter((endpoint) => endpoint.ips.length > 0);
  const ports = [...new Set(endpoints.flatMap((endpoint) => [...endpoint.inbound, ...endpoint.outbound].map(({ port }) => port)))].sort((a, b) => a - b);
  const guard = (endpoint: NodeEndpointSpec, direction: 'ingress' | 'egress', port: number | undefined): AgentPolicyPluginConfiguration => {
    const parsers = direction === 'ingress' ? endpoint.inbound : endpoint.outbound;
    return {
      parser: parsers.find((entry) => entry.port === port)?.parser ?? TCP_GUARD_PARSER,
      maxBufferBytes: DEFAULT_MAX_BUFFER_BYTES,
      policy: 'agent',
      endpoint: endpoint.name,
      direction,
      port: port ?? 'destination',
    };
  };
  const chains: GuardedChainSpec[] = [];
  for (const port of [...ports, undefined]) {
    const portMatch = port === undefined ? {} : { destinationPort: port };
    const suffix = port === undefined ? 'any' : String(port);
    for (const destination of endpoints) {
      chains.push({ name: `to-${destination.name}-${suffix}`, match: { ...portMatch, destinationPrefixes: destination.ips }, guards: [guard(destination, 'ingress', port)], cluster: PASSTHROUGH_CLUSTER });
      for (const source of endpoints) {
        if (source === destination) continue;
        chains.push({
          name: `from-${source.name}-to-${destination.name}-${suffix}`,
          match: { ...portMatch, destinationPrefixes: destination.ips, sourcePrefixes: source.ips },
          guards: [guard(source, 'egress', port), guard(destination, 'ingress', port)],
          cluster: PASSTHROUGH_CLUSTER,
        });
      }
    }
    for (const source of endpoints) {
      chains.push({ name: `from-${source.name}-${suffix}`, match: { ...portMatch, sourcePrefixes: source.ips }, guards: [guard(source, 'egress', port)], cluster: PASSTHROUGH_CLUSTER });
    }
  }
  return [
    buildOriginalDstCluster(PASSTHROUGH_CLUSTER),
    buildAdminCluster(spec.adminPort),
    ...buildInterceptionListener(
      {
        name: NODE_LISTENER,
        port: spec.listenerPort,
        mode: 'TPROXY',
        // Upstream from the client's address; no mark: the node routes those packets like any other.
        originalSourceMark: 0,
        chains,
        defaultChain: { name: 'unmanaged', match: {}, guards: [], cluster: PASSTHROUGH_CLUSTER },
      },
      options,
    ),
    buildAdminProxyListener({ name: READINESS_LISTENER, port: SIDECAR_PORTS.readiness, pathPrefix: '/healthz/ready', rewrite: '/ready' }),
    buildAdminProxyListener({ name: PROMETHEUS_LISTENER, port: SIDECAR_PORTS.prometheus, pathPrefix: '/stats/prometheus' }),
  ];
}
