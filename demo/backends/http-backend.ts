// An HTTP server for demos and tests that speaks HTTP/1.1 and cleartext HTTP/2 (prior knowledge)
// on one port, as the upstream of an Envoy that forwards each request in the version it came in.
// It answers every request with 200 and `<method> <path>` and records what it received (version,
// method, path, host, headers), so tests can prove what did and did not reach it.
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { Duplex } from 'node:stream';

export interface ReceivedHttpRequest {
  httpVersion: string; // '1.1' or '2.0'
  method: string;
  path: string;
  host: string;
  headers: http.IncomingHttpHeaders;
}

export interface HttpBackend {
  host: string;
  port: number;
  received: ReceivedHttpRequest[];
  close(): Promise<void>;
}

// The client preface every HTTP/2 prior-knowledge connection starts with (RFC 9113 §3.4).
const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export async function startHttpBackend(options: { host?: string } = {}): Promise<HttpBackend> {
  const host = options.host ?? '127.0.0.1';
  const received: ReceivedHttpRequest[] = [];
  const answer = (request: http.IncomingMessage | http2.Http2ServerRequest, response: http.ServerResponse | http2.Http2ServerResponse): void => {
    const path = request.url ?? '';
    received.push({
      httpVersion: request.httpVersion,
      method: request.method ?? '',
      path,
      host: String(request.headers[':authority'] ?? request.headers.host ?? ''),
      headers: request.headers,
    });
    request.resume();
    request.on('end', () => {
      const body = `${request.method} ${path}\n`;
      response.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
      response.end(body);
    });
  };
  const http1 = http.createServer(answer);
  const h2c = http2.createServer(answer);
  const sockets = new Set<net.Socket>();
  // Sorts each connection by its first bytes: the HTTP/2 preface, or anything else as HTTP/1.
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.once('data', (first: Buffer) => {
      socket.pause();
      const isHttp2 = first.subarray(0, HTTP2_PREFACE.length).equals(HTTP2_PREFACE.subarray(0, Math.min(first.length, HTTP2_PREFACE.length)));
      if (isHttp2) {
        h2c.emit('connection', replaying(socket, first));
      } else {
        socket.unshift(first);
        http1.emit('connection', socket);
      }
      socket.resume();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('http backend: no TCP address');
  return {
    host,
    port: address.port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        http1.close();
        h2c.close();
        server.close(() => resolve());
      }),
  };
}

// The socket as a stream that first replays `first`. Node's HTTP/2 session reads a net.Socket's
// native handle directly, past bytes unshifted into the JS stream, so it gets this wrapper, which
// it reads through the stream API.
function replaying(socket: net.Socket, first: Buffer): Duplex {
  const duplex = new Duplex({
    read: () => socket.resume(),
    write: (chunk: Buffer, _encoding, callback) => socket.write(chunk, callback),
    final: (callback) => socket.end(callback),
    destroy: (error, callback) => {
      socket.destroy();
      callback(error);
    },
  });
  duplex.push(first);
  socket.on('data', (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on('end', () => duplex.push(null));
  socket.on('close', () => duplex.destroy());
  return duplex;
}
