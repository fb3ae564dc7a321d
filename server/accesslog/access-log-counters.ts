// What the access-log path counts, as an interface the server's observability implements with
// Prometheus counters (server/observability/weir-metrics.ts) and hands in. The access-log modules
// report events through it and never import the metrics registry, so the dependency runs one way:
// observability → accesslog.
import type { AccessLogRecord } from './access-log-record.ts';

/** Where an access-log entry was lost; see docs/accesslog.md. */
export type DropStage = 'agent_queue' | 'agent_buffer' | 'agent_malformed' | 'server_rejected';

export interface AccessLogCounters {
  /** A record reached the hub (duplicates were already discarded). */
  recordPublished(record: AccessLogRecord): void;
  /** A slow viewer could not take a record. */
  viewerDropped(): void;
  batchReceived(nodeId: string): void;
  /** Entries received again (resent after a reconnect) and discarded. */
  duplicates(nodeId: string, count: number): void;
  /** Numbered entries that never arrived. */
  sequenceGaps(nodeId: string, count: number): void;
  /** Entries lost before they reached the server, by stage. */
  lost(nodeId: string, stage: DropStage, count: number): void;
}

/** For parts run without a metrics registry (tests, tools): counts nothing. */
export const UNCOUNTED: AccessLogCounters = {
  recordPublished: () => undefined,
  viewerDropped: () => undefined,
  batchReceived: () => undefined,
  duplicates: () => undefined,
  sequenceGaps: () => undefined,
  lost: () => undefined,
};
