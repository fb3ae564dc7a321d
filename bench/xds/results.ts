// One row of the xDS fan-out benchmark and how the rows are summarised and printed: percentiles
// and the single table `npm run bench:xds` prints (also pasted into docs/benchmarks.md).
import type { XdsVariant } from './ipc.ts';

export interface BenchResult {
  variant: XdsVariant;
  streams: number;
  convergeP50Ms: number;
  convergeP99Ms: number;
  convergeMaxMs: number;
  /** Server process CPU (user + system) from the change until the last ACK was read. */
  serverCpuSeconds: number;
  /** gRPC message bytes the generators received for the change (HTTP/2 framing excluded). */
  bytesSentPerChange: number;
  responsesPerChange: number;
  /** (server RSS with N idle synced streams - RSS with none) / N. */
  rssPerIdleStreamBytes: number;
  heapPerIdleStreamBytes: number;
  /** Server memory before any stream and with N idle streams, for reading where RSS goes. */
  memoryWithIdleStreams: { baseline: MemoryFigures; idle: MemoryFigures };
  initialSyncSeconds: number;
  initialSyncBytes: number;
  generatorProcesses: number;
  generatorCpuSeconds: number;
  generatorMaxEventLoopUtilization: number;
  /** Building the N changed snapshots (policy encoding), before the change is applied; not in the convergence time. */
  changeBuildMs: number;
  /** Time spent in setSnapshot for the N snapshots; part of the convergence time. */
  setSnapshotMs: number;
  batchWindowMs: number;
  /** From applying the change until the cache's flush started (the batching window). */
  flushDelayMs: number;
  /** The flush itself: every watch answered, every response handed to gRPC, synchronously. */
  flushMs: number;
  /** 1-minute load average when the change was applied: above the core count, other work skews wall times. */
  loadAverageAtChange: number;
}

export interface MemoryFigures {
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
}

/** Nearest-rank percentile of ascending `sorted` values; NaN when empty. */
export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export function formatTable(results: readonly BenchResult[]): string {
  const header = [
    'variant', 'streams', 'p50 ms', 'p99 ms', 'max ms', 'flush ms', 'server CPU s', 'bytes/change', 'RSS/idle stream',
    'initial sync s', 'gen procs', 'gen CPU s', 'gen max ELU', 'load avg',
  ];
  const rows = results.map((result) => [
    result.variant,
    result.streams.toLocaleString('en-US'),
    result.convergeP50Ms.toFixed(0),
    result.convergeP99Ms.toFixed(0),
    result.convergeMaxMs.toFixed(0),
    result.flushMs.toFixed(0),
    result.serverCpuSeconds.toFixed(2),
    formatBytes(result.bytesSentPerChange),
    formatBytes(result.rssPerIdleStreamBytes),
    result.initialSyncSeconds.toFixed(1),
    String(result.generatorProcesses),
    result.generatorCpuSeconds.toFixed(2),
    result.generatorMaxEventLoopUtilization.toFixed(2),
    result.loadAverageAtChange.toFixed(1),
  ]);
  const batch = results[0]?.batchWindowMs;
  const note = batch === undefined ? '' : `\nconvergence includes the server's ${batch} ms batching window; bytes are gRPC message bytes`;
  return markdownTable(header, rows) + note;
}

function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, column) => (column < 2 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((width, column) => (column < 2 ? `${'-'.repeat(width + 1)}-` : `${'-'.repeat(width + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'n/a';
  if (Math.abs(bytes) >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (Math.abs(bytes) >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes.toFixed(0)} B`;
}
