// The memcache parser's binary protocol on the Proxy-Wasm test host: 24-byte header framing at
// every split point, quiet opcodes and NOOP-terminated multi-gets, and denials answered with status
// 0x0008 `access denied` that echo the denied request's opcode and opaque, at its position.
import { beforeAll, describe, expect, it } from 'vitest';
import { everySplit } from '../../../../server/wasm-host/index.ts';
import { accessLog, ensureFiltersBuilt, loadWeirFilter } from '../../host-helpers.ts';
import { binaryReply, binaryRequest, fakeMemcached } from './fake-memcached.ts';
import { memcacheConfig, rule, type MemcacheRule } from './memcache-rules.ts';

const GET = 0x00;
const SET = 0x01;
const GETQ = 0x09;
const NOOP = 0x0a;
const GETK = 0x0c;
const GETKQ = 0x0d;
const SETQ = 0x11;
const DELETE = 0x04;

beforeAll(() => ensureFiltersBuilt(), 600_000);

function open(rules?: MemcacheRule[], initial: Record<string, string> = {}) {
  const server = fakeMemcached(initial);
  const vm = loadWeirFilter('memcache', 'memcache', memcacheConfig(rules), () => server);
  return { vm, server, connection: vm.openConnection() };
}

function denied(opcode: number, opaque: number): Buffer {
  return binaryReply(opcode, 0x0008, opaque, { value: Buffer.from('access denied') });
}

const found = (opcode: number, opaque: number, value: string, key?: string): Buffer => binaryReply(opcode, 0, opaque, { extras: Buffer.alloc(4), key, value: Buffer.from(value) });

describe('memcache binary protocol', () => {
  it('passes set and get through and frames the replies', () => {
    const { connection, server } = open(undefined);
    const script = Buffer.concat([binaryRequest(SET, { key: 'k', extras: Buffer.alloc(8), value: Buffer.from('value'), opaque: 1 }), binaryRequest(GET, { key: 'k', opaque: 2 })]);
    connection.fromClient(script);
    expect(Buffer.from(connection.upstreamBytes).equals(script)).toBe(true);
    expect(Buffer.from(connection.clientBytes).equals(Buffer.concat([binaryReply(SET, 0, 1), found(GET, 2, 'value')]))).toBe(true);
    expect(server.requests).toEqual(['set k', 'get k']);
  });

  it('answers a denied get with status 0x0008 echoing its opcode and opaque; the server sees only a NOOP probe', () => {
    const { connection, server } = open([rule('get', { keyExact: 'awing-coord' })], { 'xwing-coord': '1' });
    connection.fromClient(binaryRequest(GET, { key: 'xwing-coord', opaque: 0xdeadbeef }));
    expect(Buffer.from(connection.clientBytes).equals(denied(GET, 0xdeadbeef))).toBe(true);
    expect(server.requests).toEqual(['noop']);
    expect(Buffer.from(connection.upstreamBytes).equals(binaryRequest(NOOP, { opaque: 0xdeadbeef }))).toBe(true);
  });

  it('places denials correctly among quiet gets that hit, miss or are denied, ended by a NOOP', () => {
    const { connection, server } = open([rule('get', { keyPrefix: 'ok/' }), rule('noop')], { 'ok/1': 'one', 'ok/3': 'three' });
    const script = Buffer.concat([
      binaryRequest(GETKQ, { key: 'ok/1', opaque: 1 }),
      binaryRequest(GETKQ, { key: 'ok/2', opaque: 2 }), // miss: no reply
      binaryRequest(GETKQ, { key: 'secret', opaque: 3 }), // denied
      binaryRequest(GETKQ, { key: 'ok/3', opaque: 4 }),
      binaryRequest(NOOP, { opaque: 5 }),
    ]);
    const expected = Buffer.concat([found(GETKQ, 1, 'one', 'ok/1'), denied(GETKQ, 3), found(GETKQ, 4, 'three', 'ok/3'), binaryReply(NOOP, 0, 5)]);
    for (const chunking of ['whole' as const, 'per-byte' as const, ...everySplit(script)]) {
      const { connection: splitConnection } = open([rule('get', { keyPrefix: 'ok/' }), rule('noop')], { 'ok/1': 'one', 'ok/3': 'three' });
      splitConnection.fromClient(script, { chunking });
      expect(Buffer.from(splitConnection.clientBytes).toString('hex'), JSON.stringify(chunking)).toBe(expected.toString('hex'));
    }
    connection.fromClient(script);
    expect(server.requests).toEqual(['getkq ok/1', 'getkq ok/2', 'noop', 'getkq ok/3', 'noop']);
  });

  it('answers a denied quiet set, and a denied set after a quiet miss, in order', () => {
    const { connection, server } = open([rule('get'), rule('noop')]);
    const script = Buffer.concat([
      binaryRequest(GETQ, { key: 'nothing', opaque: 10 }),
      binaryRequest(SETQ, { key: 'k', extras: Buffer.alloc(8), value: Buffer.from('v'), opaque: 11 }),
      binaryRequest(SET, { key: 'k', extras: Buffer.alloc(8), value: Buffer.from('v'), opaque: 12 }),
      binaryRequest(GETK, { key: 'k', opaque: 13 }),
    ]);
    connection.fromClient(script, { chunking: 'per-byte' });
    const expected = Buffer.concat([denied(SETQ, 11), denied(SET, 12), binaryReply(GETK, 1, 13, { key: 'k', value: Buffer.from('Not found') })]);
    expect(Buffer.from(connection.clientBytes).toString('hex')).toBe(expected.toString('hex'));
    expect(server.store.has('k')).toBe(false);
  });

  it('passes a large value beyond the buffer without waiting for it', () => {
    const { connection, server } = open([rule('set')]);
    const value = Buffer.alloc(200_000, 0x61);
    connection.fromClient(binaryRequest(SET, { key: 'big', extras: Buffer.alloc(8), value, opaque: 7 }), { chunking: { sizes: [30, 1000, 100000] } });
    expect(server.store.get('big')?.length).toBe(200_000);
    expect(Buffer.from(connection.clientBytes).equals(binaryReply(SET, 0, 7))).toBe(true);
  });

  it('closes the connection on a request without the request magic', () => {
    const { connection, server, vm } = open(undefined);
    const bad = binaryRequest(GET, { key: 'k' });
    bad[0] = 0x81;
    connection.fromClient(Buffer.concat([binaryRequest(NOOP), bad]));
    expect(connection.isOpen).toBe(false);
    expect(server.requests).toEqual(['noop']);
    expect(accessLog(vm).map((entry) => entry.type)).toEqual(['Request', 'Error']);
  });

  it('logs the opcode name and key, and each reply with its status (the denied one only as Denied)', () => {
    const { connection, vm } = open([rule('delete', { keyExact: 'a' })]);
    connection.fromClient(Buffer.concat([binaryRequest(DELETE, { key: 'a', opaque: 1 }), binaryRequest(GETK, { key: 'b', opaque: 2 })]));
    expect(accessLog(vm).map((entry) => [entry.type, entry.fields])).toEqual([
      ['Request', { command: 'delete', keys: 'a' }],
      ['Denied', { command: 'getk', keys: 'b' }],
      ['Response', { command: 'delete', status: 1 }],
    ]);
  });
});
