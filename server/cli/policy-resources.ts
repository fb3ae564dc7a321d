// Turns the store's compiled state into the two Weir resource types the agent in each Envoy
// subscribes to (docs/policy-wire.md): one weir.NetworkPolicy per endpoint, whose `compiled` bytes
// are the canonical JSON of serializeEndpointPolicy(), and the weir.IdentityMap `default`. Both
// carry the store revision, so "a proxy ACKed a version containing revision R" can be read from
// its ACKed versions. The protobuf encoding itself belongs to server/xds/resources.
import { serializeEndpointPolicy } from '../policy/serialize.ts';
import type { PolicyStoreState } from '../store/policy-store.ts';
import type { EncodedResource } from '../xds/resources/encoded-resource.ts';
import { encodeIdentityMap } from '../xds/resources/identity-map.ts';
import { encodeNetworkPolicy } from '../xds/resources/network-policy.ts';

export function buildPolicyResources(state: PolicyStoreState): EncodedResource[] {
  const policies = state.policySet.endpoints.map((policy) =>
    encodeNetworkPolicy({
      endpoint: policy.endpoint,
      endpointIps: policy.ips,
      identity: policy.identity,
      revision: state.revision,
      compiled: serializeEndpointPolicy(policy).json,
    }),
  );
  const identityMap = encodeIdentityMap({ revision: state.revision, entries: state.policySet.ipIdentities, serviceAccounts: state.policySet.serviceAccountIdentities });
  return [...policies, identityMap];
}
