// The names Weir puts in certificates: SPIFFE IDs (https://spiffe.io, X509-SVID) in one trust
// domain (default `weir.local`). A proxy's certificate carries exactly one URI SAN,
// `spiffe://<trust domain>/node/<node id>`, which binds it to the Envoy node.id it may use; the
// server's carries `spiffe://<trust domain>/weir-serve`, which proxies check. One module so the
// issuer, the server's admission check and the bootstrap agree on the format.

export const DEFAULT_TRUST_DOMAIN = 'weir.local';

const NODE_PATH = 'node';
const SERVER_PATH = 'weir-serve';

/** SPIFFE path segments allow letters, digits, '.', '-' and '_' (and not '.' or '..' alone). */
const SEGMENT = /^[A-Za-z0-9._-]{1,128}$/;

export function nodeSpiffeId(trustDomain: string, nodeId: string): string {
  return `spiffe://${trustDomain}/${NODE_PATH}/${nodeId}`;
}

export function serverSpiffeId(trustDomain: string): string {
  return `spiffe://${trustDomain}/${SERVER_PATH}`;
}

/** Why `nodeId` cannot be put in a certificate, or undefined when it can. */
export function nodeIdProblem(nodeId: string): string | undefined {
  if (SEGMENT.test(nodeId) && nodeId !== '.' && nodeId !== '..') return undefined;
  return `node id "${nodeId}" cannot be certified: use 1-128 letters, digits, ".", "-" or "_" (it becomes the SPIFFE ID path segment)`;
}

/**
 * The node a certificate's URI SANs name in `trustDomain`: exactly one URI SAN of the form
 * spiffe://<trustDomain>/node/<id>. Anything else is a problem (said in words).
 */
export function certifiedNodeId(trustDomain: string, uris: readonly string[]): { nodeId: string } | { problem: string } {
  const prefix = `spiffe://${trustDomain}/${NODE_PATH}/`;
  if (uris.length !== 1) {
    return { problem: `the client certificate must carry exactly one URI SAN ${prefix}<node id>; it carries ${uris.length === 0 ? 'none' : uris.join(', ')}` };
  }
  const [uri = ''] = uris;
  const nodeId = uri.startsWith(prefix) ? uri.slice(prefix.length) : undefined;
  if (nodeId === undefined || nodeIdProblem(nodeId) !== undefined) {
    return { problem: `the client certificate's SPIFFE ID ${uri} is not a Weir node of trust domain ${trustDomain} (expected ${prefix}<node id>)` };
  }
  return { nodeId };
}
