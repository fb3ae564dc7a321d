// `weir proxy list`: asks a running server (GET /v1/proxies) for its proxies' applied state and
// prints one row per proxy and resource type: the policy revision the proxy's agent enforces, the
// version sent and ACKed, and the last NACK with Envoy's (or the agent's) message.
import type { ProxiesView, ProxyView } from '../api/api-types.ts';
import { callApi, type ApiTarget } from './api-client.ts';
import { successBody } from './command-failure.ts';
import type { OutputFormat } from './policy-command.ts';
import { formatTable } from './text-table.ts';

export interface ProxyListOptions {
  target: ApiTarget;
  output: OutputFormat;
}

export async function proxyList(options: ProxyListOptions): Promise<string> {
  // scope=fleet: a replica sharing its store with others lists their proxies too (server/api/fleet.ts).
  const body = successBody<ProxiesView>(await callApi(options.target, { method: 'GET', path: '/v1/proxies?scope=fleet' }));
  if (options.output === 'json') return JSON.stringify(body.proxies, null, 2);
  const unreachable = (body.unreachable ?? []).map((problem) => `\nreplica ${problem}`).join('');
  return `${formatProxyTable(body.proxies)}${unreachable}`;
}

export function formatProxyTable(proxies: readonly ProxyView[]): string {
  const rows: string[][] = [];
  for (const proxy of proxies) {
    const connected = proxy.replica === undefined ? 'connected' : `connected to ${proxy.replica}`;
    const state = proxy.connected ? `${connected} (${proxy.variant ?? '?'})` : 'disconnected';
    const enforces = proxy.policyAgent ? proxy.enforcedRevision ?? 'none yet' : 'no agent';
    if (proxy.types.length === 0) rows.push([proxy.nodeId, state, enforces, '-', '-', '-', '-']);
    for (const type of proxy.types) {
      const nack = type.lastNack ? `${type.lastNack.version} at ${type.lastNack.at}: ${type.lastNack.message}` : '-';
      rows.push([proxy.nodeId, state, enforces, shortTypeName(type.typeUrl), type.sentVersion ?? '-', type.ackedVersion ?? '-', nack]);
    }
  }
  if (rows.length === 0) return 'no proxies have connected';
  return formatTable(['NODE', 'STATE', 'POLICY', 'TYPE', 'SENT', 'ACKED', 'LAST NACK'], rows);
}

function shortTypeName(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('.') + 1);
}
