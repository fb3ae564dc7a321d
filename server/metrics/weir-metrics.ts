// The metrics Weir exposes, in one place: names, help texts and labels, so `/metrics`, `weir
// metrics list` and docs/metrics.md agree. Owns the families fed by the access-log pipeline;
// xds-metrics.ts adds the xDS ones. Counting is done by the modules that see the events.
import { requestsOf, type AccessLogRecord } from '../accesslog/access-log-record.ts';
import { reservedIdentityName } from '../identity/reserved-identities.ts';
import { MetricsRegistry, type StoredMetric } from './metrics-registry.ts';

/** Where an access-log entry was lost; see docs/accesslog.md. */
export const DROP_STAGES = ['agent_queue', 'agent_buffer', 'agent_malformed', 'server_rejected'] as const;
export type DropStage = (typeof DROP_STAGES)[number];

/** The `verdict` label of weir_policy_l7_total, as Cilium's cilium_policy_l7_total `rule` label. */
export type L7Verdict = 'received' | 'forwarded' | 'denied' | 'parse_errors';

export interface AccessLogMetrics {
  readonly registry: MetricsRegistry;
  readonly l7Requests: StoredMetric;
  readonly recordsReceived: StoredMetric;
  readonly dropped: StoredMetric;
  readonly missing: StoredMetric;
  readonly duplicates: StoredMetric;
  readonly viewerDropped: StoredMetric;
  readonly batches: StoredMetric;
  /** Bounds the source/destination labels of l7Requests. */
  readonly peers: PeerLabels;
}

export function createAccessLogMetrics(registry: MetricsRegistry = new MetricsRegistry()): AccessLogMetrics {
  return {
    registry,
    l7Requests: registry.counter(
      'weir_policy_l7_total',
      `L7 requests seen by parsers, by protocol, verdict (received = forwarded + denied + parse_errors) and source and destination identity (reserved ones by name; beyond ${L7_PEER_PAIRS_MAX} pairs "other")`,
      ['proto', 'verdict', 'source', 'destination'],
    ),
    recordsReceived: registry.counter('weir_accesslog_records_total', 'Access-log records received from agents (duplicates excluded)', ['node']),
    dropped: registry.counter(
      'weir_accesslog_dropped_total',
      'Access-log entries lost before reaching the server, by proxy and stage (agent_queue, agent_buffer, agent_malformed, server_rejected)',
      ['node', 'stage'],
    ),
    missing: registry.counter(
      'weir_accesslog_sequence_gaps_total',
      'Numbered entries that never arrived (gaps in an agent run\'s sequence); matches agent_buffer drops when the server saw the run from its start',
      ['node'],
    ),
    duplicates: registry.counter('weir_accesslog_duplicates_total', 'Entries received twice (resent after a reconnect) and discarded', ['node']),
    viewerDropped: registry.counter('weir_flow_stream_dropped_total', 'Records not delivered to a slow flow-stream viewer (weir monitor, /v1/flows)'),
    batches: registry.counter('weir_accesslog_batches_total', 'Access-log batches received from agents', ['node']),
    peers: new PeerLabels(),
  };
}

/** At most this many (source, destination) identity pairs get their own weir_policy_l7_total series. */
export const L7_PEER_PAIRS_MAX = 500;

/** Keeps the peer labels of weir_policy_l7_total bounded: pairs past the limit count as "other". */
export class PeerLabels {
  readonly #pairs = new Set<string>();

  constructor(private readonly max: number = L7_PEER_PAIRS_MAX) {}

  of(record: AccessLogRecord): { source: string; destination: string } {
    const source = identityLabel(record.source.identity);
    const destination = identityLabel(record.destination.identity);
    const pair = `${source} ${destination}`;
    if (this.#pairs.has(pair)) return { source, destination };
    if (this.#pairs.size >= this.max) return { source: 'other', destination: 'other' };
    this.#pairs.add(pair);
    return { source, destination };
  }
}

/** Counts one record into weir_policy_l7_total; Response entries are not requests and are skipped. */
export function countL7Record(metrics: AccessLogMetrics, record: AccessLogRecord): void {
  const verdict = l7VerdictOf(record);
  if (verdict === undefined) return;
  const { source, destination } = metrics.peers.of(record);
  const requests = requestsOf(record);
  metrics.l7Requests.inc({ proto: record.protocol, verdict: 'received', source, destination }, requests);
  metrics.l7Requests.inc({ proto: record.protocol, verdict, source, destination }, requests);
}

function identityLabel(identity: number): string {
  const reserved = reservedIdentityName(identity);
  return reserved === undefined ? String(identity) : `reserved:${reserved}`;
}

function l7VerdictOf(record: AccessLogRecord): L7Verdict | undefined {
  switch (record.type) {
    case 'Request':
      return 'forwarded';
    case 'Denied':
      return 'denied';
    case 'Error':
      return 'parse_errors';
    case 'Response':
      return undefined;
  }
}
