// `weir bootstrap`: gives a proxy its identity and prints its Envoy bootstrap. By default it asks
// the running server (REST API: the admin socket, or HTTPS with the token) for its security mode;
// with mTLS it makes the node's key here (it never leaves this machine), has the server sign a
// certificate for the node id (POST /v1/nodes/{id}/enrol), writes the credentials directory
// Envoy reads (server/pki/node-credentials.ts) and renders the bootstrap that uses it. With
// `--no-enrol` it renders from credentials already in the directory (e.g. from an earlier run);
// with `--insecure` it renders a plaintext bootstrap for a `weir serve --insecure`.
import path from 'node:path';
import type { NodeCertificateBody, SecurityView } from '../api/api-types.ts';
import { generateNodeKey, readNodeCredentials, writeNodeCredentials } from '../pki/node-credentials.ts';
import { nodeIdProblem } from '../pki/spiffe-id.ts';
import { BOOTSTRAP_DEFAULTS, renderBootstrap, type BootstrapOptions } from '../xds/bootstrap.ts';
import { callApi, type ApiTarget } from './api-client.ts';
import { CommandFailure, successBody } from './command-failure.ts';

export interface BootstrapCommandOptions {
  /** What to render, less the transport (decided here). */
  render: Omit<BootstrapOptions, 'credentialsDir' | 'insecure'>;
  /** The node's credentials directory; default `.weir/nodes/<node id>` (made absolute). */
  credentialsDir?: string;
  /** 'enrol' (default): ask the server; 'existing': use the directory as it is; 'insecure': plaintext. */
  credentials: 'enrol' | 'existing' | 'insecure';
  target: ApiTarget;
  /** Where warnings go (stderr). */
  warn: (message: string) => void;
}

export const DEFAULT_NODES_DIR = path.join('.weir', 'nodes');

export async function bootstrapCommand(options: BootstrapCommandOptions): Promise<string> {
  const nodeId = options.render.nodeId ?? BOOTSTRAP_DEFAULTS.nodeId;
  const credentialsDir = path.resolve(options.credentialsDir ?? path.join(DEFAULT_NODES_DIR, nodeId));
  switch (options.credentials) {
    case 'insecure':
      options.warn(`weir bootstrap: plaintext bootstrap for node ${nodeId} (--insecure): the proxy does not prove who it is; use only with weir serve --insecure`);
      return renderBootstrap({ ...options.render, insecure: true });
    case 'existing':
      return renderBootstrap({ ...options.render, credentialsDir: checkedCredentials(credentialsDir, nodeId) });
    case 'enrol':
      return enrolAndRender(options, nodeId, credentialsDir);
  }
}

async function enrolAndRender(options: BootstrapCommandOptions, nodeId: string, credentialsDir: string): Promise<string> {
  const problem = nodeIdProblem(nodeId);
  if (problem !== undefined) throw new CommandFailure(problem);
  const security = successBody<SecurityView>(await callApi(options.target, { method: 'GET', path: '/v1/security' }));
  if (security.mode === 'insecure') {
    options.warn(`weir bootstrap: the server runs with --insecure, so node ${nodeId} gets a plaintext bootstrap and no certificate`);
    return renderBootstrap({ ...options.render, insecure: true });
  }
  const key = generateNodeKey();
  const grant = successBody<NodeCertificateBody>(
    await callApi(options.target, { method: 'POST', path: `/v1/nodes/${encodeURIComponent(nodeId)}/enrol`, body: JSON.stringify({ publicKey: key.publicKeyPem }) }),
  );
  const xdsAddress = `${options.render.xdsAddress ?? BOOTSTRAP_DEFAULTS.xdsAddress}:${options.render.xdsPort ?? BOOTSTRAP_DEFAULTS.xdsPort}`;
  const dir = writeNodeCredentials(credentialsDir, {
    nodeId,
    trustDomain: grant.trustDomain,
    xdsAddress,
    privateKeyPem: key.privateKeyPem,
    certificatePem: grant.certificate,
    caPem: grant.ca,
  });
  options.warn(`weir bootstrap: enrolled node ${nodeId} as ${grant.spiffeId}; certificate valid until ${grant.notAfter}, credentials in ${dir} (renew with weir node renew --certs ${dir} --watch)`);
  return renderBootstrap({ ...options.render, credentialsDir: dir });
}

function checkedCredentials(dir: string, nodeId: string): string {
  let credentials;
  try {
    credentials = readNodeCredentials(dir);
  } catch (error) {
    throw new CommandFailure(error instanceof Error ? error.message : String(error));
  }
  if (credentials.nodeId !== nodeId) {
    throw new CommandFailure(`${dir} holds the credentials of node "${credentials.nodeId}", not "${nodeId}"; pass --node-id ${credentials.nodeId} or another --certs directory`);
  }
  return credentials.dir;
}
