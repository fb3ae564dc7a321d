// `weir policy import|get|delete|wait`: the policy half of the CLI, each a thin client of the REST
// API (docs/api.md). Prints human text by default and the API's JSON with `-o json`; failures are
// CommandFailures with the server's message (import problems one per line).
import fs from 'node:fs';
import path from 'node:path';
import type { DeleteResultBody, ImportResultBody, PoliciesView, TraceResultBody, WaitResultBody } from '../api/api-types.ts';
import type { TracePeer } from '../policy/trace.ts';
import { STORE_FILE_NAME } from '../store/policy-store.ts';
import { callApi, type ApiTarget } from './api-client.ts';
import { CommandFailure, EXIT_CODES, successBody } from './command-failure.ts';
import { formatTable } from './text-table.ts';

export type OutputFormat = 'table' | 'json';

export interface PolicyImportOptions {
  target: ApiTarget;
  /** A file path, or `-` for standard input. */
  source: string;
  /** Name of the stored file. Default: the file's base name, or `<metadata.name>.yaml` from stdin. */
  name?: string;
  output: OutputFormat;
  /** Reads standard input; tests substitute. */
  readStdin?: () => Promise<string>;
  /** Where wiring warnings go, one line each; default stderr. */
  warn?: (line: string) => void;
}

export async function policyImport(options: PolicyImportOptions): Promise<string> {
  const text = options.source === '-' ? await (options.readStdin ?? readStandardInput)() : readPolicyFile(options.source);
  const file = options.name ?? (options.source === '-' ? undefined : storeNameOf(options.source));
  const query = file === undefined ? '' : `?file=${encodeURIComponent(file)}`;
  const reply = await callApi(options.target, { method: 'POST', path: `/v1/policies${query}`, body: text });
  const body = successBody<ImportResultBody>(reply);
  if (options.output === 'json') return JSON.stringify(body, null, 2);
  const what = [...body.policies.map((name) => `policy ${name}`), ...body.endpoints.map((name) => `endpoint ${name}`)];
  for (const warning of body.warnings ?? []) (options.warn ?? ((line: string) => process.stderr.write(`${line}\n`)))(`warning: ${warning}`);
  return `imported ${body.file} (${what.length > 0 ? what.join(', ') : 'nothing'}); revision ${body.revision}\nrun \`weir policy wait ${body.revision}\` to wait until every proxy enforces it`;
}

export interface PolicyGetOptions {
  target: ApiTarget;
  /** A policy or file name: print its source. Omit to list every file. */
  name?: string;
  output: OutputFormat;
}

export async function policyGet(options: PolicyGetOptions): Promise<string> {
  if (options.name !== undefined) {
    const reply = await callApi(options.target, { method: 'GET', path: `/v1/policies/${encodeURIComponent(options.name)}` });
    if (reply.status !== 200) successBody(reply);
    return options.output === 'json' ? JSON.stringify({ name: options.name, source: reply.text }, null, 2) : reply.text.trimEnd();
  }
  const body = successBody<PoliciesView>(await callApi(options.target, { method: 'GET', path: '/v1/policies' }));
  if (options.output === 'json') return JSON.stringify(body, null, 2);
  const summary = `revision ${body.revision}, enforcement mode ${body.enforcementMode}`;
  if (body.files.length === 0) return `no policies; ${summary}`;
  const rows = body.files.map((file) => [file.file, file.policies.join(', ') || '-', file.endpoints.join(', ') || '-']);
  return `${formatTable(['FILE', 'POLICIES', 'ENDPOINTS'], rows)}\n${summary}`;
}

export interface PolicyDeleteOptions {
  target: ApiTarget;
  name: string;
  output: OutputFormat;
}

export async function policyDelete(options: PolicyDeleteOptions): Promise<string> {
  const reply = await callApi(options.target, { method: 'DELETE', path: `/v1/policies/${encodeURIComponent(options.name)}` });
  const body = successBody<DeleteResultBody>(reply);
  return options.output === 'json' ? JSON.stringify(body, null, 2) : `deleted ${body.deleted}; revision ${body.revision}`;
}

export interface PolicyWaitOptions {
  target: ApiTarget;
  /** Default: the revision in force on the server. */
  revision?: string;
  /** Default 30. */
  timeoutSeconds?: number;
  /** Proxies (node ids) to wait for even if their agent has not connected yet. */
  nodeIds?: readonly string[];
  /** The named proxies' Envoys get their config elsewhere (Istio): wait only for their agents. */
  policyOnly?: boolean;
  output: OutputFormat;
}

export async function policyWait(options: PolicyWaitOptions): Promise<string> {
  const timeoutSeconds = options.timeoutSeconds ?? 30;
  // scope=fleet: a replica sharing its store with others answers for all of them (server/api/fleet.ts).
  const query = new URLSearchParams({ timeout: String(timeoutSeconds), scope: 'fleet' });
  if (options.revision !== undefined) query.set('revision', options.revision);
  for (const nodeId of options.nodeIds ?? []) query.append('node', nodeId);
  if (options.policyOnly) query.set('policyOnly', 'true');
  const reply = await callApi(options.target, { method: 'GET', path: `/v1/policies/wait?${query.toString()}`, timeoutMs: timeoutSeconds * 1000 + 10_000 });
  const body = successBody<WaitResultBody>(reply, { 409: EXIT_CODES.rejected, 504: EXIT_CODES.timedOut });
  if (options.output === 'json') return JSON.stringify(body, null, 2);
  if (body.proxies.length === 0) return `revision ${body.revision} is in force; no proxy with a Weir agent is connected`;
  return `revision ${body.revision} is enforced by ${body.proxies.length} prox${body.proxies.length === 1 ? 'y' : 'ies'}: ${body.proxies.map((proxy) => (proxy.replica === undefined ? proxy.nodeId : `${proxy.nodeId} (replica ${proxy.replica})`)).join(', ')}`;
}

export interface PolicyTraceOptions {
  target: ApiTarget;
  source: string;
  destination: string;
  port: number;
  direction?: 'ingress' | 'egress';
  /** `KEY=VALUE` words of the L7 request. */
  l7?: string;
  output: OutputFormat;
}

export async function policyTrace(options: PolicyTraceOptions): Promise<string> {
  const query = new URLSearchParams({ src: options.source, dst: options.destination, dport: String(options.port) });
  if (options.direction !== undefined) query.set('direction', options.direction);
  if (options.l7 !== undefined) query.set('l7', options.l7);
  const body = successBody<TraceResultBody>(await callApi(options.target, { method: 'GET', path: `/v1/policies/trace?${query.toString()}` }));
  if (options.output === 'json') return JSON.stringify(body, null, 2);
  const peer = (role: string, traced: TracePeer): string =>
    `${role}: ${traced.endpoint ?? traced.query} (identity ${traced.identity}${traced.labels.length > 0 ? `: ${traced.labels.join(', ')}` : ''})`;
  const lines = [
    peer('source', body.source),
    peer('destination', body.destination),
    `policy: ${body.direction} of endpoint ${body.policyEndpoint}, port ${body.port}, revision ${body.revision}`,
    `L3/L4: ${body.connection.verdict === 'allow' ? 'allowed' : 'denied'}: ${body.connection.reason}`,
  ];
  if (body.request) {
    const fields = Object.entries(body.request.fields).map(([key, value]) => `${key}=${Array.isArray(value) ? value.join(',') : String(value)}`);
    lines.push(`L7 ${fields.join(' ')}: ${body.request.decision.verdict === 'allow' ? 'allowed' : 'denied'}: ${body.request.decision.reason}`);
  } else if (options.l7 === undefined && body.connection.l7Pending !== undefined) {
    lines.push(`L7: each request must match the ${body.connection.l7Pending.map((set) => set.l7proto).join(', ')} rules; pass --l7 'KEY=VALUE ...' to trace one`);
  }
  lines.push(`verdict: ${body.verdict.toUpperCase()}`);
  return lines.join('\n');
}

function readPolicyFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new CommandFailure(`cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)}); pass a policy file or - for standard input`);
  }
}

/** The stored file name for a path: its base name if the store accepts it, else derived from the policy. */
function storeNameOf(file: string): string | undefined {
  const base = path.basename(file);
  return STORE_FILE_NAME.test(base) ? base : undefined;
}

async function readStandardInput(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
