// The REST routes of node identity (docs/api.md, "Nodes"): the server's security mode and CA,
// enrolling a node (the caller sends a public key, the server returns the node's certificate),
// join tokens, listing and revoking nodes. The unix socket's file mode (or the TCP token) is what
// makes the caller an administrator: enrolment here is how `weir bootstrap` gives a proxy its
// identity. Two routes need no admin token (PUBLIC_NODE_ROUTES): the CA certificate, and
// enrolment with a one-time join token, which is the token's whole purpose.
import type { ApiErrorBody, NodeCertificateBody, NodeView, SecurityView } from './api-types.ts';
import { NodeAuthorityError, type NodeAuthority, type NodeCertificateGrant } from '../pki/node-authority.ts';
import type { ApiRequest, ApiResponse } from './routes.ts';
import type { Logger } from 'pino';

export interface NodeApiContext {
  authority: NodeAuthority;
  /** The xDS port's mode; enrolment is refused while it is plaintext (nothing would check the certificate). */
  mode: 'mtls' | 'insecure';
  serverCertificateNotAfter: () => Date | undefined;
  logger: Logger;
  /** Replicas sharing enrolments (etcd mode): an enrolment or revocation answers once it is shared. */
  shared?: { settled(nodeId: string): Promise<void> };
}

const NODE_ROUTE = /^\/v1\/nodes\/([^/]+)\/(enrol|revoke|join-token)$/;

/** Routes the TCP listener serves without the admin token (`METHOD /path`). */
export const PUBLIC_NODE_ROUTES: readonly string[] = ['GET /v1/ca', 'POST /v1/enrol'];

/** Default lifetime of a join token. */
export const DEFAULT_JOIN_TOKEN_SECONDS = 3600;

/** Answers the node routes, or returns undefined for any other path. */
export function routeNodeRequest(request: ApiRequest, context: NodeApiContext): ApiResponse | Promise<ApiResponse> | undefined {
  if (request.method === 'GET' && request.path === '/v1/security') return { status: 200, body: securityView(context) };
  if (request.method === 'GET' && request.path === '/v1/ca') return { status: 200, body: context.authority.ca.certificatePem, contentType: 'application/x-pem-file' };
  if (request.method === 'GET' && request.path === '/v1/nodes') return { status: 200, body: { nodes: nodeViews(context.authority) } };
  if (request.method === 'POST' && request.path === '/v1/enrol') return shared(enrolWithToken(request.body, context), context);
  const named = NODE_ROUTE.exec(request.path);
  if (named?.[1] === undefined || request.method !== 'POST') return undefined;
  const nodeId = decodeURIComponent(named[1]);
  switch (named[2]) {
    case 'enrol':
      return shared(enrol(nodeId, request.body, context), context);
    case 'join-token':
      return joinToken(nodeId, request.query.get('ttl'), context);
    default:
      return shared(revoke(nodeId, context), context);
  }
}

/**
 * A successful enrolment or revocation, answered once the other replicas can know of it (etcd
 * mode); if it cannot be shared, a 503 says so: this replica applies it, the others do not yet.
 */
async function shared(answer: ApiResponse, context: NodeApiContext): Promise<ApiResponse> {
  const nodeId = answer.status === 200 ? (answer.body as { nodeId?: unknown }).nodeId : undefined;
  if (context.shared === undefined || typeof nodeId !== 'string') return answer;
  try {
    await context.shared.settled(nodeId);
    return answer;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return failure(503, `node "${nodeId}": done at this replica, but not written to etcd (${reason}), so the other replicas do not know of it yet: run the command again once etcd answers (a replica also shares its records when it starts)`);
  }
}

export function certificateBody(grant: NodeCertificateGrant): NodeCertificateBody {
  return {
    nodeId: grant.nodeId,
    trustDomain: grant.trustDomain,
    spiffeId: grant.spiffeId,
    certificate: grant.certificatePem,
    ca: grant.caPem,
    serial: grant.serial,
    notAfter: grant.notAfter.toISOString(),
  };
}

function securityView(context: NodeApiContext): SecurityView {
  return {
    mode: context.mode,
    trustDomain: context.authority.trustDomain,
    caCertificate: context.authority.ca.certificatePem,
    nodeCertificateLifetimeSeconds: Math.round(context.authority.nodeCertificateLifetimeMs / 1000),
    serverCertificateNotAfter: context.serverCertificateNotAfter()?.toISOString(),
  };
}

function nodeViews(authority: NodeAuthority): NodeView[] {
  return authority.enrolments.list().map((enrolment) => ({
    nodeId: enrolment.nodeId,
    enrolledAt: enrolment.enrolledAt.toISOString(),
    revokedAt: enrolment.revokedAt?.toISOString(),
    authenticatedStreams: authority.sessionCount(enrolment.nodeId),
  }));
}

function enrol(nodeId: string, body: string, context: NodeApiContext): ApiResponse {
  return granted(body, context, 400, (publicKey) => context.authority.enrol(nodeId, publicKey));
}

function enrolWithToken(body: string, context: NodeApiContext): ApiResponse {
  const token = jsonField(body, 'token');
  if (token === undefined) return failure(400, 'expected a JSON body {"token": "<join token>", "publicKey": "<SPKI PEM>"}');
  return granted(body, context, 403, (publicKey) => context.authority.enrolWithToken(token, publicKey));
}

/** Runs one enrolment with the body's public key and answers the certificate, or why not. */
function granted(body: string, context: NodeApiContext, refusalStatus: number, enrolWith: (publicKey: string) => NodeCertificateGrant): ApiResponse {
  if (context.mode === 'insecure') {
    return failure(409, 'weir serve runs with --insecure: the xDS port is plaintext and checks no certificate; bootstrap the proxy with weir bootstrap --insecure, or restart weir serve without --insecure');
  }
  const publicKey = jsonField(body, 'publicKey');
  if (publicKey === undefined) return failure(400, 'expected a JSON body with "publicKey": "<SPKI PEM of the node\'s EC P-256 key>"');
  try {
    const grant = enrolWith(publicKey);
    context.logger.info({ nodeId: grant.nodeId, spiffeId: grant.spiffeId, serial: grant.serial, notAfter: grant.notAfter.toISOString() }, 'node enrolled; certificates it held before are no longer honoured');
    return { status: 200, body: certificateBody(grant) };
  } catch (error) {
    if (!(error instanceof NodeAuthorityError)) throw error;
    context.logger.warn({ reason: error.message }, 'node enrolment refused');
    return failure(refusalStatus, error.message);
  }
}

function joinToken(nodeId: string, ttl: string | null, context: NodeApiContext): ApiResponse {
  const seconds = ttl === null ? DEFAULT_JOIN_TOKEN_SECONDS : Number(ttl);
  if (!Number.isInteger(seconds) || seconds < 60 || seconds > 7 * 24 * 3600) return failure(400, `ttl=${ttl ?? ''}: expected whole seconds between 60 and ${7 * 24 * 3600}`);
  try {
    const issued = context.authority.issueJoinToken(nodeId, seconds * 1000);
    context.logger.info({ nodeId, expiresAt: issued.expiresAt.toISOString() }, 'join token issued');
    return { status: 200, body: { nodeId, token: issued.token, expiresAt: issued.expiresAt.toISOString() } };
  } catch (error) {
    if (error instanceof NodeAuthorityError) return failure(400, error.message);
    throw error;
  }
}

function jsonField(body: string, field: string): string | undefined {
  try {
    const value = (JSON.parse(body) as Record<string, unknown>)[field];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

function revoke(nodeId: string, context: NodeApiContext): ApiResponse {
  if (!context.authority.revoke(nodeId)) return failure(404, `node "${nodeId}" was never enrolled; list nodes with GET /v1/nodes (weir node list)`);
  const revokedAt = context.authority.enrolments.list().find((enrolment) => enrolment.nodeId === nodeId)?.revokedAt;
  context.logger.warn({ nodeId, revokedAt: revokedAt?.toISOString() }, 'node revoked: its certificates are refused and its open streams were ended');
  return { status: 200, body: { nodeId, revokedAt: revokedAt?.toISOString() } };
}

function failure(status: number, error: string): ApiResponse {
  return { status, body: { error } satisfies ApiErrorBody };
}
