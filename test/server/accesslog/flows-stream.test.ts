// GET /v1/flows as server-sent events and `weir monitor` reading it, over a real HTTP server on a
// unix socket (as the REST API listens by default).
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiTarget } from '../../../server/cli/api-client.ts';
import { FlowHub } from '../../../server/accesslog/flow-hub.ts';
import { handleFlowsRequest, type FlowsRouteOptions } from '../../../server/accesslog/flows-http.ts';
import { runMonitor } from '../../../server/cli/monitor-command.ts';
import { sampleRecord } from './sample-records.ts';

const servers: http.Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function serveFlows(hub: FlowHub, options: FlowsRouteOptions = {}): Promise<ApiTarget> {
  const server = http.createServer((request, response) => {
    if (!handleFlowsRequest(request, response, hub, options)) {
      response.writeHead(404);
      response.end();
    }
  });
  servers.push(server);
  const socketPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'weir-http-')), 'api.sock');
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  server.once('close', () => fs.rmSync(path.dirname(socketPath), { recursive: true, force: true }));
  return { kind: 'socket', socket: socketPath };
}

async function until(condition: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 200 && !condition(); attempt++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (!condition()) throw new Error('condition not met within 2 s');
}

describe('/v1/flows and weir monitor', () => {
  it('replays the ring, then follows live records that match the filter', async () => {
    const hub = new FlowHub({ ringSize: 10 });
    hub.publish(sampleRecord({ type: 'Denied', fields: { cmd: 'WRITE', file: 'old' } }));
    hub.publish(sampleRecord({ type: 'Request', fields: { cmd: 'READ', file: 'old' } }));
    const api = await serveFlows(hub);
    const lines: string[] = [];
    const monitor = runMonitor({ api, filter: { verdicts: ['denied'], protocols: ['r2d2'] }, last: 5, maxRecords: 2, writeLine: (line) => lines.push(line) });
    await until(() => lines.length === 1 && hub.viewerCount === 1);
    hub.publish(sampleRecord({ type: 'Request', fields: { cmd: 'READ', file: 'live' } }));
    hub.publish(sampleRecord({ type: 'Denied', protocol: 'memcache', fields: { command: 'set' } }));
    hub.publish(sampleRecord({ type: 'Denied', fields: { cmd: 'WRITE', file: 'live' } }));
    expect(await monitor).toBe(2);
    expect(lines).toEqual([
      '<- Request r2d2 from [app=empire-outpost] to [app=cass-server], identity 12443->16168, verdict Denied cmd:WRITE file:old',
      '<- Request r2d2 from [app=empire-outpost] to [app=cass-server], identity 12443->16168, verdict Denied cmd:WRITE file:live',
    ]);
    await until(() => hub.viewerCount === 0);
  });

  it('prints JSON records with -o json and stops after the replay with follow=false', async () => {
    const hub = new FlowHub();
    const record = sampleRecord({ nodeId: 'n1' });
    hub.publish(record);
    hub.publish(sampleRecord({ nodeId: 'n2' }));
    const lines: string[] = [];
    const printed = await runMonitor({ api: await serveFlows(hub), filter: { nodeIds: ['n1'] }, last: 10, noFollow: true, output: 'json', writeLine: (line) => lines.push(line) });
    expect(printed).toBe(1);
    expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual([record]);
  });

  it('answers a bad filter with 400 and the reason, which the monitor reports', async () => {
    const api = await serveFlows(new FlowHub());
    await expect(runMonitor({ api, filter: { protocols: [''] } })).rejects.toThrow(/HTTP 400: .*proto: empty; name a parser/);
  });

  it('drops records for a viewer that does not read, counts them, and tells the viewer how many', async () => {
    const hub = new FlowHub();
    const api = await serveFlows(hub, { maxBufferedBytes: 1024 });
    const response = await new Promise<http.IncomingMessage>((resolve) =>
      http.get({ socketPath: api.kind === 'socket' ? api.socket : '', path: '/v1/flows' }, resolve),
    );
    response.pause();
    await until(() => hub.viewerCount === 1);
    const big = 'x'.repeat(64 * 1024);
    for (let index = 0; index < 200; index++) hub.publish(sampleRecord({ fields: { file: big } }));
    const dropped = hub.viewerDropped;
    expect(dropped).toBeGreaterThan(0);
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => (text += chunk));
    response.resume();
    await until(() => (text.match(/event: flow/g) ?? []).length === 200 - dropped);
    hub.publish(sampleRecord({ fields: { file: 'after' } }));
    await until(() => text.includes('"file":"after"'));
    expect(text).toContain(`event: dropped\ndata: {"dropped":${dropped}}`);
    response.destroy();
  });
});
