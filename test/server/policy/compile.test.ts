import { describe, expect, it } from 'vitest';
import { endpointFromSpec } from '../../../server/identity/endpoints.ts';
import { IpIdentityMap } from '../../../server/identity/ip-identity-map.ts';
import { parseCidr } from '../../../server/identity/cidr.ts';
import { compilePolicies } from '../../../server/policy/compile.ts';
import { decide } from '../../../server/policy/decide.ts';
import { formatProblem } from '../../../server/policy/policy-problems.ts';
import { serializeEndpointPolicy, serializePolicySet } from '../../../server/policy/serialize.ts';
import { CompiledFixture } from './compile-support.ts';
import { rulesOf } from './support.ts';

const endpoints = [
  { name: 'db', labels: { app: 'db' }, ips: ['127.0.0.10'] },
  { name: 'web', labels: { app: 'web' }, ips: ['127.0.0.11'] },
  { name: 'batch', labels: { app: 'batch' }, ips: ['127.0.0.12'] },
];

const allowWebToDb = `- endpointSelector: { matchLabels: { app: db } }
  ingress:
    - fromEndpoints: [{ matchLabels: { app: web } }]
      toPorts: [{ ports: [{ port: "5432", protocol: TCP }] }]
`;

describe('enforcement and combination', () => {
  it('mode default: a selected direction is default-deny, everything else stays open', () => {
    const f = new CompiledFixture([allowWebToDb], endpoints);
    expect(f.verdict('db', { direction: 'ingress', port: 5432, from: 'web' })).toBe('allow');
    expect(f.verdict('db', { direction: 'ingress', port: 5432, from: 'batch' })).toBe('deny');
    expect(f.verdict('db', { direction: 'ingress', port: 5433, from: 'web' })).toBe('deny');
    expect(f.verdict('db', { direction: 'egress', port: 80, from: 2 })).toBe('allow');
    expect(f.verdict('web', { direction: 'ingress', port: 80, from: 'batch' })).toBe('allow');
    expect(f.endpoint('web').ingress.enforcement).toBe('default-allow');
  });

  it('mode always: an endpoint no rule selects denies everything', () => {
    const f = new CompiledFixture([allowWebToDb], endpoints, 'always');
    expect(f.verdict('web', { direction: 'ingress', port: 80, from: 'batch' })).toBe('deny');
    expect(f.verdict('db', { direction: 'ingress', port: 5432, from: 'web' })).toBe('allow');
  });

  it('mode never: nothing is enforced, not even deny rules', () => {
    const deny = `- endpointSelector: {}
  ingressDeny: [{ fromEntities: [all] }]
`;
    const f = new CompiledFixture([deny], endpoints, 'never');
    expect(f.verdict('db', { direction: 'ingress', port: 5432, from: 'batch' })).toBe('allow');
  });

  it('unions allows from several policies', () => {
    const batchToDb = allowWebToDb.replace('app: web', 'app: batch');
    const f = new CompiledFixture([allowWebToDb, batchToDb], endpoints);
    expect(f.verdict('db', { direction: 'ingress', port: 5432, from: 'web' })).toBe('allow');
    expect(f.verdict('db', { direction: 'ingress', port: 5432, from: 'batch' })).toBe('allow');
  });

  it('lets a deny rule win over an allow, and deny alone switches to default-deny', () => {
    const denyWeb = `- endpointSelector: { matchLabels: { app: db } }
  ingressDeny: [{ fromEndpoints: [{ matchLabels: { app: web } }] }]
`;
    const f = new CompiledFixture([allowWebToDb, denyWeb], endpoints);
    expect(f.verdict('db', { direction: 'ingress', port: 5432, from: 'web' })).toBe('deny');
    const alone = new CompiledFixture([denyWeb], endpoints);
    expect(alone.verdict('db', { direction: 'ingress', port: 5432, from: 'batch' })).toBe('deny');
  });

  it('makes ingress: [{}] select the endpoint without allowing anything', () => {
    const f = new CompiledFixture([`- endpointSelector: { matchLabels: { app: db } }\n  ingress: [{}]\n`], endpoints);
    expect(f.verdict('db', { direction: 'ingress', port: 5432, from: 'web' })).toBe('deny');
    expect(f.endpoint('db').ingress.ports).toEqual([]);
  });

  it('honours enableDefaultDeny: false (the rule restricts nothing by itself)', () => {
    const rule = allowWebToDb.replace('  ingress:', '  enableDefaultDeny: { ingress: false }\n  ingress:');
    const f = new CompiledFixture([rule], endpoints);
    expect(f.verdict('db', { direction: 'ingress', port: 5432, from: 'batch' })).toBe('allow');
  });

  it('lets an L3/L4 allow for a peer override L7 rules for the same peer and port', () => {
    const l7 = `- endpointSelector: { matchLabels: { app: db } }
  ingress:
    - fromEndpoints: [{ matchLabels: { app: web } }]
      toPorts: [{ ports: [{ port: "3333", protocol: TCP }], rules: { l7proto: r2d2, l7: [{ cmd: READ }] } }]
    - fromEndpoints: [{ matchLabels: { app: batch } }]
      toPorts: [{ ports: [{ port: "3333", protocol: TCP }], rules: { l7proto: r2d2, l7: [{ cmd: READ }] } }]
    - fromEndpoints: [{ matchLabels: { app: batch } }]
`;
    const f = new CompiledFixture([l7], endpoints);
    expect(f.verdict('db', { direction: 'ingress', port: 3333, from: 'web', l7Request: { cmd: 'WRITE', file: 'x' } })).toBe('deny');
    expect(f.verdict('db', { direction: 'ingress', port: 3333, from: 'web', l7Request: { cmd: 'READ', file: 'x' } })).toBe('allow');
    expect(f.verdict('db', { direction: 'ingress', port: 3333, from: 'batch', l7Request: { cmd: 'WRITE', file: 'x' } })).toBe('allow');
  });

  it('returns the pending L7 rules for a connection-level decision', () => {
    const l7 = `- endpointSelector: { matchLabels: { app: db } }
  ingress:
    - toPorts: [{ ports: [{ port: "3333", protocol: TCP }], rules: { l7proto: r2d2, l7: [{ cmd: READ }] } }]
`;
    const f = new CompiledFixture([l7], endpoints);
    const decision = decide(f.endpoint('db'), { direction: 'ingress', port: 3333, remoteIdentity: 2 });
    expect(decision.verdict).toBe('allow');
    expect(decision.l7Pending?.map((set) => set.l7proto)).toEqual(['r2d2']);
  });
});

describe('peers to identities', () => {
  it('maps entities to identity sets', () => {
    const rule = (entity: string) => `- endpointSelector: { matchLabels: { app: db } }\n  ingress: [{ fromEntities: [${entity}] }]\n`;
    const world = new CompiledFixture([rule('world')], endpoints);
    expect(world.verdict('db', { direction: 'ingress', port: 1, from: 2 })).toBe('allow');
    expect(world.verdict('db', { direction: 'ingress', port: 1, from: 'web' })).toBe('deny');
    const cluster = new CompiledFixture([rule('cluster')], endpoints);
    expect(cluster.verdict('db', { direction: 'ingress', port: 1, from: 'web' })).toBe('allow');
    expect(cluster.verdict('db', { direction: 'ingress', port: 1, from: 1 })).toBe('allow');
    expect(cluster.verdict('db', { direction: 'ingress', port: 1, from: 2 })).toBe('deny');
    const all = new CompiledFixture([rule('all')], endpoints);
    expect(all.verdict('db', { direction: 'ingress', port: 1, from: 2 })).toBe('allow');
    expect(all.endpoint('db').ingress.ports[0]?.rules[0]?.remotes).toBe('any');
    const host = new CompiledFixture([rule('host')], endpoints);
    expect(host.endpoint('db').ingress.ports[0]?.rules[0]?.remotes).toEqual([1]);
    const init = new CompiledFixture([rule('init'), rule('unmanaged'), rule('remote-node')], endpoints);
    expect(init.endpoint('db').ingress.ports[0]?.rules.map((r) => r.remotes)).toEqual([[3], [5], [6]]);
  });

  it('gives policy CIDRs local identities and resolves except ranges through the IP map', () => {
    const f = new CompiledFixture(
      [`- endpointSelector: { matchLabels: { app: db } }\n  ingress: [{ fromCIDRSet: [{ cidr: 10.0.0.0/8, except: [10.96.0.0/12] }] }]\n`],
      endpoints,
    );
    const map = new IpIdentityMap();
    for (const entry of f.policySet.ipIdentities) {
      const parsed = parseCidr(entry.cidr);
      if (parsed.ok) map.set(parsed.cidr, entry.identity);
    }
    const inside = map.lookup('10.1.2.3');
    const excluded = map.lookup('10.96.1.1');
    expect(inside).toBeGreaterThanOrEqual(1 << 24);
    expect(excluded).toBeGreaterThanOrEqual(1 << 24);
    expect(f.verdict('db', { direction: 'ingress', port: 1, from: inside })).toBe('allow');
    expect(f.verdict('db', { direction: 'ingress', port: 1, from: excluded })).toBe('deny');
    expect(f.verdict('db', { direction: 'ingress', port: 1, from: map.lookup('192.168.0.1') })).toBe('deny');
    // An endpoint inside the CIDR keeps its own identity: CIDR rules are for non-endpoint peers.
    expect(f.verdict('db', { direction: 'ingress', port: 1, from: 'web' })).toBe('deny');
  });

  it('selects by service account and confines namespaced policies to their namespace', () => {
    const policy = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: k8s-svc-account, namespace: default }
spec:
  endpointSelector: { matchLabels: { io.cilium.k8s.policy.serviceaccount: leia } }
  ingress:
    - fromEndpoints: [{ matchLabels: { io.cilium.k8s.policy.serviceaccount: luke } }]
      toPorts: [{ ports: [{ port: "80", protocol: TCP }] }]
`;
    const f = new CompiledFixture([policy], [
      { name: 'leia', namespace: 'default', serviceAccount: 'leia', labels: {}, ips: ['127.0.0.20'] },
      { name: 'luke', namespace: 'default', serviceAccount: 'luke', labels: {}, ips: ['127.0.0.21'] },
      { name: 'luke-elsewhere', namespace: 'other', serviceAccount: 'luke', labels: {}, ips: ['127.0.0.22'] },
      { name: 'leia-elsewhere', namespace: 'other', serviceAccount: 'leia', labels: {}, ips: ['127.0.0.23'] },
    ]);
    expect(f.verdict('leia', { direction: 'ingress', port: 80, from: 'luke' })).toBe('allow');
    expect(f.verdict('leia', { direction: 'ingress', port: 80, from: 'luke-elsewhere' })).toBe('deny');
    expect(f.endpoint('leia-elsewhere').ingress.enforcement).toBe('default-allow');
  });

  it('gives an endpoint with unknown labels the init identity and the rules selecting reserved:init', () => {
    const initPolicy = `- endpointSelector: { matchLabels: { "reserved:init": "" } }
  egress: [{ toEntities: [all], toPorts: [{ ports: [{ port: "53", protocol: UDP }] }] }]
`;
    const f = new CompiledFixture([initPolicy], [...endpoints, { name: 'starting', ips: ['127.0.0.30'] }]);
    expect(f.identity('starting')).toBe(5);
    expect(f.verdict('starting', { direction: 'egress', port: 53, protocol: 'UDP', from: 2 })).toBe('allow');
    expect(f.verdict('starting', { direction: 'egress', port: 80, from: 2 })).toBe('deny');
    expect(f.verdict('web', { direction: 'egress', port: 80, from: 2 })).toBe('allow');
  });
});

describe('compile errors', () => {
  it('rejects two L7 protocols on one port of one endpoint, naming both origins', () => {
    const rules = rulesOf(`- endpointSelector: { matchLabels: { app: db } }
  ingress:
    - toPorts: [{ ports: [{ port: "3333", protocol: TCP }], rules: { l7proto: r2d2, l7: [{}] } }]
    - toPorts: [{ ports: [{ port: "3333", protocol: TCP }], rules: { l7proto: memcache, l7: [{}] } }]
`, 'policies/mixed.yaml');
    const result = compilePolicies({ rules, endpoints: endpoints.map(endpointFromSpec), enforcementMode: 'default' });
    expect(result.ok ? [] : result.problems.map(formatProblem)).toEqual([
      'policies/mixed.yaml: [0].ingress[0]: endpoint "db" ingress port 3333/TCP: l7proto "r2d2" conflicts with "memcache" from policies/mixed.yaml [0].ingress[1]; one port carries one L7 protocol',
    ]);
  });
});

describe('serialisation', () => {
  it('is deterministic: the same rules and endpoints in another order give the same bytes and revision', () => {
    const text = `- endpointSelector: { matchLabels: { app: db } }
  ingress:
    - fromEndpoints: [{ matchLabels: { app: web } }, { matchLabels: { app: batch } }]
      toPorts: [{ ports: [{ port: "11211", protocol: TCP }], rules: { l7proto: memcache, l7: [{ command: get, keyRegex: "^a.*b$" }] } }]
`;
    const first = compilePolicies({ rules: rulesOf(text), endpoints: endpoints.map(endpointFromSpec), enforcementMode: 'default' });
    const second = compilePolicies({ rules: rulesOf(text), endpoints: [...endpoints].reverse().map(endpointFromSpec), enforcementMode: 'default' });
    if (!first.ok || !second.ok) throw new Error('compile failed');
    expect(serializePolicySet(first.policySet)).toEqual(serializePolicySet(second.policySet));
    const changed = compilePolicies({ rules: rulesOf(text.replace('^a.*b$', '^a.*c$')), endpoints: endpoints.map(endpointFromSpec), enforcementMode: 'default' });
    if (!changed.ok) throw new Error('compile failed');
    expect(serializePolicySet(changed.policySet).revision).not.toBe(serializePolicySet(first.policySet).revision);
  });

  it('writes L7 constraints in the filter SDK shape', () => {
    const f = new CompiledFixture([`- endpointSelector: { matchLabels: { app: db } }
  ingress:
    - toPorts: [{ ports: [{ port: "11211", protocol: TCP }], rules: { l7proto: memcache, l7: [{ command: get, keyPrefix: "a/" }, { command: set, keyExact: k }] } }]
`], endpoints);
    const json = JSON.parse(serializeEndpointPolicy(f.endpoint('db')).json) as {
      format: string;
      ingress: { ports: Array<{ rules: Array<{ l7: { rules: Array<Record<string, unknown>> } }> }> };
    };
    expect(json.format).toBe('weir.policy/v1');
    const [prefixRule, exactRule] = json.ingress.ports[0]?.rules[0]?.l7.rules ?? [];
    expect(prefixRule?.['command']).toEqual({ exact: 'get', textCommands: ['get', 'gets', 'bget', 'mg'], binaryOpcodes: [0, 9, 12, 13] });
    expect(prefixRule?.['keyPrefix']).toMatchObject({ prefix: 'a/', dfa: { start: 0, classCount: expect.any(Number) } });
    expect(exactRule?.['keyExact']).toBe('k');
  });
});
