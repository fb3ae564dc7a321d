// One real server started as a child process: its pid, its exit, a bounded tail of what it printed,
// and a stop that signals the pid (SIGTERM, then SIGKILL after a grace period). While it runs, a
// guard kills it if this Node process exits first, so a crashed test never leaves a JVM behind.
// Knows nothing about any particular server; readiness checks live with each runner.
import { spawn } from 'node:child_process';
import fs from 'node:fs';

export interface ServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  pid: number;
  /** Resolves when the process has exited, for whatever reason. */
  exited: Promise<ServerExit>;
  /** The exit, once it happened; undefined while the process runs. */
  exitStatus(): ServerExit | undefined;
  /** The last lines the process wrote to stdout/stderr (or to its output file). */
  outputTail(lines?: number): string;
  /** SIGTERM, wait up to graceMs, then SIGKILL; resolves once the process is gone. */
  stop(graceMs: number): Promise<void>;
}

export interface SpawnServerOptions {
  command: string;
  args: string[];
  cwd?: string;
  /** The process's environment; default this process's. */
  env?: NodeJS.ProcessEnv;
  /** Send stdout and stderr to this file (a JVM can write a lot); otherwise keep a tail in memory. */
  outputFile?: string;
}

const MEMORY_TAIL_BYTES = 16_384;

export function spawnServer({ command, args, cwd, env, outputFile }: SpawnServerOptions): ServerProcess {
  const outputFd = outputFile === undefined ? undefined : fs.openSync(outputFile, 'a');
  const child = spawn(command, args, {
    cwd,
    env,
    stdio: outputFd === undefined ? ['ignore', 'pipe', 'pipe'] : ['ignore', outputFd, outputFd],
  });
  if (outputFd !== undefined) fs.closeSync(outputFd);
  let printed = '';
  const keepTail = (chunk: Buffer): void => {
    printed = (printed + chunk.toString('utf8')).slice(-MEMORY_TAIL_BYTES);
  };
  child.stdout?.on('data', keepTail);
  child.stderr?.on('data', keepTail);

  let exitStatus: ServerExit | undefined;
  const exited = new Promise<ServerExit>((resolve) => {
    child.once('exit', (code, signal) => {
      exitStatus = { code, signal };
      resolve(exitStatus);
    });
    child.once('error', (error) => {
      keepTail(Buffer.from(`\n${command}: ${error.message}\n`));
      exitStatus = { code: null, signal: null };
      resolve(exitStatus);
    });
  });
  const pid = child.pid ?? 0;
  const killIfStillRunning = (): void => signalPid(pid, 'SIGKILL');
  if (pid !== 0) process.once('exit', killIfStillRunning);
  void exited.then(() => process.removeListener('exit', killIfStillRunning));

  const outputTail = (lines = 40): string => {
    const text = outputFile === undefined ? printed : readFileTail(outputFile, MEMORY_TAIL_BYTES);
    return text.split('\n').slice(-lines).join('\n');
  };
  const stop = async (graceMs: number): Promise<void> => {
    if (exitStatus !== undefined || pid === 0) return;
    signalPid(pid, 'SIGTERM');
    if ((await settleWithin(exited, graceMs)) === undefined) {
      signalPid(pid, 'SIGKILL');
      await exited;
    }
  };
  return { pid, exited, exitStatus: () => exitStatus, outputTail, stop };
}

/** The last `maxBytes` of a file as text; empty if the file does not exist yet. */
export function readFileTail(file: string, maxBytes: number): string {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = fs.fstatSync(fd).size;
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    fs.readSync(fd, buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/** Sends `signal` to `pid`; a process already gone is nothing to stop. */
export function signalPid(pid: number, signal: NodeJS.Signals): void {
  // kill(2) with 0 or a negative number signals a whole process group (the test runner's own).
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone: nothing to stop.
  }
}

function settleWithin<T>(promise: Promise<T>, timeoutMs: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), timeoutMs);
    void promise.then((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}
