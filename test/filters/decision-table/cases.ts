// The decision table: one semantics of CiliumNetworkPolicy L7 rules, written once as cases (the
// policy, the peer, the request as it goes on the wire and as the decoded record the server's
// reference matcher reads, the expected verdict) and run by decision-table.test.ts against both
// the server's reference decision (server/policy/decide.ts) and each protocol's Wasm filter on the
// test host, with the agent publishing the same compiled policy. A case where the two disagree is a
// policy bypass or a false denial, whichever side is wrong.
import type { L7Request } from '../../../server/policy/l7-rule-keys.ts';
import { binaryRequest } from '../parsers/memcache/fake-memcached.ts';
import { query, startup } from '../parsers/cassandra/cql-wire.ts';
import { metadata, produce } from '../parsers/kafka/kafka-wire.ts';

export type Peer = 'web' | 'admin' | 'stranger';
export type Protocol = 'r2d2' | 'memcache' | 'cassandra' | 'kafka';

export interface DecisionCase {
  readonly name: string;
  readonly peer: Peer;
  /** Bytes the client sends before the request (a handshake); their verdicts are not compared. */
  readonly before?: Uint8Array;
  readonly wire: Uint8Array;
  readonly record: L7Request;
  readonly expected: 'allow' | 'deny';
}

export interface ProtocolTable {
  readonly protocol: Protocol;
  readonly port: number;
  /** The `rules:` map for web (first) and admin (second); the endpoint `db` is selected, stranger matches nothing. */
  readonly webRules: string;
  readonly adminRules: string;
  readonly cases: readonly DecisionCase[];
}

const text = (line: string): Uint8Array => Buffer.from(line, 'latin1');

/** The CiliumNetworkPolicy of a table: web and admin may reach db's port under their rules. */
export function tablePolicy(table: ProtocolTable): string {
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: ${table.protocol}-table }
specs:
  - endpointSelector: { matchLabels: { app: db } }
    ingress:
      - fromEndpoints: [{ matchLabels: { app: web } }]
        toPorts:
          - ports: [{ port: "${table.port}", protocol: TCP }]
            rules: ${table.webRules}
      - fromEndpoints: [{ matchLabels: { app: admin } }]
        toPorts:
          - ports: [{ port: "${table.port}", protocol: TCP }]
            rules: ${table.adminRules}
`;
}

const R2D2: ProtocolTable = {
  protocol: 'r2d2',
  port: 9000,
  webRules: '{ l7proto: r2d2, l7: [{ cmd: READ }] }',
  adminRules: '{ l7proto: r2d2, l7: [{ cmd: READ }, { cmd: WRITE, file: "^log" }, { cmd: RESET }] }',
  cases: [
    { name: 'web READ', peer: 'web', wire: text('READ sloop\r\n'), record: { cmd: 'READ', file: 'sloop' }, expected: 'allow' },
    { name: 'web WRITE', peer: 'web', wire: text('WRITE logs\r\n'), record: { cmd: 'WRITE', file: 'logs' }, expected: 'deny' },
    { name: 'admin WRITE matching the regex', peer: 'admin', wire: text('WRITE logs\r\n'), record: { cmd: 'WRITE', file: 'logs' }, expected: 'allow' },
    { name: 'admin WRITE not matching the regex', peer: 'admin', wire: text('WRITE blog\r\n'), record: { cmd: 'WRITE', file: 'blog' }, expected: 'deny' },
    { name: 'admin WRITE without a file', peer: 'admin', wire: text('WRITE\r\n'), record: { cmd: 'WRITE' }, expected: 'deny' },
    { name: 'admin WRITE with two words (no file)', peer: 'admin', wire: text('WRITE log a\r\n'), record: { cmd: 'WRITE' }, expected: 'deny' },
    { name: 'admin RESET', peer: 'admin', wire: text('RESET\r\n'), record: { cmd: 'RESET' }, expected: 'allow' },
    { name: 'admin HALT', peer: 'admin', wire: text('HALT\r\n'), record: { cmd: 'HALT' }, expected: 'deny' },
    { name: 'lower-case read', peer: 'web', wire: text('read sloop\r\n'), record: { cmd: 'read', file: 'sloop' }, expected: 'deny' },
    { name: 'stranger READ (no rule for its identity)', peer: 'stranger', wire: text('READ sloop\r\n'), record: { cmd: 'READ', file: 'sloop' }, expected: 'deny' },
  ],
};

const MEMCACHE: ProtocolTable = {
  protocol: 'memcache',
  port: 11211,
  webRules: '{ l7proto: memcache, l7: [{ command: get, keyPrefix: "public/" }] }',
  adminRules: '{ l7proto: memcache, l7: [{ command: get }, { command: writeGroup, keyRegex: "^(public|admin)/[a-z]+$" }, { command: version }] }',
  cases: [
    { name: 'web get of a public key', peer: 'web', wire: text('get public/a\r\n'), record: { command: 'get', keys: ['public/a'] }, expected: 'allow' },
    { name: 'web get of a private key', peer: 'web', wire: text('get secret\r\n'), record: { command: 'get', keys: ['secret'] }, expected: 'deny' },
    { name: 'web multi-key get, one key private', peer: 'web', wire: text('get public/a secret\r\n'), record: { command: 'get', keys: ['public/a', 'secret'] }, expected: 'deny' },
    { name: 'web gets (in the get group)', peer: 'web', wire: text('gets public/b\r\n'), record: { command: 'gets', keys: ['public/b'] }, expected: 'allow' },
    { name: 'web set', peer: 'web', wire: text('set public/a 0 0 1\r\nx\r\n'), record: { command: 'set', keys: ['public/a'] }, expected: 'deny' },
    { name: 'web binary get of a public key', peer: 'web', wire: binaryRequest(0x00, { key: 'public/a', opaque: 7 }), record: { opcode: 0x00, keys: ['public/a'] }, expected: 'allow' },
    { name: 'web binary get of a private key', peer: 'web', wire: binaryRequest(0x00, { key: 'secret', opaque: 8 }), record: { opcode: 0x00, keys: ['secret'] }, expected: 'deny' },
    { name: 'admin set matching the regex', peer: 'admin', wire: text('set admin/x 0 0 1\r\nx\r\n'), record: { command: 'set', keys: ['admin/x'] }, expected: 'allow' },
    { name: 'admin set not matching the regex', peer: 'admin', wire: text('set admin/X 0 0 1\r\nx\r\n'), record: { command: 'set', keys: ['admin/X'] }, expected: 'deny' },
    { name: 'admin delete (in writeGroup)', peer: 'admin', wire: text('delete public/a\r\n'), record: { command: 'delete', keys: ['public/a'] }, expected: 'allow' },
    { name: 'admin flush_all (no rule)', peer: 'admin', wire: text('flush_all\r\n'), record: { command: 'flush_all' }, expected: 'deny' },
    { name: 'admin version', peer: 'admin', wire: text('version\r\n'), record: { command: 'version' }, expected: 'allow' },
    { name: 'stranger get', peer: 'stranger', wire: text('get public/a\r\n'), record: { command: 'get', keys: ['public/a'] }, expected: 'deny' },
  ],
};

const CQL_VERSION = 4;
const cql = (stream: number, statement: string): Uint8Array => query(CQL_VERSION, stream, statement);

const CASSANDRA: ProtocolTable = {
  protocol: 'cassandra',
  port: 9042,
  webRules: '{ l7proto: cassandra, l7: [{ query_action: select, query_table: "^deathstar\\\\.scrum_notes$" }] }',
  adminRules: '{ l7proto: cassandra, l7: [{ query_action: select }, { query_action: insert, query_table: "^attendance\\\\." }] }',
  cases: [
    { name: 'web select of the allowed table', peer: 'web', before: startup(CQL_VERSION), wire: cql(1, 'SELECT * FROM deathstar.scrum_notes'), record: { query_action: 'select', query_table: 'deathstar.scrum_notes' }, expected: 'allow' },
    { name: 'web select of another table', peer: 'web', before: startup(CQL_VERSION), wire: cql(1, 'SELECT * FROM deathstar.plans'), record: { query_action: 'select', query_table: 'deathstar.plans' }, expected: 'deny' },
    { name: 'web insert', peer: 'web', before: startup(CQL_VERSION), wire: cql(1, 'INSERT INTO deathstar.scrum_notes (a) VALUES (1)'), record: { query_action: 'insert', query_table: 'deathstar.scrum_notes' }, expected: 'deny' },
    { name: 'admin select of any table', peer: 'admin', before: startup(CQL_VERSION), wire: cql(1, 'SELECT * FROM deathstar.plans'), record: { query_action: 'select', query_table: 'deathstar.plans' }, expected: 'allow' },
    { name: 'admin insert matching the regex', peer: 'admin', before: startup(CQL_VERSION), wire: cql(1, 'INSERT INTO attendance.daily_records (a) VALUES (1)'), record: { query_action: 'insert', query_table: 'attendance.daily_records' }, expected: 'allow' },
    { name: 'admin insert not matching the regex', peer: 'admin', before: startup(CQL_VERSION), wire: cql(1, 'INSERT INTO deathstar.plans (a) VALUES (1)'), record: { query_action: 'insert', query_table: 'deathstar.plans' }, expected: 'deny' },
    { name: 'admin delete (no rule)', peer: 'admin', before: startup(CQL_VERSION), wire: cql(1, 'DELETE FROM attendance.daily_records WHERE a = 1'), record: { query_action: 'delete', query_table: 'attendance.daily_records' }, expected: 'deny' },
    { name: 'stranger select', peer: 'stranger', before: startup(CQL_VERSION), wire: cql(1, 'SELECT * FROM deathstar.scrum_notes'), record: { query_action: 'select', query_table: 'deathstar.scrum_notes' }, expected: 'deny' },
  ],
};

const KAFKA: ProtocolTable = {
  protocol: 'kafka',
  port: 9092,
  webRules: '{ kafka: [{ role: consume, topic: empire-announce }] }',
  adminRules: '{ kafka: [{ role: produce, topic: empire-announce }, { apiKey: metadata }] }',
  cases: [
    { name: 'admin produce to the allowed topic', peer: 'admin', wire: produce(9, 1, [{ topic: 'empire-announce', partitions: [0] }]), record: { apiKey: 'produce', apiVersion: '9', clientID: 'weir-test', topic: 'empire-announce' }, expected: 'allow' },
    { name: 'admin produce to another topic', peer: 'admin', wire: produce(9, 1, [{ topic: 'deathstar-plans', partitions: [0] }]), record: { apiKey: 'produce', apiVersion: '9', clientID: 'weir-test', topic: 'deathstar-plans' }, expected: 'deny' },
    { name: 'web produce (consume role only)', peer: 'web', wire: produce(9, 1, [{ topic: 'empire-announce', partitions: [0] }]), record: { apiKey: 'produce', apiVersion: '9', clientID: 'weir-test', topic: 'empire-announce' }, expected: 'deny' },
    { name: 'admin metadata for one topic', peer: 'admin', wire: metadata(12, 1, ['deathstar-plans']), record: { apiKey: 'metadata', apiVersion: '12', clientID: 'weir-test', topic: 'deathstar-plans' }, expected: 'allow' },
    { name: 'stranger produce', peer: 'stranger', wire: produce(9, 1, [{ topic: 'empire-announce', partitions: [0] }]), record: { apiKey: 'produce', apiVersion: '9', clientID: 'weir-test', topic: 'empire-announce' }, expected: 'deny' },
  ],
};

export const DECISION_TABLES: readonly ProtocolTable[] = [R2D2, MEMCACHE, CASSANDRA, KAFKA];
