// Cassandra for the fuzz framework: the model of Cassandra 5.0's framing (cassandra-model.ts),
// the grammar (cql-grammar.ts), the recordings of cassandra-driver and cqlsh, the policies the
// cases run under (an outpost that reads system tables and reads and inserts attendance, a
// reader of one deathstar table, a writer without select, and headquarters allowed at L3/L4),
// the fake Cassandra, and the Cassandra checks of a case (cassandra-host-check.ts), which read
// what reached the server with a reference independent of the filter.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FakeUpstream } from '../../../server/wasm-host/index.ts';
import { fakeCassandra } from '../../filters/parsers/cassandra/cql-wire.ts';
import type { FuzzPolicy, FuzzProtocol, ModelFrame, ServerModel } from '../framework/protocol.ts';
import { loadRecordings } from '../framework/recordings.ts';
import { buildReferencePolicy, type FuzzClient } from '../framework/reference-policy.ts';
import { checkCassandraHostCase } from './cassandra-host-check.ts';
import { readAsCassandra } from './cassandra-model.ts';
import { CQL_DICTIONARY, generateSession, sessionBytes, sessionDeliveries } from './cql-grammar.ts';

const RECORDINGS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'recordings');

export const CASSANDRA_CLIENTS = {
  outpost: { app: 'empire-outpost', ip: '10.77.0.2' },
  reader: { app: 'plans-reader', ip: '10.77.0.3' },
  writer: { app: 'attendance-writer', ip: '10.77.0.4' },
  hq: { app: 'empire-hq', ip: '10.77.0.5' },
} as const satisfies Record<string, FuzzClient>;

const port = '[{ port: "7000", protocol: TCP }]';
const rules = (l7: string[]): string => `{ l7proto: cassandra, l7: [${l7.join(', ')}] }`;

export const CASSANDRA_EMPIRE_POLICY = buildReferencePolicy({
  name: 'cassandra-empire',
  l7proto: 'cassandra',
  clients: Object.values(CASSANDRA_CLIENTS),
  ingressYaml: `    - fromEndpoints: [{ matchLabels: { app: empire-outpost } }]
      toPorts: [{ ports: ${port}, rules: ${rules(['{ query_action: select, query_table: "^system\\\\." }', '{ query_action: select, query_table: "^system_schema\\\\." }', '{ query_action: select, query_table: "^attendance\\\\." }', '{ query_action: insert, query_table: "^attendance\\\\." }'])} }]
    - fromEndpoints: [{ matchLabels: { app: plans-reader } }]
      toPorts: [{ ports: ${port}, rules: ${rules(['{ query_action: select, query_table: "^deathstar\\\\.scrum_notes$" }'])} }]
    - fromEndpoints: [{ matchLabels: { app: attendance-writer } }]
      toPorts: [{ ports: ${port}, rules: ${rules(['{ query_action: insert, query_table: "^attendance\\\\.daily_records$" }', '{ query_action: update, query_table: "^attendance\\\\.daily_records$" }', '{ query_action: delete, query_table: "^attendance\\\\.daily_records$" }'])} }]
    - fromEndpoints: [{ matchLabels: { app: empire-hq } }]
      toPorts: [{ ports: ${port} }]
`,
});

const POLICIES: readonly FuzzPolicy[] = [{ reference: CASSANDRA_EMPIRE_POLICY, clients: Object.values(CASSANDRA_CLIENTS) }];

// Envelopes as Cassandra frames the client's bytes (the host check reads them itself; the
// framework counts them as frames).
const cassandraModel: ServerModel = {
  read(stream) {
    const reading = readAsCassandra(stream);
    const frames: ModelFrame[] = reading.envelopes.map((envelope) => ({
      start: envelope.start,
      end: envelope.end,
      request: undefined,
      label: `v${envelope.version} opcode 0x${envelope.opcode.toString(16)}`,
      filterClose: 'may',
      serverStops: false,
      isProbe: envelope.opcode === 0x05 && envelope.body.length === 0,
    }));
    return { frames, incompleteTail: reading.incompleteTail };
  },
};

let recordings: Uint8Array[] | undefined;

/** The recorded sessions of cassandra-driver and cqlsh (recordings/*.json). */
export function cassandraRecordings(): readonly Uint8Array[] {
  recordings ??= loadRecordings(RECORDINGS_DIR);
  return recordings;
}

// The fake Cassandra of the filter tests, made to survive any bytes: what it cannot frame (a
// filter that forwarded a corrupt segment) it stops answering; the host check reports it.
function fuzzFakeCassandra(): FakeUpstream {
  const inner = fakeCassandra();
  let broken = false;
  return {
    onData(bytes, peer) {
      if (broken) return;
      try {
        inner.onData?.(bytes, peer);
      } catch {
        broken = true;
      }
    },
  };
}

export const cassandraFuzz: FuzzProtocol = {
  name: 'cassandra',
  model: cassandraModel,
  policies: POLICIES,
  generate: (prng) => sessionBytes(generateSession(prng)),
  generateDeliveries: (prng) => sessionDeliveries(generateSession(prng)),
  recordings: cassandraRecordings,
  dictionary: CQL_DICTIONARY,
  fakeServer: fuzzFakeCassandra,
  checkHostCase: checkCassandraHostCase,
};
