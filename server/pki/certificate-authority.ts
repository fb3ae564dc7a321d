// The CA of `weir serve`: loads the user's CA (certificate + key files) or, by default, its own,
// generated once (EC P-256, 10 years) and kept in the PKI directory (`ca.crt` 0644, `ca.key` 0600).
// Issues short-lived node certificates whose one URI SAN is the node's SPIFFE ID, and the server's
// own certificate. Decides nothing about who may have a certificate: node-enrolments.ts does.
import { createPrivateKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { writeFileAtomically } from './private-files.ts';
import { nodeIdProblem, nodeSpiffeId, serverSpiffeId } from './spiffe-id.ts';
import { createCertificate, issuerFromCertificate, timedSerial, type CertificateIssuer } from './x509.ts';

export interface CertificateAuthorityOptions {
  /** Where a generated CA lives (`ca.crt`, `ca.key`); created with mode 0700. */
  dir: string;
  trustDomain: string;
  /** The user's CA instead of a generated one: PEM files of its certificate and private key. */
  caFiles?: { cert: string; key: string } | undefined;
  /** Clock (ms since the epoch); tests move it. */
  now?: () => number;
}

export interface IssuedCertificate {
  certificatePem: string;
  /** The certificate's serial (upper-case hex, as X509Certificate reports it). */
  serial: string;
  spiffeId: string;
  notBefore: Date;
  notAfter: Date;
}

export interface ServerCertificate {
  certificatePem: string;
  privateKeyPem: string;
  notAfter: Date;
}

/** Validity of a generated CA. */
const CA_LIFETIME_MS = 10 * 365 * 24 * 3_600_000;
/** Certificates start this much in the past, for clocks a little behind the server's. */
const CLOCK_SKEW_MS = 5 * 60_000;

export class CertificateAuthority {
  readonly trustDomain: string;
  /** The CA certificate (PEM): the trust bundle proxies and API clients verify the server with. */
  readonly certificatePem: string;
  /** A file holding certificatePem (for clients such as curl --cacert). */
  readonly certificateFile: string;
  readonly #issuer: CertificateIssuer;
  readonly #notAfter: Date;
  readonly #now: () => number;

  private constructor(options: { trustDomain: string; certificatePem: string; certificateFile: string; privateKey: KeyObject; now: () => number }) {
    this.trustDomain = options.trustDomain;
    this.certificatePem = options.certificatePem;
    this.certificateFile = options.certificateFile;
    this.#issuer = issuerFromCertificate(options.certificatePem, options.privateKey);
    this.#notAfter = new Date(new X509Certificate(options.certificatePem).validTo);
    this.#now = options.now;
  }

  /** The user's CA if given, else the one in `dir`, generated there on first use. */
  static open(options: CertificateAuthorityOptions): CertificateAuthority {
    const now = options.now ?? Date.now;
    if (options.caFiles) {
      const certificatePem = readPem(options.caFiles.cert, 'CA certificate');
      const privateKey = createPrivateKey(readPem(options.caFiles.key, 'CA private key'));
      return new CertificateAuthority({ trustDomain: options.trustDomain, certificatePem, certificateFile: options.caFiles.cert, privateKey, now });
    }
    const certificateFile = path.join(options.dir, 'ca.crt');
    const keyFile = path.join(options.dir, 'ca.key');
    if (!fs.existsSync(certificateFile) || !fs.existsSync(keyFile)) generateCa(options.dir, options.trustDomain, now());
    checkPrivate(keyFile);
    const privateKey = createPrivateKey(readPem(keyFile, 'CA private key'));
    return new CertificateAuthority({ trustDomain: options.trustDomain, certificatePem: readPem(certificateFile, 'CA certificate'), certificateFile, privateKey, now });
  }

  /** A certificate for `nodeId`'s public key, valid `lifetimeMs` (not past the CA's own end). */
  issueNodeCertificate(nodeId: string, publicKey: KeyObject, lifetimeMs: number, issuedAtMs: number = this.#now()): IssuedCertificate {
    const problem = nodeIdProblem(nodeId);
    if (problem !== undefined) throw new Error(problem);
    const spiffeId = nodeSpiffeId(this.trustDomain, nodeId);
    const serial = timedSerial(issuedAtMs);
    const notBefore = new Date(issuedAtMs - CLOCK_SKEW_MS);
    const notAfter = this.#clamp(new Date(issuedAtMs + lifetimeMs));
    const certificatePem = createCertificate(
      { commonName: nodeId, organization: `weir ${this.trustDomain}`, publicKey, serial, notBefore, notAfter, use: 'client', uris: [spiffeId] },
      { issuer: this.#issuer },
    );
    return { certificatePem, serial: serial.toString('hex').toUpperCase(), spiffeId, notBefore, notAfter };
  }

  /** A new key and certificate for the server (its SPIFFE ID plus the given names), valid `lifetimeMs`. */
  issueServerCertificate(names: { dnsNames: readonly string[]; ips: readonly string[] }, lifetimeMs: number): ServerCertificate {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const issuedAt = this.#now();
    const notAfter = this.#clamp(new Date(issuedAt + lifetimeMs));
    const certificatePem = createCertificate(
      {
        commonName: 'weir serve',
        organization: `weir ${this.trustDomain}`,
        publicKey,
        serial: timedSerial(issuedAt),
        notBefore: new Date(issuedAt - CLOCK_SKEW_MS),
        notAfter,
        use: 'server',
        uris: [serverSpiffeId(this.trustDomain)],
        dnsNames: names.dnsNames,
        ips: names.ips,
      },
      { issuer: this.#issuer },
    );
    return { certificatePem, privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), notAfter };
  }

  #clamp(notAfter: Date): Date {
    return notAfter > this.#notAfter ? this.#notAfter : notAfter;
  }
}

function generateCa(dir: string, trustDomain: string, now: number): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const certificatePem = createCertificate(
    {
      commonName: `weir CA ${trustDomain}`,
      organization: `weir ${trustDomain}`,
      publicKey,
      serial: timedSerial(now),
      notBefore: new Date(now - CLOCK_SKEW_MS),
      notAfter: new Date(now + CA_LIFETIME_MS),
      use: 'ca',
    },
    { selfKey: privateKey },
  );
  writeFileAtomically(path.join(dir, 'ca.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), 0o600);
  writeFileAtomically(path.join(dir, 'ca.crt'), certificatePem, 0o644);
}

function readPem(file: string, what: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read the ${what} ${file} (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** A CA key others can read is no secret: refuse it rather than sign with it. */
function checkPrivate(keyFile: string): void {
  const mode = fs.statSync(keyFile).mode & 0o077;
  if (mode !== 0) throw new Error(`the CA private key ${keyFile} is readable by group or others (mode ${(fs.statSync(keyFile).mode & 0o777).toString(8)}); run chmod 600 ${keyFile}`);
}
