// weir.IdentityMap resources (protos/weir/identity_map.proto): the type URL, an encoder for the IP
// prefix -> identity map and the service account -> identity map of SPIFFE peers (one resource
// named "default", both as compact JSON inside the message) and a decoder. Wire contract:
// docs/policy-wire.md.
import { envoyMessageType } from '../envoy-protos.ts';
import { encodeResource, type EncodedResource } from './encoded-resource.ts';
import { contentRevision } from './network-policy.ts';

export const IDENTITY_MAP_TYPE_URL = 'type.googleapis.com/weir.IdentityMap' as const;
export type IdentityMapTypeUrl = typeof IDENTITY_MAP_TYPE_URL;
export const IDENTITY_MAP_RESOURCE_NAME = 'default';

export interface IdentityMapEntry {
  /** IPv4 or IPv6 prefix, e.g. "127.0.0.2/32" or "fd00::/64"; a bare address is a host prefix. */
  readonly cidr: string;
  readonly identity: number;
}

/** The identity of a peer whose SPIFFE ID names this namespace and service account. */
export interface ServiceAccountMapEntry {
  readonly namespace: string;
  readonly serviceAccount: string;
  readonly identity: number;
}

export interface IdentityMapResource {
  readonly entries: readonly IdentityMapEntry[];
  readonly serviceAccounts?: readonly ServiceAccountMapEntry[];
  /** Default: the content hash of the compiled JSON. */
  readonly revision?: string;
}

interface IdentityMapMessage {
  revision: string;
  compiled: Uint8Array;
}

export function encodeIdentityMap(map: IdentityMapResource): EncodedResource {
  const json = identityMapJson(map.entries, map.serviceAccounts ?? []);
  const compiled = new TextEncoder().encode(json);
  const message: IdentityMapMessage = { revision: map.revision ?? contentRevision(compiled), compiled };
  return encodeResource(IDENTITY_MAP_TYPE_URL, IDENTITY_MAP_RESOURCE_NAME, message);
}

/**
 * The JSON the agent publishes as `weir/identities`: entries in the given order, keys in a fixed
 * order; `serviceAccounts` only when there are some, so a map without them reads as before.
 */
export function identityMapJson(entries: readonly IdentityMapEntry[], serviceAccounts: readonly ServiceAccountMapEntry[] = []): string {
  checkIdentities('entries', entries);
  checkIdentities('serviceAccounts', serviceAccounts);
  const body = entries.map((entry) => `{"cidr":${JSON.stringify(entry.cidr)},"identity":${entry.identity}}`).join(',');
  if (serviceAccounts.length === 0) return `{"entries":[${body}]}`;
  const accounts = serviceAccounts
    .map((entry) => `{"namespace":${JSON.stringify(entry.namespace)},"serviceAccount":${JSON.stringify(entry.serviceAccount)},"identity":${entry.identity}}`)
    .join(',');
  return `{"entries":[${body}],"serviceAccounts":[${accounts}]}`;
}

function checkIdentities(field: string, entries: ReadonlyArray<{ readonly identity: number }>): void {
  for (const [index, entry] of entries.entries()) {
    if (!Number.isInteger(entry.identity) || entry.identity < 0 || entry.identity > 0xffffffff) {
      throw new Error(`encodeIdentityMap: ${field}[${index}].identity ${entry.identity} is not a 32-bit unsigned integer`);
    }
  }
}

export function decodeIdentityMap(value: Uint8Array): { revision: string; entries: IdentityMapEntry[]; serviceAccounts?: ServiceAccountMapEntry[] } {
  const type = envoyMessageType('weir.IdentityMap');
  const message = type.toObject(type.decode(value), { defaults: true, bytes: Uint8Array }) as IdentityMapMessage;
  const parsed = JSON.parse(new TextDecoder().decode(message.compiled)) as { entries: IdentityMapEntry[]; serviceAccounts?: ServiceAccountMapEntry[] };
  return { revision: message.revision, entries: parsed.entries, ...(parsed.serviceAccounts === undefined ? {} : { serviceAccounts: parsed.serviceAccounts }) };
}
