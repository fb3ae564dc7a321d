// The order in which resource types are pushed when several change at once: clusters, endpoints,
// listeners, routes, extension configs (make-before-break, so nothing warms on a missing
// dependency). Unknown types (Weir's own) go last. Removals use the reverse.
import { CLUSTER_TYPE_URL } from './cluster.ts';
import { ENDPOINT_TYPE_URL } from './endpoint.ts';
import { LISTENER_TYPE_URL } from './listener.ts';
import { ROUTE_TYPE_URL } from './route.ts';
import { EXTENSION_CONFIG_TYPE_URL } from './extension-config.ts';

export type EnvoyTypeUrl =
  | typeof CLUSTER_TYPE_URL
  | typeof ENDPOINT_TYPE_URL
  | typeof LISTENER_TYPE_URL
  | typeof ROUTE_TYPE_URL
  | typeof EXTENSION_CONFIG_TYPE_URL;

export const PUSH_ORDER: readonly EnvoyTypeUrl[] = [
  CLUSTER_TYPE_URL,
  ENDPOINT_TYPE_URL,
  LISTENER_TYPE_URL,
  ROUTE_TYPE_URL,
  EXTENSION_CONFIG_TYPE_URL,
];

/** Smaller pushes first. */
export function pushRank(typeUrl: string): number {
  const rank = PUSH_ORDER.findIndex((known) => known === typeUrl);
  return rank === -1 ? PUSH_ORDER.length : rank;
}

