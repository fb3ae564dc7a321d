// `GET /v1/flows`: access-log records as server-sent events, for `weir monitor` and any HTTP
// client. Query: the filters of flow-filter.ts (`type`, `verdict`, `proto`, `endpoint`, `node`),
// `last=N` (first replay up to N matching records from the ring, default 0) and `follow=false`
// (end after the replay). Each record is `event: flow` with the record as JSON; a viewer that
// reads too slowly loses records, and is told so with `event: dropped` and its count once it
// catches up. Mounted by the REST API (server/api); owns no server of its own.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessLogRecord } from './access-log-record.ts';
import type { FlowHub } from './flow-hub.ts';
import { parseFlowFilter, type FlowFilter } from './flow-filter.ts';

export const FLOWS_PATH = '/v1/flows';

export interface FlowsRouteOptions {
  /** Bytes a viewer may have unread before records are dropped for it. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** Comment line sent this often so proxies and clients keep the stream open. Default 15 s. */
  keepaliveMs?: number;
}

export const FLOWS_ROUTE_DEFAULTS = { maxBufferedBytes: 1 << 20, keepaliveMs: 15_000 } as const;

/** Serves the request if it is for /v1/flows and returns true; returns false for other paths. */
export function handleFlowsRequest(request: IncomingMessage, response: ServerResponse, hub: FlowHub, options: FlowsRouteOptions = {}): boolean {
  const url = new URL(request.url ?? '/', 'http://weir.invalid');
  if (url.pathname !== FLOWS_PATH) return false;
  if (request.method !== 'GET') {
    sendError(response, 405, `${request.method ?? ''} ${FLOWS_PATH} is not supported; use GET`);
    return true;
  }
  const query = parseFlowsQuery(url.searchParams, hub.ring.capacity);
  if (!query.ok) {
    sendError(response, 400, `${FLOWS_PATH}: ${query.problem}`);
    return true;
  }
  streamFlows(response, hub, query, { ...FLOWS_ROUTE_DEFAULTS, ...options });
  return true;
}

interface FlowsQuery {
  ok: true;
  filter: FlowFilter;
  last: number;
  follow: boolean;
}

export function parseFlowsQuery(parameters: URLSearchParams, ringCapacity: number): FlowsQuery | { ok: false; problem: string } {
  const filterParameters: Array<[string, string]> = [];
  let last = 0;
  let follow = true;
  for (const [key, value] of parameters) {
    if (key === 'last') {
      const parsed = Number(value);
      if (!Number.isInteger(parsed) || parsed < 0) return { ok: false, problem: `last: "${value}" is not a whole number >= 0` };
      last = Math.min(parsed, ringCapacity);
    } else if (key === 'follow') {
      if (value !== 'true' && value !== 'false') return { ok: false, problem: `follow: "${value}" must be true or false` };
      follow = value === 'true';
    } else {
      filterParameters.push([key, value]);
    }
  }
  const parsed = parseFlowFilter(filterParameters);
  if (!parsed.ok) return parsed;
  return { ok: true, filter: parsed.filter, last, follow };
}

function streamFlows(response: ServerResponse, hub: FlowHub, query: FlowsQuery, options: Required<FlowsRouteOptions>): void {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  response.write(': weir flows\n\n');
  for (const record of hub.recent(query.last, query.filter)) response.write(flowEvent(record));
  if (!query.follow) {
    response.end();
    return;
  }
  let droppedUnreported = 0;
  const reportDrops = (): void => {
    if (droppedUnreported === 0) return;
    response.write(`event: dropped\ndata: ${JSON.stringify({ dropped: droppedUnreported })}\n\n`);
    droppedUnreported = 0;
  };
  const stopWatching = hub.watch({
    filter: query.filter,
    offer: (record) => {
      if (response.writableLength > options.maxBufferedBytes) {
        droppedUnreported += 1;
        return 'dropped';
      }
      reportDrops();
      response.write(flowEvent(record));
      return 'delivered';
    },
  });
  const keepalive = setInterval(() => response.write(': keepalive\n\n'), options.keepaliveMs);
  keepalive.unref();
  response.on('drain', reportDrops);
  response.on('close', () => {
    clearInterval(keepalive);
    stopWatching();
  });
}

export function flowEvent(record: AccessLogRecord): string {
  return `event: flow\ndata: ${JSON.stringify(record)}\n\n`;
}

function sendError(response: ServerResponse, status: number, message: string): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ error: message }));
}
