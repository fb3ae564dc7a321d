// The CI slice of `npm run fuzz:wire -- memcache`: seeded sessions through real Envoy, Weir's
// memcache filter and memcached 1.6.18, checked against memcached's own record (watch) and Weir's
// access log per client; and the oracle's judgement on sessions where memcached ran what Weir
// did not allow.
import { describe, expect, it } from 'vitest';
import { MEMCACHE_CLIENTS } from './memcache/memcache-fuzz.ts';
import { checkSession, runMemcacheWireFuzz, type LoggedRequest } from './memcache/wire-oracle.ts';

describe('memcached wire oracle', () => {
  it('60 seeded sessions through Envoy, Weir and memcached: memcached ran only what Weir allowed and logged', async () => {
    const stats = await runMemcacheWireFuzz({ seed: 13, sessions: 60 });
    expect(stats.violations).toEqual([]);
    expect(stats.sessions).toBe(60);
    expect(stats.inconclusive).toBeLessThan(6);
    expect(stats.events).toBeGreaterThan(0);
    expect(stats.deniedRequests).toBeGreaterThan(0);
  }, 180_000);

  it('flags a key memcached touched that no allowed request names, an allowed request the policy denies, and an unlogged flush', () => {
    const writer = MEMCACHE_CLIENTS.writer;
    const allowedSet: LoggedRequest = { type: 'Request', command: 'set', keys: ['ok/a'], request: { command: 'set', keys: ['ok/a'] } };
    const deniedDelete: LoggedRequest = { type: 'Denied', command: 'delete', keys: ['secret'], request: { command: 'delete', keys: ['secret'] } };
    const wronglyAllowed: LoggedRequest = { type: 'Request', command: 'delete', keys: ['secret'], request: { command: 'delete', keys: ['secret'] } };
    const get = (key: string) => ({ type: 'item_get' as const, cfd: 9, key, detail: 'found' });
    expect(checkSession(writer, [get('ok/a'), { type: 'item_store', cfd: 9, key: 'ok/a', detail: 'set' }], [allowedSet], 0)).toEqual([]);
    expect(checkSession(writer, [get('ok/a'), get('secret')], [allowedSet, deniedDelete], 0).join('\n')).toMatch(/item_get found on key "secret", which no request Weir allowed/);
    expect(checkSession(writer, [{ type: 'item_store', cfd: 9, key: 'ok/a', detail: 'set' }, { type: 'item_store', cfd: 9, key: 'ok/a', detail: 'set' }], [allowedSet], 0).join('\n')).toMatch(/item_store set on key "ok\/a"/);
    expect(checkSession(writer, [], [wronglyAllowed], 0).join('\n')).toMatch(/Weir allowed Request delete "secret" for fleet-writer, which the policy denies/);
    expect(checkSession(writer, [], [allowedSet], 1).join('\n')).toMatch(/memcached ran flush_all 1 times, Weir allowed 0/);
  });
});
