// Listener resources (LDS): the type URL and the builder for a Weir redirect listener, whose only
// filter chain is the parser's Wasm filter followed by tcp_proxy to the redirect's cluster. The Wasm
// filter is either inline or discovered over ECDS (config_discovery on the same ADS stream), so a
// new parser build reaches new connections without replacing the listener.
import { encodeResource, packAny, type EncodedResource, type PackedAny } from './encoded-resource.ts';
import { socketAddress, type SocketAddressSpec } from './cluster.ts';
import { NETWORK_WASM_FILTER_NAME, NETWORK_WASM_TYPE_URL } from './wasm-filter.ts';

export const LISTENER_TYPE_URL = 'type.googleapis.com/envoy.config.listener.v3.Listener' as const;
export type ListenerTypeUrl = typeof LISTENER_TYPE_URL;

export const TCP_PROXY_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy' as const;
export const TCP_PROXY_FILTER_NAME = 'envoy.filters.network.tcp_proxy';

/** How a listener gets its Wasm filter: 'ecds' (by name, default) or 'inline' (inside the listener). */
export type FilterDelivery = ParserFilterDelivery['kind'];

export type ParserFilterDelivery =
  /** typed_config of the parser's Wasm filter (see wasm-filter.ts), inside the listener. */
  | { kind: 'inline'; typedConfig: PackedAny }
  /** Fetched over ECDS as the TypedExtensionConfig named `resourceName`. */
  | { kind: 'ecds'; resourceName: string };

export interface RedirectListenerSpec {
  name: string;
  listen: SocketAddressSpec;
  parserFilter: ParserFilterDelivery;
  /** Cluster that tcp_proxy forwards to. */
  upstreamCluster: string;
  /** Default 1 MiB, matching the parser's cap. */
  perConnectionBufferLimitBytes?: number;
}

export function buildRedirectListener(spec: RedirectListenerSpec): EncodedResource {
  const message = {
    name: spec.name,
    address: socketAddress(spec.listen),
    per_connection_buffer_limit_bytes: { value: spec.perConnectionBufferLimitBytes ?? 1_048_576 },
    filter_chains: [
      {
        filters: [
          parserFilterMessage(spec.parserFilter),
          {
            name: TCP_PROXY_FILTER_NAME,
            typed_config: packAny(TCP_PROXY_TYPE_URL, { stat_prefix: spec.name, cluster: spec.upstreamCluster }),
          },
        ],
      },
    ],
  };
  return encodeResource(LISTENER_TYPE_URL, spec.name, message);
}

function parserFilterMessage(delivery: ParserFilterDelivery): object {
  if (delivery.kind === 'inline') return { name: NETWORK_WASM_FILTER_NAME, typed_config: delivery.typedConfig };
  return {
    name: delivery.resourceName,
    config_discovery: {
      config_source: { ads: {}, resource_api_version: 'V3' },
      type_urls: [NETWORK_WASM_TYPE_URL],
    },
  };
}
