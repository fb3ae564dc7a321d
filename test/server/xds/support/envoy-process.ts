// Runs a real Envoy for xDS tests: writes the bootstrap into a temp dir, starts Envoy with
// --concurrency 1 and a dynamic base id (so several can run at once), reads the admin address Envoy
// picked, queries /config_dump, and stops Envoy by pid. Also compiles the lead's Wasm probe
// (filters/probe) so these tests do not depend on the parser SDK's build.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeLoopbackPort } from '../../../../demo/servers/loopback-port.ts';
import { resolveEnvoyBinary } from '../../../../server/envoy/binary.ts';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

export function envoyBinary(): string {
  return resolveEnvoyBinary().path;
}

export interface RunningEnvoy {
  adminUrl: string;
  pid: number;
  log(): string;
  configDump(): Promise<ConfigDump>;
  stop(): Promise<void>;
}

export interface ConfigDump {
  configs: Array<Record<string, unknown> & { '@type': string }>;
}

export async function startEnvoy(bootstrapYaml: string, workDir: string): Promise<RunningEnvoy> {
  const bootstrapFile = path.join(workDir, `envoy-${Date.now()}.yaml`);
  const adminFile = `${bootstrapFile}.admin`;
  fs.writeFileSync(bootstrapFile, bootstrapYaml);
  const child: ChildProcess = spawn(
    envoyBinary(),
    ['-c', bootstrapFile, '--concurrency', '1', '--use-dynamic-base-id', '--admin-address-path', adminFile, '--log-level', 'info'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${envoyBinary()}`);
  const adminAddress = await waitFor(() => (fs.existsSync(adminFile) ? fs.readFileSync(adminFile, 'utf8').trim() || undefined : undefined), 15_000, () => `Envoy did not write its admin address; log:\n${output}`);
  const adminUrl = `http://${adminAddress}`;
  return {
    adminUrl,
    pid,
    log: () => output,
    configDump: async () => (await (await fetch(`${adminUrl}/config_dump`)).json()) as ConfigDump,
    stop: async () => {
      if (child.exitCode === null) {
        process.kill(pid, 'SIGTERM');
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
        if (child.exitCode === null) process.kill(pid, 'SIGKILL');
      }
    },
  };
}

/** Polls until `probe` returns a value; throws `describeFailure()` after `timeoutMs`. */
export async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number, describeFailure: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(describeFailure());
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export const freePort = freeLoopbackPort;

/** Compiles filters/probe/index.ts (ping -> pong) into `outDir/probe.wasm`. */
export async function compileProbeModule(outDir: string): Promise<string> {
  const { default: asc } = await import('assemblyscript/asc');
  const outFile = path.join(outDir, 'probe.wasm');
  const entry = path.join(repoRoot, 'filters', 'probe', 'index.ts');
  let messages = '';
  const sink = { write: (chunk: string | Uint8Array) => ((messages += chunk.toString()), true) };
  const { error } = await asc.main(
    [entry, '-o', outFile, '--runtime', 'incremental', '--use', 'abort=', '--exportStart', '_initialize', '-O3'],
    { stdout: sink, stderr: sink },
  );
  if (error) throw new Error(`cannot compile the Wasm probe ${entry}: ${error.message}\n${messages}`);
  return outFile;
}

/** An echo backend on a free loopback port. */
export async function startEchoServer(): Promise<{ port: number; stop(): Promise<void> }> {
  return startTaggingServer('');
}

/** A backend that answers each chunk with `tag` followed by the chunk, on a free loopback port. */
export async function startTaggingServer(tag: string): Promise<{ port: number; stop(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk) => socket.write(Buffer.concat([Buffer.from(tag), chunk])));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Sends `message` on a new connection and returns the first bytes that come back. */
export async function exchange(port: number, message: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(message));
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer on port ${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('data', (chunk) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(chunk.toString());
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

export function makeWorkDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'weir-xds-'));
}

/** Opens a connection that the test keeps across config changes. */
export async function openConnection(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Writes `message` on an open connection and returns the next bytes that come back. */
export async function roundTrip(socket: net.Socket, message: string, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.once('data', (chunk) => {
      clearTimeout(timer);
      resolve(chunk.toString());
    });
    socket.write(message);
  });
}
