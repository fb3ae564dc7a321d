// Takes chosen gRPC methods off a bound grpc-js Server: HTTP/2 streams whose :path has a route are
// handed to that route before grpc-js sees them; every other stream (the access-log service, unknown
// methods) goes to grpc-js as before. grpc-js keeps the port, TLS and client certificates, sessions,
// keepalive and shutdown, so a routed stream lives and ends with its connection like any call.
// grpc-js has no public hook for this: its HTTP/2 servers are read from the Server after bindAsync
// (checked for the shape this code expects, with an error that says what to do when it changes).
import type * as grpc from '@grpc/grpc-js';
import type http2 from 'node:http2';

/** Serves one stream whose :path has this route. */
export type StreamRoute = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void;

type StreamListener = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, ...rest: unknown[]) => void;

/** Routes streams by :path on every HTTP/2 server `server` is bound to. Call after bindAsync. */
export function routeStreamsBeforeGrpcJs(server: grpc.Server, routes: ReadonlyMap<string, StreamRoute>): void {
  const http2Servers = boundHttp2Servers(server);
  for (const http2Server of http2Servers) {
    const grpcListeners = http2Server.listeners('stream') as StreamListener[];
    if (grpcListeners.length === 0) throw new Error(grpcJsChanged('its HTTP/2 server has no stream listener'));
    http2Server.removeAllListeners('stream');
    http2Server.on('stream', function routeStream(this: unknown, stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, ...rest: unknown[]) {
      const route = routes.get(headers[':path'] ?? '');
      if (route) {
        route(stream, headers);
        return;
      }
      for (const listener of grpcListeners) listener.call(this, stream, headers, ...rest);
    });
  }
}

function boundHttp2Servers(server: grpc.Server): Array<http2.Http2Server | http2.Http2SecureServer> {
  const candidate = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(candidate instanceof Map) || candidate.size === 0) {
    throw new Error(grpcJsChanged('Server.http2Servers is missing or empty after bindAsync'));
  }
  return [...(candidate as Map<http2.Http2Server | http2.Http2SecureServer, unknown>).keys()];
}

function grpcJsChanged(what: string): string {
  return `cannot serve xDS streams on the grpc-js server: ${what}. This @grpc/grpc-js differs from the 1.14 line ` +
    'server/xds/http2-stream-routes.ts was written for; pin @grpc/grpc-js to 1.14 in package.json or update that module';
}
