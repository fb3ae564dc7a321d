// Runs a byte script (byte-script.ts) through one connection of a parser on the Proxy-Wasm test
// host (server/wasm-host/) and reports, step by step, the ops the SDK applied (`weir-op` trace
// lines), the bytes each side received, and the log lines: what `weir parser test` prints.
// Knows nothing about building modules or command-line arguments (see server/cli/parser-command.ts).
import { loadFilter, silentUpstream, toLatin1, type FilterVm, type HostConnection, type LogRecord } from '../wasm-host/index.ts';
import type { ByteScript, ScriptStep } from './byte-script.ts';

export interface ScriptRunOptions {
  wasm: Uint8Array | string; // module bytes or path
  protocol: string; // root_id
  script: ByteScript;
}

export interface StepReport {
  step: ScriptStep;
  ops: string[]; // "request PASS 8 buffered=8"
  serverReceived: Uint8Array;
  clientReceived: Uint8Array;
  logs: string[]; // "<level> <message>" for filter and host lines other than op traces
}

export interface ScriptReport {
  steps: StepReport[];
  serverReceived: Uint8Array;
  clientReceived: Uint8Array;
  closed: string | undefined; // close reason, or undefined when still open
  traps: number;
}

export function runByteScript(options: ScriptRunOptions): ScriptReport {
  const vm = loadFilter({
    wasm: options.wasm,
    rootId: options.protocol,
    pluginConfig: options.script.configuration ?? JSON.stringify({ parser: options.protocol }),
    failurePolicy: 'FAIL_RELOAD',
    logLevel: 'trace',
  });
  const connection = vm.openConnection({ upstream: silentUpstream() });
  const steps = options.script.steps.map((step) => runStep(vm, connection, step));
  return {
    steps,
    serverReceived: connection.upstreamBytes,
    clientReceived: connection.clientBytes,
    closed: connection.closed?.reason,
    traps: vm.traps.length,
  };
}

function runStep(vm: FilterVm, connection: HostConnection, step: ScriptStep): StepReport {
  const logsBefore = vm.logs.length;
  const serverBefore = connection.upstreamBytes.length;
  const clientBefore = connection.clientBytes.length;
  if (connection.isOpen) applyStep(connection, step);
  const lines = vm.logs.slice(logsBefore);
  return {
    step,
    ops: lines.filter(isOpTrace).map((record) => record.message.replace(/^weir-op \d+ /, '')),
    serverReceived: connection.upstreamBytes.slice(serverBefore),
    clientReceived: connection.clientBytes.slice(clientBefore),
    logs: lines.filter((record) => !isOpTrace(record)).map((record) => `${record.level} ${record.message}`),
  };
}

function applyStep(connection: HostConnection, step: ScriptStep): void {
  if (step.kind === 'write' && step.peer === 'client') connection.fromClient(step.bytes);
  else if (step.kind === 'write') connection.fromServer(step.bytes);
  else if (step.peer === 'client') connection.closeFromClient();
  else connection.endFromServer();
}

function isOpTrace(record: LogRecord): boolean {
  return record.message.startsWith('weir-op ');
}

// The report as text: one block per step, then the totals.
export function formatScriptReport(report: ScriptReport): string {
  const out: string[] = [];
  for (const { step, ops, serverReceived, clientReceived, logs } of report.steps) {
    const action = step.kind === 'end' ? 'half-closes' : `writes ${quoteBytes(step.bytes)}`;
    out.push(`line ${step.line}: ${step.peer} ${action}`);
    for (const op of ops) out.push(`  op ${op}`);
    if (serverReceived.length > 0) out.push(`  server received ${quoteBytes(serverReceived)}`);
    if (clientReceived.length > 0) out.push(`  client received ${quoteBytes(clientReceived)}`);
    for (const line of logs) out.push(`  log ${line}`);
  }
  out.push(`server received in total: ${quoteBytes(report.serverReceived)}`);
  out.push(`client received in total: ${quoteBytes(report.clientReceived)}`);
  out.push(report.closed === undefined ? 'connection: open' : `connection: closed (${report.closed})`);
  if (report.traps > 0) out.push(`traps: ${report.traps} (the VM failed; see the log lines above)`);
  return `${out.join('\n')}\n`;
}

// Bytes in the script's own escape syntax, so a report line can be pasted back into a script.
export function quoteBytes(bytes: Uint8Array): string {
  let text = '';
  for (const byte of toLatin1(bytes)) {
    const code = byte.charCodeAt(0);
    if (byte === '\r') text += '\\r';
    else if (byte === '\n') text += '\\n';
    else if (byte === '\t') text += '\\t';
    else if (byte === '\\') text += '\\\\';
    else if (byte === '"') text += '\\x22';
    else if (code < 0x20 || code >= 0x7f) text += `\\x${code.toString(16).padStart(2, '0')}`;
    else text += byte;
  }
  return `"${text}"`;
}
