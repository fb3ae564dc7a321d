// Cassandra (CQL) rule keys, as Cilium's proxylib defined them: `query_action` (exact, lowercase,
// from the list below) and `query_table` (a regex, unanchored search, over `keyspace.table`),
// which only actions that name a table may carry. A request that is not a query (no
// query_action, e.g. OPTIONS or STARTUP) matches any rule, as in Cilium.
import { constraintHolds, regexConstraint, textOf } from './constraint-matching.ts';
import type { CompiledL7Constraint, L7ParserRules } from './l7-rule-types.ts';

export const CASSANDRA_TABLE_ACTIONS = [
  'select', 'delete', 'insert', 'update', 'use',
  'create-table', 'drop-table', 'alter-table', 'truncate-table',
  'create-keyspace', 'alter-keyspace', 'drop-keyspace',
] as const;

export const CASSANDRA_OTHER_ACTIONS = [
  'create-index', 'drop-index', 'create-materialized-view', 'drop-materialized-view',
  'create-role', 'alter-role', 'drop-role', 'grant-role', 'revoke-role', 'list-roles',
  'grant-permission', 'revoke-permission', 'list-permissions',
  'create-user', 'alter-user', 'drop-user', 'list-users',
  'create-function', 'drop-function', 'create-aggregate', 'drop-aggregate',
  'create-type', 'alter-type', 'drop-type', 'create-trigger', 'drop-trigger',
] as const;

const TABLE_ACTIONS: readonly string[] = CASSANDRA_TABLE_ACTIONS;
const ALL_ACTIONS: readonly string[] = [...CASSANDRA_TABLE_ACTIONS, ...CASSANDRA_OTHER_ACTIONS];

export const cassandraRules: L7ParserRules = {
  l7proto: 'cassandra',
  docsPath: 'docs/parsers/cassandra.md',
  keys: ['query_action', 'query_table'],
  compileRule(rule, report) {
    const compiled: Record<string, CompiledL7Constraint> = {};
    let valid = true;
    const action = rule['query_action'] ?? '';
    if (action !== '') {
      if (ALL_ACTIONS.includes(action)) compiled['query_action'] = { match: 'exact', value: action };
      else {
        report('query_action', `unknown cassandra query_action ${JSON.stringify(action)}; see docs/parsers/cassandra.md for the list`);
        valid = false;
      }
    }
    const table = rule['query_table'] ?? '';
    if (table !== '') {
      if (action !== '' && ALL_ACTIONS.includes(action) && !TABLE_ACTIONS.includes(action)) {
        report('query_table', `query_action ${JSON.stringify(action)} names no table, so it cannot carry query_table`);
        valid = false;
      } else {
        const constraint = regexConstraint('query_table', table, report);
        if (constraint === undefined) valid = false;
        else compiled['query_table'] = constraint;
      }
    }
    return valid ? compiled : undefined;
  },
  matches(rule, request) {
    const action = textOf(request['query_action']);
    if (action === '') return true;
    const actionConstraint = rule['query_action'];
    if (actionConstraint !== undefined && !constraintHolds(actionConstraint, action)) return false;
    const tableConstraint = rule['query_table'];
    const table = textOf(request['query_table']);
    return tableConstraint === undefined || table === '' || constraintHolds(tableConstraint, table);
  },
};
