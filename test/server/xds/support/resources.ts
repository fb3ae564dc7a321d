// Small resources and requests for unit tests: clusters that differ only by endpoint port, and
// DiscoveryRequest builders with Envoy's defaults.
import { buildStaticCluster, CLUSTER_TYPE_URL } from '../../../../server/xds/resources/cluster.ts';
import { buildLoadAssignment } from '../../../../server/xds/resources/endpoint.ts';
import type { EncodedResource } from '../../../../server/xds/resources/encoded-resource.ts';
import type { DeltaDiscoveryRequest, DiscoveryRequest } from '../../../../server/xds/discovery-messages.ts';

export function cluster(name: string, port = 9000): EncodedResource {
  return buildStaticCluster({ name, endpoints: [{ address: '127.0.0.1', port }] });
}

export function loadAssignment(clusterName: string, port = 9000): EncodedResource {
  return buildLoadAssignment({ clusterName, endpoints: [{ address: '127.0.0.1', port }] });
}

export const NODE = { id: 'node-a', cluster: 'test' };

export function sotwRequest(fields: Partial<DiscoveryRequest> = {}): DiscoveryRequest {
  return {
    version_info: '',
    node: null,
    resource_names: [],
    type_url: CLUSTER_TYPE_URL,
    response_nonce: '',
    error_detail: null,
    ...fields,
  };
}

export function deltaRequest(fields: Partial<DeltaDiscoveryRequest> = {}): DeltaDiscoveryRequest {
  return {
    node: null,
    type_url: CLUSTER_TYPE_URL,
    resource_names_subscribe: [],
    resource_names_unsubscribe: [],
    initial_resource_versions: {},
    response_nonce: '',
    error_detail: null,
    ...fields,
  };
}
