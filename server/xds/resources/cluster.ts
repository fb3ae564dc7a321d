// Cluster resources (CDS): the type URL, the subset of envoy.config.cluster.v3.Cluster that Weir
// builds, and the builder for a cluster with its endpoints inline: STATIC for IP addresses,
// STRICT_DNS when an endpoint is a host name (docker-compose service names, for instance).
import net from 'node:net';
import { encodeResource, type EncodedResource } from './encoded-resource.ts';

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
}

export interface SocketAddressMessage {
  socket_address: { address: string; port_value: number };
}

export function socketAddress(spec: SocketAddressSpec): SocketAddressMessage {
  return { socket_address: { address: spec.address, port_value: spec.port } };
}

export type ClusterDiscovery = { type: 'STATIC' } | { type: 'STRICT_DNS'; dns_lookup_family: 'V4_PREFERRED' };

/**
 * STATIC needs IP literals; a host name makes Envoy resolve it (and re-resolve it) itself. Envoy's
 * default family (AUTO) prefers IPv6, and a hosts-file name can then resolve to ::1 where the
 * server listens on 127.0.0.1 only; Docker's networks are IPv4 unless configured otherwise. So a
 * name resolves to IPv4 first, IPv6 only when it has no IPv4 address.
 */
export function discoveryFor(endpoints: readonly SocketAddressSpec[]): ClusterDiscovery {
  return endpoints.every((endpoint) => net.isIP(endpoint.address) !== 0) ? { type: 'STATIC' } : { type: 'STRICT_DNS', dns_lookup_family: 'V4_PREFERRED' };
}

/** A Duration message from milliseconds. */
export function durationFromMs(milliseconds: number): { seconds: number; nanos: number } {
  const seconds = Math.floor(milliseconds / 1000);
  return { seconds, nanos: (milliseconds - seconds * 1000) * 1_000_000 };
}

export function buildStaticCluster(spec: StaticClusterSpec): EncodedResource {
  const message = {
    name: spec.name,
    ...discoveryFor(spec.endpoints),
    connect_timeout: durationFromMs(spec.connectTimeoutMs ?? 1000),
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
}

/** A cluster whose endpoints arrive over EDS on the ADS stream, as the ClusterLoadAssignment named like the cluster. */
export function buildEdsCluster(spec: EdsClusterSpec): EncodedResource {
  const message = {
    name: spec.name,
    type: 'EDS',
    connect_timeout: durationFromMs(spec.connectTimeoutMs ?? 1000),
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' } },
  };
  return encodeResource(CLUSTER_TYPE_URL, spec.name, message);
}
