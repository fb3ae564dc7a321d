// Runs one Envoy as a child process from a bootstrap: writes the bootstrap to a work directory,
// learns the admin address Envoy actually bound, captures its log, and stops it by pid. The one
// way Weir starts Envoy: the demo, set-up's Wasm probe, the tests and the benches. Builds no
// configuration itself; a bootstrap must configure `admin` (port 0 is fine).
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, readFileSync, existsSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveEnvoyBinary } from './binary.ts';

export interface EnvoyProcessOptions {
  bootstrapYaml: string;
  /** Worker threads; 1 gives one Wasm VM per plugin and deterministic tests. */
  concurrency?: number;
  logLevel?: 'trace' | 'debug' | 'info' | 'warning' | 'error';
  /** e.g. "wasm:info,upstream:warning" */
  componentLogLevel?: string;
  envoyBinary?: string;
  /** Keep the work directory (bootstrap, log) after stop, for debugging. */
  keepWorkDir?: boolean;
  /** Called with every log line as it arrives. */
  onLogLine?: (line: string) => void;
  /**
   * Runs Envoy through this command prefix, e.g. `ip netns exec NS setpriv --reuid=1337 ...` for a
   * sidecar in a network namespace. Default: none.
   */
  launcher?: readonly string[];
  /** Hands the work directory to this user (Envoy reads the bootstrap and writes its admin address there). */
  workDirOwner?: { uid: number; gid: number };
  /** More command-line arguments, e.g. `--config-yaml` as pilot-agent passes a bootstrap override. */
  extraArgs?: readonly string[];
}

export interface EnvoyProcess {
  pid: number;
  adminUrl: string;
  workDir: string;
  /** Everything Envoy logged so far. */
  log(): string;
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** GET an admin path such as /ready or /config_dump. */
  admin(pathAndQuery: string): Promise<{ status: number; body: string }>;
  waitReady(timeoutMs?: number): Promise<void>;
  /** Resolves with the exit code once Envoy has exited. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

const DEFAULT_START_TIMEOUT_MS = 20_000;

export async function startEnvoy(options: EnvoyProcessOptions): Promise<EnvoyProcess> {
  const binary = options.envoyBinary ?? resolveEnvoyBinary().path;
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'weir-envoy-'));
  const bootstrapPath = path.join(workDir, 'bootstrap.yaml');
  const adminAddressPath = path.join(workDir, 'admin-address');
  writeFileSync(bootstrapPath, options.bootstrapYaml);
  if (options.workDirOwner !== undefined) {
    for (const file of [workDir, bootstrapPath]) chownSync(file, options.workDirOwner.uid, options.workDirOwner.gid);
  }
  const args = [
    '-c', bootstrapPath,
    '--concurrency', String(options.concurrency ?? 1),
    '--disable-hot-restart',
    '--admin-address-path', adminAddressPath,
    '--log-level', options.logLevel ?? 'warning',
    '--component-log-level', options.componentLogLevel ?? 'wasm:info,config:info',
    '--log-format', '[%Y-%m-%d %T.%e][%l][%n] %v',
    ...(options.extraArgs ?? []),
  ];
  const [program, ...programArgs] = [...(options.launcher ?? []), binary, ...args] as [string, ...string[]];
  const child = spawn(program, programArgs, { stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start Envoy (${binary})`);
  let logText = '';
  const waiters = new Set<() => void>();
  const onChunk = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    logText += text;
    if (options.onLogLine !== undefined) for (const line of text.split('\n')) if (line !== '') options.onLogLine(line);
    for (const wake of waiters) wake();
  };
  child.stdout?.on('data', onChunk);
  child.stderr?.on('data', onChunk);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
    for (const wake of waiters) wake();
  });

  const adminAddress = await waitFor(
    () => (existsSync(adminAddressPath) ? readFileSync(adminAddressPath, 'utf8').trim() || undefined : undefined),
    () => hasExited,
    DEFAULT_START_TIMEOUT_MS,
  ).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw new Error(`Envoy did not start (${String(error)}). Its log:\n${logText}`);
  });
  const adminUrl = `http://${adminAddress}`;

  const envoy: EnvoyProcess = {
    pid: child.pid,
    adminUrl,
    workDir,
    log: () => logText,
    waitForLog: (pattern, timeoutMs = 10_000) =>
      new Promise<string>((resolve, reject) => {
        const check = (): void => {
          const match = pattern.exec(logText);
          if (match !== null) {
            cleanup();
            resolve(match[0]);
          } else if (hasExited) {
            cleanup();
            reject(new Error(`Envoy exited before logging ${pattern}. Its log:\n${logText}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`Envoy did not log ${pattern} within ${timeoutMs} ms. Its log:\n${logText}`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    admin: async (pathAndQuery) => {
      const response = await fetch(`${adminUrl}${pathAndQuery}`);
      return { status: response.status, body: await response.text() };
    },
    waitReady: async (timeoutMs = DEFAULT_START_TIMEOUT_MS) => {
      await waitFor(
        async () => {
          const ready = await envoy.admin('/ready').catch(() => undefined);
          return ready?.status === 200 ? true : undefined;
        },
        () => hasExited,
        timeoutMs,
      ).catch((error: unknown) => {
        throw new Error(`Envoy at ${adminUrl} did not become ready (${String(error)}). Its log:\n${logText}`);
      });
    },
    exited,
    stop: async () => {
      await stopChild(child, exited);
      if (options.keepWorkDir !== true) rmSync(workDir, { recursive: true, force: true });
    },
  };
  return envoy;
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function waitFor<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  gaveUp: () => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (gaveUp()) throw new Error('the process exited');
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
