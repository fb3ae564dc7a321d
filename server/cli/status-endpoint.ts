// A read-only HTTP endpoint on loopback that serves the proxy status registry as JSON
// (`GET /v1/proxies`), so `weir proxy list` can ask a running `weir serve`. A stopgap until the
// REST API (server/api) serves the same path; it owns no state of its own.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProxyStatus } from '../xds/proxy-status.ts';

export const PROXIES_PATH = '/v1/proxies';

export interface StatusEndpointOptions {
  address: string;
  /** 0 picks a free port. */
  port: number;
  listProxies: () => ProxyStatus[];
}

export interface StatusEndpoint {
  port: number;
  stop(): Promise<void>;
}

export async function startStatusEndpoint(options: StatusEndpointOptions): Promise<StatusEndpoint> {
  const server = http.createServer((request, response) => {
    if (request.method === 'GET' && request.url === PROXIES_PATH) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ proxies: options.listProxies() }, mapsAsObjects));
      return;
    }
    response.writeHead(404, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ error: `no such endpoint ${request.method} ${request.url}; try GET ${PROXIES_PATH}` }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new Error(`status endpoint cannot listen on ${options.address}:${options.port}: ${error.message}; set status.port in the config`)),
    );
    server.listen(options.port, options.address, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function mapsAsObjects(_key: string, value: unknown): unknown {
  return value instanceof Map ? Object.fromEntries(value) : value;
}
