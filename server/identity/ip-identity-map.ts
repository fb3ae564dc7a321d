// Maps IP addresses to identities by longest-prefix match over IPv4 and IPv6 CIDR entries; an
// address no entry covers is `world`. Filled from endpoint IPs (host routes) and from the CIDRs
// that policies name; serialised for the weir.IdentityMap resource by the compiler.
import { formatCidr, maskAddress, parseIp, type Cidr, type IpFamily } from './cidr.ts';
import { ReservedIdentity } from './reserved-identities.ts';

export interface IpIdentityEntry {
  readonly cidr: string;
  readonly identity: number;
}

export class IpIdentityMap {
  /** Per family, per prefix length: network -> identity. */
  private readonly tables = new Map<IpFamily, Map<number, Map<bigint, number>>>([
    [4, new Map()],
    [6, new Map()],
  ]);

  /** Adds or replaces the identity of one prefix. */
  set(cidr: Cidr, identity: number): void {
    const byLength = this.tables.get(cidr.family);
    if (byLength === undefined) return;
    let table = byLength.get(cidr.prefixLength);
    if (table === undefined) byLength.set(cidr.prefixLength, (table = new Map()));
    table.set(cidr.network, identity);
  }

  /** The identity of the longest prefix containing `ip`; world when none does or `ip` is not an address. */
  lookup(ip: string): number {
    const address = parseIp(ip);
    if (address === undefined) return ReservedIdentity.world;
    const byLength = this.tables.get(address.family);
    if (byLength === undefined) return ReservedIdentity.world;
    const lengths = [...byLength.keys()].sort((a, b) => b - a);
    for (const length of lengths) {
      const identity = byLength.get(length)?.get(maskAddress(address.value, address.family, length));
      if (identity !== undefined) return identity;
    }
    return ReservedIdentity.world;
  }

  /** Every entry, IPv4 first, then by network and prefix length: a deterministic order for hashing. */
  entries(): IpIdentityEntry[] {
    const result: Array<IpIdentityEntry & { sortKey: [number, bigint, number] }> = [];
    for (const [family, byLength] of this.tables) {
      for (const [prefixLength, table] of byLength) {
        for (const [network, identity] of table) {
          result.push({ cidr: formatCidr({ family, network, prefixLength }), identity, sortKey: [family, network, prefixLength] });
        }
      }
    }
    result.sort((a, b) => compareSortKeys(a.sortKey, b.sortKey));
    return result.map(({ cidr, identity }) => ({ cidr, identity }));
  }
}

function compareSortKeys(a: [number, bigint, number], b: [number, bigint, number]): number {
  if (a[0] !== b[0]) return a[0] - b[0];
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return a[2] - b[2];
}
