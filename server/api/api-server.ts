// The REST API's HTTP side: listens on a unix socket (default; access is the socket's file mode)
// and optionally on TCP, which is HTTPS only and where every request must carry
// `Authorization: Bearer <token>`. Reads
// bodies (bounded), answers JSON, and hands each request to the route table (routes.ts). Owns no
// policy or proxy state.
import { timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { routeRequest, type ApiContext, type ApiRequest, type ApiResponse } from './routes.ts';

export interface ApiServerOptions {
  /** Absolute path of the unix socket. Its directory is created (mode 0700); a stale socket is replaced. */
  socket: string;
  /** Optional TCP listener: HTTPS with this certificate and key (PEM), and the bearer token on every request. */
  tcp?: { address: string; port: number; token: string; tls: { certificatePem: string; privateKeyPem: string } };
  context: ApiContext;
  logger: Logger;
  /** Largest request body accepted. Default 4 MiB. */
  maxBodyBytes?: number;
  /**
   * Handlers mounted beside the route table (e.g. GET /v1/flows, /metrics): each serves the raw
   * request and returns true, or returns false to pass. Tried in order, after authentication.
   */
  mounts?: ReadonlyArray<RawRouteHandler>;
  /** Routes (`METHOD /path`) the TCP listener serves without the bearer token; they authenticate by other means. */
  publicRoutes?: readonly string[];
}

export type RawRouteHandler = (request: http.IncomingMessage, response: http.ServerResponse) => boolean;

export interface ApiServer {
  readonly socket: string;
  /** The TCP port, when a TCP listener was asked for. */
  readonly tcpPort: number | undefined;
  /** Installs a new TLS certificate on the TCP listener (new connections use it). */
  replaceTlsCertificate(tls: { certificatePem: string; privateKeyPem: string }): void;
  stop(): Promise<void>;
}

const MAX_BODY_BYTES = 4 * 1024 * 1024;

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const maxBodyBytes = options.maxBodyBytes ?? MAX_BODY_BYTES;
  const unixServer = http.createServer((request, response) => void serve(request, response, { options, maxBodyBytes, token: undefined }));
  await prepareSocketPath(options.socket);
  await listen(unixServer, { path: options.socket }, `unix socket ${options.socket}`, 'set api.socket in the config');
  fs.chmodSync(options.socket, 0o600);
  let tcpServer: https.Server | undefined;
  if (options.tcp) {
    const tcp = options.tcp;
    if (tcp.token.length < 16) throw new Error('REST API: the TCP listener needs a bearer token of at least 16 characters');
    tcpServer = https.createServer({ cert: tcp.tls.certificatePem, key: tcp.tls.privateKeyPem }, (request, response) => void serve(request, response, { options, maxBodyBytes, token: tcp.token }));
    await listen(tcpServer, { host: tcp.address, port: tcp.port }, `${tcp.address}:${tcp.port}`, 'set api.tcp.port in the config').catch(async (error: unknown) => {
      await close(unixServer);
      throw error;
    });
  }
  const tcpPort = tcpServer ? (tcpServer.address() as AddressInfo).port : undefined;
  options.logger.info({ socket: options.socket, tcpPort }, 'REST API listening');
  return {
    socket: options.socket,
    tcpPort,
    replaceTlsCertificate: (tls) => tcpServer?.setSecureContext({ cert: tls.certificatePem, key: tls.privateKeyPem }),
    stop: async () => {
      await Promise.all([close(unixServer), tcpServer ? close(tcpServer) : Promise.resolve()]);
      fs.rmSync(options.socket, { force: true });
    },
  };
}

interface ServeSettings {
  options: ApiServerOptions;
  maxBodyBytes: number;
  /** Required bearer token (TCP), or undefined (unix socket). */
  token: string | undefined;
}

async function serve(request: http.IncomingMessage, response: http.ServerResponse, settings: ServeSettings): Promise<void> {
  const abort = new AbortController();
  response.once('close', () => abort.abort());
  let answer: ApiResponse;
  try {
    const route = `${request.method ?? 'GET'} ${new URL(request.url ?? '/', 'http://weir').pathname}`;
    const isPublic = (settings.options.publicRoutes ?? []).includes(route);
    if (settings.token !== undefined && !isPublic && !bearerMatches(request.headers.authorization, settings.token)) {
      answer = { status: 401, body: { error: 'missing or wrong bearer token; send "Authorization: Bearer <token>" (weir --token-file FILE)' } };
    } else if ((settings.options.mounts ?? []).some((mounted) => mounted(request, response))) {
      return;
    } else {
      const url = new URL(request.url ?? '/', 'http://weir');
      const body = await readBody(request, settings.maxBodyBytes);
      if (body === undefined) {
        answer = { status: 413, body: { error: `request body larger than ${settings.maxBodyBytes} bytes; split the policy into several files` } };
      } else {
        const apiRequest: ApiRequest = { method: request.method ?? 'GET', path: url.pathname, query: url.searchParams, body, signal: abort.signal };
        answer = await routeRequest(apiRequest, settings.options.context);
      }
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    settings.options.logger.error({ method: request.method, url: request.url, error: reason }, 'REST API request failed');
    answer = { status: 500, body: { error: `internal error: ${reason}; see the weir serve log` } };
  }
  if (response.destroyed) return;
  if (typeof answer.body === 'string') {
    response.writeHead(answer.status, { 'content-type': answer.contentType ?? 'text/plain; charset=utf-8' });
    response.end(answer.body);
  } else {
    response.writeHead(answer.status, { 'content-type': 'application/json' });
    response.end(`${JSON.stringify(answer.body, mapsAsObjects, 2)}\n`);
  }
}

function bearerMatches(header: string | undefined, token: string): boolean {
  const presented = Buffer.from(header?.startsWith('Bearer ') ? header.slice('Bearer '.length) : '');
  const expected = Buffer.from(token);
  return presented.length === expected.length && timingSafeEqual(presented, expected);
}

/** The body as text, or undefined when it exceeds the limit. */
async function readBody(request: http.IncomingMessage, limit: number): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) return undefined;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Creates the socket's directory and removes a socket file no server answers on any more. */
async function prepareSocketPath(socket: string): Promise<void> {
  fs.mkdirSync(path.dirname(socket), { recursive: true, mode: 0o700 });
  if (!fs.existsSync(socket)) return;
  const inUse = await new Promise<boolean>((resolve) => {
    const probe = net.connect(socket, () => {
      probe.end();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (inUse) throw new Error(`REST API: another server already listens on ${socket}; stop it or set api.socket in the config`);
  fs.rmSync(socket, { force: true });
}

function listen(server: http.Server | https.Server, where: net.ListenOptions, description: string, hint: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error) => reject(new Error(`REST API cannot listen on ${description}: ${error.message}; ${hint}`)));
    server.listen(where, resolve);
  });
}

function close(server: http.Server | https.Server): Promise<void> {
  return new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
}

function mapsAsObjects(_key: string, value: unknown): unknown {
  return value instanceof Map ? Object.fromEntries(value) : value;
}
