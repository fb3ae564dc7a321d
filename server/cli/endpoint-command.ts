// `weir endpoint list`: the endpoints the policy store knows, with their numeric identity, IPs,
// whether each direction is default-deny, the ports their ingress rules name beside the redirects
// that guard them (endpoint port <- listener -> upstream), where each came from (store or
// sidecar:<node id>) and their labels. A thin client of GET /v1/endpoints.
import type { EndpointView } from '../api/api-types.ts';
import { callApi, type ApiTarget } from './api-client.ts';
import { successBody } from './command-failure.ts';
import type { OutputFormat } from './policy-command.ts';
import { formatTable } from './text-table.ts';

export interface EndpointListOptions {
  target: ApiTarget;
  output: OutputFormat;
}

export async function endpointList(options: EndpointListOptions): Promise<string> {
  const body = successBody<{ revision: string; endpoints: EndpointView[] }>(await callApi(options.target, { method: 'GET', path: '/v1/endpoints' }));
  if (options.output === 'json') return JSON.stringify(body, null, 2);
  if (body.endpoints.length === 0) return `no endpoints; import Endpoint documents (docs/identity.md) with weir policy import`;
  const rows = body.endpoints.map((endpoint) => [
    endpoint.name,
    endpoint.namespace ?? '-',
    endpoint.identity === undefined ? '-' : String(endpoint.identity),
    endpoint.ips.join(',') || '-',
    endpoint.ingress ?? '-',
    endpoint.ingressPorts.join(',') || '-',
    endpoint.redirects.map((redirect) => `${redirect.port} <- ${redirect.listener} (${redirect.parser}) -> ${redirect.upstream}`).join('; ') || '-',
    endpoint.egress ?? '-',
    endpoint.labels.join(','),
    endpoint.source,
  ]);
  return formatTable(['NAME', 'NAMESPACE', 'IDENTITY', 'IPS', 'INGRESS', 'POLICY PORTS', 'REDIRECTS (PORT <- LISTENER -> UPSTREAM)', 'EGRESS', 'LABELS', 'SOURCE'], rows);
}
