// ClusterLoadAssignment resources (EDS): the type URL and a builder for one cluster's endpoints.
import { encodeResource, type EncodedResource } from './encoded-resource.ts';
import { socketAddress, type SocketAddressSpec } from './cluster.ts';

export const ENDPOINT_TYPE_URL = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment' as const;
export type EndpointTypeUrl = typeof ENDPOINT_TYPE_URL;

export interface LoadAssignmentSpec {
  clusterName: string;
  endpoints: readonly SocketAddressSpec[];
}

export function buildLoadAssignment(spec: LoadAssignmentSpec): EncodedResource {
  const message = {
    cluster_name: spec.clusterName,
    endpoints: [
      { lb_endpoints: spec.endpoints.map((endpoint) => ({ endpoint: { address: socketAddress(endpoint) } })) },
    ],
  };
  return encodeResource(ENDPOINT_TYPE_URL, spec.clusterName, message);
}
