// The JSON bodies of the REST API (docs/api.md), shared by the server (api-views.ts, routes.ts) and
// the CLI client, so both sides agree on field names at compile time. Types only.
import type { TraceResult } from '../policy/trace.ts';

export interface ApiErrorBody {
  error: string;
  /** Import problems, one per line: `file[ document N]: field.path: reason`. */
  problems?: string[];
}

export interface PoliciesView {
  revision: string;
  enforcementMode: string;
  files: Array<{ file: string; policies: string[]; endpoints: string[] }>;
}

export interface ImportResultBody {
  revision: string;
  file: string;
  policies: string[];
  endpoints: string[];
  /** Where the imported state and the server's redirects do not fit together (e.g. a policy for the listener's port). */
  warnings: string[];
}

export interface DeleteResultBody {
  revision: string;
  deleted: string;
}

export interface EndpointView {
  name: string;
  namespace: string | undefined;
  identity: number | undefined;
  ips: string[];
  labels: string[];
  labelsKnown: boolean;
  /** `store`, or `sidecar:<node id>` for an endpoint announced in a sidecar's node metadata. */
  source: string;
  ingress: string | undefined;
  egress: string | undefined;
  /** Ports the endpoint's ingress rules name (`11211`, `8000-8080`, `any`). */
  ingressPorts: string[];
  /** The redirects of this server that guard the endpoint: listener -> upstream, and the endpoint port the policy must name. */
  redirects: Array<{ name: string; parser: string; listener: string; upstream: string; port: number }>;
}

export interface IdentitiesView {
  revision: string;
  identities: Array<{ identity: number; labels: string[] }>;
  ipIdentities: Array<{ cidr: string; identity: number }>;
}

export interface ProxyTypeView {
  typeUrl: string;
  /** The xDS variant (sotw, delta) of the stream that carries this type. */
  variant: string | undefined;
  sentVersion: string | undefined;
  sentAt: string | undefined;
  awaitingReply: boolean;
  ackedVersion: string | undefined;
  ackedAt: string | undefined;
  lastNack: { version: string; message: string; at: string } | undefined;
}

export interface ProxyView {
  nodeId: string;
  cluster: string;
  connected: boolean;
  openStreams: number;
  variant: string | undefined;
  peer: string | undefined;
  connectedAt: string | undefined;
  disconnectedAt: string | undefined;
  /** The proxy's Weir agent has subscribed to weir.NetworkPolicy. */
  policyAgent: boolean;
  /** The policy revision whose NetworkPolicy and IdentityMap versions the agent ACKed. */
  enforcedRevision: string | undefined;
  types: ProxyTypeView[];
  /** The replica serving the proxy, in a `?scope=fleet` answer (server/api/fleet.ts). */
  replica?: string;
}

export interface ProxiesView {
  /** The revision in force on the server (absent in a fleet answer: each replica has its own). */
  revision?: string | undefined;
  proxies: ProxyView[];
  /** In a fleet answer: every replica asked, and those that could not be reached (with why). */
  replicas?: string[];
  unreachable?: string[];
}

export interface WaitResultBody {
  revision: string;
  proxies: Array<{ nodeId: string; enforcedRevision: string | undefined; replica?: string }>;
}

/** GET /v1/security: how the xDS port authenticates proxies. */
export interface SecurityView {
  mode: 'mtls' | 'insecure';
  trustDomain: string;
  /** The weir CA certificate (PEM): proxies and HTTPS clients verify the server with it. */
  caCertificate: string;
  nodeCertificateLifetimeSeconds: number;
  serverCertificateNotAfter: string | undefined;
}

/** POST /v1/nodes/{id}/enrol and the node side of renewal: a node's certificate. */
export interface NodeCertificateBody {
  nodeId: string;
  trustDomain: string;
  spiffeId: string;
  /** PEM. */
  certificate: string;
  /** The CA certificate (PEM), the trust bundle for the server. */
  ca: string;
  serial: string;
  notAfter: string;
}

export interface NodeView {
  nodeId: string;
  enrolledAt: string;
  revokedAt: string | undefined;
  /** Open streams authenticated with this node's certificate. */
  authenticatedStreams: number;
}

/** `GET /v1/policies/trace`: the verdict of one connection (and request) under the policy in force. */
export interface TraceResultBody extends TraceResult {
  revision: string;
}
