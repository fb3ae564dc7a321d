// A gRPC server (@grpc/grpc-js, cleartext HTTP/2) implementing deathstar.proto beside this file,
// for demos and tests: RequestLanding answers one Landing, WatchHangar streams `count` of them.
// Records every call it received (method path), so tests can prove what did and did not reach it.
// Also loads the client constructor for the same service.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';

export const DEATHSTAR_PROTO = path.join(path.dirname(fileURLToPath(import.meta.url)), 'deathstar.proto');
export const DEATHSTAR_SERVICE = 'deathstar.v1.DeathStar';

export interface Landing {
  ship: string;
  bay: string;
}

export interface GrpcBackend {
  port: number;
  /** `/deathstar.v1.DeathStar/<Method>` of every call received, in arrival order. */
  received: string[];
  close(): Promise<void>;
}

/** The DeathStar service definition and client constructor, loaded from deathstar.proto. */
export function deathStarService(): grpc.ServiceClientConstructor {
  const definition = grpc.loadPackageDefinition(loadSync(DEATHSTAR_PROTO, { keepCase: true, defaults: true }));
  const pkg = definition['deathstar'] as grpc.GrpcObject;
  const v1 = pkg['v1'] as grpc.GrpcObject;
  return v1['DeathStar'] as grpc.ServiceClientConstructor;
}

export async function startGrpcBackend(options: { host?: string } = {}): Promise<GrpcBackend> {
  const host = options.host ?? '127.0.0.1';
  const received: string[] = [];
  const server = new grpc.Server();
  const service = deathStarService().service;
  server.addService(service, {
    RequestLanding: (call: grpc.ServerUnaryCall<{ name: string }, Landing>, callback: grpc.sendUnaryData<Landing>) => {
      received.push(`/${DEATHSTAR_SERVICE}/RequestLanding`);
      callback(null, { ship: call.request.name, bay: 'bay-1' });
    },
    WatchHangar: (call: grpc.ServerWritableStream<{ count: number }, Landing>) => {
      received.push(`/${DEATHSTAR_SERVICE}/WatchHangar`);
      for (let i = 0; i < call.request.count; i++) call.write({ ship: `tie-${i}`, bay: `bay-${i % 3}` });
      call.end();
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
  });
  return {
    port,
    received,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
