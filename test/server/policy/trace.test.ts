// `weir policy trace` semantics on the Alliance fleet of Cilium's memcached guide: sources and
// destinations by name, labels and IP, the deciding rule named, L7 requests traced without traffic.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createIdentityAllocators } from '../../../server/policy/identity-universe.ts';
import { parseL7Fields, tracePolicy, type TraceQuery } from '../../../server/policy/trace.ts';
import { compileStoreFiles } from '../../../server/store/store-contents.ts';
import { projectRoot } from '../../../demo/servers/project-paths.ts';

const files = new Map([
  ['endpoints.yaml', fs.readFileSync(path.join(projectRoot, 'demo/fleet/endpoints/secure-fleet.yaml'), 'utf8')],
  ['secure-fleet.yaml', fs.readFileSync(path.join(projectRoot, 'examples/policies/memcached-secure-fleet.yaml'), 'utf8')],
]);
const compiled = compileStoreFiles(files, { enforcementMode: 'default', allocators: createIdentityAllocators() });
if (!compiled.ok) throw new Error(JSON.stringify(compiled.problems));
const { policySet, endpoints } = compiled.state;

function trace(query: TraceQuery) {
  const outcome = tracePolicy(policySet, endpoints, query);
  if (!outcome.ok) throw new Error(outcome.problem);
  return outcome.trace;
}

describe('policy trace', () => {
  it('names the rule that allows an L7 request, by endpoint name', () => {
    const result = trace({ source: 'a-wing', destination: 'memcd-server', port: 11211, l7: 'command=get key=awing-coord' });
    expect(result.verdict).toBe('allowed');
    expect(result.policyEndpoint).toBe('memcd-server');
    expect(result.connection.reason).toMatch(/^allowed at L3\/L4 by secure-fleet\.yaml spec\.ingress\[0\]; each request must match the L7 rules$/);
    expect(result.request?.decision.reason).toBe('allowed by memcache rule 0 of secure-fleet.yaml spec.ingress[0]');
  });

  it('denies a request no rule allows and says which rules it was checked against', () => {
    const result = trace({ source: 'a-wing', destination: 'memcd-server', port: 11211, l7: 'command=get key=xwing-coord' });
    expect(result.verdict).toBe('denied');
    expect(result.request?.decision.reason).toBe('no memcache rule of secure-fleet.yaml spec.ingress[0] matches the request');
  });

  it('resolves sources by labels and by IP, and an unknown IP as world', () => {
    expect(trace({ source: 'name=fleet-tracker', destination: 'app=memcd-server', port: 11211, l7: 'command=get key=xwing-coord' }).verdict).toBe('allowed');
    const byIp = trace({ source: '127.0.0.32', destination: '127.0.0.1', port: 11211, l7: 'command=set key=xwing-coord' });
    expect(byIp.source.endpoint).toBe('x-wing');
    expect(byIp.verdict).toBe('allowed');
    const world = trace({ source: '10.9.9.9', destination: 'memcd-server', port: 11211 });
    expect(world.source).toMatchObject({ endpoint: undefined, identity: 2, labels: ['reserved:world'] });
    expect(world.verdict).toBe('denied');
    expect(world.connection.reason).toBe('no rule allows identity 2 on ingress port 11211');
  });

  it('gives the L3/L4 verdict without --l7 and says that requests are checked', () => {
    const result = trace({ source: 'x-wing', destination: 'memcd-server', port: 11211 });
    expect(result.verdict).toBe('allowed');
    expect(result.connection.l7Pending?.map((set) => set.l7proto)).toEqual(['memcache']);
    expect(trace({ source: 'x-wing', destination: 'memcd-server', port: 11212 }).verdict).toBe('denied');
  });

  it('refuses what it cannot resolve, saying what to pass', () => {
    expect(tracePolicy(policySet, endpoints, { source: 'b-wing', destination: 'memcd-server', port: 11211 })).toEqual({
      ok: false,
      problem: 'source "b-wing" is neither an endpoint name, labels (k=v,...) nor an IP address; see weir endpoint list',
    });
    expect(tracePolicy(policySet, endpoints, { source: 'a-wing', destination: '10.1.1.1', port: 11211 })).toMatchObject({ ok: false, problem: expect.stringContaining('no endpoint Weir knows') });
    expect(parseL7Fields('command get')).toEqual({ problem: expect.stringContaining('expected KEY=VALUE') });
    expect(parseL7Fields('command=get key=a key=b')).toEqual({ request: { command: 'get', keys: ['a', 'b'] } });
  });
});
