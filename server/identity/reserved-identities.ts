// Cilium's reserved numeric identities and the labels they stand for. Every Weir component that
// prints or matches identities takes the numbers from here, so they cannot drift from Cilium's.
import type { Label } from './labels.ts';

export const ReservedIdentity = {
  host: 1,
  world: 2,
  unmanaged: 3,
  health: 4,
  init: 5,
  'remote-node': 6,
} as const;

export type ReservedIdentityName = keyof typeof ReservedIdentity;

export const RESERVED_IDENTITY_NAMES = Object.keys(ReservedIdentity) as ReservedIdentityName[];

/** Workload identities are allocated in Cilium's cluster-scoped range. */
export const FIRST_WORKLOAD_IDENTITY = 256;
export const LAST_WORKLOAD_IDENTITY = 65535;

/** CIDR identities carry bit 24, as Cilium's locally-scoped identities do. */
export const LOCAL_IDENTITY_FLAG = 1 << 24;
export const LAST_LOCAL_IDENTITY = LOCAL_IDENTITY_FLAG + 0xffffff;

export function reservedLabels(name: ReservedIdentityName): Label[] {
  return [{ source: 'reserved', key: name, value: '' }];
}

export function reservedIdentityName(identity: number): ReservedIdentityName | undefined {
  return RESERVED_IDENTITY_NAMES.find((name) => ReservedIdentity[name] === identity);
}
