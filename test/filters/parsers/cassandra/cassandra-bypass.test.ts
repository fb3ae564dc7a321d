// The attacks of issue 13 on the Cassandra filter, replayed with raw sockets through real Envoy
// 1.40 and the cassandra filter to a real Cassandra 5.0 with its audit log on, and checked
// against that log: what the server executed for the attacker's connections (they come from
// 127.0.0.2) must be allowed by the policy and logged by Weir (test/support/cassandra-oracle.ts).
// Each server rule the filter mirrors is first shown on Cassandra itself (directly, from
// 127.0.0.1), so a Cassandra upgrade that changes one fails here, not in production. The same
// node then serves the seeded CI slice of the wire fuzzer (`npm run fuzz:wire -- cassandra`).
import cassandra from 'cassandra-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installCassandra } from '../../../../demo/servers/cassandra/install.ts';
import { startCassandra, type RunningCassandra } from '../../../../demo/servers/cassandra/runner.ts';
import { readAuditLog, executions, type AuditEntry } from '../../../support/cassandra-audit.ts';
import { checkCassandraOracle, describeViolations, type OracleClient } from '../../../support/cassandra-oracle.ts';
import { filterWasm, startWasmEnvoy, type WasmEnvoy } from '../../envoy-harness.ts';
import { ensureFiltersBuilt } from '../../host-helpers.ts';
import { Opcode, batch, errorOf, int, query, segment, startup, startupWith, stringMap, type Frame } from './cql-wire.ts';
import { RawCql } from './raw-cql.ts';
import { tableRegex } from './test-rules.ts';
import { runCassandraWireFuzz } from '../../../fuzz/cassandra/wire-cli-runner.ts';
import { deployCassandraWire, auditLogSettled, type CassandraWireDeployment } from '../../../fuzz/cassandra/wire-fuzz.ts';
import { FUZZ_TABLE_COLUMNS } from '../../../fuzz/cassandra/cql-grammar.ts';

const ATTACKER_ADDRESS = '127.0.0.2';
const INSERTER_ADDRESS = '127.0.0.3';
const RULES = [
  { query_action: 'select', query_table: { regex: '^system\\.' } },
  { query_action: 'select', query_table: { regex: '^system_schema\\.' } },
  { query_action: 'select', query_table: { regex: '^system_virtual_schema\\.' } },
  { query_action: 'select', query_table: { regex: '^attendance\\.' } },
  { query_action: 'insert', query_table: { regex: '^attendance\\.' } },
];
const SECRET = 'SELECT content FROM deathstar.scrum_notes';

async function populate(node: RunningCassandra): Promise<void> {
  const direct = new cassandra.Client({ contactPoints: [`127.0.0.1:${node.nativePort}`], localDataCenter: 'datacenter1' });
  await direct.connect();
  const replication = "{'class': 'SimpleStrategy', 'replication_factor': 1}";
  for (const keyspace of ['deathstar', 'attendance']) await direct.execute(`CREATE KEYSPACE IF NOT EXISTS ${keyspace} WITH replication = ${replication}`);
  for (const keyspace of ['deathstar', 'attendance']) {
    for (const table of ['scrum_notes', 'daily_records']) await direct.execute(`CREATE TABLE IF NOT EXISTS ${keyspace}.${table} ${FUZZ_TABLE_COLUMNS}`);
  }
  await direct.execute("INSERT INTO deathstar.scrum_notes (id, content) VALUES (1, 'exhaust port is 2 meters wide')");
  await direct.execute('INSERT INTO attendance.daily_records (id, present) VALUES (1, true)');
  await direct.shutdown();
}

// Opens a raw v4 or v5 connection and completes STARTUP (READY); v5 then reads segments.
async function started(port: number, version: 4 | 5): Promise<RawCql> {
  const client = await RawCql.connect(port);
  client.send(startup(version));
  const [ready] = await client.waitForFrames(1);
  expect(ready?.opcode).toBe(Opcode.Ready);
  if (version === 5) client.segmentsAfter(1);
  return client;
}

const rowsResult = (reply: Frame | undefined): boolean => reply?.opcode === Opcode.Result && reply.body.readInt32BE(0) === 2;

describe('attacks on the Cassandra filter, against Cassandra 5 and its audit log', () => {
  let node: RunningCassandra;
  let envoy: WasmEnvoy;
  let inserterLog: ReturnType<WasmEnvoy['accessLogEntries']> = [];
  const INSERTER_RULES = [{ query_action: 'insert', query_table: { regex: '^attendance\\.' } }];
  const audit = (): AuditEntry[] => readAuditLog(node.auditLog!);
  const ranForAttacker = (operation: string): AuditEntry[] => executions(audit()).filter((entry) => entry.source === ATTACKER_ADDRESS && entry.operation.includes(operation));

  beforeAll(async () => {
    ensureFiltersBuilt();
    const installation = installCassandra({ say: () => undefined });
    node = await startCassandra({ libDir: installation.libDir, auditLog: true, readyTimeoutMs: 300_000 });
    await populate(node);
    const rules = RULES.map((rule) => ({ query_action: rule.query_action, query_table: tableRegex(rule.query_table.regex) }));
    envoy = await startWasmEnvoy({
      wasmFile: filterWasm('cassandra'),
      rootId: 'cassandra',
      configuration: JSON.stringify({ parser: 'cassandra', rules }),
      backendPort: node.nativePort,
      upstreamSourceAddress: ATTACKER_ADDRESS,
    });
  }, 600_000);

  afterAll(async () => {
    await envoy?.stop();
    await node?.stop();
  }, 60_000);

  describe('class 2: the keyspace parameter of QUERY and BATCH at v4', () => {
    it('Cassandra resolves a bare table against the keyspace parameter of a v4 QUERY', async () => {
      const direct = await started(node.nativePort, 4);
      direct.send(query(4, 1, 'SELECT content FROM scrum_notes', { keyspace: 'deathstar' }));
      const [, rows] = await direct.waitForFrames(2);
      expect(rowsResult(rows)).toBe(true);
      expect(rows!.body.toString('latin1')).toContain('exhaust port');
      direct.close();
    });

    it('through Weir the same request is checked as deathstar.scrum_notes and refused', async () => {
      const attacker = await started(envoy.listenerPort, 4);
      attacker.send(query(4, 1, 'USE attendance'));
      await attacker.waitForFrames(2);
      attacker.send(query(4, 2, 'SELECT content FROM scrum_notes', { keyspace: 'deathstar' }));
      const [, , denied] = await attacker.waitForFrames(3);
      expect(errorOf(denied!).code).toBe(0x2100);
      attacker.close();
      expect(envoy.accessLogEntries()).toContainEqual(expect.objectContaining({ type: 'Denied', fields: { query_action: 'select', query_table: 'deathstar.scrum_notes' } }));
      expect(ranForAttacker('FROM scrum_notes')).toEqual([]);
    });

    it('a v4 BATCH naming its keyspace is checked against that keyspace too', async () => {
      const attacker = await started(envoy.listenerPort, 4);
      attacker.send(query(4, 1, 'USE attendance'));
      await attacker.waitForFrames(2);
      attacker.send(batch(4, 2, [{ query: "INSERT INTO daily_records (id, content) VALUES (66, 'order 66')" }], { keyspace: 'deathstar' }));
      const [, , denied] = await attacker.waitForFrames(3);
      expect(errorOf(denied!).code).toBe(0x2100);
      attacker.close();
      expect(envoy.accessLogEntries()).toContainEqual(expect.objectContaining({ type: 'Denied', fields: { query_action: 'insert', query_table: 'deathstar.daily_records' } }));
      expect(ranForAttacker('order 66')).toEqual([]);
    });
  });

  describe('class 3: USE pipelined with a bare table', () => {
    it('the bare SELECT behind an unanswered USE is refused; nothing of deathstar runs', async () => {
      const attacker = await started(envoy.listenerPort, 4);
      attacker.send(query(4, 1, 'USE attendance'));
      await attacker.waitForFrames(2);
      attacker.send(Buffer.concat([query(4, 2, 'USE deathstar'), query(4, 3, 'SELECT content FROM scrum_notes')]));
      const replies = await attacker.waitForFrames(4);
      const byStream = new Map(replies.map((reply) => [reply.stream, reply]));
      expect(byStream.get(3)?.opcode).toBe(Opcode.Error);
      expect(errorOf(byStream.get(3)!).code).toBe(0x2100);
      attacker.close();
      expect(ranForAttacker('SELECT content FROM scrum_notes')).toEqual([]);
    });
  });

  describe('class 4: framing switches', () => {
    it('Cassandra switches to v5 segments after answering a v5 STARTUP with an ERROR', async () => {
      const direct = await RawCql.connect(node.nativePort);
      direct.send(startupWith(5, 0, { DRIVER_NAME: 'no CQL_VERSION' }));
      const [refused] = await direct.waitForFrames(1);
      expect(refused?.opcode).toBe(Opcode.Error);
      direct.segmentsAfter(1);
      direct.send(segment(startup(5, 1)));
      const [, ready] = await direct.waitForFrames(2);
      expect(ready?.opcode).toBe(Opcode.Ready);
      direct.send(segment(query(5, 2, SECRET)));
      const [, , rows] = await direct.waitForFrames(3);
      expect(rowsResult(rows)).toBe(true);
      direct.close();
    });

    it('through Weir the connection is refused after that ERROR: the segments never reach Cassandra', async () => {
      const attacker = await RawCql.connect(envoy.listenerPort);
      attacker.send(startupWith(5, 0, { DRIVER_NAME: 'no CQL_VERSION' }));
      const [refused] = await attacker.waitForFrames(1);
      expect(refused?.opcode).toBe(Opcode.Error);
      attacker.send(segment(Buffer.concat([startup(5, 1), query(5, 2, SECRET)])));
      await attacker.waitForClose();
      expect(ranForAttacker(SECRET)).toEqual([]);
      expect(envoy.accessLogEntries().at(-1)).toMatchObject({ type: 'Error', reason: expect.stringContaining('answered STARTUP with an error') });
    });

    it('Cassandra accepts the v6 beta (USE_BETA flag) and then speaks segments', async () => {
      const direct = await RawCql.connect(node.nativePort);
      direct.send(startupWith(6, 0, { CQL_VERSION: '3.0.0' }, { flags: 0x10 }));
      const [ready] = await direct.waitForFrames(1);
      expect([ready?.version, ready?.opcode]).toEqual([6, Opcode.Ready]);
      direct.close();
    });

    it('through Weir v6 is answered with a protocol error and never reaches Cassandra', async () => {
      const attacker = await RawCql.connect(envoy.listenerPort);
      attacker.send(startupWith(6, 0, { CQL_VERSION: '3.0.0' }, { flags: 0x10 }));
      const [refused] = await attacker.waitForFrames(1);
      expect([refused?.version, refused?.opcode]).toEqual([5, Opcode.Error]);
      expect(errorOf(refused!).message).toMatch(/^Invalid or unsupported protocol version \(6\)/);
      attacker.send(segment(query(6, 1, SECRET)));
      await attacker.waitForClose();
      expect(ranForAttacker(SECRET)).toEqual([]);
    });

    it('a request sent before STARTUP is answered closes the connection', async () => {
      const attacker = await RawCql.connect(envoy.listenerPort);
      attacker.send(Buffer.concat([startup(5), query(5, 1, SECRET)]));
      await attacker.waitForClose();
      expect(ranForAttacker(SECRET)).toEqual([]);
    });
  });

  describe('class 5: STARTUP option names as Cassandra folds them', () => {
    it('Cassandra turns on compression for a lower-case "compression" option', async () => {
      const direct = await RawCql.connect(node.nativePort);
      direct.send(startupWith(4, 0, { CQL_VERSION: '3.0.0', compression: 'lz4' }));
      await direct.waitForFrames(1);
      direct.send(query(4, 1, 'SELECT release_version FROM system.local'));
      const [, reply] = await direct.waitForFrames(2);
      expect(reply!.flags & 0x01).toBe(0x01); // the answer is compressed
      direct.close();
    });

    it.each(['compression', 'Compression', 'compre\u00dfion'])('through Weir a STARTUP with %j is answered with a protocol error', async (name) => {
      const attacker = await RawCql.connect(envoy.listenerPort);
      attacker.send(startupWith(4, 0, { CQL_VERSION: '3.0.0', [name]: 'lz4' }));
      const [refused] = await attacker.waitForFrames(1);
      expect(refused?.opcode).toBe(Opcode.Error);
      expect(errorOf(refused!).code).toBe(0x000a);
      attacker.close();
    });
  });

  describe('class 6: conditional writes answer with the current row', () => {
    it('Cassandra answers INSERT ... IF NOT EXISTS on an existing row with that row', async () => {
      const direct = await started(node.nativePort, 4);
      direct.send(query(4, 1, "INSERT INTO attendance.scrum_notes (id, content) VALUES (7, 'secret plans')"));
      await direct.waitForFrames(2);
      direct.send(query(4, 2, "INSERT INTO attendance.scrum_notes (id, content) VALUES (7, 'x') IF NOT EXISTS"));
      const [, , rows] = await direct.waitForFrames(3);
      expect(rowsResult(rows)).toBe(true);
      expect(rows!.body.toString('latin1')).toContain('secret plans');
      direct.close();
    });

    it('through Weir a client that may only insert cannot read rows with IF NOT EXISTS', async () => {
      const rules = INSERTER_RULES.map((rule) => ({ query_action: rule.query_action, query_table: tableRegex(rule.query_table.regex) }));
      const insertOnly = await startWasmEnvoy({
        wasmFile: filterWasm('cassandra'),
        rootId: 'cassandra',
        configuration: JSON.stringify({ parser: 'cassandra', rules }),
        backendPort: node.nativePort,
        upstreamSourceAddress: INSERTER_ADDRESS,
      });
      try {
        const attacker = await started(insertOnly.listenerPort, 4);
        attacker.send(query(4, 1, "INSERT INTO attendance.scrum_notes (id, content) VALUES (7, 'x') IF NOT EXISTS"));
        const [, denied] = await attacker.waitForFrames(2);
        expect(errorOf(denied!).code).toBe(0x2100);
        attacker.send(query(4, 2, "INSERT INTO attendance.scrum_notes (id, content) VALUES (8, 'y')"));
        await attacker.waitForFrames(3);
        attacker.close();
        inserterLog = insertOnly.accessLogEntries();
        expect(inserterLog).toContainEqual(expect.objectContaining({ type: 'Denied', reason: expect.stringContaining('also needs a select rule') }));
      } finally {
        await insertOnly.stop();
      }
      const conditionalRan = executions(audit()).filter((entry) => entry.source === INSERTER_ADDRESS && entry.operation.includes('IF NOT EXISTS'));
      expect(conditionalRan).toEqual([]);
    });
  });

  describe('versions Weir does not forward', () => {
    it('v2 and DSE versions are answered like Cassandra answers them; a driver then downgrades', async () => {
      const attacker = await RawCql.connect(envoy.listenerPort);
      attacker.send(Buffer.concat([Buffer.from([0x02, 0x00, 0x05, Opcode.Startup]), int(22), stringMap({ CQL_VERSION: '3.0.0' })]));
      const reply = await attacker.waitForBytes(8);
      expect([reply[0], reply[2], reply[3]]).toEqual([0x82, 0x05, Opcode.Error]); // v2's own 8-byte header
      expect(reply.subarray(14).toString()).toMatch(/^Invalid or unsupported protocol version \(2\)/);
      attacker.close();
      const driver = new cassandra.Client({ contactPoints: [`127.0.0.1:${envoy.listenerPort}`], localDataCenter: 'datacenter1', pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 1 } } });
      try {
        await driver.connect(); // cassandra-driver starts at DSE v2 (0x42), then v4
        expect((await driver.execute('SELECT id FROM attendance.daily_records')).rowLength).toBe(1);
      } finally {
        await driver.shutdown();
      }
    });
  });

  it('Cassandra executed nothing for these connections that the policy forbids or Weir did not log', () => {
    const clients: OracleClient[] = [
      { name: 'attacker', sourceAddress: ATTACKER_ADDRESS, rules: RULES, accessLog: () => envoy.accessLogEntries() },
      { name: 'inserter', sourceAddress: INSERTER_ADDRESS, rules: INSERTER_RULES, accessLog: () => inserterLog },
    ];
    const executed = executions(audit()).filter((entry) => entry.source === ATTACKER_ADDRESS);
    expect(executed.length).toBeGreaterThan(3);
    const violations = checkCassandraOracle(audit(), clients);
    expect(violations, describeViolations(violations)).toEqual([]);
  });

  describe('the wire fuzzer, seeded CI slice', () => {
    let wire: CassandraWireDeployment;

    beforeAll(async () => {
      wire = await deployCassandraWire({ node });
    }, 300_000);

    afterAll(async () => {
      await wire?.stop();
    }, 60_000);

    it('60 sessions of seed 13 through Envoy: Cassandra ran only what each client may do and Weir logged', async () => {
      const result = await runCassandraWireFuzz({ seed: 13, sessions: 60, deployment: wire, log: () => undefined });
      expect(result.violations).toEqual([]);
      expect(result.sessions).toBe(60);
    }, 600_000);

    it('the oracle reports a statement Cassandra ran for a client that Weir never saw', async () => {
      const reader = wire.clients.find((client) => client.name === 'reader')!;
      const sneaky = await RawCql.connect(node.nativePort, '127.0.0.1', reader.address); // around Envoy
      sneaky.send(startup(4));
      await sneaky.waitForFrames(1);
      sneaky.send(query(4, 1, 'SELECT content FROM attendance.daily_records'));
      await sneaky.waitForFrames(2);
      sneaky.close();
      await auditLogSettled(wire);
      const violations = wire.violations().filter((violation) => violation.audit.operation === 'SELECT content FROM attendance.daily_records');
      expect(violations.map((violation) => [violation.client, violation.problem])).toEqual([
        ['reader', 'not allowed by the policy'],
        ['reader', 'not logged as a Request by Weir'],
      ]);
    });
  });
});
