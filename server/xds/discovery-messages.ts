// The shapes of xDS discovery messages as @grpc/proto-loader hands them over and takes them back
// (snake_case, defaults filled in, enums and longs as strings), plus the stream transport that the
// SotW and delta modules talk to instead of gRPC. Only fields Weir reads or writes are typed.
import type { PeerCertificateFacts } from '../pki/peer-authenticator.ts';
import type { PackedAny } from './resources/encoded-resource.ts';
import type { ErrorDetail } from './subscription.ts';

export interface DiscoveryNode {
  id: string;
  cluster: string;
  /** google.protobuf.Struct as proto-loader decodes it; read with node-metadata.ts. */
  metadata?: unknown;
}

export interface DiscoveryRequest {
  version_info: string;
  node: DiscoveryNode | null;
  resource_names: string[];
  type_url: string;
  response_nonce: string;
  error_detail: ErrorDetail | null;
}

export interface DiscoveryResponse {
  version_info: string;
  resources: PackedAny[];
  type_url: string;
  nonce: string;
  control_plane: { identifier: string };
}

export interface DeltaDiscoveryRequest {
  node: DiscoveryNode | null;
  type_url: string;
  resource_names_subscribe: string[];
  resource_names_unsubscribe: string[];
  initial_resource_versions: Record<string, string>;
  response_nonce: string;
  error_detail: ErrorDetail | null;
}

export interface DeltaResource {
  name: string;
  version: string;
  resource: PackedAny;
}

export interface DeltaDiscoveryResponse {
  system_version_info: string;
  resources: DeltaResource[];
  type_url: string;
  removed_resources: readonly string[];
  nonce: string;
  control_plane: { identifier: string };
}

/** gRPC status codes the streams end with. */
export const enum StreamStatus {
  Ok = 0,
  InvalidArgument = 3,
  PermissionDenied = 7,
  ResourceExhausted = 8,
  Unimplemented = 12,
  Internal = 13,
  Unauthenticated = 16,
}

/** One bidirectional xDS stream as the SotW and delta modules see it; ads.ts adapts gRPC to it. */
export interface XdsStreamTransport<Request, Response> {
  /** The remote address, for logs. */
  readonly peer: string;
  /** The client certificate TLS verified; undefined without one (plaintext, `--insecure`). */
  readonly peerCertificate: PeerCertificateFacts | undefined;
  send(response: Response): void;
  /** Ends the stream with an error status. */
  fail(status: StreamStatus, message: string): void;
  onRequest(listener: (request: Request) => void): void;
  /** Called once when the stream ends for any reason. */
  onClose(listener: () => void): void;
}
