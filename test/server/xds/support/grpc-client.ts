// A scripted xDS client over real gRPC for tests of the wire binding (ads.ts): opens a SotW or
// delta stream on ADS or a per-type service, writes requests, and awaits responses or the status.
import * as grpc from '@grpc/grpc-js';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse } from '../../../../server/xds/discovery-messages.ts';
import { xdsServicePackage } from '../../../../server/xds/envoy-protos.ts';

export interface ScriptedStream<Request, Response> {
  write(request: Request): void;
  nextResponse(timeoutMs?: number): Promise<Response>;
  /** Resolves with the status the server ended the stream with. */
  status: Promise<grpc.StatusObject>;
  /** How many responses arrived so far (read or not). */
  responseCount(): number;
  close(): void;
}

export function openStream<Request, Response>(
  target: string,
  credentials: grpc.ChannelCredentials,
  service: string,
  method: string,
): ScriptedStream<Request, Response> {
  const definition = xdsServicePackage()[service] as ServiceDefinition | undefined;
  const methodDefinition = definition?.[method] as MethodDefinition<Request, Response> | undefined;
  if (!methodDefinition) throw new Error(`no method ${service}/${method}`);
  // SNI names the server, not the IP dialled (deprecated in TLS); it is checked by its SPIFFE ID anyway.
  const client = new grpc.Client(target, credentials, { 'grpc.ssl_target_name_override': 'weir-serve' });
  const call = client.makeBidiStreamRequest(methodDefinition.path, methodDefinition.requestSerialize, methodDefinition.responseDeserialize);
  const received: Response[] = [];
  const waiters: Array<(response: Response) => void> = [];
  let responseCount = 0;
  call.on('data', (response: Response) => {
    responseCount += 1;
    const waiter = waiters.shift();
    if (waiter) waiter(response);
    else received.push(response);
  });
  call.on('error', () => {});
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  return {
    write: (request) => call.write(request),
    nextResponse: (timeoutMs = 3000) => {
      const queued = received.shift();
      if (queued !== undefined) return Promise.resolve(queued);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no response within ${timeoutMs} ms`)), timeoutMs);
        waiters.push((response) => {
          clearTimeout(timer);
          resolve(response);
        });
      });
    },
    status,
    responseCount: () => responseCount,
    close: () => {
      call.cancel();
      client.close();
    },
  };
}

export const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

export function openAds(target: string, credentials: grpc.ChannelCredentials): ScriptedStream<DiscoveryRequest, DiscoveryResponse> {
  return openStream(target, credentials, ADS_SERVICE, 'StreamAggregatedResources');
}

export function openDeltaAds(target: string, credentials: grpc.ChannelCredentials): ScriptedStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse> {
  return openStream(target, credentials, ADS_SERVICE, 'DeltaAggregatedResources');
}
