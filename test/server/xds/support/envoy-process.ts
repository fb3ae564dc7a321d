// Helpers for xDS tests against a real Envoy (which demo/servers/envoy/process.ts runs): reads
// /config_dump, runs loopback backends and connections, and compiles the lead's Wasm probe
// (filters/probe) so these tests do not depend on the parser SDK's build.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../../../demo/servers/project-paths.ts';
import type { EnvoyProcess } from '../../../../demo/servers/envoy/process.ts';

export interface ConfigDump {
  configs: Array<Record<string, unknown> & { '@type': string }>;
}

/** Envoy's /config_dump, parsed. */
export async function configDump(envoy: EnvoyProcess): Promise<ConfigDump> {
  const response = await envoy.admin('/config_dump');
  if (response.status !== 200) throw new Error(`Envoy admin /config_dump answered ${response.status}`);
  return JSON.parse(response.body) as ConfigDump;
}

/** Compiles filters/probe/index.ts (ping -> pong) into `outDir/probe.wasm`. */
export async function compileProbeModule(outDir: string): Promise<string> {
  const { default: asc } = await import('assemblyscript/asc');
  const outFile = path.join(outDir, 'probe.wasm');
  const entry = path.join(projectRoot, 'filters', 'probe', 'index.ts');
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
