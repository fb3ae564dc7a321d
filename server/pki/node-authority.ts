// mTLS identity of the proxies for `weir serve`: the CA (certificate-authority.ts), the enrolment
// record (node-enrolments.ts) and the live sessions. Enrols a node (a new key lineage and its
// first certificate), renews a certificate for the node that presents a valid one, revokes a node
// (its open streams end at once), and authenticates each stream: TLS has verified the chain and
// validity; this checks that the certificate's SPIFFE ID names the node id the stream claims and
// that the enrolment still honours it, and ends the session when the certificate expires.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { CertificateAuthority, type IssuedCertificate } from './certificate-authority.ts';
import { JoinTokens, type JoinToken } from './join-tokens.ts';
import { NodeEnrolments, type EnrolmentRecord } from './node-enrolments.ts';
import type { Admission, AuthenticatedSession, PeerAuthenticator, PeerCertificateFacts } from './peer-authenticator.ts';
import { certifiedNodeId, nodeIdProblem } from './spiffe-id.ts';
import { issuedAtFromSerial } from './x509.ts';

export interface NodeAuthorityOptions {
  /** The PKI directory: a generated CA (`ca.crt`, `ca.key`) and `enrolments.json`. */
  dir: string;
  trustDomain: string;
  /** The user's CA (PEM files) instead of a generated one. */
  caFiles?: { cert: string; key: string } | undefined;
  /** Lifetime of node certificates. Default 24 hours. */
  nodeCertificateLifetimeMs?: number;
  now?: () => number;
}

/** What a node receives: its certificate and the trust bundle to verify the server with. */
export interface NodeCertificateGrant extends IssuedCertificate {
  nodeId: string;
  trustDomain: string;
  caPem: string;
}

export const DEFAULT_NODE_CERTIFICATE_LIFETIME_MS = 24 * 3_600_000;

export class NodeAuthority implements PeerAuthenticator {
  readonly mode = 'mtls' as const;
  readonly ca: CertificateAuthority;
  readonly enrolments: NodeEnrolments;
  readonly joinTokens: JoinTokens;
  readonly nodeCertificateLifetimeMs: number;
  readonly #sessions = new Set<CertificateSession>();
  readonly #now: () => number;

  constructor(options: NodeAuthorityOptions) {
    this.#now = options.now ?? Date.now;
    this.ca = CertificateAuthority.open({ dir: options.dir, trustDomain: options.trustDomain, caFiles: options.caFiles, now: this.#now });
    this.enrolments = new NodeEnrolments({ dir: options.dir, now: this.#now });
    this.joinTokens = new JoinTokens({ dir: options.dir, now: this.#now });
    this.nodeCertificateLifetimeMs = options.nodeCertificateLifetimeMs ?? DEFAULT_NODE_CERTIFICATE_LIFETIME_MS;
  }

  get trustDomain(): string {
    return this.ca.trustDomain;
  }

  /**
   * Enrols `nodeId` with `publicKey` (SPKI PEM or a KeyObject): its certificates issued before are
   * superseded (one key lineage per node id), and open streams presenting them end.
   */
  enrol(nodeId: string, publicKey: string | KeyObject, options: { lifetimeMs?: number } = {}): NodeCertificateGrant {
    const problem = nodeIdProblem(nodeId);
    if (problem !== undefined) throw new NodeAuthorityError(problem);
    const key = publicKeyOf(publicKey);
    const issuedAt = this.enrolments.enrol(nodeId);
    this.#endSessions(nodeId, (session) => this.enrolments.refusal(nodeId, session.issuedAtMs));
    return this.#grant(nodeId, this.ca.issueNodeCertificate(nodeId, key, options.lifetimeMs ?? this.nodeCertificateLifetimeMs, issuedAt));
  }

  /** A one-time token with which node `nodeId` can enrol itself (POST /v1/enrol), valid `lifetimeMs`. */
  issueJoinToken(nodeId: string, lifetimeMs: number): JoinToken {
    const problem = nodeIdProblem(nodeId);
    if (problem !== undefined) throw new NodeAuthorityError(problem);
    return this.joinTokens.issue(nodeId, lifetimeMs, { caPem: this.ca.certificatePem, trustDomain: this.trustDomain });
  }

  /** Enrols the node a one-time join token names (using the token up), as enrol() does. */
  enrolWithToken(token: string, publicKey: string | KeyObject): NodeCertificateGrant {
    const key = publicKeyOf(publicKey);
    const redeemed = this.joinTokens.redeem(token);
    if ('refusal' in redeemed) throw new NodeAuthorityError(redeemed.refusal);
    return this.enrol(redeemed.nodeId, key);
  }

  /** A new certificate for the node whose (TLS-verified) certificate is `peer`, for `publicKey`. */
  renew(peer: PeerCertificateFacts | undefined, publicKey: string | KeyObject): NodeCertificateGrant {
    const identity = this.#identify(peer);
    if ('refusal' in identity) throw new NodeAuthorityError(identity.refusal);
    return this.#grant(identity.nodeId, this.ca.issueNodeCertificate(identity.nodeId, publicKeyOf(publicKey), this.nodeCertificateLifetimeMs));
  }

  /** Refuses every certificate `nodeId` holds and ends its open streams; false if never enrolled. */
  revoke(nodeId: string): boolean {
    if (!this.enrolments.revoke(nodeId)) return false;
    this.#endSessions(nodeId, (session) => this.enrolments.refusal(nodeId, session.issuedAtMs));
    return true;
  }

  /**
   * Adopts another replica's enrolment record of `nodeId` (etcd mode, server/store/etcd-enrolments.ts):
   * streams here whose certificate it no longer honours (revoked or superseded there) end at once.
   */
  adoptEnrolment(nodeId: string, record: EnrolmentRecord): void {
    if (nodeIdProblem(nodeId) !== undefined || !this.enrolments.merge(nodeId, record)) return;
    this.#endSessions(nodeId, (session) => this.enrolments.refusal(nodeId, session.issuedAtMs));
  }

  authenticate(claimedNodeId: string, peer: PeerCertificateFacts | undefined): Admission {
    const identity = this.#identify(peer);
    if ('refusal' in identity) return identity;
    if (identity.nodeId !== claimedNodeId) {
      return { refusal: `node id "${claimedNodeId}" does not match the client certificate, which is node "${identity.nodeId}" (${identity.spiffeId}); set node.id to "${identity.nodeId}" or enrol "${claimedNodeId}"` };
    }
    const session = new CertificateSession(identity.nodeId, peer?.serial ?? '', identity.issuedAtMs, identity.notAfter, this.#now, (ended) => this.#sessions.delete(ended));
    this.#sessions.add(session);
    return { session };
  }

  /** Open authenticated sessions (streams), for status and tests. */
  sessionCount(nodeId?: string): number {
    return this.sessions(nodeId).length;
  }

  /** The certificate each open authenticated stream presented. */
  sessions(nodeId?: string): Array<{ nodeId: string; serial: string; notAfter: Date }> {
    return [...this.#sessions]
      .filter((session) => nodeId === undefined || session.nodeId === nodeId)
      .map((session) => ({ nodeId: session.nodeId, serial: session.serial, notAfter: session.notAfter }));
  }

  #identify(peer: PeerCertificateFacts | undefined): { nodeId: string; spiffeId: string; issuedAtMs: number; notAfter: Date } | { refusal: string } {
    if (!peer) return { refusal: 'no client certificate: the xDS port requires mTLS; give the proxy the credentials of weir bootstrap (or weir enrol)' };
    const certified = certifiedNodeId(this.trustDomain, peer.uris);
    if ('problem' in certified) return { refusal: certified.problem };
    const issuedAtMs = issuedAtFromSerial(peer.serial);
    const refusal = this.enrolments.refusal(certified.nodeId, issuedAtMs);
    if (refusal !== undefined) return { refusal };
    if (peer.notAfter.getTime() <= this.#now()) return { refusal: `the client certificate of node "${certified.nodeId}" expired at ${peer.notAfter.toISOString()}` };
    return { nodeId: certified.nodeId, spiffeId: peer.uris[0] ?? '', issuedAtMs: issuedAtMs ?? 0, notAfter: peer.notAfter };
  }

  #grant(nodeId: string, issued: IssuedCertificate): NodeCertificateGrant {
    return { ...issued, nodeId, trustDomain: this.trustDomain, caPem: this.ca.certificatePem };
  }

  #endSessions(nodeId: string, reasonFor: (session: CertificateSession) => string | undefined): void {
    for (const session of [...this.#sessions]) {
      if (session.nodeId !== nodeId) continue;
      const reason = reasonFor(session);
      if (reason !== undefined) session.end(reason);
    }
  }
}

export class NodeAuthorityError extends Error {}

/** The default PKI directory of a state directory (`.weir`): `.weir/pki`. */
/** setTimeout's longest delay; later expiries re-arm. */
const MAX_TIMER_MS = 2_147_483_647;

class CertificateSession implements AuthenticatedSession {
  readonly method = 'mtls' as const;
  #listeners: Array<(reason: string) => void> = [];
  #timer: NodeJS.Timeout | undefined;
  #done = false;

  constructor(
    readonly nodeId: string,
    readonly serial: string,
    readonly issuedAtMs: number,
    readonly notAfter: Date,
    private readonly now: () => number,
    private readonly forget: (session: CertificateSession) => void,
  ) {
    this.#arm();
  }

  onEnd(listener: (reason: string) => void): void {
    this.#listeners.push(listener);
  }

  close(): void {
    if (this.#done) return;
    this.#done = true;
    clearTimeout(this.#timer);
    this.forget(this);
  }

  end(reason: string): void {
    if (this.#done) return;
    const listeners = this.#listeners;
    this.close();
    for (const listener of listeners) listener(reason);
  }

  #arm(): void {
    const remaining = this.notAfter.getTime() - this.now();
    this.#timer = setTimeout(() => {
      if (this.notAfter.getTime() > this.now()) this.#arm();
      else this.end(`the client certificate of node "${this.nodeId}" expired at ${this.notAfter.toISOString()}; the proxy reconnects with its renewed certificate`);
    }, Math.min(Math.max(remaining, 0), MAX_TIMER_MS));
    this.#timer.unref();
  }
}

function publicKeyOf(key: string | KeyObject): KeyObject {
  try {
    const publicKey = typeof key === 'string' ? createPublicKey(key) : key.type === 'private' ? createPublicKey(key) : key;
    if (publicKey.asymmetricKeyType !== 'ec' && publicKey.asymmetricKeyType !== 'rsa') {
      throw new Error(`a ${publicKey.asymmetricKeyType ?? 'unknown'} key`);
    }
    return publicKey;
  } catch (error) {
    throw new NodeAuthorityError(`the public key is not usable (${error instanceof Error ? error.message : String(error)}); send an EC P-256 public key as SPKI PEM`);
  }
}
