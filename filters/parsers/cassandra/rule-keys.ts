// Cassandra's rule keys, the one declaration of them (the build writes it to
// cassandra.rules.json): `query_action`, one exact action name, and `query_table`, a regex
// (unanchored search) over `keyspace.table`, only with actions that name a table (or no action).
import { ConstraintKind, KeyMatch, Rule, RuleKeys } from '../../sdk/index';
import { QUERY_ACTION_NAMES, QueryAction, actionByName, actionHasTable } from './query-actions';

export const enum CassandraKey {
  QueryAction = 0,
  QueryTable = 1,
}

export class CassandraRuleKeys extends RuleKeys {
  constructor() {
    super('cassandra', 'docs/parsers/cassandra.md');
    this.key('query_action', KeyMatch.Exact)
      .values('query_action', actionNames(QueryAction.Count))
      .key('query_table', KeyMatch.Regex)
      .onlyWith('query_action', actionNames(QueryAction.DropKeyspace + 1));
  }

  // The filter's own wording of the same checks (a rule that reaches the filter directly).
  validateRule(rule: Rule): string | null {
    const action = rule.constraintOn(CassandraKey.QueryAction);
    if (action === null) return null;
    if (action.kind != ConstraintKind.Exact) return 'query_action must be one exact action name';
    const name = action.exactText();
    const id = actionByName(name);
    if (id < 0) return 'unknown query_action "' + name + '"; use one of ' + QUERY_ACTION_NAMES.join(', ');
    if (!actionHasTable(id) && rule.constraintOn(CassandraKey.QueryTable) !== null) {
      return 'query_table does not apply to query_action "' + name + '" (it names no table)';
    }
    return null;
  }
}

// The names of actions 0 .. end - 1 (those up to DropKeyspace name a table; query-actions.ts).
function actionNames(end: i32): Array<string> {
  const names = new Array<string>();
  for (let i = 0; i < end; i++) names.push(QUERY_ACTION_NAMES[i]);
  return names;
}

export const CASSANDRA_RULE_KEYS: CassandraRuleKeys = new CassandraRuleKeys();
