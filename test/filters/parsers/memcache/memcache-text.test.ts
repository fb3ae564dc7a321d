// The memcache parser's text and meta protocol on the Proxy-Wasm test host, against an in-process
// memcached: replies framed at every split point, pipelining, misses, noreply, meta quiet mode and
// base64 keys, denials at the request's position among replies, and the access log.
import { beforeAll, describe, expect, it } from 'vitest';
import { everySplit } from '../../../../server/wasm-host/index.ts';
import { accessLog, ensureFiltersBuilt, loadWeirFilter } from '../../host-helpers.ts';
import { fakeMemcached, type FakeMemcached } from './fake-memcached.ts';
import { memcacheConfig, rule, type MemcacheRule } from './memcache-rules.ts';

const DENIED = 'CLIENT_ERROR access denied\r\n';

beforeAll(() => ensureFiltersBuilt(), 600_000);

function open(rules?: MemcacheRule[], initial: Record<string, string> = {}) {
  const server: FakeMemcached = fakeMemcached(initial);
  const vm = loadWeirFilter('memcache', 'memcache', memcacheConfig(rules), () => server);
  return { vm, server, connection: vm.openConnection() };
}

// A session using every command kind; the value of `a` contains request-like bytes that must be
// passed as data, not parsed.
const SESSION =
  'set a 0 0 14\r\nget x\r\ndelete \r\n' +
  'get a b\r\n' +
  'get missing\r\n' +
  'gets a\r\n' +
  'add a 0 0 1 noreply\r\nz\r\n' +
  'append a 0 0 1\r\n!\r\n' +
  'incr n 5\r\n' +
  'touch a 10\r\n' +
  'ms m 3\r\nxyz\r\n' +
  'mg m v k\r\n' +
  'mg missing v q\r\n' +
  'mn\r\n' +
  'version\r\n' +
  'stats\r\n' +
  'delete a\r\n' +
  'bogus\r\n';

function directAnswer(script: string, initial: Record<string, string>): string {
  const server = fakeMemcached(initial);
  let answer = '';
  server.onData?.(Buffer.from(script, 'latin1'), { send: (bytes) => (answer += Buffer.from(bytes).toString('latin1')), end: () => undefined, reset: () => undefined });
  return answer;
}

describe('memcache text protocol framing', () => {
  it('passes a whole session unchanged and answers as memcached would', () => {
    const { connection, server } = open(undefined, { b: 'bee', n: '1' });
    connection.fromClient(SESSION);
    expect(connection.upstreamText).toBe(SESSION);
    expect(connection.clientText).toBe(directAnswer(SESSION, { b: 'bee', n: '1' }));
    expect(connection.clientText).toContain('VALUE a 0 14\r\nget x\r\ndelete \r\nVALUE b 0 3\r\nbee\r\nEND\r\nEND\r\n');
    expect(server.store.get('a')).toBeUndefined();
    expect(connection.isOpen).toBe(true);
  });

  it('gives the same bytes on both sides at every split point', () => {
    const expected = directAnswer(SESSION, { b: 'bee', n: '1' });
    for (const chunking of everySplit(SESSION)) {
      const { connection } = open(undefined, { b: 'bee', n: '1' });
      connection.fromClient(SESSION, { chunking });
      expect(connection.upstreamText, JSON.stringify(chunking)).toBe(SESSION);
      expect(connection.clientText, JSON.stringify(chunking)).toBe(expected);
    }
  });

  it('frames requests and replies delivered one byte at a time, with denials in between', () => {
    const rules = [rule('get', { keyPrefix: 'ok/' }), rule('set', { keyPrefix: 'ok/' })];
    const script = 'set ok/1 0 0 3\r\none\r\nset no/1 0 0 3\r\ntwo\r\nget ok/1\r\nget no/1\r\nget ok/1 ok/2\r\n';
    const { connection, server } = open(rules);
    connection.fromClient(script, { chunking: 'per-byte' });
    expect(connection.clientText).toBe(`STORED\r\n${DENIED}VALUE ok/1 0 3\r\none\r\nEND\r\n${DENIED}VALUE ok/1 0 3\r\none\r\nEND\r\n`);
    expect(server.requests).toEqual(['set ok/1 0 0 3', 'version', 'get ok/1', 'version', 'get ok/1 ok/2']);
  });

  it('frames server replies delivered one byte at a time', () => {
    const server = fakeMemcached({ k: 'v\r\nEND\r\n' });
    const vm = loadWeirFilter('memcache', 'memcache', memcacheConfig([rule('get', { keyExact: 'k' })]), () => server);
    const connection = vm.openConnection({ upstreamChunking: 'per-byte' });
    connection.fromClient('get k\r\nget x\r\nget k\r\n');
    expect(connection.clientText).toBe(`VALUE k 0 8\r\nv\r\nEND\r\n\r\nEND\r\n${DENIED}VALUE k 0 8\r\nv\r\nEND\r\n\r\nEND\r\n`);
  });

  it('frames a value that looks like replies', () => {
    const { connection } = open(undefined, { k: 'v\r\nEND\r\n' });
    connection.fromClient('get k\r\n');
    expect(connection.clientText).toBe('VALUE k 0 8\r\nv\r\nEND\r\n\r\nEND\r\n');
  });

  it('a miss is END alone, and the next request is still framed', () => {
    const { connection } = open([rule('get', { keyExact: 'k' })]);
    connection.fromClient('get k\r\nget k\r\nget nope\r\n');
    expect(connection.clientText).toBe(`END\r\nEND\r\n${DENIED}`);
  });
});

describe('memcache text denials', () => {
  it('answers CLIENT_ERROR access denied in place, the denied request never reaching the server', () => {
    const { connection, server } = open([rule('get', { keyExact: 'awing-coord' })], { 'awing-coord': '1,2', 'xwing-coord': '3,4' });
    connection.fromClient('get xwing-coord\r\n');
    expect(connection.clientText).toBe(DENIED);
    expect(connection.upstreamText).toBe('version\r\n');
    expect(server.requests).not.toContain('get xwing-coord');
  });

  it('keeps pipelined replies in request order around several denials', () => {
    const { connection } = open([rule('get', { keyExact: 'a' })], { a: 'A' });
    connection.fromClient('get a\r\nget b\r\nget a\r\nset a 0 0 1\r\nX\r\nget c\r\nget a\r\n');
    expect(connection.clientText).toBe(`VALUE a 0 1\r\nA\r\nEND\r\n${DENIED}VALUE a 0 1\r\nA\r\nEND\r\n${DENIED}${DENIED}VALUE a 0 1\r\nA\r\nEND\r\n`);
  });

  it('denies a multi-key get when any key is not allowed', () => {
    const { connection, server } = open([rule('get', { keyPrefix: 'alliance/fleet/' })], { 'alliance/fleet/a': '1' });
    connection.fromClient('get alliance/fleet/a alliance/fleet/b\r\nget alliance/fleet/a empire/plans\r\n');
    expect(connection.clientText).toBe(`VALUE alliance/fleet/a 0 1\r\n1\r\nEND\r\n${DENIED}`);
    expect(server.requests).toEqual(['get alliance/fleet/a alliance/fleet/b', 'version']);
  });

  it('drops a denied noreply request silently and a denied quit without closing', () => {
    const { connection, server } = open([rule('get')], { a: 'A' });
    connection.fromClient('set a 0 0 1 noreply\r\nB\r\ndelete a noreply\r\nget a\r\nquit\r\n');
    expect(connection.clientText).toBe('VALUE a 0 1\r\nA\r\nEND\r\n');
    expect(server.requests).toEqual(['get a']);
    expect(server.store.get('a')?.toString()).toBe('A');
  });

  it('does not take the client\'s own version replies for probe answers', () => {
    const { connection } = open([rule('get'), rule('version')]);
    connection.fromClient('version\r\nset a 0 0 1\r\nx\r\nversion\r\n');
    expect(connection.clientText).toBe(`VERSION 1.6.18\r\n${DENIED}VERSION 1.6.18\r\n`);
  });

  it('treats a bare \\n as the end of a request line, as memcached does', () => {
    const { connection, server } = open([rule('get', { keyPrefix: 'a' })], { ab: 'x' });
    connection.fromClient('get a\ndelete ab\r\n');
    expect(server.requests).toEqual(['get a', 'version']);
    expect(connection.clientText).toBe(`END\r\n${DENIED}`);
    expect(server.store.has('ab')).toBe(true);
  });

  it('closes the connection on a storage line memcached would not read the data block of', () => {
    for (const line of ['set k 99999999999999999999 0 1\r\nx\r\n', 'set k 18446744073709551616 0 1\r\nx\r\n', 'cas k 0 0 1 18446744073709551616\r\nx\r\n', 'set k +1 0 1\r\nx\r\n', 'set k 0 0 1\t\r\nx\r\n', 'set k 0 0 4294967297\r\nx\r\n', 'ms k 1\t\r\nx\r\n', 'set k 0 0 -1\r\n', 'set k 0 0 x\r\n', 'set k 0 0 3 noreply extra\r\nabc\r\n', `set ${'k'.repeat(251)} 0 0 1\r\nx\r\n`, 'set k 0\r\n', 'ms k\r\n', 'get a\u0000b\r\n']) {
      const { connection, vm, server } = open(undefined);
      connection.fromClient(line);
      expect(connection.isOpen, line).toBe(false);
      expect(server.requests, line).toEqual([]);
      expect(accessLog(vm).map((entry) => entry.type), line).toEqual(['Error']);
    }
  });
});

describe('memcache numbers at memcached\'s limits', () => {
  it('passes flags and cas unique of 2^64-1 and a data length of 2147483645, which memcached reads', () => {
    const { connection } = open(undefined);
    connection.fromClient('set k 18446744073709551615 -9999999999 1\r\nx\r\ncas k 0 0 1 18446744073709551615\r\ny\r\n');
    expect(connection.isOpen).toBe(true);
    expect(connection.upstreamText).toBe('set k 18446744073709551615 -9999999999 1\r\nx\r\ncas k 0 0 1 18446744073709551615\r\ny\r\n');
  });
});

describe('memcache meta commands', () => {
  it('answers meta denials in order even when quiet requests are silent', () => {
    const { connection, server } = open([rule('mg', { keyPrefix: 'ok' }), rule('mn'), rule('ms', { keyPrefix: 'ok' })], { ok1: 'v1' });
    connection.fromClient('mg okmiss v q\r\nmg secret v q\r\nmg ok1 v q\r\nms secret 2 q\r\nhi\r\nmn\r\n');
    expect(connection.clientText).toBe(`${DENIED}VA 2\r\nv1\r\n${DENIED}MN\r\n`);
    expect(server.requests).toEqual(['mg okmiss v q', 'version', 'mg ok1 v q', 'version', 'mn']);
  });

  it('matches base64 keys (flag b) on the decoded key', () => {
    const { connection } = open([rule('mg', { keyExact: 'allowed' })], { allowed: 'yes', secret: 'no' });
    const allowed = Buffer.from('allowed').toString('base64');
    const secret = Buffer.from('secret').toString('base64');
    connection.fromClient(`mg ${allowed} b v\r\nmg ${secret} b v\r\nmg secret v\r\nmg !!!! b v\r\n`);
    expect(connection.clientText).toBe(`VA 3\r\nyes\r\n${DENIED}${DENIED}${DENIED}`);
  });
});

describe('memcache access log', () => {
  it('logs command and keys of each verdict, and the status of each reply that reached the client', () => {
    const { connection, vm } = open([rule('get', { keyExact: 'a' })]);
    connection.fromClient('get a\r\nget a b\r\nset a 0 0 1 noreply\r\nx\r\n');
    const entries = accessLog(vm);
    expect(entries.map((entry) => [entry.type, entry.proto, entry.fields])).toEqual([
      ['Request', 'memcache', { command: 'get', keys: 'a' }],
      ['Denied', 'memcache', { command: 'get', keys: 'a b' }],
      ['Denied', 'memcache', { command: 'set', keys: 'a' }],
      ['Response', 'memcache', { status: 'END' }],
    ]);
    expect(entries[0]?.connection).toBe(connection.connectionId);
  });

  it('logs a multi-line reply (stats) as one Response entry, with the status that ends it', () => {
    const { connection, vm } = open();
    connection.fromClient('stats\r\nversion\r\n');
    expect(connection.clientText).toMatch(/^STAT pid 1\r\nSTAT version .*\r\nEND\r\nVERSION /);
    expect(accessLog(vm).filter((entry) => entry.type === 'Response').map((entry) => entry.fields)).toEqual([{ status: 'END' }, { status: 'VERSION' }]);
  });
});
