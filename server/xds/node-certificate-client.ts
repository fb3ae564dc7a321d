// The node side of weir.NodeCertificates: renews the certificate in a credentials directory
// (server/pki/node-credentials.ts) over the xDS port, authenticated by the certificate being
// renewed, with a fresh key each time; and the loop `weir node renew --watch` runs: renew at half
// the certificate's lifetime, retry with backoff until it expires. Envoy picks the new files up
// through its SDS directory watch; nothing restarts.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { generateNodeKey, readNodeCredentials, writeNodeCredentials, type NodeCredentialsOnDisk } from '../pki/node-credentials.ts';
import { serverSpiffeId } from '../pki/spiffe-id.ts';
import { NODE_CERTIFICATES_SERVICE, nodeCertificatesPackage, type NodeCertificateMessage } from './node-certificate-service.ts';

export interface RenewOptions {
  /** The credentials directory. */
  dir: string;
  /** HOST:PORT of the xDS port; default: the one recorded in the directory's node.json. */
  xdsAddress?: string;
  /** Give up after this long. Default 20 s. */
  timeoutMs?: number;
}

export interface RenewResult {
  nodeId: string;
  serial: string;
  notAfter: Date;
}

/** Renews once: a new key, a new certificate for the same node, written atomically into the directory. */
export async function renewNodeCredentials(options: RenewOptions): Promise<RenewResult> {
  const current = readNodeCredentials(options.dir);
  const xdsAddress = options.xdsAddress ?? current.xdsAddress;
  if (xdsAddress === undefined) throw new Error(`${current.dir}/node.json records no xDS address; pass --xds HOST:PORT`);
  const key = generateNodeKey();
  const granted = await callRenew(current, xdsAddress, key.publicKeyPem, options.timeoutMs ?? 20_000);
  if (granted.node_id !== current.nodeId) throw new Error(`the server renewed node "${granted.node_id}" but the directory holds node "${current.nodeId}"; refusing to write`);
  writeNodeCredentials(current.dir, {
    nodeId: current.nodeId,
    trustDomain: granted.trust_domain,
    xdsAddress,
    privateKeyPem: key.privateKeyPem,
    certificatePem: granted.certificate_pem,
    caPem: granted.ca_pem,
  });
  return { nodeId: granted.node_id, serial: granted.serial, notAfter: new Date(granted.not_after) };
}

/**
 * grpc-js credentials for the xDS port: the node's key and certificate (none: TLS without a client
 * certificate), the CA as trust bundle, and the server recognised by its SPIFFE ID (as Envoy
 * checks it), not by the host name dialled.
 */
export function xdsClientCredentials(node: { caPem: string; trustDomain: string; privateKeyPem?: string; certificatePem?: string }): grpc.ChannelCredentials {
  const expected = serverSpiffeId(node.trustDomain);
  const checkServerIdentity = (host: string, certificate: { subjectaltname?: string }): Error | undefined =>
    (certificate.subjectaltname ?? '').split(', ').includes(`URI:${expected}`) ? undefined : new Error(`the server at ${host} is not ${expected}`);
  const key = node.privateKeyPem !== undefined ? Buffer.from(node.privateKeyPem) : null;
  const certificate = node.certificatePem !== undefined ? Buffer.from(node.certificatePem) : null;
  return grpc.credentials.createSsl(Buffer.from(node.caPem), key, certificate, { checkServerIdentity });
}

/** When the directory's certificate should be renewed: half-way through its validity. */
export function renewalDueAt(credentials: Pick<NodeCredentialsOnDisk, 'certificate'>): Date {
  const notBefore = new Date(credentials.certificate.validFrom).getTime();
  const notAfter = new Date(credentials.certificate.validTo).getTime();
  return new Date(notBefore + (notAfter - notBefore) / 2);
}

/**
 * Keeps the directory's certificate fresh until `signal` aborts: renews when due, retries failures
 * every `retryMs` (default 10 s) while the certificate is still valid, logs each outcome.
 */
export async function keepNodeCredentialsFresh(options: RenewOptions & { logger: Logger; signal: AbortSignal; retryMs?: number }): Promise<void> {
  while (!options.signal.aborted) {
    const current = readNodeCredentials(options.dir);
    await sleep(Math.max(0, renewalDueAt(current).getTime() - Date.now()), options.signal);
    if (options.signal.aborted) return;
    try {
      const renewed = await renewNodeCredentials(options);
      options.logger.info({ nodeId: renewed.nodeId, serial: renewed.serial, notAfter: renewed.notAfter.toISOString(), dir: current.dir }, 'node certificate renewed');
    } catch (error) {
      const expiresAt = new Date(current.certificate.validTo);
      options.logger.error(
        { nodeId: current.nodeId, dir: current.dir, expiresAt: expiresAt.toISOString(), error: error instanceof Error ? error.message : String(error) },
        'node certificate renewal failed; retrying (after expiry the proxy loses its control-plane streams until it is enrolled again)',
      );
      await sleep(options.retryMs ?? 10_000, options.signal);
    }
  }
}

function callRenew(current: NodeCredentialsOnDisk, xdsAddress: string, publicKeyPem: string, timeoutMs: number): Promise<NodeCertificateMessage> {
  const definition = nodeCertificatesPackage()[NODE_CERTIFICATES_SERVICE];
  if (!definition || 'format' in definition) throw new Error(`${NODE_CERTIFICATES_SERVICE} missing from the loaded protos`);
  const Client = grpc.makeGenericClientConstructor(definition as grpc.ServiceDefinition, NODE_CERTIFICATES_SERVICE);
  // SNI carries a name, not the address dialled (an IP there is deprecated); the server is checked by its SPIFFE ID.
  const client = new Client(xdsAddress, xdsClientCredentials(current), { 'grpc.ssl_target_name_override': 'weir-serve' });
  return new Promise((resolve, reject) => {
    const deadline = new Date(Date.now() + timeoutMs);
    const renew = (client as unknown as { Renew: (request: object, options: grpc.CallOptions, callback: grpc.requestCallback<NodeCertificateMessage>) => void }).Renew.bind(client);
    renew({ public_key_pem: publicKeyPem }, { deadline }, (error, response) => {
      client.close();
      if (error) reject(new Error(`renewing node "${current.nodeId}" at ${xdsAddress} failed: ${error.details || error.message}`));
      else if (!response) reject(new Error(`renewing node "${current.nodeId}" at ${xdsAddress}: empty answer`));
      else resolve(response);
    });
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(finish, Math.min(ms, 2_147_483_647));
    signal.addEventListener('abort', finish, { once: true });
    function finish(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', finish);
      resolve();
    }
  });
}
