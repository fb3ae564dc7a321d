// Builds X.509 v3 certificates (RFC 5280) in TypeScript: the DER of the to-be-signed part from
// der.ts, the signature from node:crypto. Only what Weir's CA issues: a self-signed CA, and leaf
// certificates with URI (SPIFFE), DNS and IP subject alternative names for client or server use.
// Checked by node's X509Certificate, OpenSSL and Envoy (BoringSSL) in test/server/pki/. Reading a
// given CA certificate (its subject and key identifier, for issuing under it) is here too.
import { createHash, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import net from 'node:net';
import {
  bitString,
  boolean,
  explicit,
  implicitPrimitive,
  namedBits,
  nullValue,
  objectIdentifier,
  octetString,
  readChildren,
  readElement,
  sequence,
  set,
  smallInteger,
  time,
  unsignedInteger,
  utf8String,
} from './der.ts';

/** Who signs: the issuer's subject (DER, exactly as in its certificate), key identifier and private key. */
export interface CertificateIssuer {
  subjectDer: Buffer;
  keyIdentifier: Buffer;
  privateKey: KeyObject;
}

export type CertificateUse = 'ca' | 'client' | 'server' | 'client-and-server';

export interface CertificateTemplate {
  commonName: string;
  /** Organisation (O) of the subject. */
  organization?: string;
  publicKey: KeyObject;
  serial: Buffer;
  notBefore: Date;
  notAfter: Date;
  use: CertificateUse;
  uris?: readonly string[];
  dnsNames?: readonly string[];
  ips?: readonly string[];
}

/**
 * Signs `template` with `issuer`, or self-signs it (a CA) when issuer is undefined, in which case
 * `selfKey` is the template's private key. Returns the certificate as PEM.
 */
export function createCertificate(template: CertificateTemplate, signer: { issuer: CertificateIssuer } | { selfKey: KeyObject }): string {
  const subjectDer = distinguishedName(template.commonName, template.organization);
  const keyIdentifier = subjectKeyIdentifier(template.publicKey);
  const issuer: CertificateIssuer = 'issuer' in signer ? signer.issuer : { subjectDer, keyIdentifier, privateKey: signer.selfKey };
  const algorithm = signatureAlgorithm(issuer.privateKey);
  const tbs = sequence(
    explicit(0, smallInteger(2)),
    unsignedInteger(template.serial),
    algorithm,
    issuer.subjectDer,
    sequence(time(template.notBefore), time(template.notAfter)),
    subjectDer,
    template.publicKey.export({ type: 'spki', format: 'der' }),
    explicit(3, sequence(...extensions(template, keyIdentifier, issuer.keyIdentifier))),
  );
  const signature = sign('sha256', tbs, issuer.privateKey);
  const der = sequence(tbs, algorithm, bitString(signature));
  return toPem(der);
}

/** The issuer fields of a CA certificate (PEM), for signing with its key. */
export function issuerFromCertificate(certificatePem: string, privateKey: KeyObject): CertificateIssuer {
  const certificate = new X509Certificate(certificatePem);
  if (!certificate.ca) throw new Error(`the certificate "${certificate.subject}" is not a CA (basicConstraints cA is not set)`);
  if (!certificate.checkPrivateKey(privateKey)) throw new Error(`the private key does not belong to the CA certificate "${certificate.subject}"`);
  const fields = tbsFields(certificate.raw);
  return { subjectDer: fields.subject, keyIdentifier: fields.subjectKeyIdentifier ?? subjectKeyIdentifier(certificate.publicKey), privateKey };
}

/**
 * A fresh 16-byte serial that records when it was made: byte 0 is 0x01 (positive, no padding),
 * bytes 1-6 the issue time in ms since the epoch, the rest random. issuedAtFromSerial reads it back,
 * which lets the server refuse certificates issued before a node was re-enrolled or revoked.
 */
export function timedSerial(issuedAtMs: number): Buffer {
  const serial = Buffer.alloc(16);
  serial[0] = 0x01;
  serial.writeUIntBE(issuedAtMs, 1, 6);
  randomBytes(9).copy(serial, 7);
  return serial;
}

/** The issue time (ms) of a serial made by timedSerial (hex as in X509Certificate.serialNumber), or undefined. */
export function issuedAtFromSerial(serialHex: string): number | undefined {
  if (!/^01[0-9A-Fa-f]{30}$/.test(serialHex)) return undefined;
  return Buffer.from(serialHex, 'hex').readUIntBE(1, 6);
}

export function toPem(der: Buffer): string {
  const base64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${base64}\n-----END CERTIFICATE-----\n`;
}

const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

const enum KeyUsageBit {
  DigitalSignature = 0,
  KeyCertSign = 5,
  CrlSign = 6,
}

function distinguishedName(commonName: string, organization: string | undefined): Buffer {
  const attribute = (oid: string, value: string): Buffer => set(sequence(objectIdentifier(oid), utf8String(value)));
  return sequence(...(organization !== undefined ? [attribute(OID.organization, organization)] : []), attribute(OID.commonName, commonName));
}

function signatureAlgorithm(key: KeyObject): Buffer {
  if (key.asymmetricKeyType === 'ec') return sequence(objectIdentifier(OID.ecdsaWithSha256));
  if (key.asymmetricKeyType === 'rsa') return sequence(objectIdentifier(OID.sha256WithRsa), nullValue());
  throw new Error(`cannot sign certificates with a ${key.asymmetricKeyType ?? 'unknown'} key; use an EC (P-256) or RSA CA key`);
}

function extensions(template: CertificateTemplate, keyIdentifier: Buffer, authorityKeyIdentifier: Buffer): Buffer[] {
  const extension = (oid: string, critical: boolean, value: Buffer): Buffer =>
    sequence(objectIdentifier(oid), ...(critical ? [boolean(true)] : []), octetString(value));
  const isCa = template.use === 'ca';
  const list = [
    extension(OID.basicConstraints, true, isCa ? sequence(boolean(true), smallInteger(0)) : sequence()),
    extension(OID.keyUsage, true, namedBits(isCa ? [KeyUsageBit.KeyCertSign, KeyUsageBit.CrlSign] : [KeyUsageBit.DigitalSignature])),
    extension(OID.subjectKeyIdentifier, false, octetString(keyIdentifier)),
    extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, authorityKeyIdentifier))),
  ];
  if (!isCa) {
    const purposes = template.use === 'client' ? [OID.clientAuth] : template.use === 'server' ? [OID.serverAuth] : [OID.serverAuth, OID.clientAuth];
    list.push(extension(OID.extKeyUsage, false, sequence(...purposes.map((purpose) => objectIdentifier(purpose)))));
  }
  const names = alternativeNames(template);
  if (names.length > 0) list.push(extension(OID.subjectAltName, false, sequence(...names)));
  return list;
}

function alternativeNames(template: CertificateTemplate): Buffer[] {
  return [
    ...(template.uris ?? []).map((uri) => implicitPrimitive(6, Buffer.from(uri, 'ascii'))),
    ...(template.dnsNames ?? []).map((name) => implicitPrimitive(2, Buffer.from(name, 'ascii'))),
    ...(template.ips ?? []).map((ip) => implicitPrimitive(7, ipBytes(ip))),
  ];
}

function ipBytes(ip: string): Buffer {
  if (net.isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (!net.isIPv6(ip)) throw new Error(`"${ip}" is not an IP address`);
  const [head = '', tail = ''] = ip.split('::');
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((group) => parseInt(group, 16)));
  const left = groups(head);
  const right = ip.includes('::') ? groups(tail) : [];
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const bytes = Buffer.alloc(16);
  all.forEach((group, index) => bytes.writeUInt16BE(group, index * 2));
  return bytes;
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
function subjectKeyIdentifier(publicKey: KeyObject): Buffer {
  const spki = readChildren(readElement(publicKey.export({ type: 'spki', format: 'der' }), 0, 'public key').content, 'public key');
  const keyBits = spki[1]?.content.subarray(1) ?? Buffer.alloc(0);
  return createHash('sha1').update(keyBits).digest();
}

/** The subject (DER) and the subject key identifier extension of a certificate. */
function tbsFields(certificateDer: Buffer): { subject: Buffer; subjectKeyIdentifier: Buffer | undefined } {
  const what = 'CA certificate';
  const [tbs] = readChildren(readElement(certificateDer, 0, what).content, what);
  if (!tbs) throw new Error(`${what}: no tbsCertificate`);
  const fields = readChildren(tbs.content, what);
  const offset = fields[0]?.tag === 0xa0 ? 1 : 0; // [0] version is optional (v1)
  const subject = fields[offset + 4];
  if (!subject) throw new Error(`${what}: no subject`);
  const extensionsField = fields.find((field) => field.tag === 0xa3);
  let keyIdentifier: Buffer | undefined;
  if (extensionsField) {
    const [list] = readChildren(extensionsField.content, what);
    for (const entry of readChildren(list?.content ?? Buffer.alloc(0), what)) {
      const parts = readChildren(entry.content, what);
      if (parts[0]?.encoded.equals(objectIdentifier(OID.subjectKeyIdentifier))) {
        const value = parts[parts.length - 1]?.content ?? Buffer.alloc(0);
        keyIdentifier = readElement(value, 0, what).content;
      }
    }
  }
  return { subject: subject.encoded, subjectKeyIdentifier: keyIdentifier };
}
