// Binds the SotW and delta stream modules to gRPC: the aggregated service (ADS) and the per-type
// services (LDS, CDS, EDS, RDS, ECDS) for proxies that do not use ADS. Their streams are served on
// node:http2 directly (grpc-stream.ts), taken off the grpc-js server that owns the port
// (http2-stream-routes.ts); grpc-js serves the other services beside them. Responses are framed by
// response-encoder.ts (shared resource bytes copied, not re-encoded per stream); requests are read by
// request-decoder.ts, with proto-loader's decoder behind it. No protocol logic lives here.
import type * as grpc from '@grpc/grpc-js';
import type http2 from 'node:http2';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { peerCertificateFacts } from '../pki/peer-authenticator.ts';
import type { DeltaDiscoveryRequest, DiscoveryRequest } from './discovery-messages.ts';
import { xdsServicePackage } from './envoy-protos.ts';
import { serveDeltaStream } from './delta-stream.ts';
import { serveSotwStream } from './sotw-stream.ts';
import { answerNotGrpc, grpcStreamTransport, isGrpcRequest, type GrpcStreamLimits } from './grpc-stream.ts';
import { routeStreamsBeforeGrpcJs, type StreamRoute } from './http2-stream-routes.ts';
import { frameDeltaDiscoveryResponse, frameDiscoveryResponse, releaseFrame } from './response-encoder.ts';
import { decodeDeltaDiscoveryRequest, decodeDiscoveryRequest } from './request-decoder.ts';
import type { StreamContext } from './stream-context.ts';
import { keepWriteRequestShape } from './write-request-shape.ts';
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

/** grpc-js's default receive limit, and the send limit the control server has always set. */
export const DISCOVERY_STREAM_LIMITS: GrpcStreamLimits = { maxReceiveMessageBytes: 4 * 1024 * 1024, maxSendMessageBytes: 64 * 1024 * 1024 };

/**
 * Serves ADS and the per-type discovery streams on the HTTP/2 servers of `server`, which must be
 * bound already; every stream gets `context`.
 */
export function serveDiscoveryStreams(server: grpc.Server, context: StreamContext): void {
  // Every push writes on thousands of streams; keep V8's code for Node's write path between pushes.
  keepWriteRequestShape();
  const definitions = xdsServicePackage();
  const routes = new Map<string, StreamRoute>();
  for (const binding of DISCOVERY_SERVICES) {
    const definition = definitions[binding.service];
    if (!definition || !isServiceDefinition(definition)) {
      throw new Error(`service ${binding.service} missing from the loaded Envoy protos`);
    }
    const sotw = definition[binding.sotwMethod];
    const delta = definition[binding.deltaMethod];
    if (!sotw || !delta) {
      throw new Error(`service ${binding.service} lacks ${binding.sotwMethod} or ${binding.deltaMethod} in the loaded Envoy protos`);
    }
    const typeUrl = binding.typeUrl;
    const decodeSotw = sotw.requestDeserialize as (bytes: Buffer) => DiscoveryRequest;
    const decodeDelta = delta.requestDeserialize as (bytes: Buffer) => DeltaDiscoveryRequest;
    const sotwCodec = {
      requestName: 'DiscoveryRequest',
      decode: (bytes: Buffer) => withTypeUrl(decodeDiscoveryRequest(bytes, decodeSotw), typeUrl),
      encodeFrame: frameDiscoveryResponse,
      frameWritten: releaseFrame,
    };
    const deltaCodec = {
      requestName: 'DeltaDiscoveryRequest',
      decode: (bytes: Buffer) => withTypeUrl(decodeDeltaDiscoveryRequest(bytes, decodeDelta), typeUrl),
      encodeFrame: frameDeltaDiscoveryResponse,
      frameWritten: releaseFrame,
    };
    routes.set(sotw.path, grpcRoute((stream) => serveSotwStream(grpcStreamTransport(stream, sotwCodec, DISCOVERY_STREAM_LIMITS, peerCertificateFacts), context)));
    routes.set(delta.path, grpcRoute((stream) => serveDeltaStream(grpcStreamTransport(stream, deltaCodec, DISCOVERY_STREAM_LIMITS, peerCertificateFacts), context)));
  }
  routeStreamsBeforeGrpcJs(server, routes);
}

/** Answers a stream that is not a gRPC call as grpc-js would, before serving it. */
function grpcRoute(serve: (stream: http2.ServerHttp2Stream) => void): StreamRoute {
  return (stream, headers) => {
    if (isGrpcRequest(headers)) serve(stream);
    else answerNotGrpc(stream);
  };
}

function withTypeUrl<Request extends { type_url: string }>(request: Request, typeUrl: string | undefined): Request {
  return typeUrl && request.type_url === '' ? { ...request, type_url: typeUrl } : request;
}

function isServiceDefinition(definition: object): definition is ServiceDefinition {
  return !('format' in definition);
}
