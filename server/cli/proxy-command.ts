// `weir proxy list`: asks a running server for its proxies' applied state and prints one row per
// proxy and resource type: the version sent and ACKed, and the last NACK with Envoy's message.
import type { ProxyStatus } from '../xds/proxy-status.ts';
import { PROXIES_PATH } from './status-endpoint.ts';

export interface ProxyListOptions {
  /** host:port of the server's status endpoint. Default 127.0.0.1:18001. */
  status?: string;
  /** Print the raw JSON instead of a table. Default false. */
  format?: 'table' | 'json';
}

export const PROXY_LIST_DEFAULTS = { status: '127.0.0.1:18001', format: 'table' } as const;

/** Proxy status as it arrives over JSON: timestamps are ISO strings. */
export type ProxyStatusJson = Omit<ProxyStatus, 'types'> & {
  types: Array<{
    typeUrl: string;
    sentVersion?: string;
    ackedVersion?: string;
    awaitingReply: boolean;
    lastNack?: { version: string; message: string; at: string };
  }>;
};

export async function proxyList(options: ProxyListOptions = {}): Promise<string> {
  const settings = { ...PROXY_LIST_DEFAULTS, ...options };
  const url = `http://${settings.status}${PROXIES_PATH}`;
  let body: { proxies: ProxyStatusJson[] };
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    body = (await response.json()) as { proxies: ProxyStatusJson[] };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot read proxy status from ${url} (${reason}); is \`weir serve\` running? pass --status HOST:PORT`);
  }
  return settings.format === 'json' ? JSON.stringify(body.proxies, null, 2) : formatProxyTable(body.proxies);
}

export function formatProxyTable(proxies: readonly ProxyStatusJson[]): string {
  const header = ['NODE', 'STATE', 'TYPE', 'SENT', 'ACKED', 'LAST NACK'];
  const rows: string[][] = [];
  for (const proxy of proxies) {
    const state = proxy.connected ? `connected (${proxy.variant ?? '?'})` : 'disconnected';
    if (proxy.types.length === 0) rows.push([proxy.nodeId, state, '-', '-', '-', '-']);
    for (const type of proxy.types) {
      const nack = type.lastNack ? `${type.lastNack.version} at ${type.lastNack.at}: ${type.lastNack.message}` : '-';
      rows.push([proxy.nodeId, state, shortTypeName(type.typeUrl), type.sentVersion ?? '-', type.ackedVersion ?? '-', nack]);
    }
  }
  if (rows.length === 0) return 'no proxies have connected';
  const widths = header.map((title, column) =>
    column === header.length - 1 ? 0 : Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  return [header, ...rows].map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd()).join('\n');
}

function shortTypeName(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('.') + 1);
}
