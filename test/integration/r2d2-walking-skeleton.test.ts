// The walking skeleton end to end: a real Envoy configured over xDS by `weir serve` (in process),
// the r2d2 Wasm filter in front of the r2d2 backend, and real TCP clients.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { projectRoot } from '../../demo/servers/project-paths.ts';
import { startEnvoy, type EnvoyProcess } from '../../demo/servers/envoy/process.ts';
import { listenerPort } from '../../demo/servers/envoy/listeners.ts';
import { runServe, type RunningServe } from '../../server/cli/serve-command.ts';
import { renderBootstrap } from '../../server/xds/bootstrap.ts';
import { enrolNode } from '../support/test-pki.ts';
import { startR2d2Backend, type R2d2Backend } from '../../demo/backends/r2d2-backend.ts';
import { openR2d2Session } from '../../demo/r2d2/client.ts';
import { freeLoopbackPort } from '../../demo/servers/loopback-port.ts';

let backend: R2d2Backend;
let serve: RunningServe;
let envoy: EnvoyProcess;
let proxyPort: number;
let workDir: string;

beforeAll(async () => {
  workDir = mkdtempSync(path.join(os.tmpdir(), 'weir-skeleton-'));
  backend = await startR2d2Backend();
  const configFile = path.join(workDir, 'weir.yaml');
  writeFileSync(configFile, [
    'xds: { address: 127.0.0.1, port: 0 }',
    'status: { address: 127.0.0.1, port: 0 }',
    'redirects:',
    '  - name: r2d2',
    `    listen: { address: 127.0.0.1, port: ${await freeLoopbackPort()} }`,
    '    parser: r2d2',
    `    upstream: { address: 127.0.0.1, port: ${backend.port} }`,
    `filters: { dir: ${JSON.stringify(path.join(projectRoot, 'build', 'filters'))} }`,
  ].join('\n'));
  serve = await runServe({ configFile, logger: pino({ level: 'silent' }) });
  envoy = await startEnvoy({
    bootstrapYaml: renderBootstrap({ nodeId: 'skeleton-test', xdsPort: serve.controlServer.port, adminPort: 0, credentialsDir: enrolNode(serve.authority, 'skeleton-test', path.join(workDir, 'node')) }),
  });
  await envoy.waitReady();
  proxyPort = await listenerPort(envoy, 'weir-r2d2');
});

afterAll(async () => {
  await envoy?.stop();
  await serve?.stop();
  await backend?.close();
  rmSync(workDir, { recursive: true, force: true });
});

const forwardedTo = (marker: string): string[] => backend.received.filter((line) => line.includes(marker));

describe('r2d2 through a real Envoy configured by weir serve', () => {
  it('forwards READ sloop to the backend and returns its reply', async () => {
    const session = await openR2d2Session(proxyPort);
    expect(await session.request('READ sloop\r\n')).toEqual(['OK sloop written 0 times']);
    session.close();
    expect(backend.received).toContain('READ sloop');
  });

  it('refuses WRITE C-3PO with ERROR, never forwards it, and keeps the connection usable', async () => {
    const session = await openR2d2Session(proxyPort);
    expect(await session.request('WRITE C-3PO\r\n')).toEqual(['ERROR']);
    expect(await session.request('WRITE sloop\r\n')).toEqual(['OK wrote sloop']);
    session.close();
    expect(forwardedTo('C-3PO')).toEqual([]);
    await envoy.waitForLog(/weir-accesslog \{[^\n]*"Denied"[^\n]*C-3PO/);
  });

  it('behaves the same when every byte arrives in its own write', async () => {
    const session = await openR2d2Session(proxyPort);
    expect(await session.request('READ bytewise\r\n', { bytewise: true })).toEqual(['OK bytewise written 0 times']);
    expect(await session.request('WRITE C-3PO-bytewise\r\n', { bytewise: true })).toEqual(['ERROR']);
    expect(await session.request('READ bytewise\r\n', { bytewise: true })).toEqual(['OK bytewise written 0 times']);
    session.close();
    expect(forwardedTo('C-3PO')).toEqual([]);
    expect(forwardedTo('bytewise')).toEqual(['READ bytewise', 'READ bytewise']);
  });

  it('answers pipelined requests in order, with the refusal in its place', async () => {
    const session = await openR2d2Session(proxyPort);
    const replies = await session.request('WRITE pipe\r\nWRITE C-3PO-pipe\r\nREAD pipe\r\n', { lines: 3 });
    session.close();
    expect(replies).toEqual(['OK wrote pipe', 'ERROR', 'OK pipe written 1 times']);
    expect(forwardedTo('C-3PO')).toEqual([]);
  });

  it('closes a connection that sends 1 MiB without a line end, logs why, and keeps serving others', async () => {
    const bytesBefore = backend.receivedBytes();
    const session = await openR2d2Session(proxyPort);
    await session.send(Buffer.alloc(1024 * 1024 + 1, 'x'));
    await session.closed(10_000);
    await envoy.waitForLog(/weir-accesslog \{[^\n]*"Error"[^\n]*"proto":"r2d2"[^\n]*/);
    expect(backend.receivedBytes() - bytesBefore).toBe(0);
    expect((await envoy.admin('/ready')).status).toBe(200);
    const next = await openR2d2Session(proxyPort);
    expect(await next.request('READ after-flood\r\n')).toEqual(['OK after-flood written 0 times']);
    next.close();
  });
});
