// Which access-log records a viewer wants: `weir monitor` flags and the `GET /v1/flows` query
// (`?type=l7&verdict=denied&proto=memcache&endpoint=app=x&node=n1`). Owns parsing those
// parameters (with errors that name the bad value and the choices) and matching a record.
// Repeating a parameter means "any of"; different parameters must all match.
import type { AccessLogRecord, Verdict } from './access-log-record.ts';
import { verdictOf } from './access-log-record.ts';

export const FLOW_EVENT_TYPES = ['l7'] as const;
export type FlowEventType = (typeof FLOW_EVENT_TYPES)[number];

export const VERDICTS: readonly Verdict[] = ['forwarded', 'denied', 'error'];

export interface FlowFilter {
  /** Event types; every record is an L7 record today. */
  types?: FlowEventType[];
  verdicts?: Verdict[];
  /** Parser names ("r2d2", "memcache", "cassandra"). */
  protocols?: string[];
  /** Label sets, each "k=v[,k=v...]": a record matches when one side (or the local endpoint name) has all labels of one set. */
  endpoints?: string[][];
  /** Envoy node ids. */
  nodeIds?: string[];
}

/** The query keys `/v1/flows` accepts and the FlowFilter field each one fills. */
export const FLOW_QUERY_KEYS = ['type', 'verdict', 'proto', 'endpoint', 'node'] as const;

export type FlowFilterParse = { ok: true; filter: FlowFilter } | { ok: false; problem: string };

/** Parses repeated key/value parameters (a URLSearchParams or CLI flags) into a filter. */
export function parseFlowFilter(parameters: Iterable<[string, string]>): FlowFilterParse {
  const filter: FlowFilter = {};
  for (const [key, rawValue] of parameters) {
    const value = rawValue.trim();
    switch (key) {
      case 'type': {
        if (!isOneOf(value, FLOW_EVENT_TYPES)) return invalid(key, value, FLOW_EVENT_TYPES);
        (filter.types ??= []).push(value);
        break;
      }
      case 'verdict': {
        const verdict = value.toLowerCase() === 'dropped' ? 'denied' : value.toLowerCase();
        if (!isOneOf(verdict, VERDICTS)) return invalid(key, value, VERDICTS);
        (filter.verdicts ??= []).push(verdict);
        break;
      }
      case 'proto':
        if (value === '') return { ok: false, problem: 'proto: empty; name a parser such as r2d2, memcache or cassandra' };
        (filter.protocols ??= []).push(value);
        break;
      case 'endpoint': {
        const labels = value.split(',').map((label) => label.trim()).filter((label) => label !== '');
        if (labels.length === 0) return { ok: false, problem: 'endpoint: empty; give labels such as app=x or app=x,role=db' };
        (filter.endpoints ??= []).push(labels);
        break;
      }
      case 'node':
        (filter.nodeIds ??= []).push(value);
        break;
      default:
        return { ok: false, problem: `unknown filter "${key}"; use ${FLOW_QUERY_KEYS.join(', ')}` };
    }
  }
  return { ok: true, filter };
}

export function matchesFlowFilter(record: AccessLogRecord, filter: FlowFilter): boolean {
  if (filter.verdicts && !filter.verdicts.includes(verdictOf(record.type))) return false;
  if (filter.protocols && !filter.protocols.includes(record.protocol)) return false;
  if (filter.nodeIds && !filter.nodeIds.includes(record.nodeId)) return false;
  if (filter.endpoints && !filter.endpoints.some((labels) => involvesEndpoint(record, labels))) return false;
  return true;
}

/** Turns a filter back into query parameters (for the monitor's request URL). */
export function flowFilterQuery(filter: FlowFilter): URLSearchParams {
  const query = new URLSearchParams();
  for (const type of filter.types ?? []) query.append('type', type);
  for (const verdict of filter.verdicts ?? []) query.append('verdict', verdict);
  for (const protocol of filter.protocols ?? []) query.append('proto', protocol);
  for (const labels of filter.endpoints ?? []) query.append('endpoint', labels.join(','));
  for (const nodeId of filter.nodeIds ?? []) query.append('node', nodeId);
  return query;
}

function involvesEndpoint(record: AccessLogRecord, wanted: readonly string[]): boolean {
  if (wanted.length === 1 && wanted[0] === record.endpoint) return true;
  return [record.source.labels, record.destination.labels].some((labels) => wanted.every((label) => hasLabel(labels, label)));
}

/** `app=x` matches the label `k8s:app=x` (any source) as well as `app=x`; `k8s:app=x` matches only itself. */
function hasLabel(labels: readonly string[], wanted: string): boolean {
  return labels.some((label) => label === wanted || (!wantedHasSource(wanted) && label.endsWith(`:${wanted}`)));
}

function wantedHasSource(wanted: string): boolean {
  const colon = wanted.indexOf(':');
  const equals = wanted.indexOf('=');
  return colon >= 0 && (equals < 0 || colon < equals);
}

function isOneOf<T extends string>(value: string, choices: readonly T[]): value is T {
  return (choices as readonly string[]).includes(value);
}

function invalid(key: string, value: string, choices: readonly string[]): FlowFilterParse {
  return { ok: false, problem: `${key}: "${value}" is not one of ${choices.join(', ')}` };
}
