// Compiles validated rules and the known endpoints into per-endpoint policy (compiled-policy.ts),
// with Cilium's combination rules: rules selecting an endpoint are unioned; a direction becomes
// default-deny once a selecting rule has rules in it (mode default); deny wins; mode always denies
// what nothing allows, mode never enforces nothing. Peers become identity sets here, once, so
// enforcement is set membership. Also rejects what cannot be enforced: two L7 protocols on one port.
import { formatLabel } from '../identity/labels.ts';
import type { Endpoint } from '../identity/endpoints.ts';
import type { CompiledDirectionPolicy, CompiledEndpointPolicy, CompiledPolicySet, CompiledPortPolicy, CompiledPortRule, DirectionEnforcement } from './compiled-policy.ts';
import { createIdentityAllocators, IdentityUniverse, type IdentityAllocators } from './identity-universe.ts';
import { DIRECTIONS, type Direction, type EnforcementMode, type PeerRule, type PolicyRule, type PortRange } from './policy-model.ts';
import type { PolicyProblem } from './policy-problems.ts';
import { selectorMatches } from './selector.ts';

export interface CompilePolicyOptions {
  readonly rules: readonly PolicyRule[];
  readonly endpoints: readonly Endpoint[];
  readonly enforcementMode: EnforcementMode;
  /** Pass the same allocators on every compile to keep identities stable across changes. */
  readonly allocators?: IdentityAllocators;
}

export type CompilePolicyResult = { ok: true; policySet: CompiledPolicySet } | { ok: false; problems: PolicyProblem[] };

export function compilePolicies(options: CompilePolicyOptions): CompilePolicyResult {
  const universe = new IdentityUniverse(options.rules, options.endpoints, options.allocators ?? createIdentityAllocators());
  const problems: PolicyProblem[] = [];
  const endpoints = [...options.endpoints]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((endpoint) => compileEndpoint(endpoint, options, universe, problems));
  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    policySet: {
      enforcementMode: options.enforcementMode,
      identities: universe.records.map((record) => ({ identity: record.identity, labels: record.labels.map(formatLabel) })),
      ipIdentities: universe.ipMap.entries(),
      serviceAccountIdentities: universe.serviceAccounts.map((entry) => ({ namespace: entry.namespace, serviceAccount: entry.serviceAccount, identity: entry.identity })),
      endpoints,
    },
  };
}

function compileEndpoint(endpoint: Endpoint, options: CompilePolicyOptions, universe: IdentityUniverse, problems: PolicyProblem[]): CompiledEndpointPolicy {
  const selecting = options.rules.filter((rule) => selectorMatches(rule.endpointSelector, endpoint.labels));
  const [ingress, egress] = DIRECTIONS.map((direction) => compileDirection(direction, selecting, options.enforcementMode, universe)) as [
    CompiledDirectionPolicy,
    CompiledDirectionPolicy,
  ];
  for (const direction of DIRECTIONS) checkOneL7ProtocolPerPort(endpoint.name, direction, direction === 'ingress' ? ingress : egress, problems);
  const compiled = { endpoint: endpoint.name, identity: universe.identityOfEndpoint(endpoint.name), ips: [...endpoint.ips].sort(), ingress, egress };
  return endpoint.namespace === undefined ? compiled : { ...compiled, namespace: endpoint.namespace };
}

function compileDirection(direction: Direction, rules: readonly PolicyRule[], mode: EnforcementMode, universe: IdentityUniverse): CompiledDirectionPolicy {
  if (mode === 'never') return { enforcement: 'none', ports: [] };
  const allowLists = rules.map((rule) => ({ rule, entries: direction === 'ingress' ? rule.ingress : rule.egress }));
  const denyLists = rules.map((rule) => ({ rule, entries: direction === 'ingress' ? rule.ingressDeny : rule.egressDeny }));
  const selected = [...allowLists, ...denyLists].some(({ rule, entries }) => entries.length > 0 && rule.defaultDeny[direction]);
  const enforcement: DirectionEnforcement = mode === 'always' || selected ? 'default-deny' : 'default-allow';
  const portRules = new Map<string, { range: PortRange; rules: Map<string, CompiledPortRule> }>();
  for (const { rule, entries } of allowLists) for (const entry of entries) addPeerRule(portRules, rule, entry, 'allow', universe);
  for (const { rule, entries } of denyLists) for (const entry of entries) addPeerRule(portRules, rule, entry, 'deny', universe);
  const ports: CompiledPortPolicy[] = [...portRules.values()]
    .sort((a, b) => a.range.port - b.range.port || a.range.endPort - b.range.endPort || (a.range.protocol < b.range.protocol ? -1 : 1))
    .map(({ range, rules: byKey }) => ({ ...range, rules: [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, r]) => r) }));
  return { enforcement, ports };
}

function addPeerRule(
  portRules: Map<string, { range: PortRange; rules: Map<string, CompiledPortRule> }>,
  rule: PolicyRule,
  entry: PeerRule,
  verdict: 'allow' | 'deny',
  universe: IdentityUniverse,
): void {
  if (entry.allowsNothing) return;
  const resolved = universe.resolvePeers(entry.peers, verdict);
  if (resolved !== 'any' && resolved.size === 0) return;
  const remotes = resolved === 'any' ? 'any' : [...resolved].sort((a, b) => a - b);
  const origin = describeOrigin(rule, entry);
  const portEntries = entry.ports.length === 0 ? [{ ports: [{ port: 0, endPort: 0, protocol: 'ANY' as const }], l7: undefined }] : entry.ports;
  for (const portRule of portEntries) {
    for (const range of portRule.ports) {
      const rangeKey = `${range.port}-${range.endPort}/${range.protocol}`;
      let bucket = portRules.get(rangeKey);
      if (bucket === undefined) portRules.set(rangeKey, (bucket = { range, rules: new Map() }));
      const l7 = portRule.l7 === undefined ? undefined : { l7proto: portRule.l7.l7proto, rules: portRule.l7.rules };
      const compiled: CompiledPortRule = l7 === undefined ? { verdict, remotes, origins: [origin] } : { verdict, remotes, l7, origins: [origin] };
      const key = ruleKey(compiled);
      const existing = bucket.rules.get(key);
      bucket.rules.set(key, existing === undefined ? compiled : { ...existing, origins: [...new Set([...existing.origins, origin])].sort() });
    }
  }
}

/** Identity of a compiled rule for de-duplication: everything but where it came from. */
function ruleKey(rule: CompiledPortRule): string {
  return JSON.stringify([rule.verdict, rule.remotes, rule.l7 === undefined ? null : [rule.l7.l7proto, rule.l7.rules]], (_key, value: unknown) =>
    value instanceof Uint8Array || value instanceof Uint16Array ? Array.from(value) : value,
  );
}

function describeOrigin(rule: PolicyRule, entry: PeerRule): string {
  const document = rule.origin.document === undefined ? '' : ` document ${rule.origin.document}`;
  return `${rule.origin.file}${document} ${entry.path}`;
}

function checkOneL7ProtocolPerPort(endpoint: string, direction: Direction, policy: CompiledDirectionPolicy, problems: PolicyProblem[]): void {
  const withL7 = policy.ports.flatMap((port) => port.rules.filter((rule) => rule.l7 !== undefined).map((rule) => ({ port, rule })));
  for (let i = 0; i < withL7.length; i++) {
    for (let j = i + 1; j < withL7.length; j++) {
      const a = withL7[i];
      const b = withL7[j];
      if (a === undefined || b === undefined || a.rule.l7?.l7proto === b.rule.l7?.l7proto || !rangesOverlap(a.port, b.port)) continue;
      const [file, ...path] = (b.rule.origins[0] ?? '').split(' ');
      problems.push({
        file: file ?? '',
        path: path.join(' '),
        message:
          `endpoint "${endpoint}" ${direction} port ${describeRange(b.port)}: l7proto "${b.rule.l7?.l7proto}" conflicts with ` +
          `"${a.rule.l7?.l7proto}" from ${a.rule.origins.join(', ')}; one port carries one L7 protocol`,
      });
    }
  }
}

function rangesOverlap(a: PortRange, b: PortRange): boolean {
  const protocolsOverlap = a.protocol === 'ANY' || b.protocol === 'ANY' || a.protocol === b.protocol;
  return protocolsOverlap && a.port <= b.endPort && b.port <= a.endPort;
}

function describeRange(range: PortRange): string {
  return `${range.port}${range.endPort !== range.port ? `-${range.endPort}` : ''}/${range.protocol}`;
}
