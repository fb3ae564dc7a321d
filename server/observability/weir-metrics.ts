// The metrics Weir exposes, in one place: names, help texts and labels, so `/metrics`, `weir
// metrics list` and docs/metrics.md agree. Owns the families fed by the access-log pipeline, which
// reports through the AccessLogCounters this module implements; xds-metrics.ts adds the xDS ones.
import type { AccessLogCounters, DropStage } from '../accesslog/access-log-counters.ts';
import type { AccessLogPipeline } from '../accesslog/access-log-pipeline.ts';
import { requestsOf, type AccessLogRecord } from '../accesslog/access-log-record.ts';
import { reservedIdentityName } from '../identity/reserved-identities.ts';
import type { MetricsRegistry, StoredMetric } from './metrics-registry.ts';

/** The `verdict` label of weir_policy_l7_total, as Cilium's cilium_policy_l7_total `rule` label. */
export type L7Verdict = 'received' | 'forwarded' | 'denied' | 'parse_errors';

/** The access-log families of a registry, counted as the pipeline reports events. */
export function createAccessLogCounters(registry: MetricsRegistry): AccessLogCounters {
  const l7Requests = registry.counter(
    'weir_policy_l7_total',
    `L7 requests seen by parsers, by protocol, verdict (received = forwarded + denied + parse_errors) and source and destination identity (reserved ones by name; beyond ${L7_PEER_PAIRS_MAX} pairs "other")`,
    ['proto', 'verdict', 'source', 'destination'],
  );
  const recordsReceived = registry.counter('weir_accesslog_records_total', 'Access-log records received from agents (duplicates excluded)', ['node']);
  const dropped = registry.counter(
    'weir_accesslog_dropped_total',
    'Access-log entries lost before reaching the server, by proxy and stage (agent_queue, agent_buffer, agent_malformed, server_rejected)',
    ['node', 'stage'],
  );
  const missing = registry.counter(
    'weir_accesslog_sequence_gaps_total',
    'Numbered entries that never arrived (gaps in an agent run\'s sequence); matches agent_buffer drops when the server saw the run from its start',
    ['node'],
  );
  const duplicates = registry.counter('weir_accesslog_duplicates_total', 'Entries received twice (resent after a reconnect) and discarded', ['node']);
  const viewerDropped = registry.counter('weir_flow_stream_dropped_total', 'Records not delivered to a slow flow-stream viewer (weir monitor, /v1/flows)');
  const batches = registry.counter('weir_accesslog_batches_total', 'Access-log batches received from agents', ['node']);
  const peers = new PeerLabels();
  return {
    recordPublished: (record) => {
      recordsReceived.inc({ node: record.nodeId });
      countL7Record(l7Requests, peers, record);
    },
    viewerDropped: () => viewerDropped.inc(),
    batchReceived: (nodeId) => batches.inc({ node: nodeId }),
    duplicates: (nodeId, count) => duplicates.inc({ node: nodeId }, count),
    sequenceGaps: (nodeId, count) => missing.inc({ node: nodeId }, count),
    lost: (nodeId: string, stage: DropStage, count: number) => dropped.inc({ node: nodeId, stage }, count),
  };
}

/** The pipeline's gauges, read from its state when `/metrics` is scraped. */
export function registerAccessLogPipelineMetrics(registry: MetricsRegistry, pipeline: Pick<AccessLogPipeline, 'hub' | 'sessions'>): void {
  registry.collected('weir_accesslog_agents_connected', 'Agents with an open access-log stream', 'gauge', () => [
    { labels: {}, value: pipeline.sessions.list().filter((agent) => agent.connected).length },
  ]);
  registry.collected('weir_accesslog_ring_evicted_total', 'Records pushed out of the in-memory ring by newer ones (still in the JSON log)', 'counter', () => [
    { labels: {}, value: pipeline.hub.ring.evicted },
  ]);
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
function countL7Record(l7Requests: StoredMetric, peers: PeerLabels, record: AccessLogRecord): void {
  const verdict = l7VerdictOf(record);
  if (verdict === undefined) return;
  const { source, destination } = peers.of(record);
  const requests = requestsOf(record);
  l7Requests.inc({ proto: record.protocol, verdict: 'received', source, destination }, requests);
  l7Requests.inc({ proto: record.protocol, verdict, source, destination }, requests);
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
