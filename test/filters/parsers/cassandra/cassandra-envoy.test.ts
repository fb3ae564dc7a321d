// The Cassandra filter in real Envoy 1.40 in front of a real Cassandra 5 node: Cilium's Empire
// guide. The outpost (select on system.* and system_schema.*, insert into
// attendance.daily_records) connects through one Envoy, HQ (every query) through another.
// cassandra-driver negotiates protocol v4, cqlsh v5 (v4 when forced); the outpost's other SELECTs
// fail with code 0x2100 "Request Unauthorized" in both, prepared statements and batches are
// checked, and Envoy's log carries the verdicts.
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installCassandra } from '../../../../demo/servers/cassandra/install.ts';
import { installCqlsh, runCqlsh } from '../../../../demo/servers/cassandra/cqlsh.ts';
import { startCassandra, type RunningCassandra } from '../../../../demo/servers/cassandra/runner.ts';
import { filterWasm, startWasmEnvoy, type WasmEnvoy } from '../../envoy-harness.ts';
import { ensureFiltersBuilt } from '../../host-helpers.ts';
import { OUTPOST_RULES } from './test-rules.ts';

const quiet = (): void => undefined;
const UNAUTHORIZED_CODE = 0x2100;

function client(port: number, keyspace?: string): cassandra.Client {
  return new cassandra.Client({ contactPoints: [`127.0.0.1:${port}`], localDataCenter: 'datacenter1', keyspace, pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 1 } } });
}

async function populateEmpire(node: RunningCassandra): Promise<void> {
  const direct = client(node.nativePort);
  await direct.connect();
  const replication = "{'class': 'SimpleStrategy', 'replication_factor': 1}";
  await direct.execute(`CREATE KEYSPACE IF NOT EXISTS deathstar WITH replication = ${replication}`);
  await direct.execute(`CREATE KEYSPACE IF NOT EXISTS attendance WITH replication = ${replication}`);
  await direct.execute('CREATE TABLE IF NOT EXISTS deathstar.scrum_notes (empire_member_id uuid, content varchar, creation timeuuid, PRIMARY KEY (empire_member_id, creation))');
  await direct.execute('CREATE TABLE IF NOT EXISTS attendance.daily_records (creation timeuuid, loc_id uuid, present boolean, empire_member_id uuid, PRIMARY KEY (loc_id, creation, empire_member_id))');
  for (const note of ['Designing a thermal exhaust port', 'The plans were stolen', 'Exhaust port is 2 meters wide']) {
    await direct.execute('INSERT INTO deathstar.scrum_notes (empire_member_id, content, creation) VALUES (uuid(), ?, now())', [note], { prepare: true });
  }
  for (let i = 0; i < 11; i++) await direct.execute('INSERT INTO attendance.daily_records (creation, loc_id, present, empire_member_id) VALUES (now(), uuid(), true, uuid())');
  await direct.shutdown();
}

async function expectUnauthorized(promise: Promise<unknown>): Promise<void> {
  const error = await promise.then(
    () => null,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(cassandra.errors.ResponseError);
  expect((error as cassandra.errors.ResponseError).code).toBe(UNAUTHORIZED_CODE);
  expect((error as Error).message).toBe('Request Unauthorized');
}

describe('Cassandra filter in Envoy with Cassandra 5 (Empire guide)', () => {
  let node: RunningCassandra;
  let outpost: WasmEnvoy;
  let hq: WasmEnvoy;

  beforeAll(async () => {
    ensureFiltersBuilt();
    const installation = await installCassandra({ say: quiet });
    installCqlsh({ say: quiet });
    node = await startCassandra({ libDir: installation.libDir });
    await populateEmpire(node);
    const envoy = (rules: unknown) =>
      startWasmEnvoy({ wasmFile: filterWasm('cassandra'), rootId: 'cassandra', configuration: JSON.stringify({ parser: 'cassandra', rules }), backendPort: node.nativePort });
    outpost = await envoy(OUTPOST_RULES);
    hq = await envoy([{}]);
  }, 600_000);

  afterAll(async () => {
    await outpost?.stop();
    await hq?.stop();
    await node?.stop();
  }, 60_000);

  it('driver (v4): the outpost may read system tables and insert attendance, nothing else', async () => {
    const session = client(outpost.listenerPort);
    try {
      await session.connect();
      const local = await session.execute('SELECT release_version FROM system.local');
      expect(local.rowLength).toBe(1);
      await session.execute('INSERT INTO attendance.daily_records (creation, loc_id, present, empire_member_id) VALUES (now(), uuid(), true, uuid())');
      await expectUnauthorized(session.execute('SELECT * FROM attendance.daily_records'));
      await expectUnauthorized(session.execute('SELECT * FROM deathstar.scrum_notes'));
      // the connection survives denials
      expect((await session.execute('SELECT keyspace_name FROM system_schema.keyspaces')).rowLength).toBeGreaterThan(2);
    } finally {
      await session.shutdown();
    }
    const entries = outpost.accessLogEntries();
    expect(entries).toContainEqual(expect.objectContaining({ type: 'Denied', proto: 'cassandra', fields: { query_action: 'select', query_table: 'deathstar.scrum_notes' } }));
    expect(entries).toContainEqual(expect.objectContaining({ type: 'Request', fields: { query_action: 'insert', query_table: 'attendance.daily_records' } }));
  });

  it('driver (v4): prepared statements and batches are checked statement by statement', async () => {
    const session = client(outpost.listenerPort);
    const insert = 'INSERT INTO attendance.daily_records (creation, loc_id, present, empire_member_id) VALUES (now(), ?, ?, uuid())';
    try {
      await session.connect();
      await session.execute(insert, [cassandra.types.Uuid.random(), false], { prepare: true });
      await session.execute(insert, [cassandra.types.Uuid.random(), true], { prepare: true });
      await expectUnauthorized(session.execute('SELECT * FROM deathstar.scrum_notes WHERE empire_member_id = ?', [cassandra.types.Uuid.random()], { prepare: true }));
      await session.batch([{ query: insert, params: [cassandra.types.Uuid.random(), true] }, { query: insert, params: [cassandra.types.Uuid.random(), false] }], { prepare: true });
      await expectUnauthorized(
        session.batch([
          { query: insert, params: [cassandra.types.Uuid.random(), true] },
          { query: 'DELETE FROM attendance.daily_records WHERE loc_id = ?', params: [cassandra.types.Uuid.random()] },
        ]),
      );
    } finally {
      await session.shutdown();
    }
  });

  it('HQ sees everything, including what the outpost inserted', async () => {
    const session = client(hq.listenerPort);
    try {
      await session.connect();
      expect((await session.execute('SELECT * FROM deathstar.scrum_notes')).rowLength).toBe(3);
      expect((await session.execute('SELECT * FROM attendance.daily_records')).rowLength).toBe(11 + 1 + 2 + 2);
    } finally {
      await session.shutdown();
    }
  });

  it.each([5, 4] as const)('cqlsh (protocol v%i): the outpost SELECT fails with code=2100, its INSERT works', async (protocolVersion) => {
    const denied = await runCqlsh({ host: '127.0.0.1', port: outpost.listenerPort, execute: 'SELECT * FROM attendance.daily_records', protocolVersion });
    expect(denied.stderr).toMatch(/Unauthorized.*code=2100 \[Unauthorized\] message="Request Unauthorized"/);
    const inserted = await runCqlsh({
      host: '127.0.0.1',
      port: outpost.listenerPort,
      execute: 'INSERT INTO attendance.daily_records (creation, loc_id, present, empire_member_id) VALUES (now(), uuid(), true, uuid())',
      protocolVersion,
    });
    const deniedHere = outpost.accessLogEntries().filter((entry) => entry.type !== 'Request');
    expect(inserted.stderr, `outpost denials: ${JSON.stringify(deniedHere)}`).toBe('');
    expect(inserted.exitCode).toBe(0);
    const everything = await runCqlsh({ host: '127.0.0.1', port: hq.listenerPort, execute: 'SELECT * FROM deathstar.scrum_notes', protocolVersion });
    expect(everything.stdout).toContain('(3 rows)');
  }, 60_000);
});
