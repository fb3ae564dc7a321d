// A Docker engine of the test's own: dockerd from .weir/docker/engine (docker-install.ts), started
// as a child process and stopped by its pid. Its images and build cache live in .weir/docker/data
// and stay for the next run (the cache); its sockets, pid file and state live in a fresh folder
// under the system temp dir, removed on stop. No bridge, no iptables, no IP forwarding: the host's
// network configuration is never touched, so containers run with host networking only.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawnServer } from '../../demo/servers/server-process.ts';
import { DOCKER_DIR, ENGINE_BIN_DIRS } from './docker-install.ts';

export const DOCKER_DATA_ROOT = path.join(DOCKER_DIR, 'data');
const LOCK_FILE = path.join(DOCKER_DIR, 'dockerd.lock');
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 30_000;

export interface CommandRun {
  command: string;
  code: number | null;
  /** stdout and stderr, interleaved as they came. */
  output: string;
}

export interface DockerEngine {
  pid: number;
  /** The environment for docker and compose: DOCKER_HOST points at this engine, PATH has its programs. */
  env: NodeJS.ProcessEnv;
  /** Runs a program against this engine; its output goes to `logFile` too when given. */
  run(command: string, args: readonly string[], options?: { env?: NodeJS.ProcessEnv; logFile?: string; stdin?: string }): Promise<CommandRun>;
  /** Runs the docker client; throws with its output unless it exits 0. */
  docker(args: readonly string[], options?: { stdin?: string }): Promise<string>;
  /** dockerd's own log, for failure messages. */
  logTail(): string;
  /** SIGTERM to dockerd (it stops its containerd), then removes the run folder. */
  stop(): Promise<void>;
}

export async function startDockerEngine(): Promise<DockerEngine> {
  fs.mkdirSync(DOCKER_DATA_ROOT, { recursive: true });
  takeLock();
  // Socket paths must stay short (108 bytes), so the run folder is not under the checkout.
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-dockerd-'));
  const socket = path.join(runDir, 'docker.sock');
  const configFile = path.join(runDir, 'daemon.json');
  fs.writeFileSync(configFile, '{}\n');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: [...ENGINE_BIN_DIRS, process.env.PATH ?? '/usr/bin:/bin'].join(':'),
    DOCKER_HOST: `unix://${socket}`,
    // The client keeps its settings here instead of the user's ~/.docker.
    DOCKER_CONFIG: path.join(runDir, 'client'),
  };
  const dockerdLog = path.join(DOCKER_DIR, 'dockerd.log');
  fs.writeFileSync(dockerdLog, '');
  // PATH finds the engine's containerd, runc and docker-init.
  const dockerd = spawnServer({
    env,
    command: path.join(ENGINE_BIN_DIRS[0] ?? '', 'dockerd'),
    args: [
      `--config-file=${configFile}`,
      `--data-root=${DOCKER_DATA_ROOT}`,
      `--exec-root=${path.join(runDir, 'exec')}`,
      `--pidfile=${path.join(runDir, 'dockerd.pid')}`,
      `--host=unix://${socket}`,
      '--bridge=none',
      '--iptables=false',
      '--ip6tables=false',
      '--ip-forward=false',
      '--ip-masq=false',
      '--userland-proxy=false',
      '--log-level=warn',
    ],
    outputFile: dockerdLog,
  });
  const stop = async (): Promise<void> => {
    await dockerd.stop(STOP_GRACE_MS);
    unmountUnder(runDir);
    fs.rmSync(runDir, { recursive: true, force: true });
    releaseLock();
  };
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (!(await answers(socket))) {
    const exit = dockerd.exitStatus();
    if (exit !== undefined || Date.now() > deadline) {
      await stop();
      throw new Error(`dockerd ${exit === undefined ? `did not answer on ${socket} within ${START_TIMEOUT_MS} ms` : `exited with ${exit.code ?? exit.signal}`}; its log (${dockerdLog}):\n${dockerd.outputTail(30)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const run: DockerEngine['run'] = (command, args, options = {}) => runCommand(command, args, { env: { ...env, ...options.env }, logFile: options.logFile, stdin: options.stdin });
  return {
    pid: dockerd.pid,
    env,
    run,
    docker: async (args, options = {}) => {
      const result = await run('docker', args, { stdin: options.stdin });
      if (result.code !== 0) throw new Error(`${result.command} exited with ${result.code}:\n${result.output}`);
      return result.output;
    },
    logTail: () => dockerd.outputTail(30),
    stop,
  };
}

/** dockerd leaves a bind mount of the host's network namespace in its exec root: unmount what is left under `dir`. */
function unmountUnder(dir: string): void {
  const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((line) => line.split(' ')[1] ?? '').filter((target) => target.startsWith(`${dir}/`));
  for (const target of mounts.sort((a, b) => b.length - a.length)) {
    const result = spawnSync('umount', [target], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`umount ${target} failed: ${result.stderr}; the engine's run folder ${dir} stays`);
  }
}

/** True once dockerd's API answers a ping on its socket. */
function answers(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const connection = net.connect(socket);
    connection.once('error', () => resolve(false));
    connection.once('connect', () => connection.end('GET /_ping HTTP/1.0\r\n\r\n'));
    let reply = '';
    connection.on('data', (chunk: Buffer) => (reply += chunk.toString()));
    connection.once('close', () => resolve(/^HTTP\/1\.[01] 200/.test(reply)));
  });
}

function runCommand(command: string, args: readonly string[], options: { env: NodeJS.ProcessEnv; logFile: string | undefined; stdin: string | undefined }): Promise<CommandRun> {
  const child = spawn(command, args, { env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
  const log = options.logFile === undefined ? undefined : fs.createWriteStream(options.logFile, { flags: 'a' });
  let output = '';
  const collect = (chunk: Buffer): void => {
    output += chunk.toString();
    log?.write(chunk);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  child.stdin.end(options.stdin ?? '');
  return new Promise((resolve) => {
    const done = (code: number | null): void => {
      log?.end();
      resolve({ command: `${command} ${args.join(' ')}`, code, output });
    };
    child.once('error', (error) => {
      output += `\n${command}: ${error.message}\n`;
      done(null);
    });
    child.once('close', done);
  });
}

/** One engine per data root: a second run in the same checkout waits for nothing and says why. */
function takeLock(): void {
  try {
    fs.writeFileSync(LOCK_FILE, String(process.pid), { flag: 'wx' });
    return;
  } catch {
    const holder = Number(fs.readFileSync(LOCK_FILE, 'utf8'));
    if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
      throw new Error(`another test run (pid ${holder}) is using the Docker engine data in ${DOCKER_DATA_ROOT}; run the compose tests once at a time per checkout`);
    }
    fs.writeFileSync(LOCK_FILE, String(process.pid));
  }
}

function releaseLock(): void {
  if (fs.existsSync(LOCK_FILE) && fs.readFileSync(LOCK_FILE, 'utf8') === String(process.pid)) fs.rmSync(LOCK_FILE);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
