// One etcd member on loopback, as tests and benchmarks need it: free client and peer ports, a data
// directory of its own, `--unsafe-no-fsync` (tests do not need durability across power loss), and
// readiness read from etcd's own /health. stop() ends it by pid; restart() starts it again on the
// same ports and data, so a test can take etcd away and bring it back.
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { freeLoopbackPort } from '../loopback-port.ts';
import { spawnServer, type ServerProcess } from '../server-process.ts';
import { requireKubeBinary } from './install.ts';

export interface StartEtcdOptions {
  /** Default: a new temporary directory, removed by stop({ removeData: true }). */
  dataDir?: string;
  readyTimeoutMs?: number;
}

export interface RunningEtcd {
  /** `http://127.0.0.1:<port>`, what clients and kube-apiserver's --etcd-servers take. */
  readonly clientUrl: string;
  readonly clientPort: number;
  pid(): number;
  /** Ends the process (SIGTERM, then SIGKILL); the data stays for restart(). */
  stop(): Promise<void>;
  /** Starts it again on the same ports and data, and waits until it is healthy. */
  restart(): Promise<void>;
  /** Stops it and removes its data directory. */
  destroy(): Promise<void>;
}

const HOST = '127.0.0.1';

export async function startEtcd(options: StartEtcdOptions = {}): Promise<RunningEtcd> {
  const binary = requireKubeBinary('etcd');
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'weir-etcd-'));
  const clientPort = await freeLoopbackPort();
  const peerPort = await freeLoopbackPort();
  const clientUrl = `http://${HOST}:${clientPort}`;
  const peerUrl = `http://${HOST}:${peerPort}`;
  const timeoutMs = options.readyTimeoutMs ?? 60_000;
  const args = [
    '--name', 'weir',
    '--data-dir', dataDir,
    '--listen-client-urls', clientUrl,
    '--advertise-client-urls', clientUrl,
    '--listen-peer-urls', peerUrl,
    '--initial-advertise-peer-urls', peerUrl,
    '--initial-cluster', `weir=${peerUrl}`,
    '--unsafe-no-fsync',
    '--log-level', 'warn',
  ];
  let current: ServerProcess = spawnServer({ command: binary, args });
  const launch = async (): Promise<void> => {
    await waitUntilHealthy(current, clientUrl, timeoutMs);
  };
  try {
    await launch();
  } catch (error) {
    await current.stop(5_000);
    throw error;
  }
  const stop = (): Promise<void> => current.stop(5_000);
  return {
    clientUrl,
    clientPort,
    pid: () => current.pid,
    stop,
    restart: async () => {
      await stop();
      current = spawnServer({ command: binary, args });
      await launch();
    },
    destroy: async () => {
      await stop();
      if (options.dataDir === undefined) fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function waitUntilHealthy(etcd: ServerProcess, clientUrl: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delayMs = 20; ; delayMs = Math.min(delayMs * 2, 500)) {
    const exit = etcd.exitStatus();
    if (exit !== undefined) {
      throw new Error(`etcd (pid ${etcd.pid}) exited during start-up with ${exit.code === null ? `signal ${exit.signal}` : `status ${exit.code}`}. Output:\n${etcd.outputTail() || '(none)'}`);
    }
    if (await healthy(clientUrl)) return;
    if (Date.now() > deadline) throw new Error(`etcd (pid ${etcd.pid}) did not report healthy on ${clientUrl}/health within ${timeoutMs / 1000} s. Output:\n${etcd.outputTail() || '(none)'}`);
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
}

function healthy(clientUrl: string): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get(`${clientUrl}/health`, { timeout: 2_000 }, (response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      response.on('end', () => resolve(response.statusCode === 200 && body.includes('"health":"true"')));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}
