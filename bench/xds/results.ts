// One row of the xDS fan-out benchmark and how the rows are summarised and printed: percentiles,
// the table `npm run bench:xds` prints, and with two servers the ratios Weir / go-control-plane
// and the check that both sent the same resource bytes (also pasted into docs/benchmarks.md).
import type { StreamSample, XdsVariant } from './ipc.ts';

/** weir: Weir's control server; gcp: the go-control-plane anchor (bench/xds/gcp-anchor/). */
export type BenchServerKind = 'weir' | 'gcp';

export interface BenchResult {
  server: BenchServerKind;
  /** 1-based round; with several servers each round runs every one of them. */
  round: number;
  variant: XdsVariant;
  streams: number;
  // The figures of the first change, on a freshly started server that has done only the initial sync.
  convergeP50Ms: number;
  convergeP99Ms: number;
  convergeMaxMs: number;
  /** Server process CPU (user + system) from the change until the last ACK was read. */
  serverCpuSeconds: number;
  /** Its main thread's share (Weir only; NaN for the anchor): the rest ran on V8's and libuv's helper threads. */
  serverMainThreadCpuSeconds: number;
  /** gRPC message bytes the generators received for the change (HTTP/2 framing excluded). */
  bytesSentPerChange: number;
  responsesPerChange: number;
  /** The medians over the changes after the first (same process, warm); undefined with --changes 1. */
  later: LaterChanges | undefined;
  /** Every change of the run, in order. */
  changes: ChangeFigures[];
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
  /** What the first generator's first stream received in the initial sync and in the change. */
  syncSample: StreamSample | undefined;
  changeSample: StreamSample | undefined;
}

/** One policy change applied to a synced server. */
export interface ChangeFigures {
  convergeP50Ms: number;
  convergeP99Ms: number;
  convergeMaxMs: number;
  serverCpuSeconds: number;
  serverMainThreadCpuSeconds: number;
  bytesSent: number;
  responses: number;
  generatorCpuSeconds: number;
  generatorMaxEventLoopUtilization: number;
  changeBuildMs: number;
  setSnapshotMs: number;
  flushDelayMs: number;
  flushMs: number;
  loadAverageAtChange: number;
}

/** Medians over the changes after the first in one server process. */
export interface LaterChanges {
  count: number;
  convergeP50Ms: number;
  convergeP99Ms: number;
  serverCpuSeconds: number;
  serverMainThreadCpuSeconds: number;
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
    'server', 'round', 'variant', 'streams', 'p50 ms', 'p99 ms', 'max ms', 'flush ms', 'server CPU s', 'main thread s', 'later p50 ms',
    'later p99 ms', 'later CPU s', 'later main s', 'bytes/change', 'RSS/idle stream', 'initial sync s', 'gen procs', 'gen CPU s', 'gen max ELU', 'load avg',
  ];
  const rows = results.map((result) => [
    result.server,
    String(result.round),
    result.variant,
    result.streams.toLocaleString('en-US'),
    result.convergeP50Ms.toFixed(0),
    result.convergeP99Ms.toFixed(0),
    result.convergeMaxMs.toFixed(0),
    result.flushMs.toFixed(0),
    result.serverCpuSeconds.toFixed(3),
    Number.isNaN(result.serverMainThreadCpuSeconds) ? '-' : result.serverMainThreadCpuSeconds.toFixed(3),
    result.later ? result.later.convergeP50Ms.toFixed(0) : '-',
    result.later ? result.later.convergeP99Ms.toFixed(0) : '-',
    result.later ? result.later.serverCpuSeconds.toFixed(3) : '-',
    result.later && !Number.isNaN(result.later.serverMainThreadCpuSeconds) ? result.later.serverMainThreadCpuSeconds.toFixed(3) : '-',
    formatBytes(result.bytesSentPerChange),
    formatBytes(result.rssPerIdleStreamBytes),
    result.initialSyncSeconds.toFixed(1),
    String(result.generatorProcesses),
    result.generatorCpuSeconds.toFixed(2),
    result.generatorMaxEventLoopUtilization.toFixed(2),
    result.loadAverageAtChange.toFixed(1),
  ]);
  const batch = results[0]?.batchWindowMs;
  const laterCount = results[0]?.later?.count;
  const laterNote = laterCount === undefined ? '' : `; p50, p99 and CPU are of the first change on a fresh server, "later" the medians of the ${laterCount} changes after it in the same process`;
  const note = batch === undefined ? '' : `\nconvergence includes the server's ${batch} ms batching window; bytes are gRPC message bytes${laterNote}`;
  return markdownTable(header, rows) + note;
}

/** The figures compared between servers; lower is better for each. "later": the changes after the first. */
const COMPARED: ReadonlyArray<{ title: string; value: (result: BenchResult) => number }> = [
  { title: 'p50', value: (result) => result.convergeP50Ms },
  { title: 'p99', value: (result) => result.convergeP99Ms },
  { title: 'server CPU per change', value: (result) => result.serverCpuSeconds },
  { title: 'later p50', value: (result) => result.later?.convergeP50Ms ?? Number.NaN },
  { title: 'later p99', value: (result) => result.later?.convergeP99Ms ?? Number.NaN },
  { title: 'later CPU per change', value: (result) => result.later?.serverCpuSeconds ?? Number.NaN },
  { title: 'RSS per idle stream', value: (result) => result.rssPerIdleStreamBytes },
];

/**
 * Per (variant, N): the median over rounds of each round's ratio Weir / go-control-plane (each
 * round ran both back to back), with the range; then whether both sent the same resource bytes.
 */
export function formatComparison(results: readonly BenchResult[]): string {
  const rows: string[][] = [];
  const checks: string[] = [];
  for (const group of groupByCase(results)) {
    const ratios = COMPARED.map(() => [] as number[]);
    const loads: number[] = [];
    for (const round of new Set(group.map((result) => result.round))) {
      const weir = group.find((result) => result.round === round && result.server === 'weir');
      const gcp = group.find((result) => result.round === round && result.server === 'gcp');
      if (!weir || !gcp) continue;
      COMPARED.forEach((figure, index) => ratios[index]?.push(figure.value(weir) / figure.value(gcp)));
      loads.push(weir.loadAverageAtChange, gcp.loadAverageAtChange);
    }
    const first = group[0];
    if (!first || loads.length === 0) continue;
    rows.push([
      first.variant,
      first.streams.toLocaleString('en-US'),
      String(loads.length / 2),
      ...ratios.map(formatRatio),
      `${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}`,
    ]);
    checks.push(`${first.variant} ${first.streams.toLocaleString('en-US')}: ${describeSampleDifferences(group)}`);
  }
  const header = ['variant', 'streams', 'rounds', ...COMPARED.map((figure) => `${figure.title} weir/gcp`), 'load avg'];
  return [
    'Weir / go-control-plane, median of the per-round ratios (min-max); below 1 means Weir is ahead; p50, p99 and CPU of the first change',
    'on a freshly started server, "later" of the median of the changes after it in the same process (n/a with --changes 1)',
    '',
    markdownTable(header, rows),
    '',
    'Resources and envelopes, first stream of the first generator, Weir vs go-control-plane:',
    ...checks.map((check) => `- ${check}`),
  ].join('\n');
}

function groupByCase(results: readonly BenchResult[]): BenchResult[][] {
  const groups = new Map<string, BenchResult[]>();
  for (const result of results) {
    const key = `${result.variant} ${result.streams}`;
    const group = groups.get(key) ?? [];
    group.push(result);
    groups.set(key, group);
  }
  return [...groups.values()];
}

function formatRatio(values: readonly number[]): string {
  if (values.some((value) => Number.isNaN(value))) return 'n/a';
  const sorted = [...values].sort((left, right) => left - right);
  const median = sorted.length % 2 === 1
    ? sorted[(sorted.length - 1) / 2] ?? Number.NaN
    : ((sorted[sorted.length / 2 - 1] ?? Number.NaN) + (sorted[sorted.length / 2] ?? Number.NaN)) / 2;
  if (sorted.length === 1) return median.toFixed(2);
  return `${median.toFixed(2)} (${(sorted[0] ?? Number.NaN).toFixed(2)}-${(sorted[sorted.length - 1] ?? Number.NaN).toFixed(2)})`;
}

/** Compares the resource hashes both servers sent, and names the envelope fields that differ. */
function describeSampleDifferences(group: readonly BenchResult[]): string {
  const weir = group.find((result) => result.server === 'weir');
  const gcp = group.find((result) => result.server === 'gcp');
  if (!weir?.syncSample || !gcp?.syncSample || !weir.changeSample || !gcp.changeSample) return 'no sample to compare';
  const sameSync = sameList(weir.syncSample.anyHashes, gcp.syncSample.anyHashes);
  const sameChange = sameList(weir.changeSample.anyHashes, gcp.changeSample.anyHashes);
  const resources = sameSync && sameChange
    ? `resources byte-identical (${weir.syncSample.anyHashes.length} Any in the sync, ${weir.changeSample.anyHashes.length} in the change)`
    : `RESOURCES DIFFER (initial sync ${sameSync ? 'same' : 'differs'}, change ${sameChange ? 'same' : 'differs'})`;
  const weirEnvelope = weir.changeSample.changedEnvelope;
  const gcpEnvelope = gcp.changeSample.changedEnvelope;
  if (!weirEnvelope || !gcpEnvelope) return `${resources}; no envelope of the change to compare`;
  const differences: string[] = [];
  if (weirEnvelope.version !== gcpEnvelope.version) differences.push(`version "${weirEnvelope.version}" vs "${gcpEnvelope.version}"`);
  if (!sameList(weirEnvelope.resourceVersions, gcpEnvelope.resourceVersions)) differences.push('per-resource versions');
  if (weirEnvelope.nonce !== gcpEnvelope.nonce) differences.push(`nonce "${weirEnvelope.nonce}" vs "${gcpEnvelope.nonce}"`);
  if (weirEnvelope.controlPlane !== gcpEnvelope.controlPlane) {
    differences.push(`control_plane "${weirEnvelope.controlPlane}" vs ${gcpEnvelope.controlPlane ? `"${gcpEnvelope.controlPlane}"` : 'none'}`);
  }
  return `${resources}; envelope of the change differs in: ${differences.length > 0 ? differences.join(', ') : 'nothing'}`;
}

function sameList(left: readonly string[], right: readonly string[]): boolean {
  return left.length === right.length && left.every((value, index) => value === right[index]);
}

function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const textColumns = header.indexOf('streams');
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, column) => (column < textColumns ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((width, column) => (column < textColumns ? `${'-'.repeat(width + 1)}-` : `${'-'.repeat(width + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'n/a';
  if (Math.abs(bytes) >= 1024 * 1024) return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
  if (Math.abs(bytes) >= 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes.toFixed(0)} B`;
}
