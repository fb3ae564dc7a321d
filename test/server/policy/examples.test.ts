// The example policies from Cilium's guides and release posts must validate and mean in Weir what
// they meant in Cilium.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CompiledFixture } from './compile-support.ts';
import { problemsOf } from './support.ts';

const examplesDir = fileURLToPath(new URL('../../../examples/policies/', import.meta.url));
const example = (name: string): string => readFileSync(`${examplesDir}${name}`, 'utf8');

describe('examples/policies', () => {
  it.each(readdirSync(examplesDir))('%s validates', (file) => {
    expect(problemsOf(example(file), `examples/policies/${file}`)).toEqual([]);
  });

  it('secure-fleet: each wing reads and writes its own key only, the tracker reads both', () => {
    const f = new CompiledFixture([example('memcached-secure-fleet.yaml')], [
      { name: 'memcd', labels: { app: 'memcd-server' }, ips: ['127.0.0.10'] },
      { name: 'a-wing', labels: { app: 'a-wing' }, ips: ['127.0.0.11'] },
      { name: 'x-wing', labels: { app: 'x-wing' }, ips: ['127.0.0.12'] },
      { name: 'tracker', labels: { name: 'fleet-tracker' }, ips: ['127.0.0.13'] },
    ]);
    const ask = (from: string, l7Request: Record<string, string | number | string[]>) =>
      f.verdict('memcd', { direction: 'ingress', port: 11211, from, l7Request });
    expect(ask('x-wing', { command: 'get', keys: ['awing-coord'] })).toBe('deny');
    expect(ask('x-wing', { command: 'get', keys: ['xwing-coord'] })).toBe('allow');
    expect(ask('x-wing', { command: 'set', keys: ['xwing-coord'] })).toBe('allow');
    expect(ask('a-wing', { opcode: 0, keys: ['xwing-coord'] })).toBe('deny'); // binary GET
    expect(ask('a-wing', { opcode: 1, keys: ['awing-coord'] })).toBe('allow'); // binary SET
    expect(ask('tracker', { opcode: 1, keys: ['awing-coord'] })).toBe('deny');
    expect(ask('tracker', { command: 'get', keys: ['awing-coord'] })).toBe('allow');
    // As in Cilium, one rule must cover every key of a request: a multi-get across two rules is denied.
    expect(ask('tracker', { command: 'get', keys: ['awing-coord', 'xwing-coord'] })).toBe('deny');
    expect(ask('x-wing', { command: 'get', keys: ['xwing-coord', 'awing-coord'] })).toBe('deny');
    expect(ask('x-wing', { command: 'quit', keys: [] })).toBe('deny');
  });

  it('1.3 release post: maintenance writes under the prefix, monitoring only reads, jedi does anything', () => {
    const f = new CompiledFixture([example('memcached-rebel-alliance.yaml')], [
      { name: 'memcached', labels: { app: 'memcached' }, ips: ['127.0.0.10'] },
      { name: 'maintenance', labels: { function: 'fleet-maintanence' }, ips: ['127.0.0.11'] },
      { name: 'monitoring', labels: { function: 'fleet-monitoring' }, ips: ['127.0.0.12'] },
      { name: 'jedi', labels: { role: 'jedi' }, ips: ['127.0.0.13'] },
    ]);
    const ask = (from: string, command: string, key: string) =>
      f.verdict('memcached', { direction: 'ingress', port: 11211, from, l7Request: { command, keys: [key] } });
    expect(ask('maintenance', 'set', 'alliance/fleet/x-wing')).toBe('allow');
    expect(ask('maintenance', 'delete', 'alliance/fleet/x-wing')).toBe('allow');
    expect(ask('maintenance', 'set', 'alliance/plans')).toBe('deny');
    expect(ask('monitoring', 'get', 'alliance/fleet/x-wing')).toBe('allow');
    expect(ask('monitoring', 'set', 'alliance/fleet/x-wing')).toBe('deny');
    expect(ask('jedi', 'flush_all', '')).toBe('allow');
  });

  it('secure-empire-cassandra: outposts insert attendance and read system tables only, HQ runs anything', () => {
    const f = new CompiledFixture([example('cassandra-empire.yaml')], [
      { name: 'cass', labels: { app: 'cass-server' }, ips: ['127.0.0.10'] },
      { name: 'outpost', labels: { app: 'empire-outpost' }, ips: ['127.0.0.11'] },
      { name: 'hq', labels: { app: 'empire-hq' }, ips: ['127.0.0.12'] },
    ]);
    const ask = (from: string, query_action: string, query_table: string) =>
      f.verdict('cass', { direction: 'ingress', port: 9042, from, l7Request: { query_action, query_table } });
    expect(ask('outpost', 'select', 'system.local')).toBe('allow');
    expect(ask('outpost', 'select', 'system_schema.keyspaces')).toBe('allow');
    expect(ask('outpost', 'select', 'system_virtual_schema.tables')).toBe('allow'); // cqlsh on Cassandra 4+
    expect(ask('outpost', 'insert', 'attendance.daily_records')).toBe('allow');
    expect(ask('outpost', 'select', 'attendance.daily_records')).toBe('deny');
    expect(ask('outpost', 'select', 'deathstar.scrum_notes')).toBe('deny');
    expect(f.verdict('cass', { direction: 'ingress', port: 9042, from: 'outpost', l7Request: {} })).toBe('allow'); // OPTIONS, STARTUP
    expect(ask('hq', 'select', 'deathstar.scrum_notes')).toBe('allow');
  });

  it('r2d2: clients read public files and halt; writes are denied', () => {
    const f = new CompiledFixture([example('r2d2.yaml')], [
      { name: 'server', labels: { app: 'r2d2-server' }, ips: ['127.0.0.10'] },
      { name: 'client', labels: { app: 'r2d2-client' }, ips: ['127.0.0.11'] },
      { name: 'stranger', labels: { app: 'other' }, ips: ['127.0.0.12'] },
    ]);
    const ask = (from: string, cmd: string, file = '') => f.verdict('server', { direction: 'ingress', port: 3333, from, l7Request: { cmd, file } });
    expect(ask('client', 'READ', '/public/readme')).toBe('allow');
    expect(ask('client', 'READ', '/secret')).toBe('deny');
    expect(ask('client', 'HALT')).toBe('allow');
    expect(ask('client', 'WRITE', '/public/readme')).toBe('deny');
    expect(f.verdict('server', { direction: 'ingress', port: 3333, from: 'stranger' })).toBe('deny');
  });

  it('service-account (HTTP): luke may GET /public on leia, nothing else, nobody else', () => {
    const f = new CompiledFixture([example('http-service-account.yaml')], [
      { name: 'leia', namespace: 'default', serviceAccount: 'leia', labels: { app: 'leia' }, ips: ['127.0.0.10'] },
      { name: 'luke', namespace: 'default', serviceAccount: 'luke', labels: { app: 'luke' }, ips: ['127.0.0.11'] },
      { name: 'han', namespace: 'default', serviceAccount: 'han', labels: { app: 'han' }, ips: ['127.0.0.12'] },
    ]);
    const ask = (from: string, method: string, path: string) => f.verdict('leia', { direction: 'ingress', port: 80, from, l7Request: { method, path, host: 'leia' } });
    expect(ask('luke', 'GET', '/public')).toBe('allow');
    expect(ask('luke', 'GET', '/publicity')).toBe('deny');
    expect(ask('luke', 'POST', '/public')).toBe('deny');
    expect(ask('han', 'GET', '/public')).toBe('deny');
  });

  it('deathstar HTTP and gRPC: GET /public/.*, landing with X-Token, one gRPC method', () => {
    const f = new CompiledFixture([example('http-public-and-grpc.yaml')], [
      { name: 'deathstar', labels: { org: 'empire', class: 'deathstar' }, ips: ['127.0.0.10'] },
      { name: 'tiefighter', labels: { org: 'empire', class: 'tiefighter' }, ips: ['127.0.0.11'] },
    ]);
    const ask = (port: number, l7Request: Record<string, string>) => f.verdict('deathstar', { direction: 'ingress', port, from: 'tiefighter', l7Request });
    expect(ask(80, { method: 'GET', path: '/public/plans' })).toBe('allow');
    expect(ask(80, { method: 'POST', path: '/v1/request-landing' })).toBe('deny');
    expect(ask(80, { method: 'POST', path: '/v1/request-landing', 'header:x-token': 'abc' })).toBe('allow');
    expect(ask(50051, { method: 'POST', path: '/deathstar.v1.DeathStar/RequestLanding' })).toBe('allow');
    expect(ask(50051, { method: 'POST', path: '/deathstar.v1.DeathStar/WatchHangar' })).toBe('deny');
  });
});
