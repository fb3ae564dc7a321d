// `weir bootstrap`: gives a proxy its identity and prints its Envoy bootstrap. By default it asks
// the running server (REST API: the admin socket, or HTTPS with the token) for its security mode;
// with mTLS it makes the node's key here (it never leaves this machine), has the server sign a
// certificate for the node id (POST /v1/nodes/{id}/enrol), writes the credentials directory
// Envoy reads (server/pki/node-credentials.ts) and renders the bootstrap that uses it. With
// `--join-token` (a node on another machine, no admin token) it first checks that the server's CA
// is the one the token names, then enrols with the token (POST /v1/enrol). With `--no-enrol` it
// renders from credentials already in the directory; with `--insecure` it renders a plaintext
// bootstrap for a `weir serve --insecure`.
import https from 'node:https';
import path from 'node:path';
import type { NodeCertificateBody, SecurityView } from '../api/api-types.ts';
import { caFingerprint, parseJoinToken, type JoinTokenParts } from '../pki/join-tokens.ts';
import { generateNodeKey, readNodeCredentials, writeNodeCredentials, type NodeKeyPair } from '../pki/node-credentials.ts';
import { nodeIdProblem, serverSpiffeId } from '../pki/spiffe-id.ts';
import { BOOTSTRAP_DEFAULTS, renderBootstrap, type BootstrapOptions } from '../xds/bootstrap.ts';
import { callApi, type ApiTarget } from './api-client.ts';
import { CommandFailure, successBody } from './command-failure.ts';

export interface BootstrapCommandOptions {
  /** What to render, less the transport (decided here). */
  render: Omit<BootstrapOptions, 'credentialsDir' | 'insecure'>;
  /** The node's credentials directory; default `.weir/nodes/<node id>` (made absolute). */
  credentialsDir?: string;
  /**
   * 'enrol' (default): ask the server (admin API); 'join': enrol with the one-time `joinToken` over
   * HTTPS; 'existing': use the directory as it is; 'insecure': plaintext.
   */
  credentials: 'enrol' | 'join' | 'existing' | 'insecure';
  joinToken?: string;
  target: ApiTarget;
  /** Where warnings go (stderr). */
  warn: (message: string) => void;
}

export const DEFAULT_NODES_DIR = path.join('.weir', 'nodes');

export async function bootstrapCommand(options: BootstrapCommandOptions): Promise<string> {
  const joining = options.credentials === 'join' ? joinTokenOf(options) : undefined;
  const nodeId = joining?.nodeId ?? options.render.nodeId ?? BOOTSTRAP_DEFAULTS.nodeId;
  const credentialsDir = path.resolve(options.credentialsDir ?? path.join(DEFAULT_NODES_DIR, nodeId));
  const command = { ...options, render: { ...options.render, nodeId } };
  switch (options.credentials) {
    case 'insecure':
      options.warn(`weir bootstrap: plaintext bootstrap for node ${nodeId} (--insecure): the proxy does not prove who it is; use only with weir serve --insecure`);
      return renderBootstrap({ ...command.render, insecure: true });
    case 'existing':
      return renderBootstrap({ ...command.render, credentialsDir: checkedCredentials(credentialsDir, nodeId) });
    case 'enrol':
      return enrolAndRender(command, nodeId, credentialsDir);
    case 'join':
      return joinAndRender(command, joining ?? joinTokenOf(options), credentialsDir);
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
  return writeAndRender(options, key, grant, credentialsDir);
}

function joinTokenOf(options: BootstrapCommandOptions): JoinTokenParts {
  const parts = parseJoinToken(options.joinToken ?? '');
  if ('problem' in parts) throw new CommandFailure(`--join-token: ${parts.problem}`);
  if (options.render.nodeId !== undefined && options.render.nodeId !== parts.nodeId) {
    throw new CommandFailure(`--node-id ${options.render.nodeId} does not match the join token, which is for node "${parts.nodeId}"`);
  }
  return parts;
}

/**
 * Enrols with a one-time join token: fetches the server's CA over unverified TLS, refuses unless
 * its SHA-256 is the one in the token, then sends the token over TLS verified with that CA and
 * the server's SPIFFE ID.
 */
async function joinAndRender(options: BootstrapCommandOptions, token: JoinTokenParts, credentialsDir: string): Promise<string> {
  const target = options.target;
  if (target.kind !== 'tcp') throw new CommandFailure('--join-token needs --server https://HOST:PORT (the REST API over TCP of weir serve)');
  const caPem = await fetchUnverifiedCa(target.url);
  if (caFingerprint(caPem) !== token.caSha256) {
    throw new CommandFailure(`the server at ${target.url} presents a CA whose SHA-256 is not the one in the join token; refusing to send the token (wrong server, or someone in between)`);
  }
  const pinned = { kind: 'tcp' as const, url: target.url, token: undefined, ca: caPem, serverIdentity: serverSpiffeId(token.trustDomain) };
  const key = generateNodeKey();
  const grant = successBody<NodeCertificateBody>(await callApi(pinned, { method: 'POST', path: '/v1/enrol', body: JSON.stringify({ token: options.joinToken, publicKey: key.publicKeyPem }) }));
  return writeAndRender(options, key, grant, credentialsDir);
}

function writeAndRender(options: BootstrapCommandOptions, key: NodeKeyPair, grant: NodeCertificateBody, credentialsDir: string): string {
  const xdsAddress = `${options.render.xdsAddress ?? BOOTSTRAP_DEFAULTS.xdsAddress}:${options.render.xdsPort ?? BOOTSTRAP_DEFAULTS.xdsPort}`;
  const dir = writeNodeCredentials(credentialsDir, {
    nodeId: grant.nodeId,
    trustDomain: grant.trustDomain,
    xdsAddress,
    privateKeyPem: key.privateKeyPem,
    certificatePem: grant.certificate,
    caPem: grant.ca,
  });
  options.warn(`weir bootstrap: enrolled node ${grant.nodeId} as ${grant.spiffeId}; certificate valid until ${grant.notAfter}, credentials in ${dir} (renew with weir node renew --certs ${dir} --watch)`);
  return renderBootstrap({ ...options.render, credentialsDir: dir });
}

/** The CA certificate the server publishes (GET /v1/ca), fetched without verifying the server: the caller checks its fingerprint. */
function fetchUnverifiedCa(serverUrl: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = https.get(new URL('/v1/ca', `${serverUrl}/`), { rejectUnauthorized: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => (response.statusCode === 200 ? resolve(text) : reject(new CommandFailure(`GET ${serverUrl}/v1/ca: HTTP ${response.statusCode ?? 0}: ${text.trim()}`))));
    });
    request.on('error', (error) => reject(new CommandFailure(`cannot reach weir serve at ${serverUrl} (${error.message}); check --server https://HOST:PORT (its api.tcp)`)));
  });
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
