// A Docker engine of the test's own: dockerd from .weir/docker/engine (docker-install.ts), started
// as a child process and stopped by its pid. Its images and build cache live in .weir/docker/data
// and stay for the next run (the cache); its sockets, pid file and state live in a fresh folder
// under the system temp dir, removed on stop. No bridge, no iptables, no IP forwarding: the host's
// network configuration is never touched, so containers run with host networking only. Or, with
// `networkNamespace`, dockerd runs in a network namespace of the test's own (`ip netns add`, only
// its loopback up; entered with `nsenter --net`, which keeps the host's mounts: `ip netns exec`
// mounts a sysfs of its own, without the cgroup hierarchy dockerd needs): there it makes its networks, bridges and the containers' own namespaces,
// and whatever a container does to netfilter (the sidecar file's capture rules) stays in them; no
// image registry or package mirror is reachable from it, so images must be built before. The
// namespace is deleted on stop.
//
// Clean-up is by pid and by name, also when a run dies without stopping its engine (a killed test
// runner): the lock file names the run's pid and run folder, and the next start kills what is left
// of it (dockerd, containerd, the shims and the containers' first processes, found by the run
// folder in their command line), unmounts what it left mounted (under the run folder and the
// data root) and deletes its network namespace, before starting its own engine. stop() does the
// same after dockerd exits.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { signalPid, spawnServer } from '../../demo/servers/server-process.ts';
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

export interface DockerEngineOptions {
  /** Run dockerd in a network namespace the engine creates (weir-dockerd-PID) and deletes on stop. */
  networkNamespace?: boolean;
}

export async function startDockerEngine(options: DockerEngineOptions = {}): Promise<DockerEngine> {
  fs.mkdirSync(DOCKER_DATA_ROOT, { recursive: true });
  // Socket paths must stay short (108 bytes), so the run folder is not under the checkout.
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-dockerd-'));
  const netns = options.networkNamespace === true ? `weir-dockerd-${process.pid}` : undefined;
  try {
    takeLock(runDir, netns);
    if (netns !== undefined) createNetworkNamespace(netns);
  } catch (error) {
    removeRunLeftovers(runDir, netns);
    releaseLock();
    throw error;
  }
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
  // PATH finds the engine's containerd, runc and docker-init. nsenter execs dockerd, which keeps its pid.
  const dockerdProgram = path.join(ENGINE_BIN_DIRS[0] ?? '', 'dockerd');
  const dockerd = spawnServer({
    env,
    command: netns === undefined ? dockerdProgram : 'nsenter',
    args: [
      ...(netns === undefined ? [] : [`--net=/run/netns/${netns}`, '--', dockerdProgram]),
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
    removeRunLeftovers(runDir, netns);
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

/** A network namespace with only its loopback, up. */
function createNetworkNamespace(name: string): void {
  for (const args of [['netns', 'add', name], ['-n', name, 'link', 'set', 'lo', 'up']]) {
    const result = spawnSync('ip', args, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`ip ${args.join(' ')} failed: ${result.error?.message ?? result.stderr.trim()}`);
  }
}

/**
 * What a run folder's engine can leave once dockerd is gone (it stops its containers and containerd
 * on SIGTERM, but not when it is killed): SIGKILL to every process whose command line names the
 * run folder (dockerd, containerd, the runc shims) and to the shims' children (each container's
 * first process; its PID namespace goes with it), then unmount what is mounted under the run folder
 * and the data root (dockerd's netns bind mount, the data root's own mount, containers' overlays),
 * deepest first, remove the run folder and delete the engine's network namespace.
 */
function removeRunLeftovers(runDir: string, netns: string | undefined): void {
  const processes = listProcesses();
  const engine = processes.filter(({ cmdline }) => cmdline.includes(`${runDir}/`));
  const engineIds = new Set(engine.map(({ pid }) => pid));
  // The shims' children not started by the engine itself: the containers' first processes.
  const containers = processes.filter(({ pid, ppid }) => engineIds.has(ppid) && !engineIds.has(pid));
  for (const { pid } of [...containers, ...engine]) signalPid(pid, 'SIGKILL');
  for (const { pid } of [...containers, ...engine]) waitGone(pid);
  const mounts = fs.readFileSync('/proc/self/mounts', 'utf8').split('\n').map((line) => unescapeMountPath(line.split(' ')[1] ?? ''));
  const ours = mounts.filter((target) => target.startsWith(`${runDir}/`) || target === DOCKER_DATA_ROOT || target.startsWith(`${DOCKER_DATA_ROOT}/`));
  for (const target of [...new Set(ours)].sort((a, b) => b.length - a.length)) {
    const result = spawnSync('umount', [target], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`umount ${target} failed: ${result.stderr.trim()}; the Docker engine's leftovers stay mounted (run folder ${runDir}); unmount them, then run the tests again`);
  }
  fs.rmSync(runDir, { recursive: true, force: true });
  if (netns !== undefined && fs.existsSync(`/run/netns/${netns}`)) {
    const result = spawnSync('ip', ['netns', 'delete', netns], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`ip netns delete ${netns} failed: ${result.stderr.trim()}; delete it, then run the tests again`);
  }
}

interface ProcessEntry {
  pid: number;
  ppid: number;
  cmdline: string;
}

function listProcesses(): ProcessEntry[] {
  const entries: ProcessEntry[] = [];
  for (const name of fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      const cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
      // The command may hold spaces and parentheses: the parent pid is the second field after the last ')'.
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      entries.push({ pid: Number(name), ppid, cmdline });
    } catch {
      // Exited while listing.
    }
  }
  return entries;
}

/** SIGKILL is not refused: wait (briefly, synchronously) until the kernel has reaped or zombied it. */
function waitGone(pid: number): void {
  for (let tries = 0; tries < 200; tries += 1) {
    let state: string;
    try {
      state = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return;
    }
    if (/\) [ZX] /.test(state)) return;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25);
  }
}

/** /proc/self/mounts writes space, tab, newline and backslash in octal escapes. */
function unescapeMountPath(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
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
  // A client (compose, docker) outlives no test run: killed if this process exits first.
  const killIfRunning = (): void => {
    if (child.pid !== undefined) signalPid(child.pid, 'SIGKILL');
  };
  process.once('exit', killIfRunning);
  const log = options.logFile === undefined ? undefined : fs.createWriteStream(options.logFile, { flags: 'a' });
  let output = '';
  // In the log each line starts with the seconds since the command started: where a run's minutes go.
  const started = Date.now();
  let atLineStart = true;
  const stamp = (text: string): string => {
    const prefix = `[${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] `;
    const stamped = text.replace(/\n(?=.)/gs, `\n${prefix}`);
    const result = atLineStart && text !== '' ? `${prefix}${stamped}` : stamped;
    atLineStart = text.endsWith('\n');
    return result;
  };
  const collect = (chunk: Buffer): void => {
    output += chunk.toString();
    log?.write(stamp(chunk.toString()));
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  child.stdin.end(options.stdin ?? '');
  return new Promise((resolve) => {
    const done = (code: number | null): void => {
      process.removeListener('exit', killIfRunning);
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

interface LockRecord {
  pid: number;
  runDir?: string;
  /** The engine's network namespace, when it ran in one. */
  netns?: string;
}

/**
 * One engine per data root. A lock left by a run that died without stopping its engine is taken
 * over after removing that run's leftovers (removeRunLeftovers).
 */
function takeLock(runDir: string, netns: string | undefined): void {
  const record = JSON.stringify({ pid: process.pid, runDir, ...(netns === undefined ? {} : { netns }) } satisfies LockRecord);
  try {
    fs.writeFileSync(LOCK_FILE, record, { flag: 'wx' });
    return;
  } catch {
    const holder = readLock();
    if (holder !== undefined && isAlive(holder.pid)) {
      throw new Error(`another test run (pid ${holder.pid}) is using the Docker engine data in ${DOCKER_DATA_ROOT}; run the compose tests once at a time per checkout`);
    }
    if (holder?.runDir !== undefined) removeRunLeftovers(holder.runDir, holder.netns);
    fs.writeFileSync(LOCK_FILE, record);
  }
}

function readLock(): LockRecord | undefined {
  const text = fs.readFileSync(LOCK_FILE, 'utf8');
  try {
    return JSON.parse(text) as LockRecord;
  } catch {
    // The earlier format: the pid alone.
    return Number.isInteger(Number(text)) ? { pid: Number(text) } : undefined;
  }
}

function releaseLock(): void {
  if (fs.existsSync(LOCK_FILE) && readLock()?.pid === process.pid) fs.rmSync(LOCK_FILE);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
