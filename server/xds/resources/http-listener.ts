// Listener resources for HTTP redirects: Envoy's HTTP connection manager (HTTP/1.1 and HTTP/2 on
// one port, codec AUTO) with Weir's HTTP Wasm filter before the router, one route to the
// redirect's cluster. The Wasm filter is inline or discovered over ECDS like a parser's (HTTP
// filters are created per request, so an ECDS update reaches the next request, even on open
// connections). The connection manager settings that keep the filter and the upstream seeing the
// same request (see docs/http.md) live here.
import { encodeResource, packAny, type EncodedResource, type PackedAny } from './encoded-resource.ts';
import { socketAddress, type SocketAddressSpec } from './cluster.ts';
import { LISTENER_TYPE_URL } from './listener.ts';

export const HTTP_CONNECTION_MANAGER_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager' as const;
export const HTTP_CONNECTION_MANAGER_FILTER_NAME = 'envoy.filters.network.http_connection_manager';
export const HTTP_WASM_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm' as const;
export const HTTP_WASM_FILTER_NAME = 'envoy.filters.http.wasm';
export const ROUTER_TYPE_URL = 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' as const;
export const ROUTER_FILTER_NAME = 'envoy.filters.http.router';

export type HttpFilterDelivery =
  /** typed_config of the HTTP Wasm filter, inside the listener. */
  | { kind: 'inline'; typedConfig: PackedAny }
  /** Fetched over ECDS as the TypedExtensionConfig named `resourceName`. */
  | { kind: 'ecds'; resourceName: string }
  /** No Weir filter: the same connection manager with only the router (benchmark baseline). */
  | { kind: 'none' };

export interface HttpRedirectListenerSpec {
  name: string;
  listen: SocketAddressSpec;
  httpFilter: HttpFilterDelivery;
  /** Cluster the router forwards to. */
  upstreamCluster: string;
}

export function buildHttpRedirectListener(spec: HttpRedirectListenerSpec): EncodedResource {
  const message = {
    name: spec.name,
    address: socketAddress(spec.listen),
    filter_chains: [
      {
        filters: [
          {
            name: HTTP_CONNECTION_MANAGER_FILTER_NAME,
            typed_config: packAny(HTTP_CONNECTION_MANAGER_TYPE_URL, httpConnectionManager(spec)),
          },
        ],
      },
    ],
  };
  return encodeResource(LISTENER_TYPE_URL, spec.name, message);
}

/** The HttpConnectionManager message (snake_case, as protobufjs encodes it). */
export function httpConnectionManager(spec: Pick<HttpRedirectListenerSpec, 'name' | 'httpFilter' | 'upstreamCluster'>): object {
  const router = { name: ROUTER_FILTER_NAME, typed_config: packAny(ROUTER_TYPE_URL, {}) };
  const weirFilter = httpFilterMessage(spec.httpFilter);
  return {
    stat_prefix: spec.name,
    codec_type: 'AUTO',
    // The remote identity comes from the TCP peer, never from X-Forwarded-For: without this Envoy
    // would take the downstream address (the filter's `source.address`) from that header.
    use_remote_address: { value: true },
    // The rules match the path the upstream receives: dot segments resolved, slashes merged,
    // %2F and %5C decoded before both (so `/public/..%2Fsecret` is `/secret` to both).
    normalize_path: { value: true },
    merge_slashes: true,
    path_with_escaped_slashes_action: 'UNESCAPE_AND_FORWARD',
    route_config: {
      name: spec.name,
      virtual_hosts: [
        {
          name: spec.name,
          domains: ['*'],
          // timeout 0: no deadline on a response, so gRPC streams last as long as the peers want.
          routes: [{ match: { prefix: '/' }, route: { cluster: spec.upstreamCluster, timeout: { seconds: 0, nanos: 0 } } }],
        },
      ],
    },
    http_filters: weirFilter === undefined ? [router] : [weirFilter, router],
  };
}

function httpFilterMessage(delivery: HttpFilterDelivery): object | undefined {
  if (delivery.kind === 'none') return undefined;
  if (delivery.kind === 'inline') return { name: HTTP_WASM_FILTER_NAME, typed_config: delivery.typedConfig };
  return {
    name: delivery.resourceName,
    config_discovery: {
      config_source: { ads: {}, resource_api_version: 'V3' },
      type_urls: [HTTP_WASM_TYPE_URL],
    },
  };
}
