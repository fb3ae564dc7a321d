// `weir node list|token|revoke|renew`: node identities. list, token and revoke ask the running
// server (REST API); renew runs on the node, against the xDS port, with the certificate it renews (once, or
// with --watch for as long as it runs, renewing at half-life).
import type { Logger } from 'pino';
import type { NodeView } from '../api/api-types.ts';
import { keepNodeCredentialsFresh, renewNodeCredentials } from '../xds/node-certificate-client.ts';
import { callApi, type ApiTarget } from './api-client.ts';
import { successBody } from './command-failure.ts';
import type { OutputFormat } from './policy-command.ts';
import { formatTable } from './text-table.ts';

export async function nodeList(options: { target: ApiTarget; output: OutputFormat }): Promise<string> {
  const body = successBody<{ nodes: NodeView[] }>(await callApi(options.target, { method: 'GET', path: '/v1/nodes' }));
  if (options.output === 'json') return JSON.stringify(body.nodes, null, 2);
  if (body.nodes.length === 0) return 'no node is enrolled';
  return formatTable(
    ['NODE', 'ENROLLED', 'REVOKED', 'STREAMS'],
    body.nodes.map((node) => [node.nodeId, node.enrolledAt, node.revokedAt ?? '-', String(node.authenticatedStreams)]),
  );
}

export async function nodeToken(options: { target: ApiTarget; nodeId: string; ttlSeconds?: number; output: OutputFormat }): Promise<string> {
  const query = options.ttlSeconds !== undefined ? `?ttl=${options.ttlSeconds}` : '';
  const body = successBody<{ nodeId: string; token: string; expiresAt: string }>(await callApi(options.target, { method: 'POST', path: `/v1/nodes/${encodeURIComponent(options.nodeId)}/join-token${query}` }));
  if (options.output === 'json') return JSON.stringify(body, null, 2);
  return [
    body.token,
    `# one-time join token for node ${body.nodeId}, valid until ${body.expiresAt}; on that node:`,
    `#   weir bootstrap --join-token <token> --server https://<this server's api.tcp> --xds <HOST:PORT> > envoy.yaml`,
  ].join('\n');
}

export async function nodeRevoke(options: { target: ApiTarget; nodeId: string; output: OutputFormat }): Promise<string> {
  const body = successBody<{ nodeId: string; revokedAt: string }>(await callApi(options.target, { method: 'POST', path: `/v1/nodes/${encodeURIComponent(options.nodeId)}/revoke` }));
  if (options.output === 'json') return JSON.stringify(body, null, 2);
  return `revoked node ${body.nodeId} at ${body.revokedAt}: its certificates are refused and its streams were ended; weir bootstrap --node-id ${body.nodeId} enrols it again`;
}

export async function nodeRenew(options: { dir: string; xdsAddress?: string; watch: boolean; logger: Logger; signal: AbortSignal }): Promise<string> {
  const renewOptions = { dir: options.dir, ...(options.xdsAddress !== undefined ? { xdsAddress: options.xdsAddress } : {}) };
  if (options.watch) {
    await keepNodeCredentialsFresh({ ...renewOptions, logger: options.logger, signal: options.signal });
    return 'stopped renewing';
  }
  const renewed = await renewNodeCredentials(renewOptions);
  return `renewed node ${renewed.nodeId}: certificate ${renewed.serial} valid until ${renewed.notAfter.toISOString()}`;
}
