// The Cassandra wire fuzzer: sessions from the grammar (cql-grammar.ts) and mutated recordings of
// real clients, sent with raw sockets through real Envoy and the cassandra filter to a real
// Cassandra 5 with its audit log on, then checked with the differential oracle
// (test/support/cassandra-oracle.ts): for every client, everything Cassandra executed was allowed
// by that client's policy and logged by Weir as a Request with the same action and table.
// Each client has its own Envoy, whose connections to Cassandra come from the client's own
// loopback address, so the audit log says whose request ran. Used by `npm run fuzz:wire --
// cassandra` and by the CI slice in the Cassandra attack tests.
import cassandra from 'cassandra-driver';
import fs from 'node:fs';
import { installCassandra } from '../../../demo/servers/cassandra/install.ts';
import { startCassandra, type RunningCassandra } from '../../../demo/servers/cassandra/runner.ts';
import { readAuditLog } from '../../support/cassandra-audit.ts';
import { checkCassandraOracle, type OracleRule, type OracleViolation } from '../../support/cassandra-oracle.ts';
import { filterWasm, startWasmEnvoy, type WasmEnvoy } from '../../filters/envoy-harness.ts';
import { ensureFiltersBuilt } from '../../filters/host-helpers.ts';
import { RawCql } from '../../filters/parsers/cassandra/raw-cql.ts';
import { tableRegex } from '../../filters/parsers/cassandra/test-rules.ts';
import { FUZZ_KEYSPACES, FUZZ_TABLES, FUZZ_TABLE_COLUMNS, type CqlRandom, type CqlSession } from './cql-grammar.ts';

export interface WireClient {
  readonly name: string;
  readonly address: string;
  readonly rules: readonly OracleRule[];
}

const SYSTEM_READS: OracleRule[] = [
  { query_action: 'select', query_table: { regex: '^system\\.' } },
  { query_action: 'select', query_table: { regex: '^system_schema\\.' } },
];

// Clients with overlapping and disjoint rights, so a request resolved against the wrong keyspace
// or table, or a conditional write, lands outside what its client may do.
export const WIRE_CLIENTS: readonly WireClient[] = [
  { name: 'outpost', address: '127.0.1.2', rules: [...SYSTEM_READS, { query_action: 'select', query_table: { regex: '^attendance\\.' } }, { query_action: 'insert', query_table: { regex: '^attendance\\.' } }] },
  { name: 'reader', address: '127.0.1.3', rules: [{ query_action: 'select', query_table: { regex: '^deathstar\\.scrum_notes$' } }] },
  { name: 'writer', address: '127.0.1.4', rules: [{ query_action: 'insert', query_table: 'attendance.daily_records' }, { query_action: 'update', query_table: 'attendance.daily_records' }, { query_action: 'delete', query_table: 'attendance.daily_records' }] },
];

export interface CassandraWireDeployment {
  readonly node: RunningCassandra;
  readonly clients: readonly WireClient[];
  envoyOf(client: WireClient): WasmEnvoy;
  /** The oracle's findings over everything run so far. */
  violations(): OracleViolation[];
  stop(): Promise<void>;
}

// Starts Cassandra (audit log on) with the fuzz schema, or uses `node` when given, and one Envoy
// per client.
export async function deployCassandraWire(options: { node?: RunningCassandra } = {}): Promise<CassandraWireDeployment> {
  ensureFiltersBuilt('cassandra');
  const ownNode = options.node === undefined;
  // A long run on a busy machine may wait minutes for the JVM; the readiness probe says when.
  const node = options.node ?? (await startCassandra({ libDir: installCassandra({ say: () => undefined }).libDir, auditLog: true, readyTimeoutMs: 300_000 }));
  if (node.auditLog === undefined) throw new Error('deployCassandraWire: the Cassandra node must run with auditLog: true');
  const envoys = new Map<string, WasmEnvoy>();
  try {
    await createFuzzSchema(node);
    for (const client of WIRE_CLIENTS) {
      const rules = client.rules.map((rule) => ({ ...rule, ...(typeof rule.query_table === 'object' ? { query_table: tableRegex(rule.query_table.regex) } : {}) }));
      envoys.set(client.name, await startWasmEnvoy({ wasmFile: filterWasm('cassandra'), rootId: 'cassandra', configuration: JSON.stringify({ parser: 'cassandra', rules }), backendPort: node.nativePort, upstreamSourceAddress: client.address }));
    }
  } catch (error) {
    for (const envoy of envoys.values()) await envoy.stop();
    if (ownNode) await node.stop();
    throw error;
  }
  const envoyOf = (client: WireClient): WasmEnvoy => envoys.get(client.name) as WasmEnvoy;
  return {
    node,
    clients: WIRE_CLIENTS,
    envoyOf,
    violations: () => checkCassandraOracle(readAuditLog(node.auditLog as string), WIRE_CLIENTS.map((client) => ({ name: client.name, sourceAddress: client.address, rules: [...client.rules], accessLog: () => envoyOf(client).accessLogEntries() }))),
    stop: async () => {
      for (const envoy of envoys.values()) await envoy.stop();
      if (ownNode) await node.stop();
    },
  };
}

async function createFuzzSchema(node: RunningCassandra): Promise<void> {
  const direct = new cassandra.Client({ contactPoints: [`127.0.0.1:${node.nativePort}`], localDataCenter: 'datacenter1' });
  await direct.connect();
  try {
    for (const keyspace of FUZZ_KEYSPACES) {
      await direct.execute(`CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}`);
      for (const table of FUZZ_TABLES) {
        await direct.execute(`CREATE TABLE IF NOT EXISTS ${keyspace}.${table} ${FUZZ_TABLE_COLUMNS}`);
        await direct.execute(`INSERT INTO ${keyspace}.${table} (id, content, present) VALUES (1, 'row of ${keyspace}.${table}', true)`);
      }
    }
  } finally {
    await direct.shutdown();
  }
}

// How long a step waits for its answer before the session goes on regardless (a denied or
// refused request may get none); not a failure.
const STEP_WAIT_MS = 2_000;

// Sends one session through `client`'s Envoy: each step's bytes cut at random points into
// separate writes, waiting for the awaited reply (or the connection's end) where the step asks.
export async function runWireSession(deployment: CassandraWireDeployment, client: WireClient, session: CqlSession, random: CqlRandom): Promise<void> {
  const connection = await RawCql.connect(deployment.envoyOf(client).listenerPort);
  try {
    let repliesBeforeSegments: number | undefined;
    for (const step of session.steps) {
      if (connection.closed) return;
      for (const piece of splitRandomly(step.bytes, random)) connection.send(piece);
      if (step.awaitStream === undefined) continue;
      const answered = await waitForStream(connection, step.awaitStream);
      if (answered && step.startup === true && session.version >= 5 && repliesBeforeSegments === undefined) {
        repliesBeforeSegments = connection.frames().length;
        connection.segmentsAfter(repliesBeforeSegments);
      }
    }
    await waitForStream(connection, Number.NaN).catch(() => undefined);
  } finally {
    connection.close();
  }
}

// True once a reply on `stream` arrived; false when the connection ended, the replies cannot be
// framed (a refused or mutated session), or the wait ran out.
async function waitForStream(connection: RawCql, stream: number): Promise<boolean> {
  const seen = (): boolean => {
    try {
      return connection.frames().some((reply) => reply.stream === stream);
    } catch {
      return true;
    }
  };
  try {
    await connection.waitUntil(() => seen() || connection.closed, Number.isNaN(stream) ? 200 : STEP_WAIT_MS, `the reply on stream ${stream}`);
  } catch {
    return false;
  }
  return seen() && !connection.closed;
}

function splitRandomly(bytes: Buffer, random: CqlRandom): Buffer[] {
  if (bytes.length < 2 || random.chance(0.6)) return [bytes];
  const cuts = Array.from({ length: random.between(1, 3) }, () => random.between(1, bytes.length - 1)).sort((a, b) => a - b);
  const pieces: Buffer[] = [];
  let start = 0;
  for (const cut of cuts) {
    pieces.push(bytes.subarray(start, cut));
    start = cut;
  }
  pieces.push(bytes.subarray(start));
  return pieces.filter((piece) => piece.length > 0);
}

// Resolves once the audit log has stopped growing (the server has logged what it ran for the
// connections already closed); polls its size, as a file gives no other event.
export async function auditLogSettled(deployment: CassandraWireDeployment): Promise<void> {
  const file = deployment.node.auditLog as string;
  let size = -1;
  for (;;) {
    const now = fs.existsSync(file) ? fs.statSync(file).size : 0;
    if (now === size) return;
    size = now;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

