// HTTP clients for the HTTP policy tests, each a real one with a chosen source address (the
// identity Envoy sees): Node's http over a keep-alive agent, Node's http2 over one session, curl
// (HTTP/1.1 and HTTP/2 prior knowledge) and raw bytes on a socket (pipelining, malformed requests).
// Every answer says which connection carried it (its local port), so tests can prove a verdict
// changed on an open connection. Test helper.
import { execFile } from 'node:child_process';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { CURL_BINARY } from '../../demo/servers/http-clients.ts';

export interface HttpAnswer {
  status: number;
  body: string;
  /** Local port of the client's connection that carried the request. */
  localPort: number;
}

export interface HttpRequestSpec {
  method?: string;
  path: string;
  headers?: http.OutgoingHttpHeaders;
}

/** HTTP/1.1 over one keep-alive connection from `localAddress` (Node's http, maxSockets 1). */
export class Http1Client {
  private readonly agent: http.Agent;

  constructor(
    private readonly port: number,
    private readonly localAddress: string,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  request(spec: HttpRequestSpec): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const request = http.request(
        { host: '127.0.0.1', port: this.port, localAddress: this.localAddress, agent: this.agent, method: spec.method ?? 'GET', path: spec.path, headers: spec.headers ?? {} },
        (response) => {
          let body = '';
          response.setEncoding('latin1');
          response.on('data', (chunk: string) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body, localPort: response.socket?.localPort ?? request.socket?.localPort ?? 0 }));
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** HTTP/2 (cleartext, prior knowledge) over one session from `localAddress` (Node's http2). */
export class Http2Client {
  private readonly session: http2.ClientHttp2Session;
  private localPort = 0;

  constructor(port: number, localAddress: string) {
    this.session = http2.connect(`http://127.0.0.1:${port}`, { createConnection: () => net.connect({ host: '127.0.0.1', port, localAddress }) });
    this.session.on('error', () => undefined);
    this.session.on('connect', (session) => (this.localPort = session.socket.localPort ?? 0));
  }

  request(spec: HttpRequestSpec): Promise<HttpAnswer> {
    return new Promise((resolve, reject) => {
      const stream = this.session.request({ ':method': spec.method ?? 'GET', ':path': spec.path, ...(spec.headers ?? {}) });
      let status = 0;
      let body = '';
      stream.setEncoding('latin1');
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.on('data', (chunk: string) => (body += chunk));
      stream.on('end', () => resolve({ status, body, localPort: this.localPort }));
      stream.on('error', reject);
      stream.end();
    });
  }

  close(): void {
    this.session.close();
  }
}

/** One request with curl from `localAddress`: HTTP/1.1, or HTTP/2 with prior knowledge. */
export function curl(port: number, localAddress: string, spec: HttpRequestSpec & { http2?: boolean }): Promise<{ status: number; body: string; version: string }> {
  const args = ['--silent', '--show-error', '--interface', localAddress, '--request', spec.method ?? 'GET', '--write-out', '\n%{http_code} %{http_version}'];
  if (spec.http2) args.push('--http2-prior-knowledge');
  for (const [name, value] of Object.entries(spec.headers ?? {})) args.push('--header', `${name}: ${String(value)}`);
  args.push(`http://127.0.0.1:${port}${spec.path}`);
  return new Promise((resolve, reject) => {
    execFile(CURL_BINARY, args, { encoding: 'latin1' }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`curl ${args.join(' ')} failed: ${stderr || error.message}`));
        return;
      }
      const split = stdout.lastIndexOf('\n');
      const [status, version] = stdout.slice(split + 1).split(' ');
      resolve({ status: Number(status), body: stdout.slice(0, split), version: version ?? '' });
    });
  });
}

/**
 * Writes `bytes` at once on a fresh connection from `localAddress` and collects what comes back
 * until Envoy closes the connection or `responses` complete responses (status line, headers,
 * Content-Length body) arrived. Returns each response's status and body.
 */
export async function rawExchange(port: number, localAddress: string, bytes: string, responses: number): Promise<Array<{ status: number; body: string }>> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let received = '';
  const parsed = (): Array<{ status: number; body: string }> => parseResponses(received);
  await new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (parsed().length >= responses) resolve();
    });
    socket.on('close', () => resolve());
    socket.write(bytes, 'latin1');
  });
  socket.destroy();
  return parsed();
}

function parseResponses(text: string): Array<{ status: number; body: string }> {
  const responses: Array<{ status: number; body: string }> = [];
  let rest = text;
  for (;;) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd < 0) return responses;
    const head = rest.slice(0, headEnd);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
    if (rest.length < headEnd + 4 + length) return responses;
    responses.push({ status, body: rest.slice(headEnd + 4, headEnd + 4 + length) });
    rest = rest.slice(headEnd + 4 + length);
  }
}
