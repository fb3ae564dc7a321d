// weir.IdentityMap resources (protos/weir/identity_map.proto): the type URL and an encoder for the
// IP prefix -> identity map, served as one resource named "default".
import { encodeResource, type EncodedResource } from './encoded-resource.ts';

export const IDENTITY_MAP_TYPE_URL = 'type.googleapis.com/weir.IdentityMap' as const;
export type IdentityMapTypeUrl = typeof IDENTITY_MAP_TYPE_URL;
export const IDENTITY_MAP_RESOURCE_NAME = 'default';

export interface IdentityMapEntry {
  cidr: string;
  identity: number;
}

export function encodeIdentityMap(revision: number, entries: readonly IdentityMapEntry[]): EncodedResource {
  return encodeResource(IDENTITY_MAP_TYPE_URL, IDENTITY_MAP_RESOURCE_NAME, { revision, entries: [...entries] });
}
