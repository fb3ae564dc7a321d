// `npm run bench:xds`: measures how fast the xDS server fans one policy change out to N proxies.
// For each variant (SotW, delta) and each N it starts the real control server in its own process
// (bench/xds/server-process.ts) and load generators in others (bench/xds/load-generator.ts) that
// open N ADS streams and ACK like Envoy; then it applies `--changes` policy changes in turn (every
// proxy's weir.NetworkPolicy gets a new revision each time) and reports, for the first change and
// as the median of the later ones, convergence (change -> each stream has received and ACKed it)
// p50/p99 and server CPU per change, plus bytes sent per change, server RSS per idle stream, and
// the generators' own load. `--server weir,gcp` also runs the go-control-plane anchor
// (bench/xds/gcp-anchor/) on the same fixture and load, interleaved round by round, checks that
// both sent the same resource bytes, and prints the ratios Weir / go-control-plane. Prints the
// tables; `--json FILE` also writes the raw results.
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildSharedResources } from './xds/fixture.ts';
import { writeFixtureFile } from './xds/fixture-file.ts';
import { ensureGcpAnchor } from './xds/gcp-anchor.ts';
import {
  nextMessage,
  receiveJsonLines,
  type GeneratorCommand,
  type GeneratorReport,
  type ServerCommand,
  type ServerReport,
  type StreamSample,
  type XdsVariant,
} from './xds/ipc.ts';
import {
  formatComparison,
  formatTable,
  percentile,
  type BenchResult,
  type BenchServerKind,
  type ChangeFigures,
  type LaterChanges,
  type MemoryFigures,
} from './xds/results.ts';

export interface XdsBenchOptions {
  nodeCounts: number[];
  variants: XdsVariant[];
  /** weir: Weir's control server; gcp: the go-control-plane anchor on the same fixture. */
  servers: BenchServerKind[];
  /** Runs of each (variant, N, server); with several servers, their order alternates per round. */
  rounds: number;
  /**
   * Policy changes applied one after another in each run's server process (revisions 2, 3, ...):
   * the first runs on a freshly started server, the later ones on a warm one, as in a
   * long-running control plane; both are reported ("later": the median of changes 2..N). Default 6:
   * on Weir the second and third changes still pay for V8 optimizing the push path on its helper
   * threads, so the median of five later changes is that of a warm server.
   */
  changes: number;
  /** Load-generator processes (fewer when N is small). */
  generators: number;
  /** Streams per HTTP/2 connection. */
  streamsPerChannel: number;
  /** The server's batching window; the default matches `weir serve`. */
  batchWindowMs: number;
  /** Server log level; 'info' logs connect/ACK lines as in production. */
  logLevel: string;
  /** Idle time after the initial sync before RSS is read. */
  settleMs: number;
  jsonFile: string | undefined;
  /**
   * Start the server with glibc malloc told to return freed memory (fixed mmap threshold 64 KiB,
   * trim threshold 1 MiB), so RSS shows what idle streams hold rather than the high-water mark
   * of the initial sync.
   */
  serverMallocTrim: boolean;
  /** Buffer.poolSize in the server process; undefined keeps Node's 8 KiB. */
  serverBufferPoolBytes: number | undefined;
  /** Extra Node/V8 options for Weir's server process (e.g. --trace-deopt), for experiments. */
  serverNodeOptions: string[];
  /** Directory for V8 CPU profiles of the server during each change, and heap snapshots with idle streams. */
  profileDir: string | undefined;
}

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const SERVER_SCRIPT = path.join(BENCH_DIR, 'xds', 'server-process.ts');
const GENERATOR_SCRIPT = path.join(BENCH_DIR, 'xds', 'load-generator.ts');
const CHILD_EXEC_ARGV = ['--import', 'tsx', '--expose-gc'];
const children = new Set<ChildProcess>();
const MALLOC_TRIM_ENV = { MALLOC_MMAP_THRESHOLD_: '65536', MALLOC_TRIM_THRESHOLD_: '1048576' };

/** A server child and how to send it commands (Node IPC for Weir, JSON lines on stdin for the anchor). */
interface ServerChild {
  child: ChildProcess;
  send(command: ServerCommand): void;
}

const options = parseOptions();
// The servers write their profiles there; a directory that does not exist yet would fail the run after the initial sync.
if (options.profileDir) fs.mkdirSync(options.profileDir, { recursive: true });
let fixtureDir: string | undefined;
process.on('SIGINT', () => {
  stopAll();
  removeFixtures();
  process.exit(130);
});
try {
  const anchorBinary = options.servers.includes('gcp') ? ensureGcpAnchor((message) => process.stderr.write(`bench:xds: ${message}\n`)) : undefined;
  const results: BenchResult[] = [];
  for (const variant of options.variants) {
    for (const nodeCount of options.nodeCounts) {
      const fixtures = anchorBinary ? gcpFixtureFiles(nodeCount) : undefined;
      for (let round = 1; round <= options.rounds; round += 1) {
        // Alternate which server goes first, so neither always runs on a host the other just heated.
        const order = round % 2 === 1 ? options.servers : [...options.servers].reverse();
        for (const server of order) {
          process.stderr.write(`bench:xds ${variant} N=${nodeCount} ${server} round ${round}/${options.rounds} ...\n`);
          const child = server === 'gcp' && anchorBinary && fixtures ? startGcpAnchor(anchorBinary, nodeCount, fixtures, variant) : startWeirServer(nodeCount, variant);
          results.push(await runOnce(child, server, round, variant, nodeCount));
        }
      }
    }
  }
  const comparison = options.servers.length > 1 ? `\n\n${formatComparison(results)}` : '';
  process.stdout.write(`${describeMachine()}\n\n${formatTable(results)}${comparison}\n`);
  if (options.jsonFile) fs.writeFileSync(options.jsonFile, `${JSON.stringify({ machine: describeMachine(), options, results }, null, 2)}\n`);
} catch (error) {
  process.stderr.write(`bench:xds failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
} finally {
  stopAll();
  removeFixtures();
}

function startWeirServer(nodeCount: number, variant: XdsVariant): ServerChild {
  const profileArgs = options.profileDir
    ? [
        '--profile-change', path.resolve(options.profileDir, `weir-${variant}-${nodeCount}.cpuprofile`),
        '--heap-snapshot-idle', path.resolve(options.profileDir, `weir-${variant}-${nodeCount}-idle.heapsnapshot`),
      ]
    : [];
  const child = forkChild(SERVER_SCRIPT, [
    '--nodes', String(nodeCount),
    '--batch-window-ms', String(options.batchWindowMs),
    '--log-level', options.logLevel,
    ...profileArgs,
    ...(options.serverBufferPoolBytes ? ['--buffer-pool-bytes', String(options.serverBufferPoolBytes)] : []),
  ], options.serverMallocTrim ? MALLOC_TRIM_ENV : {}, options.serverNodeOptions);
  return { child, send: (command) => sendTo(child, command) };
}

/** The go-control-plane anchor, serving the fixture files of `nodeCount` proxies; commands go as JSON lines on stdin. */
function startGcpAnchor(binary: string, nodeCount: number, fixtures: { initial: string; changes: string[] }, variant: XdsVariant): ServerChild {
  const profileArgs = options.profileDir ? ['--profile-change', path.resolve(options.profileDir, `gcp-${variant}-${nodeCount}.pprof`)] : [];
  const child = spawn(binary, [
    '--nodes', String(nodeCount),
    '--resources', fixtures.initial,
    '--change-resources', fixtures.changes.join(','),
    '--batch-window-ms', String(options.batchWindowMs),
    ...(options.serverMallocTrim ? ['--return-freed-memory'] : []),
    ...profileArgs,
  ], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(child);
  child.on('exit', () => children.delete(child));
  receiveJsonLines(child, 'go-control-plane anchor');
  return {
    child,
    send: (command) => {
      if (!child.stdin?.writable) throw new Error(`go-control-plane anchor ${child.pid} is gone; see its output above`);
      child.stdin.write(`${JSON.stringify(command)}\n`);
    },
  };
}

/** Every revision of the fixture for `nodeCount` proxies (1, then one per change), written once per N for the anchor. */
function gcpFixtureFiles(nodeCount: number): { initial: string; changes: string[] } {
  fixtureDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'weir-bench-xds-'));
  const directory = fixtureDir;
  const shared = buildSharedResources();
  const file = (revision: number): string => {
    const name = path.join(directory, `nodes-${nodeCount}-r${revision}.bin`);
    writeFixtureFile(name, shared, nodeCount, revision);
    return name;
  };
  return { initial: file(1), changes: Array.from({ length: options.changes }, (_, index) => file(index + 2)) };
}

/** The median of each figure over `changes` (the later changes of one run). */
function medianOfChanges(changes: readonly ChangeFigures[]): LaterChanges {
  const median = (value: (figures: ChangeFigures) => number): number => {
    const sorted = changes.map(value).sort((left, right) => left - right);
    const middle = (sorted.length - 1) / 2;
    return ((sorted[Math.floor(middle)] ?? Number.NaN) + (sorted[Math.ceil(middle)] ?? Number.NaN)) / 2;
  };
  return {
    count: changes.length,
    convergeP50Ms: median((figures) => figures.convergeP50Ms),
    convergeP99Ms: median((figures) => figures.convergeP99Ms),
    serverCpuSeconds: median((figures) => figures.serverCpuSeconds),
    serverMainThreadCpuSeconds: median((figures) => figures.serverMainThreadCpuSeconds),
  };
}

function removeFixtures(): void {
  if (fixtureDir) fs.rmSync(fixtureDir, { recursive: true, force: true });
  fixtureDir = undefined;
}

async function runOnce(serverChild: ServerChild, serverKind: BenchServerKind, round: number, variant: XdsVariant, nodeCount: number): Promise<BenchResult> {
  const server = serverChild.child;
  const what = serverKind === 'gcp' ? 'go-control-plane anchor' : 'xDS server';
  try {
    const ready = await nextMessage<ServerReport, 'ready'>(server, 'ready', 120_000 + nodeCount * 20, what);
    const baseline = await serverStats(serverChild, true, what);
    const generators = startGenerators(variant, nodeCount, ready.port);
    const synced = await Promise.all(
      generators.map((generator) => nextMessage<GeneratorReport, 'synced'>(generator, 'synced', 60_000 + nodeCount * 30, 'load generator')),
    );
    await sleep(options.settleMs);
    const idle = await serverStats(serverChild, true, what);
    const changes: ChangeFigures[] = [];
    let firstChangeSample: StreamSample | undefined;
    for (let change = 1; change <= options.changes; change += 1) {
      const measured = await measureChange(serverChild, generators, what);
      changes.push(measured.figures);
      firstChangeSample ??= measured.sample;
    }
    const [first, ...later] = changes;
    if (!first) throw new Error('bench:xds: --changes must be at least 1');
    return {
      server: serverKind,
      round,
      variant,
      streams: nodeCount,
      convergeP50Ms: first.convergeP50Ms,
      convergeP99Ms: first.convergeP99Ms,
      convergeMaxMs: first.convergeMaxMs,
      serverCpuSeconds: first.serverCpuSeconds,
      serverMainThreadCpuSeconds: first.serverMainThreadCpuSeconds,
      bytesSentPerChange: first.bytesSent,
      responsesPerChange: first.responses,
      later: later.length > 0 ? medianOfChanges(later) : undefined,
      changes,
      rssPerIdleStreamBytes: (idle.rssBytes - baseline.rssBytes) / nodeCount,
      heapPerIdleStreamBytes: (idle.heapUsedBytes - baseline.heapUsedBytes) / nodeCount,
      memoryWithIdleStreams: { baseline: memoryFigures(baseline), idle: memoryFigures(idle) },
      initialSyncSeconds: Math.max(...synced.map((report) => report.syncMs)) / 1000,
      initialSyncBytes: sum(synced.map((report) => report.bytesReceived)),
      generatorProcesses: generators.length,
      generatorCpuSeconds: first.generatorCpuSeconds,
      generatorMaxEventLoopUtilization: Math.max(...changes.map((figures) => figures.generatorMaxEventLoopUtilization)),
      changeBuildMs: first.changeBuildMs,
      setSnapshotMs: first.setSnapshotMs,
      batchWindowMs: options.batchWindowMs,
      flushDelayMs: first.flushDelayMs,
      flushMs: first.flushMs,
      loadAverageAtChange: first.loadAverageAtChange,
      syncSample: synced[0]?.sample,
      changeSample: firstChangeSample,
    };
  } finally {
    stopAll();
    await sleep(300);
  }
}

/**
 * One policy change on a synced server: the server prepares the next revision (not timed, its
 * garbage collected), the generators are armed, the change is applied, and it is measured until
 * every stream ACKed it.
 */
async function measureChange(serverChild: ServerChild, generators: readonly ChildProcess[], what: string): Promise<{ figures: ChangeFigures; sample: StreamSample | undefined }> {
  const server = serverChild.child;
  serverChild.send({ kind: 'prepare-change' });
  const prepared = await nextMessage<ServerReport, 'prepared'>(server, 'prepared', options.profileDir ? 600_000 : 120_000, what);
  const convergedReports = generators.map((generator) => nextMessage<GeneratorReport, 'converged'>(generator, 'converged', 120_000, 'load generator'));
  for (const generator of generators) sendTo<GeneratorCommand>(generator, { kind: 'arm' });
  const loadAverageAtChange = os.loadavg()[0] ?? Number.NaN;
  const before = await serverStats(serverChild, false, what);
  serverChild.send({ kind: 'apply-change' });
  const applied = await nextMessage<ServerReport, 'applied'>(server, 'applied', 60_000, what);
  const converged = await Promise.all(convergedReports);
  await sleep(200); // let the server finish reading the last ACKs before its CPU is read
  const after = await serverStats(serverChild, false, what);
  const latenciesMs = converged.flatMap((report) => report.ackedAt.map((at) => at - applied.startedAt)).sort((a, b) => a - b);
  return {
    figures: {
      convergeP50Ms: percentile(latenciesMs, 0.5),
      convergeP99Ms: percentile(latenciesMs, 0.99),
      convergeMaxMs: latenciesMs[latenciesMs.length - 1] ?? Number.NaN,
      serverCpuSeconds: (after.cpuMicros - before.cpuMicros) / 1e6,
      serverMainThreadCpuSeconds: ((after.mainThreadCpuMicros ?? Number.NaN) - (before.mainThreadCpuMicros ?? Number.NaN)) / 1e6,
      bytesSent: sum(converged.map((report) => report.bytesReceived)),
      responses: sum(converged.map((report) => report.responses)),
      generatorCpuSeconds: sum(converged.map((report) => report.cpuMicros)) / 1e6,
      generatorMaxEventLoopUtilization: Math.max(...converged.map((report) => report.eventLoopUtilization)),
      changeBuildMs: prepared.buildMs,
      setSnapshotMs: applied.setSnapshotMs,
      flushDelayMs: after.flushStartedAt - applied.startedAt,
      flushMs: after.flushMs,
      loadAverageAtChange,
    },
    sample: converged[0]?.sample,
  };
}

function startGenerators(variant: XdsVariant, nodeCount: number, port: number): ChildProcess[] {
  const count = Math.max(1, Math.min(options.generators, Math.ceil(nodeCount / options.streamsPerChannel)));
  const perGenerator = Math.ceil(nodeCount / count);
  const generators: ChildProcess[] = [];
  for (let first = 0; first < nodeCount; first += perGenerator) {
    const end = Math.min(nodeCount, first + perGenerator);
    generators.push(
      forkChild(GENERATOR_SCRIPT, [
        '--port', String(port),
        '--variant', variant,
        '--from', String(first),
        '--to', String(end),
        '--streams-per-channel', String(options.streamsPerChannel),
      ]),
    );
  }
  return generators;
}

async function serverStats(server: ServerChild, collectGarbage: boolean, what: string): Promise<Extract<ServerReport, { kind: 'stats' }>> {
  server.send({ kind: 'stats', collectGarbage });
  return nextMessage<ServerReport, 'stats'>(server.child, 'stats', 30_000, what);
}

function memoryFigures(stats: Extract<ServerReport, { kind: 'stats' }>): MemoryFigures {
  return { rssBytes: stats.rssBytes, heapUsedBytes: stats.heapUsedBytes, heapTotalBytes: stats.heapTotalBytes, externalBytes: stats.externalBytes };
}

function forkChild(script: string, args: string[], extraEnv: Record<string, string> = {}, nodeOptions: readonly string[] = []): ChildProcess {
  const child = fork(script, args, {
    execArgv: [...CHILD_EXEC_ARGV, ...nodeOptions],
    env: { ...process.env, ...extraEnv },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

function sendTo<Command>(child: ChildProcess, command: Command): void {
  if (!child.connected) throw new Error(`benchmark child ${child.pid} is gone; see its output above`);
  child.send(command as object);
}

/** Stops every child this run started, by pid. */
function stopAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }
}

function describeMachine(): string {
  const cpus = os.cpus();
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    // Not a git checkout: the commit stays unknown.
  }
  return `host: ${cpus.length} x ${cpus[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${os.platform()} ${os.release()}, Node ${process.version}, commit ${commit}`;
}

function parseOptions(): XdsBenchOptions {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string', default: '100,1000,10000' },
      variants: { type: 'string', default: 'sotw,delta' },
      server: { type: 'string', default: 'weir' },
      rounds: { type: 'string' },
      changes: { type: 'string', default: '6' },
      generators: { type: 'string', default: '2' },
      'streams-per-channel': { type: 'string', default: '100' },
      'batch-window-ms': { type: 'string', default: '100' },
      'log-level': { type: 'string', default: 'info' },
      'settle-ms': { type: 'string', default: '2000' },
      json: { type: 'string' },
      'profile-dir': { type: 'string' },
      'server-malloc-trim': { type: 'boolean', default: false },
      'server-buffer-pool-bytes': { type: 'string' },
      'server-node-options': { type: 'string', default: '' },
    },
  });
  const nodeCounts = values.nodes.split(',').map((entry) => positiveInteger(entry, '--nodes'));
  const variants = values.variants.split(',').map((entry): XdsVariant => {
    if (entry === 'sotw' || entry === 'delta') return entry;
    throw new Error(`--variants: "${entry}" is not a variant; use sotw, delta or both (sotw,delta)`);
  });
  const servers = [...new Set(values.server.split(','))].map((entry): BenchServerKind => {
    if (entry === 'weir' || entry === 'gcp') return entry;
    throw new Error(`--server: "${entry}" is not a server; use weir, gcp or both (weir,gcp)`);
  });
  return {
    nodeCounts,
    variants,
    servers,
    // Comparisons need several rounds to read past a busy host; a single server keeps one run.
    rounds: positiveInteger(values.rounds ?? (servers.length > 1 ? '3' : '1'), '--rounds'),
    changes: positiveInteger(values.changes, '--changes'),
    generators: positiveInteger(values.generators, '--generators'),
    streamsPerChannel: positiveInteger(values['streams-per-channel'], '--streams-per-channel'),
    batchWindowMs: Number(values['batch-window-ms']),
    logLevel: values['log-level'],
    settleMs: Number(values['settle-ms']),
    jsonFile: values.json,
    profileDir: values['profile-dir'],
    serverMallocTrim: values['server-malloc-trim'],
    serverNodeOptions: values['server-node-options'].split(' ').filter((option) => option !== ''),
    serverBufferPoolBytes: values['server-buffer-pool-bytes'] ? positiveInteger(values['server-buffer-pool-bytes'], '--server-buffer-pool-bytes') : undefined,
  };
}

function positiveInteger(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${flag}: "${text}" is not a positive integer`);
  return value;
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}
