// Every identity the compiler can name, with its labels: Cilium's reserved identities, one per
// distinct endpoint label set, one CIDR identity per prefix that a policy names, and one per
// service account (namespace + service account) for peers known only by a SPIFFE ID. Resolves a
// rule's peers (selectors, entities, CIDRs) to sets of these identities, and builds the IP ->
// identity map and the service account -> identity map that go with them.
//
// A SPIFFE ID (spiffe://TRUST_DOMAIN/ns/NS/sa/SA) proves a peer's namespace and service account,
// not its pod labels. So its identity carries only the labels those two determine (namespace,
// service account, Cilium's namespace labels): an allow rule covers it only when its selector
// matches those labels alone (fail closed), while a deny rule covers it as soon as it covers any
// endpoint running under that service account, so a deny on `app=x` cannot be stepped around by
// presenting x's certificate instead of x's address.
import { cidrContains, formatCidr, type Cidr } from '../identity/cidr.ts';
import type { Endpoint } from '../identity/endpoints.ts';
import { IdentityAllocator } from '../identity/identity-allocator.ts';
import { IpIdentityMap } from '../identity/ip-identity-map.ts';
import { labelSetKey, NAMESPACE_LABEL, NAMESPACE_LABELS_PREFIX, SERVICE_ACCOUNT_LABEL, type Label } from '../identity/labels.ts';
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
  readonly kind: 'reserved' | 'endpoint' | 'cidr' | 'service-account';
  /** For CIDR identities: the prefix. */
  readonly cidr?: Cidr;
  /** For endpoint and service-account identities: the namespace and service account, when both are known. */
  readonly account?: ServiceAccountKey;
}

/** A Kubernetes service account, as a SPIFFE ID names it (`ns/NS/sa/SA`). */
export interface ServiceAccountKey {
  readonly namespace: string;
  readonly serviceAccount: string;
}

export interface ServiceAccountIdentity extends ServiceAccountKey {
  readonly identity: number;
}

/** Whether a peer list grants (allow rules) or takes away (deny rules). */
export type PeerPurpose = 'allow' | 'deny';

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
  /** Namespace/service account -> the identity of a peer known by that SPIFFE ID. */
  readonly serviceAccounts: ServiceAccountIdentity[] = [];
  private readonly endpointIdentity = new Map<string, number>();

  constructor(rules: readonly PolicyRule[], endpoints: readonly Endpoint[], allocators: IdentityAllocators) {
    for (const name of RESERVED_IDENTITY_NAMES) {
      this.records.push({ identity: ReservedIdentity[name], labels: reservedLabels(name), kind: 'reserved' });
    }
    this.addCidrIdentities(rules, allocators.cidrs);
    this.addEndpointIdentities(endpoints, allocators.workloads);
    this.addServiceAccountIdentities(allocators.workloads);
    this.records.sort((a, b) => a.identity - b.identity);
  }

  identityOfEndpoint(name: string): number {
    return this.endpointIdentity.get(name) ?? ReservedIdentity.init;
  }

  /**
   * The identities a list of peers covers; an empty list means any remote. For a deny rule a
   * service account's identity is covered as soon as one endpoint under that account is.
   */
  resolvePeers(peers: readonly PeerSelector[], purpose: PeerPurpose = 'allow'): RemoteSet {
    if (peers.length === 0) return 'any';
    const result = new Set<number>();
    for (const peer of peers) {
      const resolved = this.resolvePeer(peer);
      if (resolved === 'any') return 'any';
      for (const identity of resolved) result.add(identity);
    }
    if (purpose === 'deny') this.addAccountsOfCovered(result);
    return result;
  }

  private addAccountsOfCovered(covered: Set<number>): void {
    const coveredAccounts = new Set<string>();
    for (const record of this.records) {
      if (record.kind === 'endpoint' && record.account !== undefined && covered.has(record.identity)) coveredAccounts.add(accountKey(record.account));
    }
    for (const account of this.serviceAccounts) if (coveredAccounts.has(accountKey(account))) covered.add(account.identity);
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
        return new Set([...of('reserved').filter((id) => id !== ReservedIdentity.world), ...of('endpoint'), ...of('service-account')]);
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
        const account = accountOf(endpoint.labels);
        this.records.push({ identity, labels: endpoint.labels, kind: 'endpoint', ...(account === undefined ? {} : { account }) });
      }
      for (const ip of endpoint.ips) {
        const parsed = parseCidr(ip);
        if (parsed.ok) this.ipMap.set(parsed.cidr, identity);
      }
    }
  }

  /**
   * One identity per service account that endpoints run under, labelled with what a SPIFFE ID
   * proves: the namespace, the service account, and the namespace's own labels (those every
   * endpoint of the account shares). A label set equal to an endpoint's gets that endpoint's identity.
   */
  private addServiceAccountIdentities(allocator: IdentityAllocator): void {
    const byAccount = new Map<string, { account: ServiceAccountKey; labels: Label[] }>();
    for (const record of this.records) {
      if (record.kind !== 'endpoint' || record.account === undefined) continue;
      const key = accountKey(record.account);
      const proven = record.labels.filter(isProvenBySpiffeId);
      const known = byAccount.get(key);
      if (known === undefined) byAccount.set(key, { account: record.account, labels: proven });
      else known.labels = known.labels.filter((label) => proven.some((other) => labelSetKey([other]) === labelSetKey([label])));
    }
    const identities = allocator.identitiesFor([...byAccount.values()].map((entry) => entry.labels));
    const recorded = new Set(this.records.map((record) => record.identity));
    for (const { account, labels } of [...byAccount.values()].sort((a, b) => (accountKey(a.account) < accountKey(b.account) ? -1 : 1))) {
      const identity = identities.get(labelSetKey(labels)) ?? ReservedIdentity.world;
      this.serviceAccounts.push({ ...account, identity });
      if (!recorded.has(identity)) {
        recorded.add(identity);
        this.records.push({ identity, labels, kind: 'service-account', account });
      }
    }
  }
}

/** Labels a SPIFFE ID's namespace and service account determine. */
function isProvenBySpiffeId(label: Label): boolean {
  return label.source === 'k8s' && (label.key === NAMESPACE_LABEL || label.key === SERVICE_ACCOUNT_LABEL || label.key.startsWith(NAMESPACE_LABELS_PREFIX));
}

function accountOf(labels: readonly Label[]): ServiceAccountKey | undefined {
  const namespace = labels.find((label) => label.source === 'k8s' && label.key === NAMESPACE_LABEL)?.value;
  const serviceAccount = labels.find((label) => label.source === 'k8s' && label.key === SERVICE_ACCOUNT_LABEL)?.value;
  return namespace === undefined || serviceAccount === undefined || namespace === '' || serviceAccount === '' ? undefined : { namespace, serviceAccount };
}

function accountKey(account: ServiceAccountKey): string {
  return `${account.namespace}/${account.serviceAccount}`;
}

function cidrLabels(cidrText: string): Label[] {
  return [
    { source: 'cidr', key: cidrText, value: '' },
    { source: 'reserved', key: 'world', value: '' },
  ];
}

