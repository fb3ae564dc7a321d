// Rules for the Cassandra filter tests in the plugin-configuration form the control server
// writes: exact `query_action`, and `query_table` regexes compiled to DFA tables by the server's
// own regex compiler (Cilium's unanchored semantics).
import { compileRegex, toSdkDfaJson } from '../../../../server/policy/regex/compile-regex.ts';
import type { FakeUpstream } from '../../../../server/wasm-host/index.ts';
import { loadWeirFilter } from '../../host-helpers.ts';

export function tableRegex(source: string): object {
  const compiled = compileRegex(source);
  if (!compiled.ok) throw new Error(compiled.reason);
  return { regex: source, dfa: toSdkDfaJson(compiled.dfa) };
}

// The Empire guide's outpost: select on system.* and system_schema.*, insert into
// attendance.daily_records, nothing else. Against Cassandra 4+ cqlsh (the Python driver) also
// reads system_virtual_schema.* while connecting, so the rule set grows by that one select.
export const OUTPOST_RULES = [
  { query_action: 'select', query_table: tableRegex('^system\\..*') },
  { query_action: 'select', query_table: tableRegex('^system_schema\\..*') },
  { query_action: 'select', query_table: tableRegex('^system_virtual_schema\\..*') },
  { query_action: 'insert', query_table: tableRegex('^attendance\\.daily_records$') },
];

export function loadCassandra(rules: unknown, extra: Record<string, unknown> = {}, upstream?: () => FakeUpstream) {
  const configuration = rules === undefined ? { parser: 'cassandra', ...extra } : { parser: 'cassandra', rules, ...extra };
  return loadWeirFilter('cassandra', 'cassandra', configuration, upstream);
}
