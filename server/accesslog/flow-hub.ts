// The server's fan-out point for access-log records: each record is written as a pino JSON line,
// kept in the bounded ring, counted (AccessLogCounters), and offered to every live viewer whose filter
// matches (the flows stream behind `weir monitor`). Owns the viewer list; viewers own their own
// bounded buffers and report what they could not take, which is counted here.
import type { Logger } from 'pino';
import { silentLogger } from '../log/logger.ts';
import { UNCOUNTED, type AccessLogCounters } from './access-log-counters.ts';
import type { AccessLogRecord } from './access-log-record.ts';
import { matchesFlowFilter, type FlowFilter } from './flow-filter.ts';
import { FlowRing } from './flow-ring.ts';

export interface FlowHubOptions {
  /** Records kept for `--last N` and new viewers. Default 4096. */
  ringSize?: number;
  /** Where each record goes as one JSON line (`{"flow": {...}, "msg": "access log"}`). Default: silent. */
  entryLogger?: Logger;
  /** Default: count nothing. */
  counters?: AccessLogCounters;
}

export const FLOW_HUB_DEFAULTS = { ringSize: 4096 } as const;

/** What a viewer did with a record it was offered. */
export type ViewerOutcome = 'delivered' | 'dropped';

export interface FlowViewer {
  filter: FlowFilter;
  offer(record: AccessLogRecord): ViewerOutcome;
}

export class FlowHub {
  readonly ring: FlowRing;
  readonly #counters: AccessLogCounters;
  #viewerDropped = 0;
  readonly #entryLogger: Logger;
  readonly #viewers = new Set<FlowViewer>();

  constructor(options: FlowHubOptions = {}) {
    this.ring = new FlowRing(options.ringSize ?? FLOW_HUB_DEFAULTS.ringSize);
    this.#counters = options.counters ?? UNCOUNTED;
    this.#entryLogger = options.entryLogger ?? silentLogger();
  }

  publish(record: AccessLogRecord): void {
    this.#entryLogger.info({ flow: record }, 'access log');
    this.ring.push(record);
    this.#counters.recordPublished(record);
    for (const viewer of this.#viewers) {
      if (!matchesFlowFilter(record, viewer.filter)) continue;
      if (viewer.offer(record) === 'dropped') {
        this.#viewerDropped += 1;
        this.#counters.viewerDropped();
      }
    }
  }

  /** Adds a live viewer; returns the function that removes it. */
  watch(viewer: FlowViewer): () => void {
    this.#viewers.add(viewer);
    return () => this.#viewers.delete(viewer);
  }

  recent(limit: number, filter: FlowFilter = {}): AccessLogRecord[] {
    return this.ring.recent(limit, (record) => matchesFlowFilter(record, filter));
  }

  get viewerCount(): number {
    return this.#viewers.size;
  }

  /** Records not delivered to slow viewers since the hub started. */
  get viewerDropped(): number {
    return this.#viewerDropped;
  }
}
