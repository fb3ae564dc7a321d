// The Cassandra filter reads every request the way Cassandra 5.0 does, on the test host against
// the fake Cassandra: the per-request keyspace parameter at v3, v4 and v5 wherever the other
// query parameters put it (QUERY, BATCH), keyspace changes in flight, the start of a connection
// (requests before STARTUP's answer, STARTUP answered with an error, refused protocol versions
// answered like the server), STARTUP option names folded like the server, conditional
// statements, stream ids, and the names and bytes Cassandra could never accept.
import { beforeAll, describe, expect, it } from 'vitest';
import type { FakeUpstream } from '../../../../server/wasm-host/index.ts';
import { accessLog, ensureFiltersBuilt } from '../../host-helpers.ts';
import {
  Opcode,
  batch,
  errorOf,
  fakeCassandra,
  frame,
  int,
  options,
  prepare,
  preparedId,
  query,
  readFrames,
  segment,
  startup,
  startupWith,
  stringMap,
  execute,
} from './cql-wire.ts';
import { loadCassandra, tableRegex } from './test-rules.ts';

beforeAll(() => ensureFiltersBuilt(), 600_000);

// select and insert on attendance.* only; deathstar is off limits.
const ATTENDANCE = [
  { query_action: 'select', query_table: tableRegex('^attendance\\.') },
  { query_action: 'insert', query_table: tableRegex('^attendance\\.') },
];

function open(rules: unknown = ATTENDANCE, upstream: FakeUpstream = fakeCassandra()) {
  const vm = loadCassandra(rules);
  const connection = vm.openConnection({ upstream });
  return { vm, connection };
}

const wrap = (version: number, ...frames: Buffer[]): Buffer => (version >= 5 ? segment(Buffer.concat(frames)) : Buffer.concat(frames));
const replies = (bytes: Uint8Array, version: number) => readFrames(bytes, version >= 5 ? 1 : Number.POSITIVE_INFINITY);
const tables = (vm: ReturnType<typeof loadCassandra>) => accessLog(vm).map((entry) => [entry.type, entry.fields.query_table]);

describe.each([3, 4, 5])('class 2: the keyspace parameter at v%i', (version) => {
  it('qualifies bare names in QUERY, whatever other parameters come before it', () => {
    const server = fakeCassandra();
    const { vm, connection } = open(ATTENDANCE, server);
    connection.fromClient(startup(version)).fromClient(wrap(version, query(version, 1, 'USE attendance')));
    connection.fromClient(wrap(version, query(version, 2, 'SELECT * FROM scrum_notes', { keyspace: 'deathstar' })));
    connection.fromClient(wrap(version, query(version, 3, 'SELECT * FROM scrum_notes', { keyspace: 'deathstar', values: [Buffer.from('x')], pageSize: 100, pagingState: Buffer.from('ps'), serialConsistency: 9, timestamp: 5n })));
    connection.fromClient(wrap(version, query(version, 4, 'SELECT * FROM daily_records', { keyspace: 'attendance', names: ['a'], values: [Buffer.from('y')] })));
    expect(tables(vm)).toEqual([
      ['Request', 'attendance'],
      ['Denied', 'deathstar.scrum_notes'],
      ['Denied', 'deathstar.scrum_notes'],
      ['Request', 'attendance.daily_records'],
    ]);
    expect(server.queries()).toEqual(['USE attendance', 'SELECT * FROM daily_records']);
  });

  it('qualifies bare names of BATCH text entries, after page size and paging state too', () => {
    const { vm, connection } = open();
    connection.fromClient(startup(version)).fromClient(wrap(version, query(version, 1, 'USE attendance')));
    const insert = { query: 'INSERT INTO daily_records (a) VALUES (1)' };
    connection.fromClient(wrap(version, batch(version, 2, [insert], { keyspace: 'deathstar' })));
    connection.fromClient(wrap(version, batch(version, 3, [insert], { keyspace: 'deathstar', pageSize: 0x0009_6465, pagingState: Buffer.from('x'), serialConsistency: 8 })));
    connection.fromClient(wrap(version, batch(version, 4, [insert])));
    expect(tables(vm)).toEqual([
      ['Request', 'attendance'],
      ['Denied', 'deathstar.daily_records'],
      ['Denied', 'deathstar.daily_records'],
      ['Request', 'attendance.daily_records'],
    ]);
  });

  it('refuses a keyspace parameter no keyspace can have', () => {
    const { vm, connection } = open();
    connection.fromClient(startup(version)).fromClient(wrap(version, query(version, 1, 'SELECT * FROM daily_records', { keyspace: 'attendance.x' })));
    expect(accessLog(vm)).toEqual([expect.objectContaining({ type: 'Denied', reason: expect.stringContaining('keyspace parameter is not a name') })]);
  });
});

describe('class 3: keyspace changes in flight', () => {
  it('refuses a bare name pipelined behind USE, and resolves it once the USE is answered', () => {
    const server = fakeCassandra();
    const { vm, connection } = open(ATTENDANCE, server);
    connection.fromClient(startup(4)).fromClient(query(4, 1, 'USE attendance'));
    connection.fromClient(Buffer.concat([query(4, 2, 'USE deathstar'), query(4, 3, 'SELECT * FROM scrum_notes'), query(4, 4, 'SELECT * FROM deathstar.scrum_notes')]));
    connection.fromClient(query(4, 5, 'SELECT * FROM scrum_notes'));
    const entries = accessLog(vm);
    expect(entries.map((entry) => [entry.type, entry.fields.query_table ?? ''])).toEqual([
      ['Request', 'attendance'],
      ['Request', 'deathstar'],
      ['Denied', ''],
      ['Denied', 'deathstar.scrum_notes'],
      ['Denied', 'deathstar.scrum_notes'],
    ]);
    expect(entries[2]?.reason).toContain('a USE is in flight');
    expect(server.queries()).toEqual(['USE attendance', 'USE deathstar']);
  });

  it('refuses USE while a request resolved against the current keyspace is in flight', () => {
    const server = fakeCassandra();
    const { vm, connection } = open(ATTENDANCE, server);
    connection.fromClient(startup(4)).fromClient(query(4, 1, 'USE attendance'));
    connection.fromClient(Buffer.concat([query(4, 2, 'SELECT * FROM daily_records'), query(4, 3, 'USE deathstar'), query(4, 4, 'SELECT * FROM daily_records')]));
    expect(accessLog(vm).map((entry) => [entry.type, entry.fields.query_table])).toEqual([
      ['Request', 'attendance'],
      ['Request', 'attendance.daily_records'],
      ['Denied', 'deathstar'],
      ['Request', 'attendance.daily_records'],
    ]);
    expect(accessLog(vm)[2]?.reason).toContain('Cassandra could run them in either order');
    expect(server.queries()).toEqual(['USE attendance', 'SELECT * FROM daily_records', 'SELECT * FROM daily_records']);
  });

  it('a request naming its own keyspace does not depend on the connection keyspace', () => {
    const { vm, connection } = open();
    connection.fromClient(startup(5)).fromClient(segment(query(5, 1, 'USE attendance')));
    connection.fromClient(segment(Buffer.concat([query(5, 2, 'SELECT * FROM daily_records', { keyspace: 'attendance' }), query(5, 3, 'USE deathstar')])));
    expect(tables(vm)).toEqual([
      ['Request', 'attendance'],
      ['Request', 'attendance.daily_records'],
      ['Request', 'deathstar'],
    ]);
  });
});

describe('class 4: the start of a connection', () => {
  it.each([4, 5])('v%i: a request before STARTUP is answered closes the connection; the server sees only STARTUP', (version) => {
    const server = fakeCassandra();
    const { vm, connection } = open([{}], server);
    connection.fromClient(Buffer.concat([startup(version), query(version, 1, 'SELECT * FROM deathstar.scrum_notes')]));
    vm.settle();
    expect(server.requests.map((request) => request.opcode)).toEqual([Opcode.Startup]);
    expect(accessLog(vm).at(-1)).toMatchObject({ type: 'Error', reason: expect.stringContaining('before Cassandra answered STARTUP') });
  });

  it.each([4, 5])('v%i: after STARTUP is answered with an ERROR the next request closes the connection', (version) => {
    const server = fakeCassandra();
    const { vm, connection } = open([{}], server);
    connection.fromClient(startupWith(version, 0, { DRIVER_NAME: 'x' }));
    expect(readFrames(connection.clientBytes).map((reply) => reply.opcode)).toEqual([Opcode.Error]);
    // what Cassandra would now read as segments (v5), or an unstarted legacy connection (v4)
    connection.fromClient(wrap(version, startup(version, 1), query(version, 2, 'SELECT * FROM deathstar.scrum_notes')));
    vm.settle();
    expect(server.requests.map((request) => request.opcode)).toEqual([Opcode.Startup]);
    expect(accessLog(vm).at(-1)).toMatchObject({ type: 'Error', reason: expect.stringContaining('answered STARTUP with an error') });
  });

  it('before STARTUP only OPTIONS (without a body) and STARTUP are forwarded', () => {
    const server = fakeCassandra();
    const { vm, connection } = open([{}], server);
    connection.fromClient(options(4, 3)).fromClient(query(4, 1, 'SELECT * FROM system.local'));
    vm.settle();
    expect(server.requests.map((request) => request.opcode)).toEqual([Opcode.Options]);
    expect(accessLog(vm).at(-1)).toMatchObject({ type: 'Error', reason: expect.stringContaining('before STARTUP') });
    const other = open([{}]);
    other.connection.fromClient(frame(4, 1, Opcode.Options, Buffer.from('hidden')));
    other.vm.settle();
    expect(accessLog(other.vm).at(-1)).toMatchObject({ type: 'Error', reason: expect.stringContaining('OPTIONS carries a body') });
  });

  it.each([
    // [what, request, reply version, reply stream, logged Denied (only refusing v6 is Weir's own decision)]
    ['v2 (its own 8-byte header)', Buffer.concat([Buffer.from([0x02, 0x00, 0x07, Opcode.Startup]), int(22), stringMap({ CQL_VERSION: '3.0.0' })]), 2, 7, false],
    ['the v6 beta, flagged', startupWith(6, 9, { CQL_VERSION: '3.0.0' }, { flags: 0x10 }), 5, 9, true],
    ['v6 without the beta flag', startupWith(6, 9, { CQL_VERSION: '3.0.0' }), 5, 9, true],
    ['DSE v2 (0x42)', startupWith(0x42, 4, { CQL_VERSION: '3.0.0' }), 5, 4, false],
  ])('answers %s with Cassandra\'s protocol error and never forwards it', (_, request, replyVersion, replyStream, loggedDenied) => {
    const server = fakeCassandra();
    const { vm, connection } = open([{}], server);
    connection.fromClient(request);
    const reply = Buffer.from(connection.clientBytes);
    const headerBytes = replyVersion < 3 ? 8 : 9;
    expect(reply[0]).toBe(0x80 | replyVersion);
    expect(replyVersion < 3 ? reply[2] : reply.readUInt16BE(2)).toBe(replyStream);
    expect(reply[headerBytes - 5]).toBe(Opcode.Error);
    const body = reply.subarray(headerBytes);
    expect(body.readInt32BE(0)).toBe(0x000a);
    expect(body.subarray(6).toString()).toMatch(/^Invalid or unsupported protocol version \(\d+\); supported versions are \(3\/v3, 4\/v4, 5\/v5\)$/);
    expect(server.requests.map((received) => received.opcode)).toEqual([Opcode.Options]);
    // the connection is refused: whatever comes next closes it
    connection.fromClient(startup(4, 1));
    vm.settle();
    expect(server.requests).toHaveLength(1);
    expect(accessLog(vm).map((entry) => entry.type)).toEqual(loggedDenied ? ['Denied', 'Error'] : ['Error']);
  });

  it.each([
    ['a TLS ClientHello (0x16)', Buffer.from('16030100f4010000f00303', 'hex')],
    ['v7', startupWith(7, 1, { CQL_VERSION: '3.0.0' })],
    ['0x25', startupWith(0x25, 1, { CQL_VERSION: '3.0.0' })],
  ])('closes at once on a first frame in a version no client downgrades from: %s', (_, request) => {
    const server = fakeCassandra();
    const { vm, connection } = open([{}], server);
    connection.fromClient(request);
    vm.settle();
    expect(connection.upstreamBytes).toHaveLength(0);
    expect(connection.clientBytes).toHaveLength(0);
    expect(connection.isOpen).toBe(false);
    expect(accessLog(vm).at(-1)).toMatchObject({ type: 'Error', reason: expect.stringContaining('which no CQL client sends') });
  });

  it('a frame in another version than STARTUP\'s closes the connection', () => {
    const server = fakeCassandra();
    const { vm, connection } = open([{}], server);
    connection.fromClient(startup(4)).fromClient(query(3, 1, 'SELECT * FROM system.local'));
    vm.settle();
    expect(server.requests).toHaveLength(1);
    expect(accessLog(vm).at(-1)).toMatchObject({ type: 'Error', reason: expect.stringContaining('started with v4') });
  });
});

describe('class 5: STARTUP options folded as Cassandra folds them', () => {
  it.each([['compression'], ['Compression'], ['COMPRESSION'], ['compre\u00dfion'], ['\u017fomething']])('refuses a STARTUP with option %j', (name) => {
    const server = fakeCassandra();
    const { vm, connection } = open([{}], server);
    connection.fromClient(startupWith(5, 0, { CQL_VERSION: '3.0.0', [name]: 'lz4' }));
    const [reply] = readFrames(connection.clientBytes);
    expect(reply?.opcode).toBe(Opcode.Error);
    expect(errorOf(reply!).code).toBe(0x000a);
    expect(server.requests.map((request) => [request.version, request.opcode])).toEqual([[5, Opcode.Options]]);
    expect(accessLog(vm)).toEqual([expect.objectContaining({ type: 'Denied' })]);
  });

  it('refuses option values that are not printable ASCII of at most 255 bytes', () => {
    for (const value of ['\u0005\u0000\u0000\u0000\u0007', 'x'.repeat(256), 'caf\u00e9']) {
      const server = fakeCassandra();
      const { connection } = open([{}], server);
      connection.fromClient(startupWith(4, 0, { CQL_VERSION: '3.0.0', DRIVER_NAME: value }));
      expect(errorOf(readFrames(connection.clientBytes)[0]!).code).toBe(0x000a);
      expect(server.requests.map((request) => [request.version, request.opcode])).toEqual([[5, Opcode.Options]]);
    }
  });

  it('passes other option names in any case', () => {
    const server = fakeCassandra();
    const { connection } = open([{}], server);
    connection.fromClient(startupWith(4, 0, { cql_version: '3.0.0', Driver_Name: 'weir' }));
    expect(server.requests.map((request) => request.opcode)).toEqual([Opcode.Startup]);
  });
});

describe('class 6: conditional statements answer with the current row', () => {
  const INSERT_ONLY = [{ query_action: 'insert', query_table: 'attendance.daily_records' }];
  const statements = [
    'INSERT INTO attendance.daily_records (a) VALUES (1) IF NOT EXISTS',
    "BEGIN BATCH INSERT INTO attendance.daily_records (a) VALUES (1) IF NOT EXISTS APPLY BATCH",
  ];

  it.each(statements)('%s needs select too', (text) => {
    const server = fakeCassandra();
    const { vm, connection } = open(INSERT_ONLY, server);
    connection.fromClient(startup(4)).fromClient(query(4, 1, text)).fromClient(query(4, 2, 'INSERT INTO attendance.daily_records (a) VALUES (1)'));
    expect(accessLog(vm).map((entry) => [entry.type, entry.fields, entry.reason])).toEqual([
      ['Denied', { query_action: 'insert', query_table: 'attendance.daily_records', conditional: 'true' }, expect.stringContaining('also needs a select rule')],
      ['Request', { query_action: 'insert', query_table: 'attendance.daily_records' }, ''],
    ]);
    const allowed = open([...INSERT_ONLY, { query_action: 'select', query_table: 'attendance.daily_records' }]);
    allowed.connection.fromClient(startup(4)).fromClient(query(4, 1, text));
    expect(accessLog(allowed.vm).map((entry) => entry.type)).toEqual(['Request']);
  });

  it('a prepared conditional statement needs select at EXECUTE too', () => {
    const { vm, connection } = open([{ query_action: 'update', query_table: 'attendance.daily_records' }, { query_action: 'select', query_table: 'attendance.daily_records' }]);
    const text = 'UPDATE attendance.daily_records SET a = 2 WHERE b = 1 IF a = 1';
    connection.fromClient(startup(4)).fromClient(query(4, 1, text.replace(' IF a = 1', ''))).fromClient(prepare(4, 2, text));
    connection.fromClient(execute(4, 3, preparedId(text)));
    expect(accessLog(vm).map((entry) => [entry.type, entry.fields.conditional ?? ''])).toEqual([
      ['Request', ''],
      ['Request', 'true'],
      ['Request', 'true'],
    ]);
  });
});

describe('stream ids, BATCH kinds and replies', () => {
  it('closes on a negative stream id, and on an id reused while in flight', () => {
    const negative = open([{}]);
    negative.connection.fromClient(startup(4)).fromClient(query(4, -5, 'SELECT * FROM system.local'));
    negative.vm.settle();
    expect(accessLog(negative.vm).at(-1)).toMatchObject({ type: 'Error', reason: expect.stringContaining('negative') });
    const server = fakeCassandra();
    const reused = open([{}], server);
    reused.connection.fromClient(startup(4)).fromClient(Buffer.concat([query(4, 1, 'SELECT * FROM system.local'), query(4, 1, 'SELECT * FROM system.peers')]));
    reused.vm.settle();
    expect(server.queries()).toEqual(['SELECT * FROM system.local']);
    expect(accessLog(reused.vm).at(-1)).toMatchObject({ type: 'Error', reason: expect.stringContaining('reused before its reply') });
  });

  it('denies a BATCH entry that is not INSERT, UPDATE or DELETE, and closes on an unknown BATCH type', () => {
    const { vm, connection } = open([{}]);
    connection.fromClient(startup(4)).fromClient(batch(4, 1, [{ query: 'SELECT * FROM system.local' }]));
    expect(accessLog(vm).at(-1)).toMatchObject({ type: 'Denied', reason: expect.stringContaining('BATCH may only hold') });
    connection.fromClient(batch(4, 2, [{ query: 'INSERT INTO a.b (c) VALUES (1)' }], {}, 3));
    vm.settle();
    expect(accessLog(vm).at(-1)).toMatchObject({ type: 'Error', reason: expect.stringContaining('BATCH type 3') });
  });

  it('closes when the server answers a stream id that has no request in flight', () => {
    const liar: FakeUpstream = {
      onData(_bytes, peer) {
        peer.send(frame(4, 0, Opcode.Ready, Buffer.alloc(0), { response: true }));
        peer.send(frame(4, 77, Opcode.Result, int(1), { response: true }));
      },
    };
    const { vm, connection } = open([{}], liar);
    connection.fromClient(startup(4));
    vm.settle();
    expect(accessLog(vm).at(-1)).toMatchObject({ type: 'Error', reason: expect.stringContaining('stream 77') });
  });
});

