// `weir identity list`: every numeric identity with its labels, then the IP/CIDR -> identity map
// the proxies resolve peers with. A thin client of GET /v1/identities.
import type { IdentitiesView } from '../api/api-types.ts';
import { callApi, type ApiTarget } from './api-client.ts';
import { successBody } from './command-failure.ts';
import type { OutputFormat } from './policy-command.ts';
import { formatTable } from './text-table.ts';

export interface IdentityListOptions {
  target: ApiTarget;
  output: OutputFormat;
}

export async function identityList(options: IdentityListOptions): Promise<string> {
  const body = successBody<IdentitiesView>(await callApi(options.target, { method: 'GET', path: '/v1/identities' }));
  if (options.output === 'json') return JSON.stringify(body, null, 2);
  const identities = formatTable(['IDENTITY', 'LABELS'], body.identities.map((entry) => [String(entry.identity), entry.labels.join(',')]));
  const addresses = body.ipIdentities.length === 0
    ? 'no IP entries: every address is world (2)'
    : formatTable(['CIDR', 'IDENTITY'], body.ipIdentities.map((entry) => [entry.cidr, String(entry.identity)]));
  return `${identities}\n\n${addresses}`;
}
