// Cluster resources (CDS): the type URL, the subset of envoy.config.cluster.v3.Cluster that Weir
// builds, and the builder for a cluster with its endpoints inline: STATIC for IP addresses,
// STRICT_DNS when an endpoint is a host name (docker-compose service names, for instance). HTTP
// redirects' clusters speak the downstream's HTTP version upstream.
import net from 'node:net';
import { encodeResource, packAny, type EncodedResource } from './encoded-resource.ts';

export const CLUSTER_TYPE_URL = 'type.googleapis.com/envoy.config.cluster.v3.Cluster' as const;
export type ClusterTypeUrl = typeof CLUSTER_TYPE_URL;

export interface SocketAddressSpec {
  address: string;
  port: number;
}

export interface StaticClusterSpec {
  name: string;
  endpoints: readonly SocketAddressSpec[];
  /** Default 1000 ms. */
  connectTimeoutMs?: number;
  /** 'downstream': HTTP requests go upstream in the protocol they came in (HTTP/1.1 or HTTP/2, so gRPC works). */
  httpProtocol?: 'downstream';
}

export interface SocketAddressMessage {
  socket_address: { address: string; port_value: number };
}

export function socketAddress(spec: SocketAddressSpec): SocketAddressMessage {
  return { socket_address: { address: spec.address, port_value: spec.port } };
}

/** STATIC needs IP literals; a host name makes Envoy resolve it (and re-resolve it) itself. */
export function discoveryTypeFor(endpoints: readonly SocketAddressSpec[]): 'STATIC' | 'STRICT_DNS' {
  return endpoints.every((endpoint) => net.isIP(endpoint.address) !== 0) ? 'STATIC' : 'STRICT_DNS';
}

/** A Duration message from milliseconds. */
export function durationFromMs(milliseconds: number): { seconds: number; nanos: number } {
  const seconds = Math.floor(milliseconds / 1000);
  return { seconds, nanos: (milliseconds - seconds * 1000) * 1_000_000 };
}

export function buildStaticCluster(spec: StaticClusterSpec): EncodedResource {
  const message = {
    name: spec.name,
    type: discoveryTypeFor(spec.endpoints),
    connect_timeout: durationFromMs(spec.connectTimeoutMs ?? 1000),
    ...httpProtocolOptions(spec.httpProtocol),
    load_assignment: {
      cluster_name: spec.name,
      endpoints: [
        { lb_endpoints: spec.endpoints.map((endpoint) => ({ endpoint: { address: socketAddress(endpoint) } })) },
      ],
    },
  };
  return encodeResource(CLUSTER_TYPE_URL, spec.name, message);
}

export interface EdsClusterSpec {
  name: string;
  /** Default 1000 ms. */
  connectTimeoutMs?: number;
  /** As StaticClusterSpec.httpProtocol. */
  httpProtocol?: 'downstream';
}

/** A cluster whose endpoints arrive over EDS on the ADS stream, as the ClusterLoadAssignment named like the cluster. */
export function buildEdsCluster(spec: EdsClusterSpec): EncodedResource {
  const message = {
    name: spec.name,
    type: 'EDS',
    connect_timeout: durationFromMs(spec.connectTimeoutMs ?? 1000),
    ...httpProtocolOptions(spec.httpProtocol),
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
  };
  return encodeResource(CLUSTER_TYPE_URL, spec.name, message);
}

const HTTP_PROTOCOL_OPTIONS_NAME = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

function httpProtocolOptions(protocol: 'downstream' | undefined): object {
  if (protocol === undefined) return {};
  const options = { use_downstream_protocol_config: { http_protocol_options: {}, http2_protocol_options: {} } };
  return { typed_extension_protocol_options: { [HTTP_PROTOCOL_OPTIONS_NAME]: packAny(`type.googleapis.com/${HTTP_PROTOCOL_OPTIONS_NAME}`, options) } };
}
