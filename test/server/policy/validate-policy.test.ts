import { describe, expect, it } from 'vitest';
import { validatePolicyText } from '../../../server/policy/validate-policy.ts';
import { ingressPolicy, l7Policy, problemsOf, rulesOf } from './support.ts';

describe('policy envelope', () => {
  it('accepts spec and specs together and keeps both rules', () => {
    const rules = rulesOf(`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: both }
spec: { endpointSelector: { matchLabels: { app: a } }, ingress: [{}] }
specs:
  - { endpointSelector: { matchLabels: { app: b } }, egress: [{}] }
`);
    expect(rules.map((rule) => rule.origin.path)).toEqual(['spec', 'specs[0]']);
    expect(rules[0]?.origin.policyName).toBe('both');
  });

  it('accepts the plain JSON rule list that cilium policy import takes', () => {
    const rules = rulesOf('[{"endpointSelector":{"matchLabels":{"id":"cass"}},"ingress":[{"toPorts":[{"ports":[{"port":"9042"}]}]}]}]', 'p.json');
    expect(rules).toHaveLength(1);
    expect(rules[0]?.origin.path).toBe('[0]');
    expect(rules[0]?.ingress[0]?.ports[0]?.ports[0]).toEqual({ port: 9042, endPort: 9042, protocol: 'ANY' });
  });

  it('names the document of a multi-document file in each problem', () => {
    const text = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: one }
spec: { endpointSelector: {} }
---
apiVersion: cilium.io/v3
kind: CiliumNetworkPolicy
metadata: { name: two }
spec: { endpointSelector: {} }
`;
    expect(problemsOf(text)).toEqual(['policies/db.yaml document 2: apiVersion: unsupported apiVersion "cilium.io/v3"; expected cilium.io/v2']);
  });

  it('reports a YAML syntax error with line and column', () => {
    expect(problemsOf('spec: [\n  a: b\n')).toEqual([
      expect.stringMatching(/^policies\/db\.yaml: YAML syntax error at line \d+, column \d+: /),
    ]);
  });

  it('rejects an empty file, a wrong kind, a missing name and a missing spec at once', () => {
    expect(problemsOf('')).toEqual(['policies/db.yaml: the file holds no policy (it is empty)']);
    expect(problemsOf('apiVersion: cilium.io/v2\nkind: NetworkPolicy\nmetadata: {}\n')).toEqual([
      'policies/db.yaml: kind: unsupported kind "NetworkPolicy"; expected CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy',
      'policies/db.yaml: metadata.name: expected the policy name, got nothing',
      'policies/db.yaml: needs spec (one rule) or specs (a list of rules)',
    ]);
  });

  it('rejects unknown top-level and rule fields, naming the known ones', () => {
    const problems = problemsOf(`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: x }
spek: {}
spec: { endpointSelector: {}, ingres: [] }
`);
    expect(problems).toEqual([
      'policies/db.yaml: spek: unknown field; expected one of apiVersion, kind, metadata, spec, specs, description, status',
      'policies/db.yaml: spec.ingres: unknown field; expected one of endpointSelector, ingress, egress, ingressDeny, egressDeny, enableDefaultDeny, labels, description',
    ]);
  });

  it('requires endpointSelector and rejects nodeSelector as unsupported', () => {
    expect(problemsOf('[{ "nodeSelector": {} }]')).toEqual([
      'policies/db.yaml: [0].nodeSelector: not supported by Weir: host policies (nodeSelector) are not implemented; select endpoints with endpointSelector',
      'policies/db.yaml: [0]: endpointSelector is required (use {} to select every endpoint)',
    ]);
  });
});

describe('selectors', () => {
  it('parses matchLabels with label sources and every matchExpressions operator', () => {
    const [rule] = rulesOf(`- endpointSelector:
    matchLabels: { "k8s:app": db, "reserved:init": "", tier: back }
    matchExpressions:
      - { key: env, operator: In, values: [prod, staging] }
      - { key: "any:team", operator: NotIn, values: [red] }
      - { key: canary, operator: Exists }
      - { key: legacy, operator: DoesNotExist }
`);
    expect(rule?.endpointSelector.requirements).toEqual([
      { source: 'k8s', key: 'app', operator: 'In', values: ['db'] },
      { source: 'reserved', key: 'init', operator: 'In', values: [''] },
      { source: 'any', key: 'tier', operator: 'In', values: ['back'] },
      { source: 'any', key: 'env', operator: 'In', values: ['prod', 'staging'] },
      { source: 'any', key: 'team', operator: 'NotIn', values: ['red'] },
      { source: 'any', key: 'canary', operator: 'Exists', values: [] },
      { source: 'any', key: 'legacy', operator: 'DoesNotExist', values: [] },
    ]);
  });

  it('reports bad operators, missing values and values on Exists', () => {
    expect(problemsOf(`- endpointSelector:
    matchExpressions:
      - { key: a, operator: Equals, values: [x] }
      - { key: b, operator: In }
      - { key: c, operator: Exists, values: [x] }
      - { key: d, operator: In, values: x }
`)).toEqual([
      'policies/db.yaml: [0].endpointSelector.matchExpressions[0].operator: unknown operator "Equals"; expected one of In, NotIn, Exists, DoesNotExist',
      'policies/db.yaml: [0].endpointSelector.matchExpressions[1].values: operator In needs at least one value',
      'policies/db.yaml: [0].endpointSelector.matchExpressions[2].values: operator Exists takes no values',
      'policies/db.yaml: [0].endpointSelector.matchExpressions[3].values: expected a list of strings, got the string "x"',
    ]);
  });

  it('confines a namespaced policy to its namespace, but not selectors of reserved labels', () => {
    const [rule] = rulesOf(`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: ns, namespace: prod }
spec:
  endpointSelector: { matchLabels: { app: db } }
  ingress:
    - fromEndpoints: [{ matchLabels: { app: web } }, { matchLabels: { "reserved:host": "" } }]
`);
    const namespaceRequirement = { source: 'k8s', key: 'io.kubernetes.pod.namespace', operator: 'In', values: ['prod'] };
    expect(rule?.endpointSelector.requirements).toContainEqual(namespaceRequirement);
    const peers = rule?.ingress[0]?.peers ?? [];
    expect(peers[0]).toEqual({ kind: 'endpoints', selector: { requirements: [{ source: 'any', key: 'app', operator: 'In', values: ['web'] }, namespaceRequirement] } });
    expect(peers[1]).toEqual({ kind: 'endpoints', selector: { requirements: [{ source: 'reserved', key: 'host', operator: 'In', values: [''] }] } });
  });
});

describe('peers', () => {
  it('reads fromCIDR, fromCIDRSet with except and fromEntities', () => {
    const [rule] = rulesOf(ingressPolicy(`      - fromCIDR: [10.1.0.0/16, "fd00::/64"]
        fromCIDRSet: [{ cidr: 10.0.0.0/8, except: [10.96.0.0/12] }]
        fromEntities: [world, host, cluster, init, unmanaged, remote-node, all]
`));
    const peers = rule?.ingress[0]?.peers ?? [];
    expect(peers.map((peer) => peer.kind)).toEqual(['cidr', 'cidr', 'cidr', 'entity', 'entity', 'entity', 'entity', 'entity', 'entity', 'entity']);
    const set = peers[2];
    expect(set?.kind === 'cidr' && set.except.map((c) => c.prefixLength)).toEqual([12]);
  });

  it('reports bad CIDRs, an except outside its CIDR, and unknown entities', () => {
    expect(problemsOf(ingressPolicy(`      - fromCIDR: [10.0.0.1/8, 300.0.0.0/8, 10.0.0.0/33]
        fromCIDRSet: [{ cidr: 10.0.0.0/8, except: [192.168.0.0/16] }]
        fromEntities: [everyone]
`))).toEqual([
      'policies/db.yaml: specs[0].ingress[0].fromCIDR[0]: "10.0.0.1/8" has host bits set; did you mean 10.0.0.0/8?',
      'policies/db.yaml: specs[0].ingress[0].fromCIDR[1]: "300.0.0.0/8" is not an IPv4 or IPv6 address or CIDR',
      'policies/db.yaml: specs[0].ingress[0].fromCIDR[2]: "10.0.0.0/33" has prefix length "33"; expected 0..32',
      'policies/db.yaml: specs[0].ingress[0].fromCIDRSet[0].except[0]: 192.168.0.0/16 is not inside 10.0.0.0/8',
      'policies/db.yaml: specs[0].ingress[0].fromEntities[0]: unknown entity "everyone"; expected one of all, world, host, cluster, init, unmanaged, remote-node, health, none',
    ]);
  });

  it('rejects egress peer fields in ingress and unsupported Cilium peers by name', () => {
    expect(problemsOf(ingressPolicy(`      - toEndpoints: [{}]
        fromRequires: [{}]
`))).toEqual([
      'policies/db.yaml: specs[0].ingress[0].toEndpoints: unknown field; expected one of fromEndpoints, fromCIDR, fromCIDRSet, fromEntities, toPorts',
      'policies/db.yaml: specs[0].ingress[0].fromRequires: not supported by Weir: fromRequires is deprecated in Cilium and not implemented; add the labels to fromEndpoints',
    ]);
  });

  it('marks {} as selecting without allowing anything', () => {
    const [rule] = rulesOf(ingressPolicy('      - {}\n'));
    expect(rule?.ingress[0]?.allowsNothing).toBe(true);
  });

  it('rejects wrong types with their path', () => {
    expect(problemsOf(ingressPolicy(`      - fromEndpoints: { matchLabels: { app: web } }
        fromCIDR: 10.0.0.0/8
        fromEntities: [1]
`))).toEqual([
      'policies/db.yaml: specs[0].ingress[0].fromEndpoints: expected a list of label selectors, got a map',
      'policies/db.yaml: specs[0].ingress[0].fromCIDR: expected a list of CIDRs, got the string "10.0.0.0/8"',
      'policies/db.yaml: specs[0].ingress[0].fromEntities[0]: expected a string, got the number 1',
    ]);
  });
});

describe('ports', () => {
  it('reads ports as numbers or strings, protocols in any case, and port ranges', () => {
    const [rule] = rulesOf(ingressPolicy(`      - toPorts:
          - ports: [{ port: 80 }, { port: "8080", protocol: udp }, { port: 9000, endPort: 9100, protocol: TCP }]
`));
    expect(rule?.ingress[0]?.ports[0]?.ports).toEqual([
      { port: 80, endPort: 80, protocol: 'ANY' },
      { port: 8080, endPort: 8080, protocol: 'UDP' },
      { port: 9000, endPort: 9100, protocol: 'TCP' },
    ]);
  });

  it('rejects named ports, out-of-range ports, bad protocols, bad ranges and an empty port list', () => {
    expect(problemsOf(ingressPolicy(`      - toPorts:
          - ports: [{ port: http }, { port: 70000 }, { port: 80, protocol: SCTP }, { port: 90, endPort: 10 }, { port: 0, endPort: 10 }]
          - ports: []
          - ports: [{ port: 1.5 }]
`))).toEqual([
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].ports[0].port: "http" is not a port number; named ports are not supported, use the number',
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].ports[1].port: port 70000 is above 65535',
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].ports[2].protocol: unsupported protocol "SCTP"; expected TCP, UDP or ANY',
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].ports[3].endPort: endPort 10 is below port 90',
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].ports[4].endPort: a port range needs a non-zero start port',
      'policies/db.yaml: specs[0].ingress[0].toPorts[1].ports: needs at least one port',
      'policies/db.yaml: specs[0].ingress[0].toPorts[2].ports[0].port: 1.5 is not a port number; expected an integer 0..65535',
    ]);
  });

  it('rejects L7 rules on port 0, on UDP, and in deny rules', () => {
    expect(problemsOf(`- endpointSelector: {}
  ingress:
    - toPorts: [{ ports: [{ port: 0 }, { port: 53, protocol: UDP }], rules: { l7proto: r2d2, l7: [{}] } }]
  ingressDeny:
    - toPorts: [{ ports: [{ port: 80 }], rules: { l7proto: r2d2, l7: [{}] } }]
`)).toEqual([
      'policies/db.yaml: [0].ingress[0].toPorts[0].ports[0]: L7 rules need a specific port, not port 0 (all ports)',
      'policies/db.yaml: [0].ingress[0].toPorts[0].ports[1].protocol: L7 rules apply to TCP; use protocol TCP',
      'policies/db.yaml: [0].ingressDeny[0].toPorts[0].rules: deny rules are L3/L4 only; L7 rules belong in ingress/egress allow rules',
    ]);
  });
});

describe('L7 rules', () => {
  it('rejects dns rules as not supported yet instead of ignoring them (http: http-rules.test.ts, kafka: kafka-rules.test.ts)', () => {
    expect(problemsOf(ingressPolicy(`      - toPorts: [{ ports: [{ port: 53 }], rules: { dns: [{ matchPattern: "*" }] } }]
`))).toEqual([
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.dns: dns rules are not supported yet; there is no Weir DNS proxy',
    ]);
  });

  it('rejects an unknown l7proto, an empty l7 list and a missing l7', () => {
    expect(problemsOf(l7Policy('mongodb', '[{}]'))).toEqual([
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.l7proto: unknown l7proto "mongodb"; Weir has parsers for r2d2, memcache, cassandra, kafka',
    ]);
    expect(problemsOf(l7Policy('memcache', '[]'))).toEqual([
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.l7: an empty list allows nothing; use [{}] to allow every request, or remove the rules',
    ]);
    expect(problemsOf(l7Policy('memcache', 'null'))).toEqual([
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.l7: expected a list of rule maps (use [{}] to allow every request), got null',
    ]);
  });

  it('reports every bad memcached rule in one pass, with the index of each', () => {
    expect(problemsOf(l7Policy('memcache', `
                - { command: get }
                - { command: gett }
                - { keyPrefix: a }
                - { command: get, keyExact: a, keyPrefix: b }
                - { command: get, keyRegex: "a(" }
                - { command: get, key: a }
                - { command: get, keyExact: 7 }
                - "get"`))).toEqual([
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.l7[1].command: unknown memcached command "gett"; see docs/parsers/memcache.md for the list',
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.l7[2].keyPrefix: a key constraint needs a command (e.g. command: get)',
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.l7[3].keyPrefix: only one of keyExact, keyPrefix, keyRegex per rule; this rule has keyExact and keyPrefix',
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.l7[4].keyRegex: invalid regex "a(": missing closing ")" at offset 1; see docs/policy.md "Regular expressions" for the supported syntax',
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.l7[5].key: unknown memcache rule key; memcache accepts command, keyExact, keyPrefix, keyRegex',
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.l7[6].keyExact: expected a string, got the number 7',
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.l7[7]: expected a map of memcache rule keys (command, keyExact, keyPrefix, keyRegex), got the string "get"',
    ]);
  });

  it('accepts every memcached command and group the docs list', () => {
    const commands = ['get', 'set', 'add', 'replace', 'append', 'prepend', 'cas', 'incr', 'decr', 'storage', 'writeGroup', 'delete', 'touch', 'gat', 'gats', 'gets', 'stats', 'flush_all', 'version', 'quit', 'verbosity', 'mg', 'ms', 'md', 'ma', 'mn', 'me'];
    expect(problemsOf(l7Policy('memcache', `[${commands.map((c) => `{ command: ${c} }`).join(', ')}]`))).toEqual([]);
  });

  it('checks r2d2 commands and where a file constraint may appear', () => {
    expect(problemsOf(l7Policy('r2d2', '[{ cmd: READ, file: "^/etc" }, { cmd: read }, { cmd: HALT, file: x }, { file: "[" }]', '3333'))).toEqual([
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.l7[1].cmd: unknown r2d2 command "read"; expected one of READ, WRITE, HALT, RESET (case-sensitive)',
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.l7[2].file: a file constraint needs cmd READ, WRITE or no cmd; HALT takes no file',
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.l7[3].file: invalid regex "[": missing closing "]" at offset 0; see docs/policy.md "Regular expressions" for the supported syntax',
    ]);
  });

  it('checks cassandra actions and which actions may name a table', () => {
    expect(problemsOf(l7Policy('cassandra', '[{ query_action: select, query_table: "^ks\\\\.t$" }, { query_action: SELECT }, { query_action: create-role, query_table: x }, { query_action: create-index }]', '9042'))).toEqual([
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.l7[1].query_action: unknown cassandra query_action "SELECT"; see docs/parsers/cassandra.md for the list',
      'policies/db.yaml: specs[0].ingress[0].toPorts[0].rules.l7[2].query_table: query_action "create-role" names no table, so it cannot carry query_table',
    ]);
  });

  it('treats an empty command value (YAML null) as an empty rule that allows everything', () => {
    const [rule] = rulesOf(l7Policy('memcache', '[{ command: }]'));
    expect(rule?.ingress[0]?.ports[0]?.l7?.rules).toEqual([{}]);
  });

  it('compiles regexes to DFA tables at import', () => {
    const [rule] = rulesOf(l7Policy('cassandra', '[{ query_action: select, query_table: "^system\\\\..*" }]', '9042'));
    const constraint = rule?.ingress[0]?.ports[0]?.l7?.rules[0]?.['query_table'];
    expect(constraint?.match).toBe('regex');
    expect(constraint?.match === 'regex' && constraint.dfa.byteClasses.length).toBe(256);
  });
});

describe('whole-file import', () => {
  it('returns no policies at all when any document is invalid', () => {
    const result = validatePolicyText({
      file: 'p.yaml',
      text: '[{ "endpointSelector": {} }]\n---\n[{ "endpointSelector": 5 }]\n',
    });
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems.map((p) => `${p.document} ${p.path}`)).toEqual(['2 [0].endpointSelector']);
  });
});
