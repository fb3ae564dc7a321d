// The client side of the REST API for the observability commands (`weir monitor`, `weir metrics
// list`, `weir status`): one GET to the unix socket (default) or over HTTPS to host:port with a
// bearer token, answered as a live response stream or as text. Errors name the address and what to check.
import http from 'node:http';
import https from 'node:https';

export interface ApiTarget {
  /** Unix socket of `weir serve`'s REST API (config api.socket). */
  socketPath?: string;
  /** host:port of the TCP listener instead (config api.tcp, HTTPS); needs `token`. */
  tcp?: { host: string; port: number };
  token?: string;
  /** The CA (PEM) that signed the TCP listener's certificate; default: the system's CAs. */
  ca?: string;
}

export const DEFAULT_API_SOCKET = '.weir/weir.sock';

export function describeApiTarget(target: ApiTarget): string {
  return target.tcp ? `https://${target.tcp.host}:${target.tcp.port}` : `unix:${target.socketPath ?? DEFAULT_API_SOCKET}`;
}

/** Opens GET `pathAndQuery`; resolves with the response once headers arrive, whatever the status. */
export function openApiStream(target: ApiTarget, pathAndQuery: string, signal?: AbortSignal): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { accept: 'text/event-stream, application/json, text/plain' };
    if (target.token !== undefined) headers.authorization = `Bearer ${target.token}`;
    const options = { path: pathAndQuery, method: 'GET', headers, ...(signal ? { signal } : {}) };
    const request = target.tcp
      ? https.request({ ...options, host: target.tcp.host, port: target.tcp.port, ...(target.ca !== undefined ? { ca: target.ca } : {}) }, resolve)
      : http.request({ ...options, socketPath: target.socketPath ?? DEFAULT_API_SOCKET }, resolve);
    request.on('error', (error) => {
      reject(new Error(`cannot reach the weir API at ${describeApiTarget(target)}${pathAndQuery} (${error.message}); is \`weir serve\` running? pass --socket PATH (the api.socket of its config) or --server URL with --token-file FILE`));
    });
    request.end();
  });
}

/** GET returning the body as text; a status other than 2xx rejects with the server's error message. */
export async function apiGetText(target: ApiTarget, pathAndQuery: string): Promise<string> {
  const response = await openApiStream(target, pathAndQuery);
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks).toString('utf8');
  const status = response.statusCode ?? 0;
  if (status < 200 || status >= 300) throw new Error(`${describeApiTarget(target)}${pathAndQuery}: HTTP ${status}: ${errorMessageOf(body)}`);
  return body;
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
