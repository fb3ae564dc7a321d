// Cassandra (CQL) rule keys, as filters/parsers/cassandra/rule-keys.ts declares them (Cilium's
// keys): `query_action` (exact, lowercase, one of the declared actions) and `query_table` (a regex,
// unanchored search, over `keyspace.table`), which only actions that name a table may carry.
// The extension (declared-rules.ts DeclarationExtension) keeps what the declaration cannot say:
// the problem texts policy authors know, and the reference matcher, because a request that is not
// a query (no query_action, e.g. OPTIONS or STARTUP) matches any rule, as in Cilium.
import { builtInDeclaration } from './built-in-declarations.ts';
import { constraintHolds, textOf } from './constraint-matching.ts';
import { declaredRules, type DeclarationExtension } from './declared-rules.ts';
import type { L7ParserRules } from './l7-rule-types.ts';

const DECLARATION = builtInDeclaration('cassandra');
const [ACTION, TABLE] = DECLARATION.keys;

/** Actions that name a table: the only ones that may carry query_table. */
export const CASSANDRA_TABLE_ACTIONS: readonly string[] = TABLE?.onlyWith?.values ?? [];
export const CASSANDRA_OTHER_ACTIONS: readonly string[] = (ACTION?.values ?? []).filter((action) => !CASSANDRA_TABLE_ACTIONS.includes(action));

const CASSANDRA_EXTENSION: DeclarationExtension = {
  problems: {
    unknownValue: (key, value) => `unknown cassandra ${key.noun} ${JSON.stringify(value)}; see ${DECLARATION.docs} for the list`,
    onlyWith: (key, action) => `${key.onlyWith?.key ?? 'query_action'} ${JSON.stringify(action)} names no table, so it cannot carry ${key.name}`,
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

export const cassandraRules: L7ParserRules = declaredRules(DECLARATION, CASSANDRA_EXTENSION);
