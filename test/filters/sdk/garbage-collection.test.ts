// Parser modules run on AssemblyScript's minimal runtime, which never collects by itself; the SDK
// collects when an outermost entry point returns (filters/sdk/abi/garbage-collection.ts). Checked
// here with the memcache parser on the test host: connections that come and go, allowed and denied
// requests (deny reasons and log lines are built per request) leave Wasm memory where it was after
// the first rounds, and what stays alive across collections (rules, open connections, replies
// owed) keeps working.
import { beforeAll, describe, expect, it } from 'vitest';
import { accessLog, ensureFiltersBuilt, loadWeirFilter } from '../host-helpers.ts';
import { fakeMemcached } from '../parsers/memcache/fake-memcached.ts';
import { memcacheConfig, rule } from '../parsers/memcache/memcache-rules.ts';

beforeAll(() => ensureFiltersBuilt('memcache'), 600_000);

const DENIED = 'CLIENT_ERROR access denied\r\n';

describe('garbage collection between callbacks (minimal runtime)', () => {
  it('keeps Wasm memory flat over thousands of short connections with allowed and denied requests', () => {
    const server = fakeMemcached({ 'fleet/a': 'x'.repeat(200) });
    const vm = loadWeirFilter('memcache', 'memcache', memcacheConfig([rule('get', { keyPrefix: 'fleet/' })]), () => server);
    // A connection that stays open across every collection, with a reply still owed at the end.
    const longLived = vm.openConnection();
    const round = (connections: number): void => {
      for (let i = 0; i < connections; i++) {
        const connection = vm.openConnection();
        connection.fromClient(`get fleet/a\r\nset fleet/b 0 0 3\r\nabc\r\nget other/${i} fleet/a\r\nget fleet/missing-${i}\r\n`);
        expect(connection.clientText).toBe(`VALUE fleet/a 0 200\r\n${'x'.repeat(200)}\r\nEND\r\n${DENIED}${DENIED}END\r\n`);
        connection.closeFromClient();
      }
      longLived.fromClient('get fleet/a\r\n');
    };
    for (let i = 0; i < 3; i++) round(200);
    const settled = vm.memoryBytes;
    for (let i = 0; i < 12; i++) round(200);
    expect(vm.memoryBytes).toBe(settled);
    expect(vm.traps).toEqual([]);
    // 15 rounds of 200 connections, each 2 denied requests, plus the long-lived connection's gets
    expect(accessLog(vm).filter((entry) => entry.type === 'Denied')).toHaveLength(15 * 200 * 2);
    expect(longLived.clientText).toBe(`VALUE fleet/a 0 200\r\n${'x'.repeat(200)}\r\nEND\r\n`.repeat(15));
    expect(longLived.isOpen).toBe(true);
  });
});
