// The read-only Prometheus endpoint (`metrics: {address, port}` in weir.yaml): a plain HTTP
// listener that answers GET/HEAD /metrics and nothing else, so a scraper needs no admin token and
// can change nothing. The same exposition stays mounted on the REST API (behind its socket/token).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { handleMetricsRequest, METRICS_PATH } from './http.ts';
import type { MetricsRegistry } from './metrics-registry.ts';

export interface MetricsListener {
  readonly address: string;
  readonly port: number;
  stop(): Promise<void>;
}

export async function startMetricsListener(options: { address: string; port: number; registry: MetricsRegistry; logger: Logger }): Promise<MetricsListener> {
  const server = http.createServer((request, response) => {
    if (handleMetricsRequest(request, response, options.registry)) return;
    response.writeHead(404, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ error: `this endpoint serves only GET ${METRICS_PATH} (read-only); the REST API is on weir serve's unix socket or api.tcp` }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new Error(`metrics endpoint cannot listen on ${options.address}:${options.port}: ${error.message}; set metrics.port in the config`)));
    server.listen({ host: options.address, port: options.port }, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  options.logger.info({ address: options.address, port, path: METRICS_PATH }, 'read-only metrics endpoint listening');
  return {
    address: options.address,
    port,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
