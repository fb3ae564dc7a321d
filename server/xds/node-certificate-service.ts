// Binds weir.NodeCertificates/Renew (protos/weir/node_certificates.proto) to the xDS port: a node
// presenting its current certificate (verified by TLS, checked against the enrolment record by the
// node authority) gets a new certificate for a fresh public key. `weir node renew` is the client.
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import type { Logger } from 'pino';
import { NodeAuthorityError, type NodeAuthority, type NodeCertificateGrant } from '../pki/node-authority.ts';
import { peerCertificateFacts } from '../pki/peer-authenticator.ts';
import { weirProtoDir } from './envoy-protos.ts';

export const NODE_CERTIFICATES_SERVICE = 'weir.NodeCertificates';

export interface NodeCertificateMessage {
  node_id: string;
  trust_domain: string;
  spiffe_id: string;
  certificate_pem: string;
  ca_pem: string;
  serial: string;
  not_after: string;
}

let servicePackage: PackageDefinition | undefined;

/** proto-loader's definition of weir.NodeCertificates, loaded once per process. */
export function nodeCertificatesPackage(): PackageDefinition {
  servicePackage ??= loadSync(path.join(weirProtoDir(), 'weir', 'node_certificates.proto'), { keepCase: true, defaults: true });
  return servicePackage;
}

export function addNodeCertificateService(server: grpc.Server, options: { authority: NodeAuthority; logger: Logger }): void {
  const definition = nodeCertificatesPackage()[NODE_CERTIFICATES_SERVICE];
  if (!definition || 'format' in definition) throw new Error(`${NODE_CERTIFICATES_SERVICE} missing from protos/weir/node_certificates.proto`);
  server.addService(definition as grpc.ServiceDefinition, {
    Renew: (call: grpc.ServerUnaryCall<{ public_key_pem?: string }, NodeCertificateMessage>, callback: grpc.sendUnaryData<NodeCertificateMessage>) => {
      const peer = peerCertificateFacts(call.getAuthContext().sslPeerCertificate);
      try {
        const grant = options.authority.renew(peer, call.request.public_key_pem ?? '');
        options.logger.info({ nodeId: grant.nodeId, serial: grant.serial, notAfter: grant.notAfter.toISOString() }, 'node certificate renewed');
        callback(null, certificateMessage(grant));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        options.logger.warn({ peer: call.getPeer(), reason: message }, 'node certificate renewal refused');
        const code = error instanceof NodeAuthorityError ? grpc.status.PERMISSION_DENIED : grpc.status.INTERNAL;
        callback({ code, details: `certificate renewal refused: ${message}` });
      }
    },
  });
}

function certificateMessage(grant: NodeCertificateGrant): NodeCertificateMessage {
  return {
    node_id: grant.nodeId,
    trust_domain: grant.trustDomain,
    spiffe_id: grant.spiffeId,
    certificate_pem: grant.certificatePem,
    ca_pem: grant.caPem,
    serial: grant.serial,
    not_after: grant.notAfter.toISOString(),
  };
}
