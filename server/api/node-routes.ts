// The REST routes of node identity (docs/api.md, "Nodes"): the server's security mode and CA,
// enrolling a node (the caller sends a public key, the server returns the node's certificate),
// listing and revoking nodes. The unix socket's file mode (or the TCP token) is what makes the
// caller an administrator: enrolment here is how `weir bootstrap` gives a proxy its identity.
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
}

const NODE_ROUTE = /^\/v1\/nodes\/([^/]+)\/(enrol|revoke)$/;

/** Answers the node routes, or returns undefined for any other path. */
export function routeNodeRequest(request: ApiRequest, context: NodeApiContext): ApiResponse | undefined {
  if (request.method === 'GET' && request.path === '/v1/security') return { status: 200, body: securityView(context) };
  if (request.method === 'GET' && request.path === '/v1/nodes') return { status: 200, body: { nodes: nodeViews(context.authority) } };
  const named = NODE_ROUTE.exec(request.path);
  if (named?.[1] === undefined || request.method !== 'POST') return undefined;
  const nodeId = decodeURIComponent(named[1]);
  return named[2] === 'enrol' ? enrol(nodeId, request.body, context) : revoke(nodeId, context);
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
  if (context.mode === 'insecure') {
    return failure(409, 'weir serve runs with --insecure: the xDS port is plaintext and checks no certificate; bootstrap the proxy with weir bootstrap --insecure, or restart weir serve without --insecure');
  }
  let publicKey: unknown;
  try {
    publicKey = (JSON.parse(body) as { publicKey?: unknown }).publicKey;
  } catch {
    publicKey = undefined;
  }
  if (typeof publicKey !== 'string') return failure(400, 'expected a JSON body {"publicKey": "<SPKI PEM of the node\'s EC P-256 key>"}');
  try {
    const grant = context.authority.enrol(nodeId, publicKey);
    context.logger.info({ nodeId, spiffeId: grant.spiffeId, serial: grant.serial, notAfter: grant.notAfter.toISOString() }, 'node enrolled; certificates it held before are no longer honoured');
    return { status: 200, body: certificateBody(grant) };
  } catch (error) {
    if (error instanceof NodeAuthorityError) return failure(400, error.message);
    throw error;
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
