// Identities shared by several `weir serve` replicas. Every replica must give a label set the same
// number, also when two label sets hash to the same number: a replica alone resolves such a
// collision by what it happened to see first, and two replicas can see label sets in different
// orders. So the number is claimed in a store every replica shares (an etcd transaction, or the
// create of a CiliumIdentity object in Kubernetes), which accepts exactly one claim per number.
// Probing starts where the local allocator starts (the label text's SHA-256) and walks the same
// way, so without collisions the shared number equals the local one. Knows nothing of etcd or
// Kubernetes: each store gives an IdentityClaims.
import { hashToOffset, type IdentityRange } from './identity-allocator.ts';
import { FIRST_WORKLOAD_IDENTITY, LAST_WORKLOAD_IDENTITY } from './reserved-identities.ts';

/** The one primitive a shared store gives: an atomic claim of a number for a label set. */
export interface IdentityClaims {
  /** The number already claimed for `key`, if the store knows one. */
  lookup(key: string): Promise<number | undefined>;
  /** Claims `identity` for `key` unless it is claimed; returns the key that holds it afterwards. */
  claim(identity: number, key: string): Promise<string>;
}

export interface SharedIdentityTable {
  /** The shared number of each label set (canonical label text), claiming those not claimed yet. */
  allocate(keys: readonly string[]): Promise<ReadonlyMap<string, number>>;
}

export const WORKLOAD_RANGE: IdentityRange = { first: FIRST_WORKLOAD_IDENTITY, last: LAST_WORKLOAD_IDENTITY };

export function sharedIdentityTable(claims: IdentityClaims, range: IdentityRange = WORKLOAD_RANGE): SharedIdentityTable {
  const known = new Map<string, number>();
  const allocateOne = async (key: string): Promise<number> => {
    const cached = known.get(key);
    if (cached !== undefined) return cached;
    const found = await claims.lookup(key);
    if (found !== undefined) {
      known.set(key, found);
      return found;
    }
    const size = range.last - range.first + 1;
    const start = hashToOffset(key, size);
    for (let step = 0; step < size; step++) {
      const candidate = range.first + ((start + step) % size);
      const holder = await claims.claim(candidate, key);
      if (holder === key) {
        known.set(key, candidate);
        return candidate;
      }
    }
    throw new Error(`identity range ${range.first}..${range.last} is exhausted in the shared store; remove unused identities`);
  };
  return {
    async allocate(keys) {
      const result = new Map<string, number>();
      // Canonical order, one at a time: replicas racing for colliding label sets probe alike.
      for (const key of [...new Set(keys)].sort()) result.set(key, await allocateOne(key));
      return result;
    },
  };
}
