// A bounded ring of the most recent access-log records, for `weir monitor --last N` and for flow
// streams that start with history. Owns only the storage and its eviction count: when the ring is
// full the oldest record makes room and `evicted` counts it (no record leaves silently).
import type { AccessLogRecord } from './access-log-record.ts';

export class FlowRing {
  readonly capacity: number;
  readonly #slots: (AccessLogRecord | undefined)[];
  #next = 0;
  #size = 0;
  #evicted = 0;
  #added = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new Error(`flow ring capacity ${capacity} is not a positive integer; set accessLog.ringSize to e.g. 4096`);
    }
    this.capacity = capacity;
    this.#slots = new Array<AccessLogRecord | undefined>(capacity);
  }

  push(record: AccessLogRecord): void {
    if (this.#size === this.capacity) this.#evicted += 1;
    else this.#size += 1;
    this.#slots[this.#next] = record;
    this.#next = (this.#next + 1) % this.capacity;
    this.#added += 1;
  }

  /** The newest `limit` records that satisfy `matches`, oldest first. */
  recent(limit: number, matches: (record: AccessLogRecord) => boolean = () => true): AccessLogRecord[] {
    const found: AccessLogRecord[] = [];
    for (let back = 1; back <= this.#size && found.length < limit; back++) {
      const record = this.#slots[(this.#next - back + this.capacity) % this.capacity];
      if (record !== undefined && matches(record)) found.push(record);
    }
    return found.reverse();
  }

  get size(): number {
    return this.#size;
  }

  /** Records pushed out by newer ones since the ring was made. */
  get evicted(): number {
    return this.#evicted;
  }

  get added(): number {
    return this.#added;
  }
}
