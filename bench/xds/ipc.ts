// The control channel between the benchmark's processes (Node IPC over fork, or JSON lines over
// stdin and stdout for the go-control-plane anchor): the messages the orchestrator (bench/xds.ts)
// exchanges with the server child and the load-generator children, and a helper that awaits one
// message kind from a child with a timeout. Holds no benchmark logic.
import type { ChildProcess } from 'node:child_process';
import readline from 'node:readline';

export type XdsVariant = 'sotw' | 'delta';

/** Orchestrator -> server child. */
export type ServerCommand =
  /** collectGarbage: run gc() first (for RSS); leave it off when reading CPU. */
  | { kind: 'stats'; collectGarbage: boolean }
  | { kind: 'prepare-change' }
  | { kind: 'apply-change' };

/** Server child -> orchestrator. */
export type ServerReport =
  | { kind: 'ready'; port: number; buildMs: number }
  | {
      kind: 'stats';
      rssBytes: number;
      heapUsedBytes: number;
      /** V8 heap committed (used + free pages kept). */
      heapTotalBytes: number;
      /** Memory outside the V8 heap that V8 knows of (Buffers). */
      externalBytes: number;
      cpuMicros: number;
      /** The main thread's share of cpuMicros; absent or NaN when the server cannot tell (the anchor: Go runs goroutines on any thread). */
      mainThreadCpuMicros?: number;
      openWatches: number;
      /** The latest flush of the snapshot cache: when it started (epoch ms) and how long it ran synchronously. */
      flushStartedAt: number;
      flushMs: number;
    }
  | { kind: 'prepared'; buildMs: number }
  | { kind: 'applied'; startedAt: number; setSnapshotMs: number };

/** Orchestrator -> generator child. */
export type GeneratorCommand = { kind: 'arm' } | { kind: 'stop' };

/**
 * What a generator's first stream received in one phase (initial sync, or the change), so the
 * orchestrator can check that two servers sent the same resources and say how their envelopes differ.
 */
export interface StreamSample {
  /** sha256 (hex) of each encoded Any received, sorted. */
  anyHashes: string[];
  /** The latest response of the changed type (the NetworkPolicy) in the phase. */
  changedEnvelope: { version: string; nonce: string; controlPlane: string; resourceVersions: string[] } | undefined;
}

/** Generator child -> orchestrator. */
export type GeneratorReport =
  | { kind: 'synced'; streams: number; syncMs: number; bytesReceived: number; sample: StreamSample }
  | {
      kind: 'converged';
      sample: StreamSample;
      /** Epoch milliseconds (timeOrigin + now) at which each stream wrote its ACK of the change. */
      ackedAt: number[];
      bytesReceived: number;
      responses: number;
      cpuMicros: number;
      /** Event-loop utilisation while converging: near 1 means the generator itself was the bottleneck. */
      eventLoopUtilization: number;
    }
  | { kind: 'failed'; message: string };

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes on one host. */
export function epochNow(): number {
  return performance.timeOrigin + performance.now();
}

/** Resolves with the next message of `kind` from `child`; rejects on timeout, exit or a `failed` report. */
export function nextMessage<Report extends { kind: string }, Kind extends Report['kind']>(
  child: ChildProcess,
  kind: Kind,
  timeoutMs: number,
  what: string,
): Promise<Extract<Report, { kind: Kind }>> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what}: no "${kind}" report within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (message: unknown): void => {
      if (!isReport(message)) return;
      if (message.kind === 'failed' && 'message' in message) {
        cleanup();
        reject(new Error(`${what} failed: ${String(message.message)}`));
      } else if (message.kind === kind) {
        cleanup();
        resolve(message as Extract<Report, { kind: Kind }>);
      }
    };
    const onExit = (code: number | null, signal: string | null): void => {
      cleanup();
      reject(new Error(`${what} exited (code ${code}, signal ${signal}) before reporting "${kind}"`));
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

/**
 * Lets a child that speaks JSON lines on stdin and stdout (spawned with both piped) be driven like
 * a forked one: each line it prints is emitted as a 'message' event, so nextMessage works on it.
 */
export function receiveJsonLines(child: ChildProcess, what: string): void {
  if (!child.stdout) throw new Error(`${what}: spawn it with stdout piped`);
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    let message: unknown;
    try {
      message = JSON.parse(line);
    } catch {
      process.stderr.write(`${what}: ${line}\n`);
      return;
    }
    child.emit('message', message);
  });
}

export function isReport(message: unknown): message is { kind: string } {
  return typeof message === 'object' && message !== null && typeof (message as { kind?: unknown }).kind === 'string';
}

/** Sends a message to the parent process; throws when the process was not forked with IPC. */
export function reportToParent(report: ServerReport | GeneratorReport): void {
  if (!process.send) throw new Error('this benchmark child must be started by bench/xds.ts (fork with an IPC channel)');
  process.send(report);
}
