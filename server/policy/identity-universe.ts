// Every identity the compiler can name, with its labels: Cilium's reserved identities, one per
// distinct endpoint label set, and one CIDR identity per prefix that a policy names. Resolves a
// rule's peers (selectors, entities, CIDRs) to sets of these identities, and builds the IP ->
// identity map that goes with them.
import { cidrContains, formatCidr, type Cidr } from '../identity/cidr.ts';
import type { Endpoint } from '../identity/endpoints.ts';
import { IdentityAllocator } from '../identity/identity-allocator.ts';
import { IpIdentityMap } from '../identity/ip-identity-map.ts';
import { labelSetKey, type Label } from '../identity/labels.ts';
import {
  FIRST_WORKLOAD_IDENTITY,
  LAST_LOCAL_IDENTITY,
  LAST_WORKLOAD_IDENTITY,
  LOCAL_IDENTITY_FLAG,
  RESERVED_IDENTITY_NAMES,
  ReservedIdentity,
  reservedLabels,
} from '../identity/reserved-identities.ts';
import { parseCidr } from '../identity/cidr.ts';
import type { Entity, PeerSelector, PolicyRule } from './policy-model.ts';
import { selectorMatches } from './selector.ts';

export interface IdentityRecord {
  readonly identity: number;
  readonly labels: readonly Label[];
  readonly kind: 'reserved' | 'endpoint' | 'cidr';
  /** For CIDR identities: the prefix. */
  readonly cidr?: Cidr;
}

/** A set of remote identities, or every remote. */
export type RemoteSet = 'any' | ReadonlySet<number>;

export interface IdentityAllocators {
  readonly workloads: IdentityAllocator;
  readonly cidrs: IdentityAllocator;
}

export function createIdentityAllocators(): IdentityAllocators {
  return {
    workloads: new IdentityAllocator({ first: FIRST_WORKLOAD_IDENTITY, last: LAST_WORKLOAD_IDENTITY }),
    cidrs: new IdentityAllocator({ first: LOCAL_IDENTITY_FLAG, last: LAST_LOCAL_IDENTITY }),
  };
}

export class IdentityUniverse {
  readonly records: IdentityRecord[] = [];
  readonly ipMap = new IpIdentityMap();
  private readonly endpointIdentity = new Map<string, number>();

  constructor(rules: readonly PolicyRule[], endpoints: readonly Endpoint[], allocators: IdentityAllocators) {
    for (const name of RESERVED_IDENTITY_NAMES) {
      this.records.push({ identity: ReservedIdentity[name], labels: reservedLabels(name), kind: 'reserved' });
    }
    this.addCidrIdentities(rules, allocators.cidrs);
    this.addEndpointIdentities(endpoints, allocators.workloads);
    this.records.sort((a, b) => a.identity - b.identity);
  }

  identityOfEndpoint(name: string): number {
    return this.endpointIdentity.get(name) ?? ReservedIdentity.init;
  }

  /** The identities a list of peers allows; an empty list means any remote. */
  resolvePeers(peers: readonly PeerSelector[]): RemoteSet {
    if (peers.length === 0) return 'any';
    const result = new Set<number>();
    for (const peer of peers) {
      const resolved = this.resolvePeer(peer);
      if (resolved === 'any') return 'any';
      for (const identity of resolved) result.add(identity);
    }
    return result;
  }

  private resolvePeer(peer: PeerSelector): RemoteSet {
    if (peer.kind === 'endpoints') {
      return new Set(this.records.filter((record) => selectorMatches(peer.selector, record.labels)).map((r) => r.identity));
    }
    if (peer.kind === 'entity') return this.resolveEntity(peer.entity);
    return this.resolveCidr(peer.cidr, peer.except);
  }

  private resolveEntity(entity: Entity): RemoteSet {
    const of = (kind: IdentityRecord['kind']): number[] => this.records.filter((r) => r.kind === kind).map((r) => r.identity);
    switch (entity) {
      case 'all':
        return 'any';
      case 'none':
        return new Set();
      case 'world':
        return new Set([ReservedIdentity.world, ...of('cidr')]);
      case 'cluster':
        return new Set([...of('reserved').filter((id) => id !== ReservedIdentity.world), ...of('endpoint')]);
      default:
        return new Set([ReservedIdentity[entity]]);
    }
  }

  /** CIDR identities inside `cidr` and outside every `except`; the whole address space also means world. */
  private resolveCidr(cidr: Cidr, except: readonly Cidr[]): RemoteSet {
    const result = new Set<number>();
    if (cidr.prefixLength === 0) result.add(ReservedIdentity.world);
    for (const record of this.records) {
      if (record.cidr === undefined || !cidrContains(cidr, record.cidr)) continue;
      if (except.some((excluded) => cidrContains(excluded, record.cidr as Cidr))) continue;
      result.add(record.identity);
    }
    return result;
  }

  private addCidrIdentities(rules: readonly PolicyRule[], allocator: IdentityAllocator): void {
    const prefixes = new Map<string, Cidr>();
    for (const rule of rules) {
      for (const peerRule of [...rule.ingress, ...rule.egress, ...rule.ingressDeny, ...rule.egressDeny]) {
        for (const peer of peerRule.peers) {
          if (peer.kind !== 'cidr') continue;
          for (const cidr of [peer.cidr, ...peer.except]) if (cidr.prefixLength > 0) prefixes.set(formatCidr(cidr), cidr);
        }
      }
    }
    const labelSets = [...prefixes.keys()].map(cidrLabels);
    const identities = allocator.identitiesFor(labelSets);
    for (const [text, cidr] of prefixes) {
      const labels = cidrLabels(text);
      const identity = identities.get(labelSetKey(labels)) ?? ReservedIdentity.world;
      this.records.push({ identity, labels, kind: 'cidr', cidr });
      this.ipMap.set(cidr, identity);
    }
  }

  private addEndpointIdentities(endpoints: readonly Endpoint[], allocator: IdentityAllocator): void {
    const known = endpoints.filter((endpoint) => endpoint.labelsKnown);
    const identities = allocator.identitiesFor(known.map((endpoint) => endpoint.labels));
    const added = new Set<number>();
    for (const endpoint of endpoints) {
      const identity = endpoint.labelsKnown ? (identities.get(labelSetKey(endpoint.labels)) ?? ReservedIdentity.init) : ReservedIdentity.init;
      this.endpointIdentity.set(endpoint.name, identity);
      if (endpoint.labelsKnown && !added.has(identity)) {
        added.add(identity);
        this.records.push({ identity, labels: endpoint.labels, kind: 'endpoint' });
      }
      for (const ip of endpoint.ips) {
        const parsed = parseCidr(ip);
        if (parsed.ok) this.ipMap.set(parsed.cidr, identity);
      }
    }
  }
}

function cidrLabels(cidrText: string): Label[] {
  return [
    { source: 'cidr', key: cidrText, value: '' },
    { source: 'reserved', key: 'world', value: '' },
  ];
}

