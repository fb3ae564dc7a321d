// weir.NetworkPolicy resources (protos/weir/network_policy.proto): the type URL, an encoder and a
// decoder. The policy compiler produces the compiled JSON and its revision; this file only wraps
// them into the message, so server/xds stays free of policy code. Wire contract: docs/policy-wire.md.
import { createHash } from 'node:crypto';
import { envoyMessageType } from '../envoy-protos.ts';
import { encodeResource, type EncodedResource } from './encoded-resource.ts';

export const NETWORK_POLICY_TYPE_URL = 'type.googleapis.com/weir.NetworkPolicy' as const;
export type NetworkPolicyTypeUrl = typeof NETWORK_POLICY_TYPE_URL;

export interface NetworkPolicyResource {
  /** The endpoint name; also the resource name and the shared-data key `weir/policy/<endpoint>`. */
  readonly endpoint: string;
  readonly endpointIps: readonly string[];
  readonly identity: number;
  /** The canonical JSON of serializeEndpointPolicy() (server/policy/serialize.ts), as text or UTF-8 bytes. */
  readonly compiled: string | Uint8Array;
  /** Default: the first 16 hex digits of the SHA-256 of `compiled` (what serializeEndpointPolicy returns). */
  readonly revision?: string;
}

export interface DecodedNetworkPolicy {
  readonly endpoint: string;
  readonly endpointIps: string[];
  readonly identity: number;
  readonly revision: string;
  readonly compiled: Uint8Array;
}

interface NetworkPolicyMessage {
  endpoint: string;
  endpoint_ips: string[];
  identity: number;
  revision: string;
  compiled: Uint8Array;
}

export function encodeNetworkPolicy(policy: NetworkPolicyResource): EncodedResource {
  if (policy.endpoint === '') throw new Error('encodeNetworkPolicy: endpoint is empty; every NetworkPolicy names its endpoint');
  const compiled = typeof policy.compiled === 'string' ? new TextEncoder().encode(policy.compiled) : policy.compiled;
  const message: NetworkPolicyMessage = {
    endpoint: policy.endpoint,
    endpoint_ips: [...policy.endpointIps],
    identity: policy.identity,
    revision: policy.revision ?? contentRevision(compiled),
    compiled,
  };
  return encodeResource(NETWORK_POLICY_TYPE_URL, policy.endpoint, message);
}

/** Decodes the bytes of a weir.NetworkPolicy (the `value` of its Any). */
export function decodeNetworkPolicy(value: Uint8Array): DecodedNetworkPolicy {
  const type = envoyMessageType('weir.NetworkPolicy');
  const message = type.toObject(type.decode(value), { defaults: true, arrays: true, bytes: Uint8Array }) as NetworkPolicyMessage;
  return {
    endpoint: message.endpoint,
    endpointIps: message.endpoint_ips,
    identity: message.identity,
    revision: message.revision,
    compiled: message.compiled,
  };
}

/** First 16 hex digits of the SHA-256 of `bytes`: the revision format Weir uses everywhere. */
export function contentRevision(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}
