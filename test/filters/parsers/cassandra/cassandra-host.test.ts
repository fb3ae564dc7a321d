// The Cassandra filter on the Proxy-Wasm test host, against a fake Cassandra that answers like
// the real one: v3/v4 frames and v5 segments (split at every byte), each opcode, denials on the
// request's stream id (queued behind outstanding replies, or through an OPTIONS probe whose
// SUPPORTED answer is replaced), prepared ids, batches, USE, compression refusal and limits.
import { beforeAll, describe, expect, it } from 'vitest';
import { everySplit, type Chunking } from '../../../../server/wasm-host/index.ts';
import { accessLog, ensureFiltersBuilt } from '../../host-helpers.ts';
import {
  Opcode,
  authResponse,
  batch,
  errorOf,
  execute,
  fakeCassandra,
  frame,
  largeSegments,
  options,
  prepare,
  preparedId,
  query,
  readFrames,
  register,
  segment,
  startup,
  type FakeCassandra,
} from './cql-wire.ts';
import { OUTPOST_RULES, loadCassandra } from './test-rules.ts';

// Building every filter can take minutes on a busy machine; do it before the first test's clock.
beforeAll(() => ensureFiltersBuilt(), 600_000);

const UNAUTHORIZED = { code: 0x2100, message: 'Request Unauthorized' };

function open(rules: unknown = OUTPOST_RULES, extra: Record<string, unknown> = {}) {
  const server = fakeCassandra();
  const vm = loadCassandra(rules, extra);
  const connection = vm.openConnection({ upstream: server });
  return { vm, server, connection };
}

// Replies the client received, read through segments after the handshake for v5.
function clientFrames(bytes: Uint8Array, version: number, handshakeFrames = 1) {
  return readFrames(bytes, version >= 5 ? handshakeFrames : Number.POSITIVE_INFINITY);
}

// Wraps post-handshake requests in a segment for v5.
const wrap = (version: number, ...frames: Buffer[]): Buffer => (version >= 5 ? segment(Buffer.concat(frames)) : Buffer.concat(frames));

describe.each([3, 4, 5])('CQL v%i session with the Empire outpost rules', (version) => {
  it('passes allowed statements and answers denied ones with 0x2100 on their stream id', () => {
    const { vm, server, connection } = open();
    connection.fromClient(startup(version));
    connection.fromClient(wrap(version, query(version, 1, 'SELECT * FROM system.local')));
    connection.fromClient(wrap(version, query(version, 2, 'SELECT * FROM deathstar.scrum_notes')));
    connection.fromClient(wrap(version, query(version, 3, "INSERT INTO attendance.daily_records (loc_id, present) VALUES (uuid(), true)")));
    const replies = clientFrames(connection.clientBytes, version);
    expect(replies.map((reply) => [reply.stream, reply.opcode])).toEqual([
      [0, Opcode.Ready],
      [1, Opcode.Result],
      [2, Opcode.Error],
      [3, Opcode.Result],
    ]);
    expect(errorOf(replies[2]!)).toEqual(UNAUTHORIZED);
    expect(replies.every((reply) => reply.version === version && reply.response)).toBe(true);
    expect(server.queries()).toEqual(['SELECT * FROM system.local', 'INSERT INTO attendance.daily_records (loc_id, present) VALUES (uuid(), true)']);
    // the denied query was replaced by an OPTIONS probe on its stream id
    expect(server.requests.filter((request) => request.opcode === Opcode.Options).map((request) => request.stream)).toEqual([2]);
    expect(accessLog(vm).map((entry) => [entry.type, entry.proto, entry.fields])).toEqual([
      ['Request', 'cassandra', { query_action: 'select', query_table: 'system.local' }],
      ['Denied', 'cassandra', { query_action: 'select', query_table: 'deathstar.scrum_notes' }],
      ['Request', 'cassandra', { query_action: 'insert', query_table: 'attendance.daily_records' }],
    ]);
  });

  it('decides the same wherever TCP splits the request stream', () => {
    const requests = Buffer.concat([
      wrap(version, options(version, 7)),
      wrap(version, query(version, 1, 'select * from system_schema.tables'), query(version, 2, 'SELECT * FROM attendance.daily_records')),
      wrap(version, prepare(version, 3, 'INSERT INTO attendance.daily_records (present) VALUES (?)')),
    ]);
    // replies by stream id (their order depends on when the server answered)
    const summary = (bytes: Uint8Array) =>
      clientFrames(bytes, version)
        .map((reply) => `${reply.stream}:${reply.opcode}${reply.opcode === Opcode.Error ? `:${errorOf(reply).code}` : ''}`)
        .sort();
    const expected = ['0:2', '1:8', `2:0:${0x2100}`, '3:8', '7:6'];
    for (const chunking of everySplit(requests)) {
      const { server, connection } = open();
      connection.fromClient(startup(version)).fromClient(requests, { chunking: chunking as Chunking });
      expect(summary(connection.clientBytes)).toEqual(expected);
      expect(server.queries()).toEqual(['select * from system_schema.tables', 'INSERT INTO attendance.daily_records (present) VALUES (?)']);
    }
  });

  it('handles replies split at every byte', () => {
    const requests = wrap(version, query(version, 1, 'SELECT * FROM system.peers'), query(version, 2, 'SELECT * FROM deathstar.scrum_notes'));
    const reference = open();
    reference.connection.fromClient(startup(version)).fromClient(requests);
    const expected = Buffer.from(reference.connection.clientBytes).toString('hex');
    const splits = everySplit(Buffer.from(reference.connection.clientBytes).subarray(9));
    for (const chunking of splits.filter((_, index) => index % 3 === 0)) {
      const server = fakeCassandra();
      const vm = loadCassandra(OUTPOST_RULES);
      const connection = vm.openConnection({ upstream: server, upstreamChunking: chunking as Chunking });
      connection.fromClient(startup(version)).fromClient(requests);
      expect(Buffer.from(connection.clientBytes).toString('hex')).toBe(expected);
    }
  });

  it('binds prepared ids from PREPARE results and checks EXECUTE against the rules', () => {
    const { vm, server, connection } = open();
    connection.fromClient(startup(version));
    const insert = 'INSERT INTO attendance.daily_records (present) VALUES (?)';
    connection.fromClient(wrap(version, prepare(version, 1, insert)));
    connection.fromClient(wrap(version, execute(version, 2, preparedId(insert), [Buffer.from([1])])));
    connection.fromClient(wrap(version, prepare(version, 3, 'SELECT * FROM deathstar.scrum_notes WHERE id = ?')));
    const unknown = preparedId('SELECT * FROM deathstar.scrum_notes');
    connection.fromClient(wrap(version, execute(version, 4, unknown)));
    const replies = clientFrames(connection.clientBytes, version);
    expect(replies.map((reply) => [reply.stream, reply.opcode])).toEqual([
      [0, Opcode.Ready],
      [1, Opcode.Result],
      [2, Opcode.Result],
      [3, Opcode.Error],
      [4, Opcode.Error],
    ]);
    expect(errorOf(replies[3]!)).toEqual(UNAUTHORIZED);
    const unprepared = errorOf(replies[4]!);
    expect(unprepared.code).toBe(0x2500);
    expect(unprepared.id?.toString('hex')).toBe(unknown.toString('hex'));
    expect(server.requests.filter((request) => request.opcode === Opcode.Execute).map((request) => request.stream)).toEqual([2]);
    expect(accessLog(vm).map((entry) => [entry.type, entry.fields])).toEqual([
      ['Request', { query_action: 'insert', query_table: 'attendance.daily_records' }],
      ['Request', { query_action: 'insert', query_table: 'attendance.daily_records' }],
      ['Denied', { query_action: 'select', query_table: 'deathstar.scrum_notes' }],
      ['Denied', { error: 'unknown prepared query id' }],
    ]);
  });

  it('checks every statement of a BATCH; one denied statement denies the batch', () => {
    const { vm, server, connection } = open([{ query_action: 'insert' }, { query_action: 'update', query_table: 'attendance.daily_records' }]);
    connection.fromClient(startup(version));
    const insert = 'INSERT INTO attendance.daily_records (present) VALUES (?)';
    connection.fromClient(wrap(version, prepare(version, 1, insert)));
    connection.fromClient(wrap(version, batch(version, 2, [{ id: preparedId(insert), values: [Buffer.from([1])] }, { query: "UPDATE attendance.daily_records SET present = false WHERE loc_id = 1" }])));
    connection.fromClient(wrap(version, batch(version, 3, [{ query: 'INSERT INTO deathstar.plans (a) VALUES (1)' }, { query: 'DELETE FROM deathstar.plans WHERE a = 1' }])));
    connection.fromClient(wrap(version, batch(version, 4, [{ id: preparedId('never prepared') }])));
    const replies = clientFrames(connection.clientBytes, version);
    expect(replies.map((reply) => [reply.stream, reply.opcode])).toEqual([
      [0, Opcode.Ready],
      [1, Opcode.Result],
      [2, Opcode.Result],
      [3, Opcode.Error],
      [4, Opcode.Error],
    ]);
    expect(errorOf(replies[3]!)).toEqual(UNAUTHORIZED);
    expect(errorOf(replies[4]!).code).toBe(0x2500);
    expect(server.requests.filter((request) => request.opcode === Opcode.Batch).map((request) => request.stream)).toEqual([2]);
    expect(accessLog(vm).slice(1).map((entry) => [entry.type, entry.fields.query_action ?? entry.fields.error, entry.reason])).toEqual([
      ['Request', 'insert', ''],
      ['Request', 'update', ''],
      ['Denied', 'insert', 'another statement of the same request is denied'],
      ['Denied', 'delete', 'no rule allows this statement'],
      ['Denied', 'unknown prepared query id', expect.stringContaining('UNPREPARED')],
    ]);
  });
});

describe('CQL stream ids and reply positions', () => {
  it('queues a deny reply behind an outstanding reply: the server sees no probe', () => {
    const { server, connection } = open();
    connection.fromClient(startup(4));
    connection.fromClient(Buffer.concat([query(4, 5, 'SELECT * FROM system.local'), query(4, 6, 'SELECT * FROM deathstar.scrum_notes')]));
    const replies = readFrames(connection.clientBytes);
    expect(replies.map((reply) => [reply.stream, reply.opcode])).toEqual([
      [0, Opcode.Ready],
      [6, Opcode.Error],
      [5, Opcode.Result],
    ]);
    expect(server.requests.map((request) => request.opcode)).toEqual([Opcode.Startup, Opcode.Query]);
  });

  it('v5: rebuilds a segment that holds allowed and denied envelopes, with valid CRCs', () => {
    const { server, connection } = open();
    connection.fromClient(startup(5));
    connection.fromClient(segment(Buffer.concat([query(5, 1, 'SELECT * FROM deathstar.scrum_notes'), query(5, 2, 'SELECT * FROM system.local'), query(5, 3, 'SELECT * FROM attendance.daily_records')])));
    // stream 1 denied with nothing outstanding -> probe; stream 3 denied behind outstanding replies
    expect(server.requests.slice(1).map((request) => [request.stream, request.opcode])).toEqual([
      [1, Opcode.Options],
      [2, Opcode.Query],
    ]);
    const replies = readFrames(connection.clientBytes, 1);
    expect(replies.slice(1).map((reply) => [reply.stream, reply.opcode]).sort()).toEqual([
      [1, Opcode.Error],
      [2, Opcode.Result],
      [3, Opcode.Error],
    ]);
  });

  it('v5: a request envelope split over several segments is reassembled and decided as a whole', () => {
    const { vm, server, connection } = open([{}]);
    connection.fromClient(startup(5));
    const longInsert = `INSERT INTO attendance.daily_records (note) VALUES ('${'x'.repeat(300)}')`;
    connection.fromClient(largeSegments(query(5, 9, longInsert), 64), { chunking: { sizes: [50, 3, 100] } });
    expect(server.queries()).toEqual([longInsert]);
    expect(readFrames(connection.clientBytes, 1).map((reply) => reply.opcode)).toEqual([Opcode.Ready, Opcode.Result]);
    expect(accessLog(vm).map((entry) => entry.fields)).toEqual([{ query_action: 'insert', query_table: 'attendance.daily_records' }]);
  });

  it('passes OPTIONS, REGISTER and AUTH_RESPONSE without logging them', () => {
    const { vm, server, connection } = open([]);
    connection.fromClient(options(4, 0)).fromClient(startup(4, 1)).fromClient(Buffer.concat([register(4, 2), authResponse(4, 3)]));
    expect(server.requests.map((request) => request.opcode)).toEqual([Opcode.Options, Opcode.Startup, Opcode.Register, Opcode.AuthResponse]);
    expect(accessLog(vm)).toEqual([]);
  });
});

describe('CQL keyspaces', () => {
  it('resolves unqualified tables with the keyspace the server confirmed for USE', () => {
    const { vm, server, connection } = open([{ query_action: 'select', query_table: 'attendance.daily_records' }]);
    connection.fromClient(startup(4));
    connection.fromClient(query(4, 1, 'SELECT * FROM daily_records'));
    connection.fromClient(query(4, 2, 'USE attendance'));
    connection.fromClient(query(4, 3, 'SELECT * FROM daily_records'));
    connection.fromClient(query(4, 4, 'SELECT * FROM "Daily_Records"'));
    expect(server.queries()).toEqual(['USE attendance', 'SELECT * FROM daily_records']);
    expect(accessLog(vm).map((entry) => [entry.type, entry.fields.query_table ?? '', entry.reason])).toEqual([
      ['Denied', '', expect.stringContaining('no keyspace is in use')],
      ['Request', 'attendance', ''],
      ['Request', 'attendance.daily_records', ''],
      ['Denied', 'attendance.Daily_Records', 'no rule allows this statement'],
    ]);
  });

  it('v5: a keyspace given in the QUERY parameters qualifies bare names', () => {
    const { vm, connection } = open([{ query_action: 'select', query_table: 'attendance.daily_records' }]);
    connection.fromClient(startup(5));
    connection.fromClient(segment(query(5, 1, 'SELECT * FROM daily_records', { keyspace: 'deathstar' })));
    connection.fromClient(segment(query(5, 2, 'SELECT * FROM daily_records', { keyspace: 'attendance', values: [Buffer.from('x')] })));
    expect(accessLog(vm).map((entry) => [entry.type, entry.fields.query_table])).toEqual([
      ['Denied', 'deathstar.daily_records'],
      ['Request', 'attendance.daily_records'],
    ]);
  });
});

describe('CQL connection limits', () => {
  it('refuses STARTUP with COMPRESSION by a protocol error; the server sees only a probe', () => {
    const { vm, server, connection } = open([{}]);
    connection.fromClient(startup(4, 0, { COMPRESSION: 'lz4' }));
    const [reply] = readFrames(connection.clientBytes);
    expect(reply?.opcode).toBe(Opcode.Error);
    expect(errorOf(reply!).code).toBe(0x000a);
    expect(errorOf(reply!).message).toContain('compress');
    expect(server.requests.map((request) => request.opcode)).toEqual([Opcode.Options]);
    expect(accessLog(vm)[0]?.type).toBe('Denied');
  });

  it('closes the connection on a compressed frame instead of passing bytes it cannot read', () => {
    const { vm, server, connection } = open([{}]);
    connection.fromClient(startup(4));
    connection.fromClient(frame(4, 1, Opcode.Query, Buffer.from('opaque compressed bytes'), { flags: 0x01 }));
    vm.settle();
    expect(server.requests.map((request) => request.opcode)).toEqual([Opcode.Startup]);
    expect(accessLog(vm).at(-1)).toMatchObject({ type: 'Error', reason: expect.stringContaining('compressed frame') });
  });

  it('fails a frame over maxBufferBytes', () => {
    const { vm, server, connection } = open([{}], { maxBufferBytes: 1024 });
    connection.fromClient(startup(4));
    connection.fromClient(query(4, 1, `INSERT INTO a.b (c) VALUES ('${'y'.repeat(2000)}')`));
    vm.settle();
    expect(server.requests).toHaveLength(1);
    expect(accessLog(vm).at(-1)).toMatchObject({ type: 'Error', reason: expect.stringContaining('exceeds maxBufferBytes') });
  });

  it('v5: fails a segment whose header CRC24 is wrong', () => {
    const { vm, server, connection } = open([{}]);
    connection.fromClient(startup(5));
    const bad = segment(query(5, 1, 'SELECT * FROM system.local'));
    bad[3] = bad[3]! ^ 0xff;
    connection.fromClient(bad);
    vm.settle();
    expect(server.requests).toHaveLength(1);
    expect(accessLog(vm).at(-1)).toMatchObject({ type: 'Error', reason: expect.stringContaining('CRC24') });
  });
});

export type { FakeCassandra };
