// Query analysis of the Cassandra filter, seen through its access log on the test host: every
// `query_action` of Cilium's list with its `query_table`, name normalisation (unquoted names
// lower-cased, quoted kept), BEGIN BATCH text, and the queries it refuses instead of guessing
// (comments, two statements, unknown statements). Also rule validation at configuration time.
import { beforeAll, describe, expect, it } from 'vitest';
import { FilterLoadError } from '../../../../server/wasm-host/index.ts';
import { accessLog, ensureFiltersBuilt } from '../../host-helpers.ts';
import { Opcode, errorOf, fakeCassandra, query, readFrames, startup } from './cql-wire.ts';
import { loadCassandra } from './test-rules.ts';

// Building every filter can take minutes on a busy machine; do it before the first test's clock.
beforeAll(() => ensureFiltersBuilt(), 600_000);

// Sends `text` after `USE ks0` on a v4 connection that allows everything; returns the logged fields.
function analyse(text: string) {
  const vm = loadCassandra([{}]);
  const server = fakeCassandra();
  const connection = vm.openConnection({ upstream: server });
  connection.fromClient(startup(4)).fromClient(query(4, 1, 'USE ks0')).fromClient(query(4, 2, text));
  const entries = accessLog(vm).slice(1);
  const reply = readFrames(connection.clientBytes).at(-1)!;
  return { entries, reply, reachedServer: server.queries().includes(text) };
}

// [text, query_action, query_table, further fields]
const CASES: Array<[string, string, string | undefined, Record<string, string>?]> = [
  ['SELECT a, count(*) FROM ks1.t1 WHERE b = 1', 'select', 'ks1.t1'],
  ['select json * from T1;', 'select', 'ks0.t1'],
  ['INSERT INTO ks1.t1 (a) VALUES (1) IF NOT EXISTS', 'insert', 'ks1.t1', { conditional: 'true' }],
  ["UPDATE t1 SET a = 1 WHERE b = 'if' IF c = 2", 'update', 'ks0.t1', { conditional: 'true' }],
  ['DELETE FROM ks1.t1 WHERE c = 3 IF EXISTS', 'delete', 'ks1.t1', { conditional: 'true' }],
  ['UPDATE ks1.t1 SET "if" = 1 WHERE b = 2', 'update', 'ks1.t1'],
  ["UPDATE ks1.t1 SET a = 'from x' WHERE b = 2", 'update', 'ks1.t1'],
  ['DELETE a, b[1] FROM ks1.t1 WHERE c = 3', 'delete', 'ks1.t1'],
  ['DELETE FROM t2 WHERE c = 3', 'delete', 'ks0.t2'],
  ['USE "MixedCase"', 'use', 'MixedCase'],
  ['CREATE TABLE IF NOT EXISTS ks1.t1 (a int PRIMARY KEY)', 'create-table', 'ks1.t1'],
  ['CREATE COLUMNFAMILY t3 (a int PRIMARY KEY)', 'create-table', 'ks0.t3'],
  ['DROP TABLE IF EXISTS ks1.t1', 'drop-table', 'ks1.t1'],
  ['ALTER TABLE ks1.t1 ADD b text', 'alter-table', 'ks1.t1'],
  ['TRUNCATE ks1.t1', 'truncate-table', 'ks1.t1'],
  ['TRUNCATE TABLE t1', 'truncate-table', 'ks0.t1'],
  ["CREATE KEYSPACE IF NOT EXISTS ks2 WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}", 'create-keyspace', 'ks2'],
  ["ALTER KEYSPACE ks2 WITH durable_writes = false", 'alter-keyspace', 'ks2'],
  ['DROP KEYSPACE IF EXISTS ks2', 'drop-keyspace', 'ks2'],
  ['CREATE INDEX ON ks1.t1 (b)', 'create-index', undefined],
  ["CREATE CUSTOM INDEX i ON t1 (b) USING 'sai'", 'create-index', undefined],
  ['DROP INDEX ks1.i', 'drop-index', undefined],
  ['CREATE MATERIALIZED VIEW v AS SELECT * FROM t1 WHERE a IS NOT NULL PRIMARY KEY (a)', 'create-materialized-view', undefined],
  ['ALTER MATERIALIZED VIEW v WITH comment = 1', 'alter-materialized-view', undefined],
  ['DROP MATERIALIZED VIEW v', 'drop-materialized-view', undefined],
  ["CREATE ROLE r WITH PASSWORD = 'p' AND LOGIN = true", 'create-role', undefined],
  ['ALTER ROLE r WITH LOGIN = false', 'alter-role', undefined],
  ['DROP ROLE IF EXISTS r', 'drop-role', undefined],
  ['GRANT r1 TO r2', 'grant-role', undefined],
  ['REVOKE r1 FROM r2', 'revoke-role', undefined],
  ['LIST ROLES', 'list-roles', undefined],
  ['GRANT SELECT ON KEYSPACE ks1 TO r', 'grant-permission', undefined],
  ['REVOKE MODIFY ON ks1.t1 FROM r', 'revoke-permission', undefined],
  ['LIST ALL PERMISSIONS OF r', 'list-permissions', undefined],
  ["CREATE USER u WITH PASSWORD 'p'", 'create-user', undefined],
  ['ALTER USER u SUPERUSER', 'alter-user', undefined],
  ['DROP USER u', 'drop-user', undefined],
  ['LIST USERS', 'list-users', undefined],
  ['CREATE OR REPLACE FUNCTION f (a int) RETURNS NULL ON NULL INPUT RETURNS int LANGUAGE java AS $$ return a; -- not a comment $$', 'create-function', undefined],
  ['DROP FUNCTION f', 'drop-function', undefined],
  ['CREATE AGGREGATE g (int) SFUNC f STYPE int', 'create-aggregate', undefined],
  ['DROP AGGREGATE g', 'drop-aggregate', undefined],
  ['CREATE TYPE address (street text)', 'create-type', undefined],
  ['ALTER TYPE address ADD city text', 'alter-type', undefined],
  ['DROP TYPE address', 'drop-type', undefined],
  ["CREATE TRIGGER tr ON t1 USING 'org.example.Trigger'", 'create-trigger', undefined],
  ['DROP TRIGGER tr ON t1', 'drop-trigger', undefined],
];

describe('query analysis', () => {
  it.each(CASES)('%s -> %s %s', (text, action, table, extra = {}) => {
    const { entries, reachedServer } = analyse(text);
    expect(entries.map((entry) => entry.type)).toEqual(['Request']);
    expect(entries[0]?.fields).toEqual(table === undefined ? { query_action: action, ...extra } : { query_action: action, query_table: table, ...extra });
    expect(reachedServer).toBe(true);
  });

  it('logs one entry per statement of BEGIN BATCH ... APPLY BATCH', () => {
    const { entries } = analyse("BEGIN UNLOGGED BATCH USING TIMESTAMP 5 INSERT INTO t1 (a) VALUES ('update;') UPDATE ks1.t2 SET a = 1 WHERE b = 2; DELETE FROM \"Q\".\"T\" WHERE a = 1; APPLY BATCH;");
    expect(entries.map((entry) => entry.fields)).toEqual([
      { query_action: 'insert', query_table: 'ks0.t1' },
      { query_action: 'update', query_table: 'ks1.t2' },
      { query_action: 'delete', query_table: 'Q.T' },
    ]);
  });

  it.each([
    ['SELECT * FROM ks1.t1 -- WHERE x', 'comment'],
    ['SELECT * FROM /* ks2.secret */ ks1.t1', 'comment'],
    ['SELECT * FROM ks1.t1 // x', 'comment'],
    ['SELECT * FROM ks1.t1; DROP TABLE ks1.t1', 'more than one statement'],
    ['DESCRIBE TABLES', 'not one Weir can analyse'],
    ["SELECT * FROM ks1.t1 WHERE a = 'open", 'unterminated'],
    ['BEGIN BATCH INSERT INTO t1 (a) VALUES (1)', 'without APPLY BATCH'],
    ['   ', 'empty'],
    ['SELECT * FROM\fks1.t1', 'control character'],
    ['SELECT * FROM ks1.t\u00e9', 'non-ASCII'],
    ['SELECT * FROM "ks1.secret".t1', 'no Cassandra keyspace or table can have'],
    ['SELECT * FROM "".t1', 'no Cassandra keyspace or table can have'],
    ['LIST SUPERUSERS', 'not one Weir can analyse'],
    ['BEGIN BATCH SELECT * FROM ks1.t1 APPLY BATCH', 'BEGIN BATCH may only hold'],
  ])('refuses %j (%s) with 0x2100, never guessing', (text, reason) => {
    const { entries, reply, reachedServer } = analyse(text);
    expect(entries).toEqual([expect.objectContaining({ type: 'Denied', reason: expect.stringContaining(reason) })]);
    expect(reply.opcode).toBe(Opcode.Error);
    expect(errorOf(reply).code).toBe(0x2100);
    expect(reachedServer).toBe(false);
  });

  it('keeps quoted text out of the analysis: a quoted "from" or a string with -- is data', () => {
    const { entries } = analyse(`SELECT "from", 'x -- y' FROM ks1.t1`);
    expect(entries.map((entry) => [entry.type, entry.fields.query_table])).toEqual([['Request', 'ks1.t1']]);
  });
});

describe('cassandra rules', () => {
  function problem(rules: unknown): string {
    try {
      loadCassandra(rules);
    } catch (err) {
      if (!(err instanceof FilterLoadError)) throw err;
      return err.logs.map((record) => record.message).join('\n');
    }
    throw new Error(`accepted ${JSON.stringify(rules)}`);
  }

  it('rejects an unknown query_action, naming the valid ones', () => {
    expect(problem([{ query_action: 'selekt' }])).toMatch(/rules\[0\]: unknown query_action "selekt"; use one of select, insert/);
  });

  it('rejects query_table on an action that names no table', () => {
    expect(problem([{ query_action: 'create-role', query_table: 'ks.t' }])).toContain('query_table does not apply to query_action "create-role"');
  });

  it('rejects unknown rule keys', () => {
    expect(problem([{ query: 'select' }])).toContain('unknown rule key "query"');
  });

  it('without rules allows every statement it can analyse, and logs it', () => {
    const vm = loadCassandra(undefined);
    const connection = vm.openConnection({ upstream: fakeCassandra() });
    connection.fromClient(startup(4)).fromClient(query(4, 1, 'DROP KEYSPACE deathstar'));
    expect(accessLog(vm).map((entry) => [entry.type, entry.fields])).toEqual([['Request', { query_action: 'drop-keyspace', query_table: 'deathstar' }]]);
  });
});
