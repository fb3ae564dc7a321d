// HTTP rules (Cilium's PortRuleHTTP under toPorts[].rules.http): what compiles, what is rejected
// with which message, and what the compiled rules mean (the reference matcher decide.ts uses and
// the HTTP filter must agree with; test/integration/http-policy.test.ts checks the filter).
import { describe, expect, it } from 'vitest';
import { httpRules } from '../../../server/policy/l7/http-rules.ts';
import type { CompiledL7Rule, L7Request } from '../../../server/policy/l7-rule-keys.ts';
import { serializeEndpointPolicy } from '../../../server/policy/serialize.ts';
import { ingressPolicy, problemsOf, rulesOf } from './support.ts';

function httpPolicy(httpYaml: string, rulesKey = 'http'): string {
  return ingressPolicy(`      - toPorts:
          - ports: [{ port: "80", protocol: TCP }]
            rules:
              ${rulesKey}: ${httpYaml}
`);
}

function compiledRules(httpYaml: string, rulesKey = 'http'): readonly CompiledL7Rule[] {
  const l7 = rulesOf(httpPolicy(httpYaml, rulesKey))[0]?.ingress[0]?.ports[0]?.l7;
  if (l7 === undefined) throw new Error('no L7 rules compiled');
  expect(l7.l7proto).toBe('http');
  return l7.rules;
}

function allows(httpYaml: string, request: L7Request): boolean {
  return compiledRules(httpYaml).some((rule) => httpRules.matches(rule, request));
}

describe('HTTP rules: meaning', () => {
  it('matches path, method and host as regexes over the whole value (Cilium anchors them)', () => {
    const rule = '[{ method: GET, path: "/public$" }]';
    expect(allows(rule, { method: 'GET', path: '/public' })).toBe(true);
    expect(allows(rule, { method: 'GET', path: '/publicity' })).toBe(false);
    expect(allows(rule, { method: 'GET', path: '/x/public' })).toBe(false);
    expect(allows(rule, { method: 'GETS', path: '/public' })).toBe(false);
    expect(allows('[{ path: "/public/.*" }]', { method: 'PUT', path: '/public/a?b=c' })).toBe(true);
    expect(allows('[{ host: "api\\\\.example\\\\.com" }]', { host: 'api.example.com' })).toBe(true);
    expect(allows('[{ host: "api\\\\.example\\\\.com" }]', { host: 'api.example.com:8080' })).toBe(false);
    expect(allows('[{ method: "GET|HEAD" }]', { method: 'HEAD' })).toBe(true);
  });

  it('requires every listed header: a name alone means present, "Name: value" the exact value', () => {
    const rule = '[{ headers: ["X-Token", "X-Ship: falcon"] }]';
    expect(allows(rule, { 'header:x-token': '', 'header:x-ship': 'falcon' })).toBe(true);
    expect(allows(rule, { 'header:x-ship': 'falcon' })).toBe(false);
    expect(allows(rule, { 'header:x-token': '1', 'header:x-ship': 'Falcon' })).toBe(false);
    // Cilium's value is a literal, not a regex, whatever it looks like.
    expect(allows('[{ headers: ["X-Token: [0-9]+"] }]', { 'header:x-token': '123' })).toBe(false);
    expect(allows('[{ headers: ["X-Token: [0-9]+"] }]', { 'header:x-token': '[0-9]+' })).toBe(true);
  });

  it('splits "Name value" at the first space as Cilium does; "Name: " (empty value) means present', () => {
    expect(compiledRules('[{ headers: ["X-A: two words", "X-B true", "X-C: "] }]')).toEqual([
      { 'header:x-a': { match: 'exact', value: 'two words' }, 'header:x-b': { match: 'exact', value: 'true' }, 'header:x-c': { match: 'present' } },
    ]);
  });

  it('reads headerMatches {name, value}: the exact value, or presence without a value', () => {
    const rule = '[{ headerMatches: [{ name: X-Ship, value: falcon }, { name: X-Pilot }] }]';
    expect(allows(rule, { 'header:x-ship': 'falcon', 'header:x-pilot': 'han' })).toBe(true);
    expect(allows(rule, { 'header:x-ship': 'falcon' })).toBe(false);
  });

  it('allows a request when any rule allows it; {} allows every request; HTTP (old spelling) is the same field', () => {
    expect(allows('[{ path: "/a" }, { path: "/b" }]', { path: '/b' })).toBe(true);
    expect(allows('[{}]', { method: 'DELETE', path: '/anything' })).toBe(true);
    expect(compiledRules('[{ path: "/a" }]', 'HTTP')).toHaveLength(1);
  });

  it('serializes presence as {"present": true} and regexes with the source and the anchored DFA', () => {
    const [rule] = compiledRules('[{ path: "/p", headers: [X-Token] }]');
    const policy = serializeEndpointPolicy({
      endpoint: 'leia',
      identity: 1000,
      ips: [],
      ingress: { enforcement: 'default-deny', ports: [{ port: 80, endPort: 80, protocol: 'TCP', rules: [{ verdict: 'allow', remotes: 'any', origins: ['x'], l7: { l7proto: 'http', rules: [rule!] } }] }] },
      egress: { enforcement: 'default-allow', ports: [] },
    });
    const json = JSON.parse(policy.json) as { ingress: { ports: Array<{ rules: Array<{ l7: { rules: Array<Record<string, { regex?: string; present?: boolean }>> } }> }> } };
    const compiled = json.ingress.ports[0]!.rules[0]!.l7.rules[0]!;
    expect(compiled['header:x-token']).toEqual({ present: true });
    expect(compiled['path']?.regex).toBe('/p');
  });
});

describe('HTTP rules: what is rejected', () => {
  const cases: Array<[string, string, string]> = [
    ['an empty list', '[]', 'rules.http: an empty list allows nothing; use [{}] to allow every request, or remove the rules'],
    ['an unknown field', '[{ paths: "/a" }]', 'rules.http[0].paths: unknown field; expected one of method, path, host, headers, headerMatches'],
    ['an invalid regex', '[{ path: "(oops" }]', 'rules.http[0].path: invalid regex "(oops"'],
    ['text that only parses once wrapped', '[{ path: "a)|(b" }]', 'rules.http[0].path: invalid regex "a)|(b": unmatched ")"'],
    ['a regex feature outside the subset', '[{ path: "(?i)/a" }]', 'rules.http[0].path: invalid regex "(?i)/a"'],
    ['an invalid header name', '[{ headers: ["X-Token:1234"] }]', 'rules.http[0].headers[0]: "X-Token:1234" is not a valid header name'],
    ['a header required with two values', '[{ headers: ["X-A: 1"], headerMatches: [{ name: X-A, value: "2" }] }]', 'rules.http[0].headerMatches[0].name: header X-A must equal both "1" and "2"'],
    ['a Kubernetes secret', '[{ headerMatches: [{ name: X-Token, secret: { name: s } }] }]', 'rules.http[0].headerMatches[0].secret: not supported by Weir: header values from Kubernetes secrets'],
    ['a mismatch action', '[{ headerMatches: [{ name: X-Token, value: a, mismatch: ADD }] }]', 'rules.http[0].headerMatches[0].mismatch: not supported by Weir: mismatch ADD'],
    ['a headerMatch without a name', '[{ headerMatches: [{ value: a }] }]', 'rules.http[0].headerMatches[0].name: expected a header name, got nothing'],
  ];
  it.each(cases)('rejects %s', (_what, httpYaml, message) => {
    expect(problemsOf(httpPolicy(httpYaml)).join('\n')).toContain(`specs[0].ingress[0].toPorts[0].${message}`);
  });

  it('rejects l7proto: http, and http beside l7proto/l7 in one port rule', () => {
    expect(problemsOf(httpPolicy('http\n              l7: [{ method: GET }]', 'l7proto')).join('\n')).toContain('rules.l7proto: HTTP rules are written as rules.http');
    const both = ingressPolicy(`      - toPorts:
          - ports: [{ port: "80", protocol: TCP }]
            rules: { http: [{ path: "/a" }], l7proto: r2d2, l7: [{ cmd: READ }] }
`);
    expect(problemsOf(both).join('\n')).toContain('rules: http and l7proto/l7 in one rule; one port rule carries one L7 protocol');
  });
});
