// How CLI commands reach a running `weir serve`: its REST API over the unix socket (default
// `.weir/weir.sock`, or --socket / WEIR_SOCKET) or over TCP, which is HTTPS with a bearer token
// (--server https://HOST:PORT with --token-file FILE or WEIR_API_TOKEN, and the CA that signed the
// server's certificate with --ca-file FILE or WEIR_CA_FILE; default: the system's CAs). Sends one
// request and returns status and body, or opens a live response stream (`weir monitor`); turns
// "nobody listens there" into a message that says what to do. The only REST client of the CLI.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { ApiErrorBody } from '../api/api-types.ts';
import { WEIR_CONFIG_DEFAULTS } from '../config/weir-config.ts';

export type ApiTarget =
  | { kind: 'socket'; socket: string }
  | {
      kind: 'tcp';
      url: string;
      token: string | undefined;
      ca: string | undefined;
      /** Check the server by this URI SAN (its SPIFFE ID) instead of the host name dialled. */
      serverIdentity?: string;
    };

/** Where commands look for the API socket by default: the socket `weir serve` opens with the default config. */
export const API_CLIENT_DEFAULTS = { socket: WEIR_CONFIG_DEFAULTS.apiSocket } as const;

/** The flags of every command that talks to the API (`parseArgs` options), with `--output`. */
export const API_TARGET_FLAGS = {
  output: { type: 'string', short: 'o' },
  socket: { type: 'string' },
  server: { type: 'string' },
  'token-file': { type: 'string' },
  'ca-file': { type: 'string' },
} as const;

export interface ApiTargetFlags {
  socket?: string | undefined;
  server?: string | undefined;
  tokenFile?: string | undefined;
  caFile?: string | undefined;
}

export interface ApiCall {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path and query, e.g. `/v1/policies/wait?revision=abc`. */
  path: string;
  body?: string;
  /** Give up after this long. Default 30 s. */
  timeoutMs?: number;
}

export interface ApiReply {
  status: number;
  /** The raw body text. */
  text: string;
  contentType: string;
}

/** Raised when the server cannot be reached; the message says where we looked and what to try. */
export class ApiUnreachableError extends Error {
  constructor(
    message: string,
    /** The socket error code (ENOENT, ECONNREFUSED, ...), when there was one. */
    readonly code?: string,
  ) {
    super(message);
  }
}

/** Flags first, then the environment (WEIR_SERVER, WEIR_SOCKET, WEIR_API_TOKEN), then the default socket. */
export function apiTargetFrom(flags: ApiTargetFlags, environment: NodeJS.ProcessEnv = process.env): ApiTarget {
  const server = flags.server ?? nonEmpty(environment.WEIR_SERVER);
  if (server !== undefined && flags.socket === undefined) {
    if (!server.startsWith('https://')) {
      throw new ApiUnreachableError(`--server ${server}: the REST API over TCP speaks only HTTPS; use https://HOST:PORT (and --ca-file with the weir CA, <pki dir>/ca.crt)`);
    }
    const token = flags.tokenFile !== undefined ? readSecretFile(flags.tokenFile, '--token-file') : nonEmpty(environment.WEIR_API_TOKEN);
    const caFile = flags.caFile ?? nonEmpty(environment.WEIR_CA_FILE);
    return { kind: 'tcp', url: server.replace(/\/+$/, ''), token, ca: caFile !== undefined ? readSecretFile(caFile, '--ca-file') : undefined };
  }
  return { kind: 'socket', socket: flags.socket ?? nonEmpty(environment.WEIR_SOCKET) ?? API_CLIENT_DEFAULTS.socket };
}

export function describeTarget(target: ApiTarget): string {
  return target.kind === 'socket' ? `unix socket ${target.socket}` : target.url;
}

/** How long a command keeps trying while nobody listens yet (`weir serve` may be starting). */
export const API_START_RETRY_MS = 3_000;
// ENOENT, ECONNREFUSED: nothing listens yet.
const NOT_LISTENING = new Set(['ENOENT', 'ECONNREFUSED']);

/**
 * Sends one request. While nothing listens at the target (ENOENT, ECONNREFUSED), retries for up
 * to API_START_RETRY_MS, so a command run right after `weir serve` was started still reaches it.
 */
export async function callApi(target: ApiTarget, call: ApiCall): Promise<ApiReply> {
  const giveUp = Date.now() + API_START_RETRY_MS;
  for (;;) {
    try {
      return await callApiOnce(target, call);
    } catch (error) {
      const code = error instanceof ApiUnreachableError ? error.code : undefined;
      if (code === undefined || !NOT_LISTENING.has(code) || Date.now() >= giveUp) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function callApiOnce(target: ApiTarget, call: ApiCall): Promise<ApiReply> {
  const headers: http.OutgoingHttpHeaders = {};
  if (call.body !== undefined) {
    headers['content-type'] = 'application/yaml';
    headers['content-length'] = Buffer.byteLength(call.body);
  }
  return new Promise((resolve, reject) => {
    const request = sendRequest(target, requestOptionsFor(target, call.method, call.path, headers), (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), contentType: response.headers['content-type'] ?? '' }),
      );
      response.on('error', reject);
    });
    request.setTimeout(call.timeoutMs ?? 30_000, () => request.destroy(new Error(`no answer within ${call.timeoutMs ?? 30_000} ms`)));
    request.on('error', (error) => reject(unreachable(target, error)));
    request.end(call.body);
  });
}

/**
 * Opens GET `pathAndQuery` and resolves with the response once its headers arrive, whatever the
 * status, for commands that follow a live stream (`weir monitor` reads `/v1/flows` as it comes).
 */
export function openApiStream(target: ApiTarget, pathAndQuery: string, signal?: AbortSignal): Promise<http.IncomingMessage> {
  const headers: http.OutgoingHttpHeaders = { accept: 'text/event-stream, application/json, text/plain' };
  return new Promise((resolve, reject) => {
    const request = sendRequest(target, { ...requestOptionsFor(target, 'GET', pathAndQuery, headers), ...(signal ? { signal } : {}) }, resolve);
    request.on('error', (error) => reject(unreachable(target, error)));
    request.end();
  });
}

/** GET returning the body as text; a status other than 2xx rejects with the server's error message. */
export async function apiGetText(target: ApiTarget, pathAndQuery: string): Promise<string> {
  const reply = await callApi(target, { method: 'GET', path: pathAndQuery });
  if (reply.status < 200 || reply.status >= 300) throw new Error(`${describeTarget(target)}${pathAndQuery}: HTTP ${reply.status}: ${errorMessageOf(reply.text)}`);
  return reply.text;
}

// Every call opens its own connection (`agent: false`). Node's global agent keeps connections
// alive and hands an idle one to the next call without checking it; `weir serve` closes idle
// connections after 5 s, and a caller whose event loop was busy meanwhile (a test running a
// command synchronously) has not seen the close yet, so its next call was written into a closed
// connection and failed with EPIPE or ECONNRESET. One connection per call costs nothing that
// matters here: a command makes a handful of calls.
function requestOptionsFor(target: ApiTarget, method: string, pathAndQuery: string, headers: http.OutgoingHttpHeaders): http.RequestOptions {
  if (target.kind === 'socket') return { socketPath: target.socket, path: pathAndQuery, method, headers, agent: false };
  const url = new URL(pathAndQuery, `${target.url}/`);
  if (target.token !== undefined) headers.authorization = `Bearer ${target.token}`;
  const expected = target.serverIdentity;
  const options: https.RequestOptions = {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port,
    path: `${url.pathname}${url.search}`,
    method,
    headers,
    agent: false,
    ...(target.ca !== undefined ? { ca: target.ca } : {}),
    ...(expected !== undefined
      ? { checkServerIdentity: (_host: string, certificate: { subjectaltname?: string }) => ((certificate.subjectaltname ?? '').split(', ').includes(`URI:${expected}`) ? undefined : new Error(`the server is not ${expected}`)) }
      : {}),
  };
  return options;
}

function sendRequest(target: ApiTarget, options: http.RequestOptions, onResponse: (response: http.IncomingMessage) => void): http.ClientRequest {
  return target.kind === 'socket' ? http.request(options, onResponse) : https.request(options, onResponse);
}

function errorMessageOf(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null && 'error' in parsed && typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: show the text as it is
  }
  return body.trim();
}

/** The parsed JSON body of a reply, or an ApiErrorBody made from a non-JSON body. */
export function jsonOf<T>(reply: ApiReply): T | ApiErrorBody {
  try {
    return JSON.parse(reply.text) as T;
  } catch {
    return { error: `the server answered HTTP ${reply.status} with a body that is not JSON: ${reply.text.slice(0, 200)}` };
  }
}

function unreachable(target: ApiTarget, error: Error): ApiUnreachableError {
  const code = (error as NodeJS.ErrnoException).code;
  const hint = target.kind === 'socket'
    ? 'is `weir serve` running in this directory? pass --socket PATH (the api.socket of its config) or set WEIR_SOCKET'
    : 'is `weir serve` running with api.tcp? check --server https://HOST:PORT (or WEIR_SERVER) and --ca-file (or WEIR_CA_FILE)';
  return new ApiUnreachableError(`cannot reach weir serve at ${describeTarget(target)} (${code ?? error.message}); ${hint}`, code);
}

function readSecretFile(file: string, flag: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new ApiUnreachableError(`${flag} ${file}: cannot read it (${error instanceof Error ? error.message : String(error)})`);
  }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
