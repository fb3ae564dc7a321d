// A node's credentials directory, as Envoy reads it and as renewal rewrites it:
//
//   DIR/key.pem, cert.pem, ca.pem      -> ..data/<same>    (symlinks Envoy reads)
//   DIR/..data                         -> ..<timestamp>    (swapped atomically on every write)
//   DIR/..<timestamp>/                 the files themselves (key 0600)
//   DIR/node.json                      node id, trust domain, SPIFFE ID, expiry, xDS address (for renewal)
//   DIR/envoy-sds-certificate.yaml     SDS file: the client certificate, watched_directory DIR
//   DIR/envoy-sds-trust.yaml           SDS file: the CA and the server's SPIFFE ID to expect
//
// The `..data` swap is the Kubernetes projected-volume pattern: Envoy's `watched_directory`
// sees one move and reloads key and certificate together, so rotation needs no restart and never
// pairs a new certificate with an old key. Node keys are EC P-256 from node:crypto.
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { writeFileAtomically } from './private-files.ts';
import { serverSpiffeId } from './spiffe-id.ts';

export const NODE_CERTIFICATE_SECRET = 'weir-node-certificate';
export const NODE_TRUST_SECRET = 'weir-trust-bundle';
export const SDS_CERTIFICATE_FILE = 'envoy-sds-certificate.yaml';
export const SDS_TRUST_FILE = 'envoy-sds-trust.yaml';

export interface NodeKeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
}

export interface NodeCredentials {
  nodeId: string;
  trustDomain: string;
  /** HOST:PORT of the server's xDS port, where `weir node renew` renews. */
  xdsAddress: string | undefined;
  privateKeyPem: string;
  certificatePem: string;
  caPem: string;
}

export interface NodeCredentialsOnDisk extends NodeCredentials {
  dir: string;
  certificate: X509Certificate;
}

export function generateNodeKey(): NodeKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/**
 * Writes (or replaces, atomically) the credentials in `dir` and the SDS files Envoy reads. `dir`
 * is made absolute: the SDS files name it for Envoy.
 */
export function writeNodeCredentials(dir: string, credentials: NodeCredentials): string {
  const root = path.resolve(dir);
  const certificate = new X509Certificate(credentials.certificatePem);
  if (!certificate.checkPrivateKey(createPrivateKey(credentials.privateKeyPem))) {
    throw new Error(`node credentials for ${credentials.nodeId}: the certificate does not belong to the private key`);
  }
  fs.mkdirSync(root, { recursive: true, mode: 0o700 });
  const version = `..${new Date().toISOString().replace(/[:.]/g, '_')}_${randomBytes(3).toString('hex')}`;
  const versionDir = path.join(root, version);
  fs.mkdirSync(versionDir, { mode: 0o700 });
  fs.writeFileSync(path.join(versionDir, 'key.pem'), credentials.privateKeyPem, { mode: 0o600 });
  fs.writeFileSync(path.join(versionDir, 'cert.pem'), credentials.certificatePem, { mode: 0o644 });
  fs.writeFileSync(path.join(versionDir, 'ca.pem'), credentials.caPem, { mode: 0o644 });
  const previous = currentVersion(root);
  swapSymlink(root, '..data', version);
  for (const file of ['key.pem', 'cert.pem', 'ca.pem']) {
    if (!fs.existsSync(path.join(root, file))) fs.symlinkSync(path.join('..data', file), path.join(root, file));
  }
  if (previous !== undefined && previous !== version) fs.rmSync(path.join(root, previous), { recursive: true, force: true });
  const spiffeId = certificate.subjectAltName?.replace(/^URI:/, '') ?? '';
  const meta = { nodeId: credentials.nodeId, trustDomain: credentials.trustDomain, spiffeId, notAfter: new Date(certificate.validTo).toISOString(), xdsAddress: credentials.xdsAddress };
  writeFileAtomically(path.join(root, 'node.json'), `${JSON.stringify(meta, null, 2)}\n`, 0o644);
  writeSdsFiles(root, credentials.trustDomain);
  return root;
}

/** Reads the credentials `writeNodeCredentials` wrote. */
export function readNodeCredentials(dir: string): NodeCredentialsOnDisk {
  const root = path.resolve(dir);
  const read = (file: string): string => {
    try {
      return fs.readFileSync(path.join(root, file), 'utf8');
    } catch (error) {
      throw new Error(`no node credentials in ${root} (${error instanceof Error ? error.message : String(error)}); enrol the node first (weir bootstrap or weir enrol)`);
    }
  };
  const meta = JSON.parse(read('node.json')) as { nodeId?: unknown; trustDomain?: unknown; xdsAddress?: unknown };
  if (typeof meta.nodeId !== 'string' || typeof meta.trustDomain !== 'string') throw new Error(`${path.join(root, 'node.json')}: expected nodeId and trustDomain`);
  const certificatePem = read('cert.pem');
  return {
    dir: root,
    nodeId: meta.nodeId,
    trustDomain: meta.trustDomain,
    xdsAddress: typeof meta.xdsAddress === 'string' ? meta.xdsAddress : undefined,
    privateKeyPem: read('key.pem'),
    certificatePem,
    caPem: read('ca.pem'),
    certificate: new X509Certificate(certificatePem),
  };
}

/** The SDS files of a credentials directory, for the bootstrap. */
export function sdsFiles(dir: string): { certificate: string; trust: string } {
  const root = path.resolve(dir);
  return { certificate: path.join(root, SDS_CERTIFICATE_FILE), trust: path.join(root, SDS_TRUST_FILE) };
}

function writeSdsFiles(root: string, trustDomain: string): void {
  const secretType = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
  const watched = { path: root };
  const certificate = {
    resources: [
      {
        '@type': secretType,
        name: NODE_CERTIFICATE_SECRET,
        tls_certificate: {
          certificate_chain: { filename: path.join(root, 'cert.pem') },
          private_key: { filename: path.join(root, 'key.pem') },
          watched_directory: watched,
        },
      },
    ],
  };
  const trust = {
    resources: [
      {
        '@type': secretType,
        name: NODE_TRUST_SECRET,
        validation_context: {
          trusted_ca: { filename: path.join(root, 'ca.pem') },
          watched_directory: watched,
          match_typed_subject_alt_names: [{ san_type: 'URI', matcher: { exact: serverSpiffeId(trustDomain) } }],
        },
      },
    ],
  };
  const { certificate: certificateFile, trust: trustFile } = sdsFiles(root);
  writeFileAtomically(certificateFile, stringify(certificate), 0o644);
  writeFileAtomically(trustFile, stringify(trust), 0o644);
}

function currentVersion(root: string): string | undefined {
  try {
    return fs.readlinkSync(path.join(root, '..data'));
  } catch {
    return undefined;
  }
}

/** Points `root/name` at `target` with one rename (a move Envoy's directory watch sees). */
function swapSymlink(root: string, name: string, target: string): void {
  const temporary = path.join(root, `${name}_tmp_${randomBytes(3).toString('hex')}`);
  fs.symlinkSync(target, temporary);
  fs.renameSync(temporary, path.join(root, name));
}
