// Binds the SotW and delta stream modules to gRPC: the aggregated service (ADS) and the per-type
// services (LDS, CDS, EDS, RDS, ECDS) for proxies that do not use ADS. Adapts a grpc-js duplex call
// to the XdsStreamTransport the stream modules speak, including the verified client certificate. Responses are serialized by response-encoder.ts (shared resource bytes copied, not
// re-encoded per stream); requests by proto-loader. No protocol logic lives here.
import type * as grpc from '@grpc/grpc-js';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { peerCertificateFacts } from '../pki/peer-authenticator.ts';
import type {
  DeltaDiscoveryRequest,
  DeltaDiscoveryResponse,
  DiscoveryRequest,
  DiscoveryResponse,
  StreamStatus,
  XdsStreamTransport,
} from './discovery-messages.ts';
import { xdsServicePackage } from './envoy-protos.ts';
import { serveDeltaStream } from './delta-stream.ts';
import { serveSotwStream } from './sotw-stream.ts';
import { encodeDeltaDiscoveryResponse, encodeDiscoveryResponse } from './response-encoder.ts';
import { decodeDeltaDiscoveryRequest, decodeDiscoveryRequest } from './request-decoder.ts';
import type { StreamContext } from './stream-context.ts';
import { CLUSTER_TYPE_URL } from './resources/cluster.ts';
import { ENDPOINT_TYPE_URL } from './resources/endpoint.ts';
import { EXTENSION_CONFIG_TYPE_URL } from './resources/extension-config.ts';
import { LISTENER_TYPE_URL } from './resources/listener.ts';
import { ROUTE_TYPE_URL } from './resources/route.ts';

interface DiscoveryServiceBinding {
  service: string;
  sotwMethod: string;
  deltaMethod: string;
  /** Type URL assumed when a per-type request leaves type_url empty; undefined for ADS. */
  typeUrl: string | undefined;
}

const DISCOVERY_SERVICES: readonly DiscoveryServiceBinding[] = [
  { service: 'envoy.service.discovery.v3.AggregatedDiscoveryService', sotwMethod: 'StreamAggregatedResources', deltaMethod: 'DeltaAggregatedResources', typeUrl: undefined },
  { service: 'envoy.service.listener.v3.ListenerDiscoveryService', sotwMethod: 'StreamListeners', deltaMethod: 'DeltaListeners', typeUrl: LISTENER_TYPE_URL },
  { service: 'envoy.service.cluster.v3.ClusterDiscoveryService', sotwMethod: 'StreamClusters', deltaMethod: 'DeltaClusters', typeUrl: CLUSTER_TYPE_URL },
  { service: 'envoy.service.endpoint.v3.EndpointDiscoveryService', sotwMethod: 'StreamEndpoints', deltaMethod: 'DeltaEndpoints', typeUrl: ENDPOINT_TYPE_URL },
  { service: 'envoy.service.route.v3.RouteDiscoveryService', sotwMethod: 'StreamRoutes', deltaMethod: 'DeltaRoutes', typeUrl: ROUTE_TYPE_URL },
  { service: 'envoy.service.extension.v3.ExtensionConfigDiscoveryService', sotwMethod: 'StreamExtensionConfigs', deltaMethod: 'DeltaExtensionConfigs', typeUrl: EXTENSION_CONFIG_TYPE_URL },
];

/** Adds ADS and the per-type discovery services to a grpc-js server; every stream gets `context`. */
export function addDiscoveryServices(server: grpc.Server, context: StreamContext): void {
  const definitions = xdsServicePackage();
  for (const binding of DISCOVERY_SERVICES) {
    const definition = definitions[binding.service];
    if (!definition || !isServiceDefinition(definition)) {
      throw new Error(`service ${binding.service} missing from the loaded Envoy protos`);
    }
    server.addService(withResponseEncoders(definition, binding), {
      [binding.sotwMethod]: (call: grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>) =>
        serveSotwStream(duplexTransport(call, (request) => withTypeUrl(request, binding.typeUrl)), context),
      [binding.deltaMethod]: (call: grpc.ServerDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>) =>
        serveDeltaStream(duplexTransport(call, (request) => withTypeUrl(request, binding.typeUrl)), context),
    });
  }
}

function duplexTransport<Request, Response>(
  call: grpc.ServerDuplexStream<Request, Response>,
  normalize: (request: Request) => Request,
): XdsStreamTransport<Request, Response> {
  let closed = false;
  const closeListeners: Array<() => void> = [];
  const closeOnce = (): void => {
    if (closed) return;
    closed = true;
    for (const listener of closeListeners) listener();
  };
  call.on('end', () => {
    closeOnce();
    call.end();
  });
  call.on('cancelled', closeOnce);
  call.on('error', closeOnce);
  call.on('close', closeOnce);
  return {
    peer: call.getPeer(),
    peerCertificate: peerCertificateFacts(call.getAuthContext().sslPeerCertificate),
    send: (response) => {
      if (!closed) call.write(response);
    },
    fail: (status: StreamStatus, message: string) => {
      if (closed) return;
      call.emit('error', Object.assign(new Error(message), { code: status, details: message }));
    },
    onRequest: (listener) => call.on('data', (request: Request) => listener(normalize(request))),
    onClose: (listener) => closeListeners.push(listener),
  };
}

function withTypeUrl<Request extends { type_url: string }>(request: Request, typeUrl: string | undefined): Request {
  return typeUrl && request.type_url === '' ? { ...request, type_url: typeUrl } : request;
}

/**
 * The service definition with proto-loader's response serializers replaced by response-encoder.ts,
 * and its request deserializers fronted by request-decoder.ts (ACKs), which falls back to them.
 */
function withResponseEncoders(definition: ServiceDefinition, binding: DiscoveryServiceBinding): ServiceDefinition {
  const sotw = definition[binding.sotwMethod];
  const delta = definition[binding.deltaMethod];
  if (!sotw || !delta) {
    throw new Error(`service ${binding.service} lacks ${binding.sotwMethod} or ${binding.deltaMethod} in the loaded Envoy protos`);
  }
  return {
    ...definition,
    [binding.sotwMethod]: {
      ...sotw,
      responseSerialize: encodeDiscoveryResponse,
      requestDeserialize: (bytes: Buffer) => decodeDiscoveryRequest(bytes, sotw.requestDeserialize),
    },
    [binding.deltaMethod]: {
      ...delta,
      responseSerialize: encodeDeltaDiscoveryResponse,
      requestDeserialize: (bytes: Buffer) => decodeDeltaDiscoveryRequest(bytes, delta.requestDeserialize),
    },
  };
}

function isServiceDefinition(definition: object): definition is ServiceDefinition {
  return !('format' in definition);
}
