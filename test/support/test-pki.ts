// Node identities for tests: a weir CA in a temporary directory (server/pki/node-authority.ts),
// nodes enrolled into credentials directories as `weir bootstrap` writes them, and grpc-js client
// credentials from such a directory, for tests that play a proxy with a raw gRPC client. Key
// generation is node:crypto EC P-256, about a millisecond per node.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { NodeAuthority } from '../../server/pki/node-authority.ts';
import { generateNodeKey, readNodeCredentials, writeNodeCredentials } from '../../server/pki/node-credentials.ts';
import { DEFAULT_TRUST_DOMAIN } from '../../server/pki/spiffe-id.ts';
import type { ControlServerSecurity } from '../../server/xds/control-server.ts';
import { xdsClientCredentials } from '../../server/xds/node-certificate-client.ts';

export interface TestPki {
  dir: string;
  authority: NodeAuthority;
  /** mTLS security for startControlServer. */
  security: ControlServerSecurity;
  /** Enrols `nodeId` and writes its credentials directory; returns the directory (absolute). */
  enrol(nodeId: string, options?: { lifetimeMs?: number; xdsAddress?: string }): string;
  remove(): void;
}

export function createTestPki(options: { trustDomain?: string; nodeCertificateLifetimeMs?: number } = {}): TestPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-pki-'));
  const authority = new NodeAuthority({
    dir: path.join(dir, 'ca'),
    trustDomain: options.trustDomain ?? DEFAULT_TRUST_DOMAIN,
    ...(options.nodeCertificateLifetimeMs !== undefined ? { nodeCertificateLifetimeMs: options.nodeCertificateLifetimeMs } : {}),
  });
  return {
    dir,
    authority,
    security: { mode: 'mtls', authority },
    enrol: (nodeId, enrolOptions = {}) => enrolNode(authority, nodeId, path.join(dir, 'nodes', nodeId), enrolOptions),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** Enrols `nodeId` with `authority` and writes its credentials into `dir`, as `weir bootstrap` does. */
export function enrolNode(authority: NodeAuthority, nodeId: string, dir: string, options: { lifetimeMs?: number; xdsAddress?: string } = {}): string {
  const key = generateNodeKey();
  const grant = authority.enrol(nodeId, key.publicKeyPem, options.lifetimeMs !== undefined ? { lifetimeMs: options.lifetimeMs } : {});
  return writeNodeCredentials(dir, {
    nodeId,
    trustDomain: grant.trustDomain,
    xdsAddress: options.xdsAddress,
    privateKeyPem: key.privateKeyPem,
    certificatePem: grant.certificatePem,
    caPem: grant.caPem,
  });
}

/** grpc-js credentials of a credentials directory, or TLS without a client certificate when `dir` is undefined. */
export function grpcCredentialsOf(dir: string | undefined, trust: { caPem: string; trustDomain?: string }): grpc.ChannelCredentials {
  const trustDomain = trust.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  if (dir === undefined) return xdsClientCredentials({ caPem: trust.caPem, trustDomain });
  const node = readNodeCredentials(dir);
  return xdsClientCredentials({ caPem: trust.caPem, trustDomain, privateKeyPem: node.privateKeyPem, certificatePem: node.certificatePem });
}

/** grpc-js credentials of `nodeId`, enrolled with a running `weir serve`'s authority (files under its PKI directory). */
export function enrolledCredentials(serve: { authority: NodeAuthority }, nodeId: string): grpc.ChannelCredentials {
  const dir = enrolNode(serve.authority, nodeId, path.join(path.dirname(serve.authority.ca.certificateFile), 'test-nodes', nodeId));
  return grpcCredentialsOf(dir, { caPem: serve.authority.ca.certificatePem, trustDomain: serve.authority.trustDomain });
}
