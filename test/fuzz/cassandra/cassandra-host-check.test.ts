// The Cassandra host checks (cassandra-host-check.ts) catch a filter that lets a denied statement,
// a keyspace trick or a re-framing through: the SDK's test.passer forwards every byte unread. The
// seeded CI slice of `npm run fuzz -- cassandra` itself is in ../host-fuzz.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadFilter } from '../../../server/wasm-host/index.ts';
import { filterWasm } from '../../filters/envoy-harness.ts';
import { ensureFiltersBuilt } from '../../filters/host-helpers.ts';
import { query, segment, startup, startupWith } from '../../filters/parsers/cassandra/cql-wire.ts';
import { CASSANDRA_CLIENTS, CASSANDRA_EMPIRE_POLICY, cassandraFuzz } from './cassandra-fuzz.ts';
import { checkCassandraHostCase } from './cassandra-host-check.ts';

beforeAll(() => ensureFiltersBuilt('testparsers/passer'), 600_000);

describe('the Cassandra host checks', () => {
  // What a filter that reads nothing lets through, and the check must report.
  const passerViolations = (deliveries: Buffer[], client: keyof typeof CASSANDRA_CLIENTS): string[] => {
    const vm = loadFilter({ wasm: filterWasm('testparsers/passer'), rootId: 'test.passer', pluginConfig: '', failurePolicy: 'FAIL_CLOSED', upstream: () => cassandraFuzz.fakeServer() });
    const connection = vm.openConnection({});
    for (const delivery of deliveries) connection.fromClient(delivery);
    return checkCassandraHostCase({ policy: { reference: CASSANDRA_EMPIRE_POLICY, clients: Object.values(CASSANDRA_CLIENTS) }, client: CASSANDRA_CLIENTS[client], bytes: Buffer.concat(deliveries) }, connection);
  };

  it.each([
    ['a denied table', [startup(4), query(4, 1, 'SELECT * FROM deathstar.scrum_notes')], 'outpost', /select deathstar\.scrum_notes, which the policy denies/],
    ['the keyspace parameter at v4', [startup(4), query(4, 1, 'SELECT * FROM scrum_notes', { keyspace: 'deathstar' })], 'outpost', /select deathstar\.scrum_notes/],
    ['a bare name pipelined behind USE', [startup(4), query(4, 1, 'USE attendance'), Buffer.concat([query(4, 2, 'USE deathstar'), query(4, 3, 'SELECT * FROM scrum_notes')])], 'outpost', /select deathstar\.scrum_notes/],
    ['a conditional insert by a client without select', [startup(4), query(4, 1, 'INSERT INTO attendance.daily_records (id) VALUES (1) IF NOT EXISTS')], 'writer', /conditional insert .* may not select it/],
    ['bytes after a v5 STARTUP in its delivery', [Buffer.concat([startup(5), segment(query(5, 1, 'SELECT * FROM system.local'))])], 'outpost', /either framing/],
    ['a STARTUP answered with an error, then segments', [startupWith(5, 0, { DRIVER_NAME: 'x' }), segment(startup(5, 1)), segment(query(5, 2, 'SELECT * FROM deathstar.scrum_notes'))], 'outpost', /which the policy denies/],
  ] as const)('reports %s', (_, deliveries, client, expected) => {
    expect(passerViolations([...deliveries], client).join('\n')).toMatch(expected);
  });

  it('reports nothing for what the policy allows', () => {
    expect(passerViolations([startup(4), query(4, 1, 'SELECT * FROM attendance.daily_records'), query(4, 2, 'INSERT INTO attendance.daily_records (id) VALUES (1) IF NOT EXISTS')], 'outpost')).toEqual([]);
  });
});
