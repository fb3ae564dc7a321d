// TLS for the xDS port: grpc-js server credentials that require a client certificate from the
// node CA (TLS itself refuses no certificate, another CA, an expired certificate) and whose own
// certificate the server replaces while running: it issues itself a short-lived one from the same
// CA at start and again before two thirds of its lifetime have passed. New connections get the
// new certificate; open ones keep theirs.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { CertificateAuthority } from '../pki/certificate-authority.ts';

type CertificateProvider = grpc.experimental.CertificateProvider;
type IdentityListener = grpc.experimental.IdentityCertificateUpdateListener;
type CaListener = grpc.experimental.CaCertificateUpdateListener;

export interface RotatingServerCredentials {
  credentials: grpc.ServerCredentials;
  /** When the certificate in use expires. */
  readonly notAfter: Date;
  /** Issues and installs a new server certificate now. */
  rotate(): void;
  stop(): void;
}

export interface RotatingServerCredentialsOptions {
  ca: CertificateAuthority;
  /** DNS names and IPs to put in the certificate besides the server's SPIFFE ID. */
  names: { dnsNames: readonly string[]; ips: readonly string[] };
  /** Default 7 days. */
  lifetimeMs?: number;
  logger: Logger;
}

export const DEFAULT_SERVER_CERTIFICATE_LIFETIME_MS = 7 * 24 * 3_600_000;

export function rotatingServerCredentials(options: RotatingServerCredentialsOptions): RotatingServerCredentials {
  const lifetimeMs = options.lifetimeMs ?? DEFAULT_SERVER_CERTIFICATE_LIFETIME_MS;
  const provider = new StaticCertificateProvider();
  let notAfter = new Date(0);
  let timer: NodeJS.Timeout | undefined;
  const rotate = (): void => {
    const issued = options.ca.issueServerCertificate(options.names, lifetimeMs);
    provider.update({
      caCertificate: Buffer.from(options.ca.certificatePem),
      certificate: Buffer.from(issued.certificatePem),
      privateKey: Buffer.from(issued.privateKeyPem),
    });
    notAfter = issued.notAfter;
    options.logger.info({ notAfter: issued.notAfter.toISOString(), trustDomain: options.ca.trustDomain }, 'xDS server certificate issued');
    clearTimeout(timer);
    timer = setTimeout(rotate, Math.min(Math.max((notAfter.getTime() - Date.now()) * (2 / 3), 1000), 2_147_483_647));
    timer.unref();
  };
  rotate();
  // grpc-js names the two parameters the other way round from how it uses them; the provider
  // serves both the identity and the CA, so the order does not matter.
  const credentials = grpc.experimental.createCertificateProviderServerCredentials(provider, provider, true);
  return {
    credentials,
    get notAfter() {
      return notAfter;
    },
    rotate,
    stop: () => clearTimeout(timer),
  };
}

/** A grpc-js certificate provider fed by the server itself (not by files). */
class StaticCertificateProvider implements CertificateProvider {
  #identity: { certificate: Buffer; privateKey: Buffer } | null = null;
  #ca: { caCertificate: Buffer } | null = null;
  readonly #identityListeners = new Set<IdentityListener>();
  readonly #caListeners = new Set<CaListener>();

  update(material: { caCertificate: Buffer; certificate: Buffer; privateKey: Buffer }): void {
    this.#identity = { certificate: material.certificate, privateKey: material.privateKey };
    this.#ca = { caCertificate: material.caCertificate };
    for (const listener of this.#caListeners) listener(this.#ca);
    for (const listener of this.#identityListeners) listener(this.#identity);
  }

  addCaCertificateListener(listener: CaListener): void {
    this.#caListeners.add(listener);
    this.#replay(() => this.#ca && this.#caListeners.has(listener) && listener(this.#ca));
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.add(listener);
    this.#replay(() => this.#identity && this.#identityListeners.has(listener) && listener(this.#identity));
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.delete(listener);
  }

  /**
   * Tells a new listener what is current on the next microtask, as grpc-js's file provider does:
   * grpc-js registers the server's watcher only after adding its listeners, so an answer given
   * synchronously would reach nobody and the port would drop every connection.
   */
  #replay(tell: () => unknown): void {
    queueMicrotask(() => void tell());
  }
}
