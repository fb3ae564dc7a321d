// Reads Cassandra 5's audit log (FileAuditLogger, one entry per line group, written by the node
// startCassandra({ auditLog: true }) runs): what the server itself parsed and executed, with the
// address each request came from. Lines look like
//   user:anonymous|host:127.0.0.1:7000|source:/127.0.0.2|port:40432|timestamp:1700000000000|
//   type:SELECT|category:QUERY|ks:attendance|scope:daily_records|operation:SELECT * FROM ...
// (AuditLogEntry.getLogString); the operation is the query text and may hold '|' or newlines.
import fs from 'node:fs';

export interface AuditEntry {
  user: string;
  source: string; // the client address, without the leading '/'
  port: number;
  type: string; // AuditLogEntryType: SELECT, UPDATE, DELETE, USE_KEYSPACE, BATCH, REQUEST_FAILURE, ...
  category: string;
  batch?: string;
  keyspace?: string;
  scope?: string; // the table (or other object) name
  operation: string;
}

// Entry types that are not the execution of a statement.
const NOT_EXECUTIONS = new Set(['REQUEST_FAILURE', 'LOGIN_ERROR', 'LOGIN_SUCCESS', 'UNAUTHORIZED_ATTEMPT', 'BATCH']);

export function readAuditLog(file: string): AuditEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const entries: AuditEntry[] = [];
  let current: string | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('user:')) {
      if (current !== undefined) entries.push(parseEntry(current));
      current = line;
    } else if (current !== undefined) {
      current += `\n${line}`;
    }
  }
  if (current !== undefined) entries.push(parseEntry(current.replace(/\n$/, '')));
  return entries;
}

// The entries that record a statement the server executed (a BATCH is recorded per statement).
export function executions(entries: AuditEntry[]): AuditEntry[] {
  return entries.filter((entry) => !NOT_EXECUTIONS.has(entry.type));
}

function parseEntry(text: string): AuditEntry {
  const operationAt = text.indexOf('|operation:');
  const head = operationAt < 0 ? text : text.slice(0, operationAt);
  const fields = new Map<string, string>();
  for (const part of head.split('|')) {
    const colon = part.indexOf(':');
    if (colon > 0) fields.set(part.slice(0, colon), part.slice(colon + 1));
  }
  const entry: AuditEntry = {
    user: fields.get('user') ?? '',
    source: (fields.get('source') ?? '').replace(/^\//, ''),
    port: Number(fields.get('port') ?? 0),
    type: fields.get('type') ?? '',
    category: fields.get('category') ?? '',
    operation: operationAt < 0 ? '' : text.slice(operationAt + '|operation:'.length),
  };
  const batch = fields.get('batch');
  const keyspace = fields.get('ks');
  const scope = fields.get('scope');
  if (batch !== undefined) entry.batch = batch;
  if (keyspace !== undefined) entry.keyspace = keyspace;
  if (scope !== undefined) entry.scope = scope;
  return entry;
}
