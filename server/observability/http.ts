// HTTP routes of the observability surface, for the REST API (server/api) to mount: `GET /metrics`
// (Prometheus text exposition of a registry) and `GET /v1/status` (the health report as JSON,
// status 200 when healthy and 503 when not). Owns no server and no state.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { buildHealthReport, type HealthSources } from './health-report.ts';
import { PROMETHEUS_CONTENT_TYPE, type MetricsRegistry } from './metrics-registry.ts';

export const METRICS_PATH = '/metrics';
export const STATUS_PATH = '/v1/status';

/** Serves GET /metrics and returns true, or returns false for other paths. */
export function handleMetricsRequest(request: IncomingMessage, response: ServerResponse, registry: MetricsRegistry): boolean {
  if (pathOf(request) !== METRICS_PATH) return false;
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    sendJson(response, 405, { error: `${request.method ?? ''} ${METRICS_PATH} is not supported; use GET` });
    return true;
  }
  const text = registry.exposition();
  response.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
  response.end(request.method === 'HEAD' ? undefined : text);
  return true;
}

/** Serves GET /v1/status and returns true, or returns false for other paths. */
export function handleStatusRequest(request: IncomingMessage, response: ServerResponse, sources: HealthSources): boolean {
  if (pathOf(request) !== STATUS_PATH) return false;
  if (request.method !== 'GET') {
    sendJson(response, 405, { error: `${request.method ?? ''} ${STATUS_PATH} is not supported; use GET` });
    return true;
  }
  const report = buildHealthReport(sources);
  sendJson(response, report.healthy ? 200 : 503, report);
  return true;
}

function pathOf(request: IncomingMessage): string {
  return new URL(request.url ?? '/', 'http://weir.invalid').pathname;
}

function sendJson(response: ServerResponse, status: number, body: object): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}
