// The Envoy resources of transparent interception, shared by the sidecar layout
// (sidecar-snapshot.ts) and the per-node proxy (node-snapshot.ts): listeners that accept captured
// connections (original_dst for REDIRECT, transparent sockets and original_src for TPROXY) with
// one filter chain per matched destination/source, each running a Weir Wasm filter bound to an
// endpoint's policy before tcp_proxy to the connection's original destination; the ORIGINAL_DST
// and blackhole clusters; and the small HTTP listeners that expose Envoy's admin readiness and
// Prometheus stats (Istio's 15021 and 15090).
import { CLUSTER_TYPE_URL, durationFromMs, socketAddress } from './resources/cluster.ts';
import { encodeResource, packAny, type EncodedResource, type PackedAny } from './resources/encoded-resource.ts';
import { buildExtensionConfig } from './resources/extension-config.ts';
import { LISTENER_TYPE_URL, TCP_PROXY_FILTER_NAME, TCP_PROXY_TYPE_URL } from './resources/listener.ts';
import { buildAgentPolicyFilterConfig, NETWORK_WASM_FILTER_NAME, NETWORK_WASM_TYPE_URL, DEFAULT_MAX_BUFFER_BYTES, type AgentPolicyPluginConfiguration } from './resources/wasm-filter.ts';
import type { FilterDelivery } from './resources/listener.ts';

/** Istio's cluster names. */
export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';
export const INBOUND_PASSTHROUGH_CLUSTER = 'InboundPassthroughCluster';
export const BLACKHOLE_CLUSTER = 'BlackHoleCluster';
export const ADMIN_CLUSTER = 'weir-admin';

/** The source address of Envoy's inbound passthrough connections in REDIRECT mode (never captured). */
export const INBOUND_PASSTHROUGH_BIND_ADDRESS = '127.0.0.6';

function originalDstListenerFilter(): object {
  return {
    name: 'envoy.filters.listener.original_dst',
    typed_config: packAny('type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst', {}),
  };
}

/** Keeps the client's address as the source of the upstream connection, marking its packets (TPROXY return path). */
export function originalSrcListenerFilter(mark: number): object {
  return {
    name: 'envoy.filters.listener.original_src',
    typed_config: packAny('type.googleapis.com/envoy.extensions.filters.listener.original_src.v3.OriginalSrc', mark === 0 ? {} : { mark }),
  };
}

/** A cluster that connects to each connection's original destination, optionally from a fixed source address. */
export function buildOriginalDstCluster(name: string, options: { bindAddress?: string } = {}): EncodedResource {
  return encodeResource(CLUSTER_TYPE_URL, name, {
    name,
    type: 'ORIGINAL_DST',
    lb_policy: 'CLUSTER_PROVIDED',
    connect_timeout: durationFromMs(10_000),
    ...(options.bindAddress === undefined ? {} : { upstream_bind_config: { source_address: { address: options.bindAddress, port_value: 0 } } }),
  });
}

/** A cluster with no endpoints: tcp_proxy to it closes the connection. */
export function buildBlackholeCluster(): EncodedResource {
  return encodeResource(CLUSTER_TYPE_URL, BLACKHOLE_CLUSTER, { name: BLACKHOLE_CLUSTER, type: 'STATIC', connect_timeout: durationFromMs(10_000) });
}

/** Envoy's own admin interface on loopback, for the readiness and stats listeners. */
export function buildAdminCluster(adminPort: number): EncodedResource {
  return encodeResource(CLUSTER_TYPE_URL, ADMIN_CLUSTER, {
    name: ADMIN_CLUSTER,
    type: 'STATIC',
    connect_timeout: durationFromMs(1_000),
    load_assignment: { cluster_name: ADMIN_CLUSTER, endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress({ address: '127.0.0.1', port: adminPort }) } }] }] },
  });
}

/** Which connections a chain takes (Envoy's filter_chain_match). */
export interface ChainMatch {
  destinationPort?: number;
  /** Destination addresses (IP or CIDR). */
  destinationPrefixes?: readonly string[];
  /** Source addresses (IP or CIDR). */
  sourcePrefixes?: readonly string[];
}

/** One filter chain: policy-bound Wasm filters (each must allow), then tcp_proxy to `cluster`. */
export interface GuardedChainSpec {
  name: string;
  match: ChainMatch;
  /** The parsers and what each enforces, in order; empty for chains that only forward (blackholes). */
  guards: readonly AgentPolicyPluginConfiguration[];
  cluster: string;
}

export interface InterceptionListenerSpec {
  name: string;
  port: number;
  /** REDIRECT: recover the address iptables rewrote (original_dst). TPROXY: the socket is transparent and sees it already. */
  mode: 'REDIRECT' | 'TPROXY';
  /** Hand connections to a listener bound to their original destination, when one exists (Istio's virtualOutbound). */
  useOriginalDst?: boolean;
  /** TPROXY: connect upstream from the client's own address, with this mark on its packets (0: none). */
  originalSourceMark?: number;
  chains: readonly GuardedChainSpec[];
  /** The chain for connections no other chain matches. */
  defaultChain: GuardedChainSpec;
}

export interface InterceptionResourceOptions {
  /** Module bytes per parser name. */
  moduleFor: (parser: string) => Uint8Array;
  filterDelivery: FilterDelivery;
}

/** The listener, plus the ECDS extension configs its chains name when filters travel over ECDS. */
export function buildInterceptionListener(spec: InterceptionListenerSpec, options: InterceptionResourceOptions): EncodedResource[] {
  const extensionConfigs: EncodedResource[] = [];
  const chain = (chainSpec: GuardedChainSpec): object => {
    const filters: object[] = [];
    for (const [index, guard] of chainSpec.guards.entries()) {
      const pluginName = `weir.${spec.name}.${chainSpec.name}${chainSpec.guards.length > 1 ? `.${index}` : ''}`;
      const typedConfig: PackedAny = buildAgentPolicyFilterConfig({ pluginName, moduleBytes: options.moduleFor(guard.parser), configuration: guard });
      if (options.filterDelivery === 'ecds') {
        extensionConfigs.push(buildExtensionConfig(pluginName, typedConfig));
        filters.push({ name: pluginName, config_discovery: { config_source: { ads: {}, resource_api_version: 'V3' }, type_urls: [NETWORK_WASM_TYPE_URL] } });
      } else {
        filters.push({ name: NETWORK_WASM_FILTER_NAME, typed_config: typedConfig });
      }
    }
    filters.push({ name: TCP_PROXY_FILTER_NAME, typed_config: packAny(TCP_PROXY_TYPE_URL, { stat_prefix: `${spec.name}.${chainSpec.name}`, cluster: chainSpec.cluster }) });
    return { name: chainSpec.name, filter_chain_match: chainMatch(chainSpec.match), filters };
  };
  const listenerFilters: object[] = [originalDstListenerFilter()];
  if (spec.originalSourceMark !== undefined) listenerFilters.push(originalSrcListenerFilter(spec.originalSourceMark));
  const listener = encodeResource(LISTENER_TYPE_URL, spec.name, {
    name: spec.name,
    address: socketAddress({ address: '0.0.0.0', port: spec.port }),
    per_connection_buffer_limit_bytes: { value: DEFAULT_MAX_BUFFER_BYTES },
    ...(spec.mode === 'TPROXY' ? { transparent: { value: true } } : {}),
    ...(spec.useOriginalDst === true ? { use_original_dst: { value: true } } : {}),
    listener_filters: listenerFilters,
    filter_chains: spec.chains.map(chain),
    default_filter_chain: chain(spec.defaultChain),
  });
  return [...extensionConfigs, listener];
}

function chainMatch(match: ChainMatch): object {
  return {
    ...(match.destinationPort === undefined ? {} : { destination_port: { value: match.destinationPort } }),
    ...(match.destinationPrefixes === undefined ? {} : { prefix_ranges: match.destinationPrefixes.map(cidrRange) }),
    ...(match.sourcePrefixes === undefined ? {} : { source_prefix_ranges: match.sourcePrefixes.map(cidrRange) }),
  };
}

function cidrRange(prefix: string): object {
  const [address, length] = prefix.split('/');
  const bits = length !== undefined ? Number(length) : address?.includes(':') ? 128 : 32;
  return { address_prefix: address, prefix_len: { value: bits } };
}

/** An HTTP listener on 0.0.0.0:`port` that serves one path prefix from Envoy's admin (`rewrite` replaces it). */
export function buildAdminProxyListener(spec: { name: string; port: number; pathPrefix: string; rewrite?: string }): EncodedResource {
  const route = {
    match: { prefix: spec.pathPrefix },
    route: { cluster: ADMIN_CLUSTER, ...(spec.rewrite === undefined ? {} : { prefix_rewrite: spec.rewrite }), timeout: durationFromMs(5_000) },
  };
  const manager = packAny('type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager', {
    stat_prefix: spec.name,
    route_config: {
      name: spec.name,
      virtual_hosts: [{ name: spec.name, domains: ['*'], routes: [route, { match: { prefix: '/' }, direct_response: { status: 404 } }] }],
    },
    http_filters: [{ name: 'envoy.filters.http.router', typed_config: packAny('type.googleapis.com/envoy.extensions.filters.http.router.v3.Router', {}) }],
  });
  return encodeResource(LISTENER_TYPE_URL, spec.name, {
    name: spec.name,
    address: socketAddress({ address: '0.0.0.0', port: spec.port }),
    filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: manager }] }],
  });
}
