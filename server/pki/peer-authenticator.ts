// The contract between the streams a proxy opens (ADS, the agent's policy stream, access logs) and
// whatever decides who the proxy is: given the node id a stream claims and the client certificate
// TLS verified, admit it as an authenticated session or refuse it with a reason a person can act
// on. An admitted session can end later (certificate expired, node revoked), and the stream then
// ends too. node-authority.ts is the mTLS implementation; insecureAuthenticator admits everyone.
import type { PeerCertificate } from 'node:tls';

/** What the streams need to know of a verified client certificate. */
export interface PeerCertificateFacts {
  /** URI subject alternative names (SPIFFE IDs). */
  uris: string[];
  /** Serial number, upper-case hex. */
  serial: string;
  notAfter: Date;
}

export interface AuthenticatedSession {
  /** The authenticated node id (equal to the claimed one). */
  readonly nodeId: string;
  /** How the peer proved it: 'mtls' or 'insecure' (nothing proven). */
  readonly method: 'mtls' | 'insecure';
  /** Called once if the session ends before the stream does (expiry, revocation), with why. */
  onEnd(listener: (reason: string) => void): void;
  /** The stream ended: stop watching. */
  close(): void;
}

export type Admission = { session: AuthenticatedSession } | { refusal: string };

export interface PeerAuthenticator {
  readonly mode: 'mtls' | 'insecure';
  authenticate(claimedNodeId: string, peer: PeerCertificateFacts | undefined): Admission;
}

/** Facts of the certificate grpc-js reports for a call (already verified by TLS), or undefined. */
export function peerCertificateFacts(certificate: PeerCertificate | null | undefined): PeerCertificateFacts | undefined {
  if (!certificate || Object.keys(certificate).length === 0 || !certificate.serialNumber) return undefined;
  const uris = (certificate.subjectaltname ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .flatMap((entry) => (entry.startsWith('URI:') ? [entry.slice('URI:'.length)] : []));
  return { uris, serial: certificate.serialNumber.toUpperCase(), notAfter: new Date(certificate.valid_to) };
}

/** `weir serve --insecure`: every claimed node id is taken at its word. */
export const insecureAuthenticator: PeerAuthenticator = {
  mode: 'insecure',
  authenticate: (claimedNodeId) => ({
    session: { nodeId: claimedNodeId, method: 'insecure', onEnd: () => undefined, close: () => undefined },
  }),
};
