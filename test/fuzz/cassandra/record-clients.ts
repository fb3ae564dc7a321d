// Records the bytes real CQL clients send, as seeds for mutation: cassandra-driver (Node.js,
// protocol v4 after its DSE v2 attempt) and cqlsh (the Python driver, protocol v5 and v4) run
// their usual operations (schema, USE, prepared statements, paging, batches, conditional writes)
// against a real Cassandra 5 through a recording TCP relay, and each client connection's bytes
// are written to recordings/<client>.json (base64). Run once with
// `npx tsx test/fuzz/cassandra/record-clients.ts`; the recordings are kept as test data, so
// fuzzing needs neither client nor server.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import cassandra from 'cassandra-driver';
import { installCassandra } from '../../../demo/servers/cassandra/install.ts';
import { installCqlsh, runCqlsh } from '../../../demo/servers/cassandra/cqlsh.ts';
import { startCassandra } from '../../../demo/servers/cassandra/runner.ts';
import { startRecordingRelay } from '../framework/recording-relay.ts';

const RECORDINGS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'recordings');

const SCHEMA = [
  "CREATE KEYSPACE IF NOT EXISTS attendance WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
  "CREATE KEYSPACE IF NOT EXISTS deathstar WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
  'CREATE TABLE IF NOT EXISTS attendance.daily_records (loc_id int, creation timeuuid, present boolean, PRIMARY KEY (loc_id, creation))',
  'CREATE TABLE IF NOT EXISTS deathstar.scrum_notes (id int PRIMARY KEY, content text)',
];

async function recordDriver(port: number): Promise<void> {
  const client = new cassandra.Client({ contactPoints: [`127.0.0.1:${port}`], localDataCenter: 'datacenter1', keyspace: undefined, pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 1 } } });
  await client.connect();
  for (const statement of SCHEMA) await client.execute(statement);
  await client.shutdown();
  const session = new cassandra.Client({ contactPoints: [`127.0.0.1:${port}`], localDataCenter: 'datacenter1', keyspace: 'attendance', pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 1 } } });
  await session.connect();
  const insert = 'INSERT INTO daily_records (loc_id, creation, present) VALUES (?, now(), ?)';
  for (let i = 0; i < 5; i++) await session.execute(insert, [i, i % 2 === 0], { prepare: true });
  await session.execute('SELECT * FROM daily_records WHERE loc_id = ?', [1], { prepare: true });
  await session.execute('SELECT * FROM attendance.daily_records', [], { fetchSize: 2 });
  await session.batch([{ query: insert, params: [7, true] }, { query: 'UPDATE daily_records SET present = false WHERE loc_id = 7 AND creation = now()' }], { prepare: true });
  await session.execute("INSERT INTO deathstar.scrum_notes (id, content) VALUES (1, 'plans') IF NOT EXISTS");
  await session.execute('SELECT content FROM deathstar.scrum_notes WHERE id = 1');
  await session.execute('DELETE FROM deathstar.scrum_notes WHERE id = 1 IF EXISTS');
  await session.shutdown();
}

const CQLSH_SCRIPT = [
  'USE attendance;',
  'SELECT * FROM daily_records LIMIT 3;',
  'INSERT INTO daily_records (loc_id, creation, present) VALUES (9, now(), true);',
  "BEGIN BATCH INSERT INTO deathstar.scrum_notes (id, content) VALUES (2, 'a'); UPDATE deathstar.scrum_notes SET content = 'b' WHERE id = 2; APPLY BATCH;",
  "INSERT INTO deathstar.scrum_notes (id, content) VALUES (3, 'c') IF NOT EXISTS;",
  'SELECT * FROM "deathstar"."scrum_notes";',
].join(' ');

async function recordCqlsh(port: number, protocolVersion: 4 | 5): Promise<void> {
  const result = await runCqlsh({ host: '127.0.0.1', port, execute: CQLSH_SCRIPT, protocolVersion });
  if (result.exitCode !== 0) throw new Error(`cqlsh (v${protocolVersion}) failed: ${result.stderr}`);
}

function write(client: string, server: string, sessions: Buffer[][]): void {
  const file = path.join(RECORDINGS_DIR, `${client}.json`);
  const recorded = { client, recordedWith: 'test/fuzz/cassandra/record-clients.ts', server, sessions: sessions.filter((chunks) => chunks.length > 0).map((chunks) => Buffer.concat(chunks).toString('base64')) };
  fs.mkdirSync(RECORDINGS_DIR, { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(recorded, null, 2)}\n`);
  console.log(`${file}: ${recorded.sessions.length} connections`);
}

async function main(): Promise<void> {
  const installation = installCassandra();
  installCqlsh();
  const node = await startCassandra({ libDir: installation.libDir });
  const server = `Cassandra ${installation.version}`;
  try {
    for (const [client, record] of [
      ['cassandra-driver', recordDriver],
      ['cqlsh-v5', (port: number) => recordCqlsh(port, 5)],
      ['cqlsh-v4', (port: number) => recordCqlsh(port, 4)],
    ] as const) {
      const relay = await startRecordingRelay(node.nativePort);
      try {
        await record(relay.port);
      } finally {
        await relay.close();
      }
      write(client, server, relay.sessions);
    }
  } finally {
    await node.stop();
  }
}

await main();
