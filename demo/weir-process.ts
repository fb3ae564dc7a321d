// The `weir` command (bin/weir.js) as child processes, for the demos and the tests: `weir serve` in
// the background, ready once its xDS port accepts connections and stopped by pid, and one-shot CLI
// runs whose exit code and output are collected.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from './servers/project-paths.ts';
import { acceptsConnections } from './servers/loopback-port.ts';
import { spawnServer, type ServerProcess } from './servers/server-process.ts';

const WEIR_BIN = path.join(projectRoot, 'bin', 'weir.js');

export interface CliRun {
  /** `weir ARGS`, for messages. */
  command: string;
  code: number | null;
  stdout: string;
  stderr: string;
  /** When the process exited (Date.now()). */
  exitedAt: number;
}

export interface CliRunOptions {
  /** The API socket (WEIR_SOCKET); default: the environment's. */
  socket?: string;
  /** Written to the command's standard input, which is then closed. */
  stdin?: string;
}

/** Runs `weir ARGS` to completion. */
export function runWeirCli(args: readonly string[], options: CliRunOptions = {}): Promise<CliRun> {
  const env = options.socket === undefined ? process.env : { ...process.env, WEIR_SOCKET: options.socket };
  const child = spawn(process.execPath, [WEIR_BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(options.stdin ?? '');
  return new Promise((resolve) => child.once('close', (code) => resolve({ command: `weir ${args.join(' ')}`, code, stdout, stderr, exitedAt: Date.now() })));
}

export interface WeirServeOptions {
  configFile: string;
  /** The xDS port the configuration names: serve is ready once it accepts connections. */
  xdsPort: number;
  /** Truncated, then receives serve's output. */
  logFile: string;
  /** How long to wait for the xDS port; default 15 s. */
  startTimeoutMs?: number;
}

// A bound, not an expectation: on a busy 2-core machine the first start (tsx transform, CA key) took
// over 15 s.
const SERVE_START_TIMEOUT_MS = 90_000;

/** Starts `weir serve --config FILE` and waits until it listens; stop it with `stop(graceMs)`. */
export async function startWeirServe(options: WeirServeOptions): Promise<ServerProcess> {
  fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
  fs.writeFileSync(options.logFile, '');
  const server = spawnServer({ command: process.execPath, args: [WEIR_BIN, 'serve', '--config', options.configFile], outputFile: options.logFile });
  const timeoutMs = options.startTimeoutMs ?? SERVE_START_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const where = path.relative(projectRoot, options.logFile);
  for (;;) {
    const exit = server.exitStatus();
    if (exit !== undefined) throw new Error(`weir serve exited with ${exit.code ?? exit.signal}; see ${where}`);
    if (await acceptsConnections(options.xdsPort)) return server;
    if (Date.now() > deadline) {
      await server.stop(5_000);
      throw new Error(`weir serve did not listen on 127.0.0.1:${options.xdsPort} within ${timeoutMs} ms; see ${where}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
