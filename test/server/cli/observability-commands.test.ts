// `weir metrics list` and `weir status` against the /metrics and /v1/status routes on a real HTTP
// server on a unix socket (as the REST API listens by default).
import http from 'node:http';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiTarget } from '../../../server/cli/api-client.ts';
import { handleMetricsRequest, handleStatusRequest } from '../../../server/observability/http.ts';
import { metricsList } from '../../../server/cli/metrics-command.ts';
import { MetricsRegistry } from '../../../server/observability/metrics-registry.ts';
import { weirStatus } from '../../../server/cli/status-command.ts';
import { ProxyStatusRegistry } from '../../../server/xds/proxy-status.ts';

const servers: http.Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function serve(registry: MetricsRegistry, status: ProxyStatusRegistry): Promise<ApiTarget> {
  const server = http.createServer((request, response) => {
    if (handleMetricsRequest(request, response, registry) || handleStatusRequest(request, response, { status })) return;
    response.writeHead(404);
    response.end('{"error":"no such route"}');
  });
  servers.push(server);
  const socketPath = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'weir-http-')), 'api.sock');
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  server.once('close', () => fs.rmSync(path.dirname(socketPath), { recursive: true, force: true }));
  return { kind: 'socket', socket: socketPath };
}

describe('observability commands', () => {
  it('weir metrics list prints every sample of /metrics', async () => {
    const registry = new MetricsRegistry();
    registry.counter('weir_policy_l7_total', 'x', ['proto', 'verdict']).inc({ proto: 'r2d2', verdict: 'denied' }, 3);
    const api = await serve(registry, new ProxyStatusRegistry());
    expect(await metricsList({ api })).toBe(['METRIC                LABELS                     VALUE', 'weir_policy_l7_total  proto=r2d2 verdict=denied  3'].join('\n'));
    expect(JSON.parse(await metricsList({ api, output: 'json' }))).toEqual([{ metric: 'weir_policy_l7_total', labels: { proto: 'r2d2', verdict: 'denied' }, value: 3 }]);
  });

  it('weir status exits 0 when healthy and 1 when a proxy NACKs', async () => {
    const status = new ProxyStatusRegistry();
    const api = await serve(new MetricsRegistry(), status);
    status.streamOpened({ id: 'edge', cluster: 'c' }, { variant: 'sotw', peer: 'p' });
    const healthy = await weirStatus({ api });
    expect(healthy.exitCode).toBe(0);
    expect(healthy.text.split('\n')[0]).toBe('Weir: healthy');
    status.recordSent('edge', 'type.googleapis.com/envoy.config.listener.v3.Listener', 'l1');
    status.recordNack('edge', 'type.googleapis.com/envoy.config.listener.v3.Listener', 'l1', 'bad listener');
    const unhealthy = await weirStatus({ api });
    expect(unhealthy.exitCode).toBe(1);
    expect(unhealthy.text).toContain('xds        failing  1 proxies connected, 0 disconnected; edge rejected Listener l1: bad listener');
  });

  it('reports an unreachable server with the address and what to do', async () => {
    await expect(weirStatus({ api: { kind: 'socket', socket: '/nonexistent/weir.sock' } })).rejects.toThrow(
      /cannot reach weir serve at unix socket \/nonexistent\/weir.sock \(ENOENT\); is `weir serve` running in this directory\? pass --socket PATH/,
    );
  });
});
