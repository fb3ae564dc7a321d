// `weir policy trace`: which verdict the compiled policy gives one connection and, optionally, one
// L7 request, and which rule decided it, without sending traffic (like `cilium policy trace`).
// Resolves the source and destination (an endpoint name, a label selector or an IP) to endpoints
// and identities the way the proxies do (IP -> identity map, world when nothing matches), then asks
// the reference decision (decide.ts). No I/O: the API route hands it the compiled state.
import { parseCidr } from '../identity/cidr.ts';
import type { Endpoint } from '../identity/endpoints.ts';
import { IpIdentityMap } from '../identity/ip-identity-map.ts';
import { formatLabel, parseLabelKey } from '../identity/labels.ts';
import { reservedIdentityName } from '../identity/reserved-identities.ts';
import type { CompiledEndpointPolicy, CompiledPolicySet } from './compiled-policy.ts';
import { decide, type Decision } from './decide.ts';
import type { L7Request, L7RuleRegistry } from './l7-rule-keys.ts';
import type { Direction } from './policy-model.ts';

export interface TraceQuery {
  /** An endpoint name, labels (`app=x,k8s:tier=y`) or an IP address. */
  readonly source: string;
  readonly destination: string;
  readonly port: number;
  readonly protocol?: 'TCP' | 'UDP';
  /** Whose policy decides: the destination's ingress (default) or the source's egress. */
  readonly direction?: Direction;
  /** The request's L7 fields as `KEY=VALUE` words, e.g. `command=get key=a/b`; omit for L3/L4 only. */
  readonly l7?: string;
}

/** One side of the traced connection as Weir sees it. */
export interface TracePeer {
  /** What the caller wrote. */
  readonly query: string;
  readonly endpoint: string | undefined;
  readonly identity: number;
  readonly labels: readonly string[];
  readonly ips: readonly string[];
}

export interface TraceResult {
  readonly source: TracePeer;
  readonly destination: TracePeer;
  readonly direction: Direction;
  readonly port: number;
  /** The endpoint whose policy decided (destination for ingress, source for egress). */
  readonly policyEndpoint: string;
  /** The L3/L4 decision. */
  readonly connection: Decision;
  /** The L7 request as the reference decision saw it, and its decision; absent without --l7 or when L3/L4 decided alone. */
  readonly request?: { readonly fields: L7Request; readonly decision: Decision };
  readonly verdict: 'allowed' | 'denied';
}

export type TraceOutcome = { ok: true; trace: TraceResult } | { ok: false; problem: string };

export function tracePolicy(policySet: CompiledPolicySet, endpoints: readonly Endpoint[], query: TraceQuery, registry?: L7RuleRegistry): TraceOutcome {
  const direction = query.direction ?? 'ingress';
  if (!Number.isInteger(query.port) || query.port < 1 || query.port > 65535) return { ok: false, problem: `port ${query.port}: expected 1-65535` };
  const ipMap = new IpIdentityMap();
  for (const entry of policySet.ipIdentities) {
    const parsed = parseCidr(entry.cidr);
    if (parsed.ok) ipMap.set(parsed.cidr, entry.identity);
  }
  const source = resolvePeer(query.source, 'source', policySet, endpoints, ipMap);
  if ('problem' in source) return { ok: false, problem: source.problem };
  const destination = resolvePeer(query.destination, 'destination', policySet, endpoints, ipMap);
  if ('problem' in destination) return { ok: false, problem: destination.problem };
  const local = direction === 'ingress' ? destination : source;
  const remote = direction === 'ingress' ? source : destination;
  if (local.endpoint === undefined) {
    const side = direction === 'ingress' ? 'destination' : 'source';
    return { ok: false, problem: `the ${side} ${JSON.stringify(local.query)} is no endpoint Weir knows, so it has no ${direction} policy to trace; name an endpoint (weir endpoint list)` };
  }
  const compiled = policySet.endpoints.find((candidate: CompiledEndpointPolicy) => candidate.endpoint === local.endpoint);
  if (compiled === undefined) return { ok: false, problem: `endpoint ${local.endpoint} has no compiled policy` };
  const base = { direction, port: query.port, remoteIdentity: remote.identity, ...(query.protocol ? { protocol: query.protocol } : {}) };
  const connection = decide(compiled, base, registry);
  let request: TraceResult['request'];
  if (query.l7 !== undefined && connection.verdict === 'allow' && connection.l7Pending !== undefined) {
    const fields = parseL7Fields(query.l7);
    if ('problem' in fields) return { ok: false, problem: fields.problem };
    request = { fields: fields.request, decision: decide(compiled, { ...base, l7Request: fields.request }, registry) };
  }
  const final = request?.decision ?? connection;
  return {
    ok: true,
    trace: {
      source,
      destination,
      direction,
      port: query.port,
      policyEndpoint: local.endpoint,
      connection,
      ...(request ? { request } : {}),
      verdict: final.verdict === 'allow' ? 'allowed' : 'denied',
    },
  };
}

/** `command=get key=a key=b` -> `{ command: 'get', keys: ['a', 'b'] }`: `key` is the keys list of memcache requests. */
export function parseL7Fields(text: string): { request: L7Request } | { problem: string } {
  const request: Record<string, string | string[]> = {};
  for (const word of text.split(/\s+/).filter((part) => part !== '')) {
    const equals = word.indexOf('=');
    if (equals <= 0) return { problem: `--l7 ${JSON.stringify(word)}: expected KEY=VALUE words, e.g. 'command=get key=alliance/fleet/x'` };
    const rawKey = word.slice(0, equals);
    const key = rawKey === 'key' ? 'keys' : rawKey;
    const value = word.slice(equals + 1);
    const existing = request[key];
    if (key === 'keys') request[key] = [...(Array.isArray(existing) ? existing : existing === undefined ? [] : [existing]), value];
    else if (existing !== undefined) return { problem: `--l7: ${rawKey} given twice` };
    else request[key] = value;
  }
  const opcode = request['opcode'];
  if (typeof opcode === 'string') {
    const number = Number(opcode);
    if (!Number.isInteger(number)) return { problem: `--l7 opcode=${opcode}: expected a number, e.g. opcode=0 (binary get)` };
    return { request: { ...request, opcode: number } };
  }
  return { request };
}

function resolvePeer(
  text: string,
  side: 'source' | 'destination',
  policySet: CompiledPolicySet,
  endpoints: readonly Endpoint[],
  ipMap: IpIdentityMap,
): TracePeer | { problem: string } {
  const labelsOf = (identity: number): readonly string[] => policySet.identities.find((entry) => entry.identity === identity)?.labels ?? [];
  const ofEndpoint = (endpoint: Endpoint): TracePeer => {
    const identity = policySet.endpoints.find((candidate) => candidate.endpoint === endpoint.name)?.identity ?? ipMap.lookup(endpoint.ips[0] ?? '');
    return { query: text, endpoint: endpoint.name, identity, labels: labelsOf(identity), ips: endpoint.ips };
  };
  const byName = endpoints.find((endpoint) => endpoint.name === text);
  if (byName) return ofEndpoint(byName);
  const parsedIp = parseCidr(text);
  if (parsedIp.ok && !text.includes('/')) {
    const owner = endpoints.find((endpoint) => endpoint.ips.includes(text));
    if (owner) return ofEndpoint(owner);
    const identity = ipMap.lookup(text);
    const reserved = reservedIdentityName(identity);
    return { query: text, endpoint: undefined, identity, labels: reserved ? [`reserved:${reserved}`] : labelsOf(identity), ips: [text] };
  }
  if (text.includes('=')) {
    const wanted = text.split(',').map((pair) => {
      const equals = pair.indexOf('=');
      return formatLabel({ ...parseLabelKey(pair.slice(0, equals).trim(), 'k8s'), value: pair.slice(equals + 1).trim() });
    });
    const matching = endpoints.filter((endpoint) => wanted.every((label) => endpoint.labels.some((candidate) => formatLabel(candidate) === label)));
    const identities = [...new Set(matching.map((endpoint) => ofEndpoint(endpoint).identity))];
    if (matching.length === 0) return { problem: `no endpoint has the ${side} labels ${wanted.join(', ')}; see weir endpoint list` };
    if (identities.length > 1) {
      return { problem: `the ${side} labels ${wanted.join(', ')} match endpoints of ${identities.length} identities (${matching.map((endpoint) => endpoint.name).join(', ')}); add labels or name one endpoint` };
    }
    // Endpoints with one identity have one label set, so the same rules select each of them.
    const [first] = matching;
    return first === undefined ? { problem: `no endpoint has the ${side} labels` } : ofEndpoint(first);
  }
  return { problem: `${side} ${JSON.stringify(text)} is neither an endpoint name, labels (k=v,...) nor an IP address; see weir endpoint list` };
}
