// The server side of the xDS fan-out benchmark, run as its own process by bench/xds.ts: the real
// startControlServer with one snapshot per benchmark proxy (shared listeners, clusters, ECDS
// filters and identity map, plus the proxy's own NetworkPolicy), logging through pino at the
// configured level as `weir serve` does. The orchestrator drives it over IPC: stats (RSS, CPU),
// prepare the next policy revision, apply it. Measures only itself. Plaintext (security
// 'insecure'), said so in docs/benchmarks.md: the bench measures snapshot fan-out and encoding
// against earlier runs of the same bench, and its load generators play thousands of proxies.
import fs from 'node:fs';
import path from 'node:path';
import { Session } from 'node:inspector';
import v8 from 'node:v8';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { startControlServer } from '../../server/xds/control-server.ts';
import type { LogLevel } from '../../server/log/logger.ts';
import type { Snapshot } from '../../server/xds/snapshot.ts';
import { benchNodeId, buildNodeSnapshot, buildSharedResources } from './fixture.ts';
import { epochNow, isReport, reportToParent, type ServerCommand } from './ipc.ts';
import { mainThreadCpuMicros } from './main-thread-cpu.ts';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string' },
    'batch-window-ms': { type: 'string', default: '100' },
    'log-level': { type: 'string', default: 'info' },
    /**
     * Writes a V8 CPU profile of each change (from just before it is applied until the next stats
     * request) to this file, with `-change<N>` before its extension.
     */
    'profile-change': { type: 'string' },
    /** Buffer.poolSize for the server process (Node's default is 8 KiB). */
    'buffer-pool-bytes': { type: 'string' },
    /** Writes a V8 heap snapshot to this file when the idle streams are measured (the second stats request). */
    'heap-snapshot-idle': { type: 'string' },
  },
});
const nodeCount = Number(values.nodes);
if (!Number.isInteger(nodeCount) || nodeCount < 1) throw new Error(`server-process: --nodes must be a positive integer, got ${values.nodes}`);

if (values['buffer-pool-bytes']) Buffer.poolSize = Number(values['buffer-pool-bytes']);

const buildStarted = performance.now();
const shared = buildSharedResources();
const initialSnapshots = buildSnapshots(1);
const buildMs = performance.now() - buildStarted;

// Log lines are formatted and written as in production, to /dev/null so the disk does not skew the run.
const logger = pino({ level: values['log-level'] as LogLevel, name: 'weir' }, pino.destination({ dest: '/dev/null', sync: false }));
const server = await startControlServer({ security: { mode: 'insecure' }, port: 0, batchWindowMs: Number(values['batch-window-ms']), logger });
initialSnapshots.forEach((snapshot, index) => server.setSnapshot(snapshot, benchNodeId(index)));
const lastFlush = timeFlushes();
let nextSnapshots: Snapshot[] = [];
let profiler: Session | undefined;
let changeApplied = false;
/** Changes prepared so far; change N serves revision N + 1 (revision 1 is the initial sync). */
let changesPrepared = 0;

process.on('message', (message: unknown) => {
  if (!isReport(message)) return;
  const command = message as ServerCommand;
  if (command.kind === 'stats') reportStats(command.collectGarbage);
  else if (command.kind === 'prepare-change') prepareChange();
  else if (command.kind === 'apply-change') applyChange();
});
process.on('disconnect', () => {
  void server.stop().then(() => process.exit(0));
});
reportToParent({ kind: 'ready', port: server.port, buildMs });

function buildSnapshots(revision: number): Snapshot[] {
  return Array.from({ length: nodeCount }, (_, index) => buildNodeSnapshot(shared, index, revision));
}

let statsRequests = 0;

function reportStats(collectGarbage: boolean): void {
  statsRequests += 1;
  if (profiler && changeApplied) stopProfiling(profiler, changeProfileFile(values['profile-change'] ?? 'change.cpuprofile', changesPrepared));
  if (collectGarbage) {
    // Two collections let weak maps and finalizers settle before RSS is read.
    globalThis.gc?.();
    globalThis.gc?.();
  }
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  reportToParent({
    kind: 'stats',
    rssBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    heapTotalBytes: memory.heapTotal,
    externalBytes: memory.external,
    cpuMicros: cpu.user + cpu.system,
    mainThreadCpuMicros: mainThreadCpuMicros(),
    openWatches: server.cache.openWatchCount(),
    flushStartedAt: lastFlush.startedAt,
    flushMs: lastFlush.durationMs,
  });
  // After the report: writing a snapshot inflates RSS.
  const heapSnapshotFile = values['heap-snapshot-idle'];
  if (heapSnapshotFile && statsRequests === 2) v8.writeHeapSnapshot(heapSnapshotFile);
}

function prepareChange(): void {
  const started = performance.now();
  changesPrepared += 1;
  changeApplied = false;
  nextSnapshots = buildSnapshots(changesPrepared + 1);
  // Building the next revision is not part of the change; without this, the collection of its
  // garbage (encodings, hashes, maps of every proxy) fell into the measured change. The anchor
  // collects after loading its next revision too.
  globalThis.gc?.();
  globalThis.gc?.();
  if (values['profile-change']) startProfiling();
  reportToParent({ kind: 'prepared', buildMs: performance.now() - started });
}

function applyChange(): void {
  changeApplied = true;
  const startedAt = epochNow();
  const started = performance.now();
  nextSnapshots.forEach((snapshot, index) => server.setSnapshot(snapshot, benchNodeId(index)));
  reportToParent({ kind: 'applied', startedAt, setSnapshotMs: performance.now() - started });
}

function changeProfileFile(file: string, change: number): string {
  const extension = path.extname(file);
  return `${file.slice(0, file.length - extension.length)}-change${change}${extension}`;
}

function startProfiling(): void {
  profiler = new Session();
  profiler.connect();
  profiler.post('Profiler.enable');
  profiler.post('Profiler.setSamplingInterval', { interval: 100 });
  profiler.post('Profiler.start');
}

function stopProfiling(session: Session, file: string): void {
  profiler = undefined;
  session.post('Profiler.stop', (error, result) => {
    if (error) process.stderr.write(`server-process: CPU profile failed: ${error.message}\n`);
    else fs.writeFileSync(file, JSON.stringify(result.profile));
    session.disconnect();
  });
}

/** Wraps the cache's flush (run when the batching window closes) to time its synchronous part: the first slice of nodes answered. */
function timeFlushes(): { startedAt: number; durationMs: number } {
  const timing = { startedAt: Number.NaN, durationMs: Number.NaN };
  const flush = server.cache.flush.bind(server.cache);
  server.cache.flush = () => {
    timing.startedAt = epochNow();
    const started = performance.now();
    flush();
    timing.durationMs = performance.now() - started;
  };
  return timing;
}
