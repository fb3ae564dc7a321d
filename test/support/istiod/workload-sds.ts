// istio-agent's certificate job for a sidecar started without istio-agent: a mesh CA made here
// (the role istiod's CA plays; workload certificates as Istio's, whose one SAN is the workload's
// SPIFFE ID; the subject, which Istio leaves empty, repeats the ID) and an SDS server on the unix socket where pilot-agent's bootstrap points
// the `sds-grpc` cluster, answering `default` (the workload's certificate chain and key) and
// `ROOTCA` (the mesh's trust bundle), the two secrets istiod's inbound and outbound TLS contexts
// name. Envoy thus fetches its certificates exactly as in a mesh; only who signs them differs.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { envoyProtoIncludeDirs } from '../../../server/xds/envoy-protos.ts';
import { createCertificate, issuerFromCertificate, timedSerial, type CertificateIssuer } from '../../../server/pki/x509.ts';

const SECRET_TYPE_URL = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
const SDS_PROTO = 'envoy/service/secret/v3/sds.proto';
const SECRET_PROTO = 'envoy/extensions/transport_sockets/tls/v3/secret.proto';
/** What istio-agent calls the workload's certificate and the trust bundle. */
export const WORKLOAD_CERTIFICATE_SECRET = 'default';
export const ROOT_CA_SECRET = 'ROOTCA';

export interface WorkloadCertificate {
  spiffeId: string;
  certificatePem: string;
  privateKeyPem: string;
}

export interface MeshCa {
  readonly certificatePem: string;
  /** A workload certificate as istiod's CA signs them: SPIFFE ID as the only SAN, for client and server use. */
  issue(spiffeId: string): WorkloadCertificate;
}

export function createMeshCa(name: string): MeshCa {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const now = Date.now();
  const certificatePem = createCertificate(
    { commonName: name, organization: name, publicKey, serial: timedSerial(now), notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000), use: 'ca' },
    { selfKey: privateKey },
  );
  const issuer: CertificateIssuer = issuerFromCertificate(certificatePem, privateKey);
  return {
    certificatePem,
    issue: (spiffeId) => {
      const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      const issuedAt = Date.now();
      const leaf = createCertificate(
        { commonName: spiffeId, publicKey: key.publicKey, serial: timedSerial(issuedAt), notBefore: new Date(issuedAt - 60_000), notAfter: new Date(issuedAt + 86_400_000), use: 'client-and-server', uris: [spiffeId] },
        { issuer },
      );
      return { spiffeId, certificatePem: leaf, privateKeyPem: pemOf(key.privateKey) };
    },
  };
}

export interface RunningWorkloadSds {
  /** Secret names Envoy asked for, in order. */
  requested(): string[];
  /** NACKs Envoy sent (error_detail messages). */
  rejections(): string[];
  stop(): Promise<void>;
}

interface DiscoveryRequest {
  resource_names: string[];
  response_nonce: string;
  error_detail?: { message?: string } | null;
}

/** Serves `default` and `ROOTCA` for one workload on `socketPath` (readable by `owner`, Envoy's uid). */
export async function startWorkloadSds(options: { socketPath: string; owner: number; workload: WorkloadCertificate; rootCertificatePem: string }): Promise<RunningWorkloadSds> {
  const encodeSecret = secretEncoder();
  const secrets = new Map<string, Uint8Array>([
    [WORKLOAD_CERTIFICATE_SECRET, encodeSecret({ name: WORKLOAD_CERTIFICATE_SECRET, tls_certificate: { certificate_chain: { inline_bytes: Buffer.from(options.workload.certificatePem) }, private_key: { inline_bytes: Buffer.from(options.workload.privateKeyPem) } } })],
    [ROOT_CA_SECRET, encodeSecret({ name: ROOT_CA_SECRET, validation_context: { trusted_ca: { inline_bytes: Buffer.from(options.rootCertificatePem) } } })],
  ]);
  const requested: string[] = [];
  const rejections: string[] = [];
  let nonce = 0;
  const definition = loadSync([SDS_PROTO], { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: envoyProtoIncludeDirs() });
  const service = (grpc.loadPackageDefinition(definition) as unknown as { envoy: { service: { secret: { v3: { SecretDiscoveryService: { service: grpc.ServiceDefinition } } } } } }).envoy.service.secret.v3.SecretDiscoveryService.service;
  const server = new grpc.Server();
  server.addService(service, {
    // Each SDS subscription of Envoy is its own stream; answer every request that is not an ACK.
    StreamSecrets: (call: grpc.ServerDuplexStream<DiscoveryRequest, object>) => {
      call.on('data', (request: DiscoveryRequest) => {
        const error = request.error_detail?.message;
        if (error !== undefined && error !== '') rejections.push(error);
        if (request.response_nonce !== '') return;
        requested.push(...request.resource_names);
        const resources = request.resource_names.flatMap((name) => {
          const value = secrets.get(name);
          return value === undefined ? [] : [{ type_url: SECRET_TYPE_URL, value: Buffer.from(value) }];
        });
        call.write({ version_info: '1', type_url: SECRET_TYPE_URL, nonce: String(++nonce), resources });
      });
      call.on('end', () => call.end());
      call.on('error', () => undefined);
    },
    DeltaSecrets: (call: grpc.ServerDuplexStream<object, object>) => call.end(),
    FetchSecrets: (_call: unknown, callback: grpc.sendUnaryData<object>) => callback({ code: grpc.status.UNIMPLEMENTED, details: 'only StreamSecrets, as istio-agent' }),
  });
  fs.mkdirSync(path.dirname(options.socketPath), { recursive: true });
  fs.rmSync(options.socketPath, { force: true });
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${options.socketPath}`, grpc.ServerCredentials.createInsecure(), (error) => (error === null ? resolve() : reject(error))));
  fs.chownSync(options.socketPath, options.owner, options.owner);
  return {
    requested: () => [...requested],
    rejections: () => [...rejections],
    stop: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => {
          fs.rmSync(options.socketPath, { force: true });
          resolve();
        });
      }),
  };
}

function secretEncoder(): (secret: object) => Uint8Array {
  const includeDirs = envoyProtoIncludeDirs();
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    if (path.isAbsolute(target)) return target;
    const found = includeDirs.map((dir) => path.join(dir, target)).find((candidate) => fs.existsSync(candidate));
    if (found === undefined) throw new Error(`proto import "${target}" not found under ${includeDirs.join(', ')}`);
    return found;
  };
  root.loadSync([SECRET_PROTO], { keepCase: true });
  root.resolveAll();
  const type = root.lookupType('envoy.extensions.transport_sockets.tls.v3.Secret');
  return (secret) => {
    const problem = type.verify(secret);
    if (problem !== null) throw new Error(`Secret: ${problem}`);
    return type.encode(type.fromObject(secret)).finish();
  };
}

function pemOf(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}
