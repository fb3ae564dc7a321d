// The differential oracle for the Cassandra filter: compares what Cassandra itself executed
// (its audit log, test/support/cassandra-audit.ts) with each client's policy and with what Weir
// logged for that client. Each client reaches Cassandra through its own Envoy, whose upstream
// connections come from the client's own loopback address, so the audit log's source address
// says whose request ran. For every statement Cassandra executed for a client:
//   - the client's rules must allow it (the audit entry's type mapped to Weir's actions, its
//     keyspace and table matched against the rules, independently of the filter's own code;
//     a conditional INSERT/UPDATE/DELETE also needs select), and
//   - Weir must have logged it as a Request with a matching action and the same table (each
//     Request entry accounts for at most one execution), so nothing Weir denied or never saw ran.
// Statements that failed at the server (REQUEST_FAILURE) executed nothing and are not checked.
import type { AccessLogEntry } from '../filters/envoy-harness.ts';
import { executions, type AuditEntry } from './cassandra-audit.ts';

export interface OracleRule {
  query_action?: string;
  query_table?: string | { regex: string };
}

export interface OracleClient {
  name: string;
  sourceAddress: string; // the address its Envoy connects to Cassandra from
  rules: OracleRule[];
  accessLog(): AccessLogEntry[];
}

export interface OracleViolation {
  client: string;
  problem: 'not allowed by the policy' | 'not logged as a Request by Weir';
  audit: AuditEntry;
}

// Weir's query_action values that an audit entry type can stand for (UpdateStatement serves both
// INSERT and UPDATE; CREATE ROLE serves CREATE USER). Types absent here (DESCRIBE, identities)
// are statements Weir never forwards, so any execution of them is a violation.
const ACTIONS_OF_TYPE: Record<string, string[]> = {
  SELECT: ['select'],
  UPDATE: ['insert', 'update'],
  DELETE: ['delete'],
  TRUNCATE: ['truncate-table'],
  USE_KEYSPACE: ['use'],
  CREATE_KEYSPACE: ['create-keyspace'],
  ALTER_KEYSPACE: ['alter-keyspace'],
  DROP_KEYSPACE: ['drop-keyspace'],
  CREATE_TABLE: ['create-table'],
  ALTER_TABLE: ['alter-table'],
  DROP_TABLE: ['drop-table'],
  CREATE_INDEX: ['create-index'],
  DROP_INDEX: ['drop-index'],
  CREATE_VIEW: ['create-materialized-view'],
  ALTER_VIEW: ['alter-materialized-view'],
  DROP_VIEW: ['drop-materialized-view'],
  CREATE_TYPE: ['create-type'],
  ALTER_TYPE: ['alter-type'],
  DROP_TYPE: ['drop-type'],
  CREATE_FUNCTION: ['create-function'],
  DROP_FUNCTION: ['drop-function'],
  CREATE_AGGREGATE: ['create-aggregate'],
  DROP_AGGREGATE: ['drop-aggregate'],
  CREATE_TRIGGER: ['create-trigger'],
  DROP_TRIGGER: ['drop-trigger'],
  CREATE_ROLE: ['create-role', 'create-user'],
  ALTER_ROLE: ['alter-role', 'alter-user'],
  DROP_ROLE: ['drop-role', 'drop-user'],
  LIST_ROLES: ['list-roles'],
  LIST_USERS: ['list-users'],
  LIST_PERMISSIONS: ['list-permissions'],
  GRANT: ['grant-permission', 'grant-role'],
  REVOKE: ['revoke-permission', 'revoke-role'],
};

// Actions whose query_table is the keyspace alone; other table actions use keyspace.table.
const KEYSPACE_ACTIONS = new Set(['use', 'create-keyspace', 'alter-keyspace', 'drop-keyspace']);
const TABLE_ACTIONS = new Set(['select', 'insert', 'update', 'delete', 'truncate-table', 'create-table', 'alter-table', 'drop-table']);

export function checkCassandraOracle(audit: AuditEntry[], clients: OracleClient[]): OracleViolation[] {
  const violations: OracleViolation[] = [];
  for (const client of clients) {
    const requests = client.accessLog().filter((entry) => entry.type === 'Request' && entry.proto === 'cassandra');
    const used = new Set<number>();
    for (const entry of executions(audit).filter((candidate) => candidate.source === client.sourceAddress)) {
      const actions = entry.type === 'PREPARE_STATEMENT' ? preparedActions(entry) : (ACTIONS_OF_TYPE[entry.type] ?? []);
      const allowed = actions.some((action) => allows(client.rules, action, tableOf(action, entry)) && (!conditional(entry) || allows(client.rules, 'select', tableOf('select', entry))));
      if (!allowed) violations.push({ client: client.name, problem: 'not allowed by the policy', audit: entry });
      const match = requests.findIndex((request, index) => !used.has(index) && actions.includes(String(request.fields.query_action)) && sameTable(request, String(request.fields.query_action), entry));
      if (match < 0) violations.push({ client: client.name, problem: 'not logged as a Request by Weir', audit: entry });
      else used.add(match);
    }
  }
  return violations;
}

// A one-line account of violations for a test failure message.
export function describeViolations(violations: OracleViolation[]): string {
  return violations.map((violation) => `${violation.client}: ${violation.problem}: ${violation.audit.type} ${violation.audit.keyspace ?? ''}.${violation.audit.scope ?? ''} "${violation.audit.operation}"`).join('\n');
}

// A PREPARE is checked as the statement it prepares: its leading words name it (the audit entry
// carries the statement's keyspace and table).
function preparedActions(entry: AuditEntry): string[] {
  const words = entry.operation.trim().split(/\s+/, 2).map((word) => word.toUpperCase());
  const [first = '', second = ''] = words;
  if (first === 'INSERT') return ['insert'];
  if (first === 'UPDATE') return ['update'];
  if (first === 'USE') return ['use'];
  if (first === 'BEGIN') return ['insert', 'update', 'delete'];
  if (first === 'TRUNCATE') return ['truncate-table'];
  if (first === 'CREATE' || first === 'ALTER' || first === 'DROP') {
    const object = second === 'COLUMNFAMILY' ? 'TABLE' : second === 'MATERIALIZED' ? 'VIEW' : second;
    return ACTIONS_OF_TYPE[`${first}_${object}`] ?? [];
  }
  return ACTIONS_OF_TYPE[first] ?? [];
}

function tableOf(action: string, entry: AuditEntry): string | undefined {
  if (KEYSPACE_ACTIONS.has(action)) return entry.keyspace;
  if (TABLE_ACTIONS.has(action)) return entry.keyspace === undefined || entry.scope === undefined ? undefined : `${entry.keyspace}.${entry.scope}`;
  return undefined;
}

function sameTable(request: AccessLogEntry, action: string, entry: AuditEntry): boolean {
  const logged = request.fields.query_table;
  const executed = tableOf(action, entry);
  return executed === undefined ? logged === undefined : logged === executed;
}

// Cilium's semantics: USE is always allowed; a rule with no action allows every action; no table,
// every table; an exact table string must equal; a regex matches anywhere (unanchored search).
function allows(rules: OracleRule[], action: string, table: string | undefined): boolean {
  if (action === 'use') return true;
  return rules.some((rule) => {
    if (rule.query_action !== undefined && rule.query_action !== action) return false;
    if (rule.query_table === undefined) return true;
    if (table === undefined) return false;
    return typeof rule.query_table === 'string' ? rule.query_table === table : new RegExp(rule.query_table.regex).test(table);
  });
}

// INSERT/UPDATE/DELETE with an IF outside quotes: Cassandra answers it with the current row.
function conditional(entry: AuditEntry): boolean {
  if (entry.type !== 'UPDATE' && entry.type !== 'DELETE') return false;
  const unquoted = entry.operation.replace(/\$\$[\s\S]*?\$\$|'(?:[^']|'')*'|"(?:[^"]|"")*"/g, ' ');
  return /\bif\b/i.test(unquoted);
}
