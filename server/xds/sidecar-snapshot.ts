// Istio's sidecar listener layout for one Weir sidecar (docs/sidecar.md): `virtualInbound` on
// 15006 (original_dst; one filter chain per workload port with a parser, chosen by destination
// port, then the `tcp` guard for every other port; tcp_proxy to InboundPassthroughCluster, bound
// to 127.0.0.6 in REDIRECT mode so the capture rules let it through), `virtualOutbound` on 15001
// (use_original_dst; egress chains per destination port, the guard for the rest;
// PassthroughCluster), blackhole chains for connections addressed to 15001/15006 themselves, and
// Envoy's readiness on 15021 (`/healthz/ready`) and Prometheus stats on 15090
// (`/stats/prometheus`), both served from its admin interface. Built from plain data: which ports
// get which parser is decided from policy elsewhere (server/interception/sidecar-layout.ts).
import {
  ADMIN_CLUSTER,
  BLACKHOLE_CLUSTER,
  buildAdminCluster,
  buildAdminProxyListener,
  buildBlackholeCluster,
  buildInterceptionListener,
  buildOriginalDstCluster,
  INBOUND_PASSTHROUGH_BIND_ADDRESS,
  INBOUND_PASSTHROUGH_CLUSTER,
  PASSTHROUGH_CLUSTER,
  type GuardedChainSpec,
  type InterceptionResourceOptions,
} from './interception-resources.ts';
import type { EncodedResource } from './resources/encoded-resource.ts';
import { DEFAULT_MAX_BUFFER_BYTES } from './resources/wasm-filter.ts';

/** Istio's sidecar ports. */
export const SIDECAR_PORTS = {
  outboundCapture: 15001,
  inboundCapture: 15006,
  readiness: 15021,
  prometheus: 15090,
  admin: 15000,
} as const;

/** The parser that guards ports no parser reads (filters/parsers/tcp). */
export const TCP_GUARD_PARSER = 'tcp';

export interface SidecarPortParser {
  port: number;
  parser: string;
}

export interface SidecarLayoutSpec {
  /** The workload endpoint whose policy the sidecar enforces. */
  endpoint: string;
  interceptionMode: 'REDIRECT' | 'TPROXY';
  /** Envoy's admin port on 127.0.0.1 (the bootstrap's). */
  adminPort: number;
  /** TPROXY: the mark of upstream packets to the workload (Istio's 1337). */
  tproxyMark?: number;
  /** Workload ports whose ingress traffic a parser reads. */
  inbound: readonly SidecarPortParser[];
  /** Destination ports whose egress traffic a parser reads. */
  outbound: readonly SidecarPortParser[];
}

export const VIRTUAL_INBOUND = 'virtualInbound';
export const VIRTUAL_OUTBOUND = 'virtualOutbound';
export const READINESS_LISTENER = 'weir-readiness';
export const PROMETHEUS_LISTENER = 'weir-prometheus';

export function buildSidecarResources(spec: SidecarLayoutSpec, options: InterceptionResourceOptions): EncodedResource[] {
  const guard = (direction: 'ingress' | 'egress', parser: string, port: number | 'destination') => ({
    parser,
    maxBufferBytes: DEFAULT_MAX_BUFFER_BYTES,
    policy: 'agent' as const,
    endpoint: spec.endpoint,
    direction,
    port,
  });
  const blackhole = (port: number): GuardedChainSpec => ({ name: `blackhole-${port}`, match: { destinationPort: port }, guards: [], cluster: BLACKHOLE_CLUSTER });
  const inboundChains: GuardedChainSpec[] = [
    blackhole(SIDECAR_PORTS.inboundCapture),
    ...spec.inbound.map(({ port, parser }) => ({ name: `inbound-${port}`, match: { destinationPort: port }, guards: [guard('ingress', parser, port)], cluster: INBOUND_PASSTHROUGH_CLUSTER })),
  ];
  const outboundChains: GuardedChainSpec[] = [
    blackhole(SIDECAR_PORTS.outboundCapture),
    ...spec.outbound.map(({ port, parser }) => ({ name: `outbound-${port}`, match: { destinationPort: port }, guards: [guard('egress', parser, port)], cluster: PASSTHROUGH_CLUSTER })),
  ];
  const tproxy = spec.interceptionMode === 'TPROXY';
  return [
    buildOriginalDstCluster(PASSTHROUGH_CLUSTER),
    // REDIRECT: the app sees 127.0.0.6 as the client; TPROXY keeps the client's address (original_src).
    buildOriginalDstCluster(INBOUND_PASSTHROUGH_CLUSTER, tproxy ? {} : { bindAddress: INBOUND_PASSTHROUGH_BIND_ADDRESS }),
    buildBlackholeCluster(),
    buildAdminCluster(spec.adminPort),
    ...buildInterceptionListener(
      {
        name: VIRTUAL_INBOUND,
        port: SIDECAR_PORTS.inboundCapture,
        mode: spec.interceptionMode,
        ...(tproxy ? { originalSourceMark: spec.tproxyMark ?? 1337 } : {}),
        chains: inboundChains,
        defaultChain: { name: 'inbound-catchall', match: {}, guards: [guard('ingress', TCP_GUARD_PARSER, 'destination')], cluster: INBOUND_PASSTHROUGH_CLUSTER },
      },
      options,
    ),
    ...buildInterceptionListener(
      {
        name: VIRTUAL_OUTBOUND,
        port: SIDECAR_PORTS.outboundCapture,
        mode: 'REDIRECT',
        useOriginalDst: true,
        chains: outboundChains,
        defaultChain: { name: 'outbound-catchall', match: {}, guards: [guard('egress', TCP_GUARD_PARSER, 'destination')], cluster: PASSTHROUGH_CLUSTER },
      },
      options,
    ),
    buildAdminProxyListener({ name: READINESS_LISTENER, port: SIDECAR_PORTS.readiness, pathPrefix: '/healthz/ready', rewrite: '/ready' }),
    buildAdminProxyListener({ name: PROMETHEUS_LISTENER, port: SIDECAR_PORTS.prometheus, pathPrefix: '/stats/prometheus' }),
  ];
}

