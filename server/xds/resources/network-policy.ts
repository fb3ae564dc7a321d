// weir.NetworkPolicy resources (protos/weir/network_policy.proto): the type URL and an encoder for
// a compiled endpoint policy. The policy compiler builds the message; this file only names and
// encodes it, so server/xds stays free of policy code.
import { encodeResource, type EncodedResource } from './encoded-resource.ts';

export const NETWORK_POLICY_TYPE_URL = 'type.googleapis.com/weir.NetworkPolicy' as const;
export type NetworkPolicyTypeUrl = typeof NETWORK_POLICY_TYPE_URL;

/** `message` is a plain snake_case object shaped like weir.NetworkPolicy; its endpoint_id names the resource. */
export function encodeNetworkPolicy(message: { endpoint_id: string } & Record<string, unknown>): EncodedResource {
  return encodeResource(NETWORK_POLICY_TYPE_URL, message.endpoint_id, message);
}
