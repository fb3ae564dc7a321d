// A ConfigWatcher over per-proxy snapshots (go-control-plane's SnapshotCache): each proxy gets
// the snapshot set for its node id, else the default snapshot shared by all proxies, so shared
// config is encoded once. Open watches are answered when a new snapshot changes what they see;
// changes inside the batching window coalesce into one answer per watch. Answers that add or change
// go first, in push order (clusters before listeners); answers that only remove go last, in reverse
// (listeners before the clusters they used). Knows nothing of gRPC or nonces.
import type {
  ConfigWatch,
  ConfigWatcher,
  DeltaSubscriptionView,
  DeltaWatchRequest,
  DeltaWatchResponse,
  NameLookup,
  NodeIdentity,
  SotwSubscriptionView,
  SotwWatchRequest,
  SotwWatchResponse,
} from './config-watcher.ts';
import type { EncodedResource } from './resources/encoded-resource.ts';
import { pushRank } from './resources/push-order.ts';
import type { Snapshot, TypeSnapshot } from './snapshot.ts';

/** Key of the snapshot every proxy without a snapshot of its own receives. */
export const DEFAULT_SNAPSHOT_KEY = '*';

export interface SnapshotCacheOptions {
  /** Changes within this many milliseconds coalesce into one push per watch. Default 100; 0 = push at once. */
  batchWindowMs?: number;
}

export const DEFAULT_BATCH_WINDOW_MS = 100;

/** Nodes a flush answers per turn of the event loop. */
const RECORDS_PER_TURN = 500;

type OpenWatch = SotwWatch | DeltaWatch;

/**
 * One node id's own snapshot and open watches, kept together so a flush reaches a changed node's
 * watches and snapshot without looking either up. Lives while it has a snapshot or a watch.
 */
interface NodeRecord {
  readonly id: string;
  /** The node's own snapshot; undefined = the default snapshot applies. */
  snapshot: Snapshot | undefined;
  /** Registered watches (from the first arming until cancelled), in registration order. */
  readonly watches: OpenWatch[];
  /** In the list of records changed since the last flush. */
  changed: boolean;
}

interface WatchBase {
  node: NodeIdentity;
  typeUrl: string;
  /** Waiting for a change to answer (armed and not answered since). */
  armed: boolean;
  /** The node's record while registered (from the first arming until cancelled). */
  record: NodeRecord | undefined;
  /**
   * The type's content version in the snapshot this watch was last checked against. A snapshot
   * whose type has the same version cannot change the answer (nothing else the answer depends on
   * changes while the watch is open), so flush skips the watch without diffing.
   */
  checkedVersion: string | undefined;
}

// `answer` (below): the answer a flush computed and has not delivered yet, because the flush sorts
// every answer into push order before delivering any. Kept on the watch rather than in an object
// per answer; arming or cancelling the watch meanwhile drops it (it was computed for the earlier
// arming).
interface SotwWatch extends WatchBase {
  kind: 'sotw';
  answer: SotwWatchResponse | undefined;
  request: SotwWatchRequest;
  subscription: SotwSubscriptionView;
  respond: (response: SotwWatchResponse) => void;
}

interface DeltaWatch extends WatchBase {
  kind: 'delta';
  answer: DeltaWatchResponse | undefined;
  request: DeltaWatchRequest;
  subscription: DeltaSubscriptionView;
  respond: (response: DeltaWatchResponse) => void;
}

export class SnapshotCache implements ConfigWatcher {
  /** Records by node id: a change to one node's snapshot visits only that node's watches. */
  readonly #nodes = new Map<string, NodeRecord>();
  #defaultSnapshot: Snapshot | undefined;
  /** Records whose own snapshot was set or cleared since the last flush. */
  #changedRecords: NodeRecord[] = [];
  /** The default snapshot was set since the last flush: every record is affected. */
  #defaultChanged = false;
  readonly #batchWindowMs: number;
  #watchCount = 0;
  #flushTimer: NodeJS.Timeout | undefined;
  /** A flush is answering its nodes (over one or more turns of the event loop). */
  #answering = false;
  /** flush() was called while answering: flush again once done. */
  #flushWhenAnswered = false;
  /** Reused by every turn of a flush. */
  readonly #answeredByRank = new Map<number, OpenWatch[]>();

  constructor(options: SnapshotCacheOptions = {}) {
    this.#batchWindowMs = options.batchWindowMs ?? DEFAULT_BATCH_WINDOW_MS;
    if (!Number.isFinite(this.#batchWindowMs) || this.#batchWindowMs < 0) {
      throw new Error(`batchWindowMs must be a number >= 0, got ${this.#batchWindowMs}`);
    }
  }

  /** Sets the snapshot for one node id, or for every proxy with DEFAULT_SNAPSHOT_KEY. */
  setSnapshot(key: string, snapshot: Snapshot): void {
    if (key === DEFAULT_SNAPSHOT_KEY) {
      this.#defaultSnapshot = snapshot;
      this.#defaultChanged = true;
    } else {
      const record = this.#recordFor(key);
      record.snapshot = snapshot;
      this.#markChanged(record);
    }
    this.#scheduleFlush();
  }

  /** Drops a node's own snapshot; its open watches are then answered from the default snapshot. */
  clearSnapshot(key: string): void {
    if (key === DEFAULT_SNAPSHOT_KEY) {
      if (!this.#defaultSnapshot) return;
      this.#defaultSnapshot = undefined;
      this.#defaultChanged = true;
    } else {
      const record = this.#nodes.get(key);
      if (!record?.snapshot) return;
      record.snapshot = undefined;
      this.#markChanged(record);
      this.#dropIfUnused(record);
    }
    this.#scheduleFlush();
  }

  snapshotFor(node: NodeIdentity): Snapshot | undefined {
    return this.#snapshotOf(this.#nodes.get(node.id));
  }

  /**
   * Answers pending watches now instead of at the end of the batching window. The first
   * RECORDS_PER_TURN changed nodes are answered before this returns, the rest on later turns of
   * the event loop (see #answerRecords); a flush called while one is still answering runs when
   * it has finished.
   */
  flush(): void {
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#answering) {
      this.#flushWhenAnswered = true;
      return;
    }
    const changed = this.#changedRecords;
    this.#changedRecords = [];
    for (const record of changed) record.changed = false;
    let records = changed;
    if (this.#defaultChanged) {
      this.#defaultChanged = false;
      records = [...this.#nodes.values()];
    }
    this.#answerRecords(records, 0);
  }

  /**
   * Answers the watches of `records` from `start` on, RECORDS_PER_TURN nodes per turn of the event
   * loop: the first responses are on the wire (and their ACKs come back) while later nodes are
   * still computed, instead of every proxy waiting for the whole fleet's answers. A node's answers
   * are delivered together, in push order, from the snapshot it has at that turn.
   */
  #answerRecords(records: readonly NodeRecord[], start: number): void {
    // Set before delivering: a flush that a delivery causes waits for this one.
    this.#answering = true;
    const end = Math.min(records.length, start + RECORDS_PER_TURN);
    const answeredByRank = this.#answeredByRank;
    for (let index = start; index < end; index += 1) this.#collectAnswers(records[index] as NodeRecord, answeredByRank);
    for (const rank of [...answeredByRank.keys()].sort((left, right) => left - right)) {
      for (const watch of answeredByRank.get(rank) ?? []) {
        // Answered, re-armed or cancelled while earlier answers were delivered: nothing to deliver.
        if (!watch.armed || !watch.answer) continue;
        this.#disarm(watch);
        deliverAnswer(watch);
      }
    }
    answeredByRank.clear();
    if (end < records.length) {
      setImmediate(() => this.#answerRecords(records, end));
      return;
    }
    this.#answering = false;
    if (this.#flushWhenAnswered) {
      this.#flushWhenAnswered = false;
      this.flush();
    }
  }

  /**
   * Computes the answers of a record's armed watches and files the answered watches by push rank.
   * A method, not a closure made per flush: a closure's optimized code dies with it, and V8 then
   * recompiled this loop on every policy change.
   */
  #collectAnswers(record: NodeRecord, answeredByRank: Map<number, OpenWatch[]>): void {
    const snapshot = this.#snapshotOf(record);
    if (!snapshot) return;
    for (const watch of record.watches) {
      if (!watch.armed || !computeAnswer(watch, snapshot)) continue;
      const rank = answerRank(watch);
      const sameRank = answeredByRank.get(rank);
      if (sameRank) sameRank.push(watch);
      else answeredByRank.set(rank, [watch]);
    }
  }

  /** Stops the batching timer; open watches stay unanswered. */
  close(): void {
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    for (const record of this.#nodes.values()) {
      for (const watch of record.watches) {
        watch.armed = false;
        watch.answer = undefined;
        watch.record = undefined;
      }
      record.watches.length = 0;
      record.changed = false;
      if (!record.snapshot) this.#nodes.delete(record.id);
    }
    this.#changedRecords = [];
    this.#defaultChanged = false;
    this.#watchCount = 0;
  }

  /** Armed watches: waiting for a change to answer. */
  openWatchCount(): number {
    return this.#watchCount;
  }

  openWatch(
    request: SotwWatchRequest,
    subscription: SotwSubscriptionView,
    respond: (response: SotwWatchResponse) => void,
  ): ConfigWatch {
    return this.#open({ kind: 'sotw', node: request.node, typeUrl: request.typeUrl, armed: false, answer: undefined, record: undefined, checkedVersion: undefined, request, subscription, respond });
  }

  openDeltaWatch(
    request: DeltaWatchRequest,
    subscription: DeltaSubscriptionView,
    respond: (response: DeltaWatchResponse) => void,
  ): ConfigWatch {
    return this.#open({ kind: 'delta', node: request.node, typeUrl: request.typeUrl, armed: false, answer: undefined, record: undefined, checkedVersion: undefined, request, subscription, respond });
  }

  #open(watch: OpenWatch): ConfigWatch {
    return { arm: () => this.#arm(watch), cancel: () => this.#cancel(watch) };
  }

  #arm(watch: OpenWatch): void {
    // An answer a flush in progress computed for the previous arming is not delivered.
    watch.answer = undefined;
    // The request or the view may have changed since the last look.
    watch.checkedVersion = undefined;
    const snapshot = this.#snapshotOf(watch.record ?? this.#nodes.get(watch.node.id));
    if (snapshot && computeAnswer(watch, snapshot)) {
      this.#disarm(watch);
      deliverAnswer(watch);
      return;
    }
    if (!watch.armed) {
      watch.armed = true;
      this.#watchCount += 1;
    }
    if (watch.record) return;
    const record = this.#recordFor(watch.node.id);
    record.watches.push(watch);
    watch.record = record;
  }

  #disarm(watch: OpenWatch): void {
    if (!watch.armed) return;
    watch.armed = false;
    this.#watchCount -= 1;
  }

  #cancel(watch: OpenWatch): void {
    this.#disarm(watch);
    watch.answer = undefined;
    const record = watch.record;
    if (!record) return;
    watch.record = undefined;
    const index = record.watches.indexOf(watch);
    if (index >= 0) record.watches.splice(index, 1);
    this.#dropIfUnused(record);
  }

  /** A node's own snapshot, else the default one. */
  #snapshotOf(record: NodeRecord | undefined): Snapshot | undefined {
    return record?.snapshot ?? this.#defaultSnapshot;
  }

  #recordFor(nodeId: string): NodeRecord {
    let record = this.#nodes.get(nodeId);
    if (!record) {
      record = { id: nodeId, snapshot: undefined, watches: [], changed: false };
      this.#nodes.set(nodeId, record);
    }
    return record;
  }

  #markChanged(record: NodeRecord): void {
    if (record.changed) return;
    record.changed = true;
    this.#changedRecords.push(record);
  }

  /** A record with neither snapshot nor watches leaves the map (a pending flush still holds it, harmlessly). */
  #dropIfUnused(record: NodeRecord): void {
    if (record.snapshot || record.watches.length > 0) return;
    if (this.#nodes.get(record.id) === record) this.#nodes.delete(record.id);
  }

  #scheduleFlush(): void {
    if (this.#batchWindowMs === 0) {
      this.flush();
      return;
    }
    this.#flushTimer ??= setTimeout(() => this.flush(), this.#batchWindowMs);
  }
}

/**
 * Sets `watch.answer` to what it would answer with `snapshot`, if anything (true then); records the
 * version it was checked against.
 */
function computeAnswer(watch: OpenWatch, snapshot: Snapshot): boolean {
  const ofType = snapshot.forType(watch.typeUrl);
  if (watch.checkedVersion === ofType.version) return false;
  watch.checkedVersion = ofType.version;
  if (watch.kind === 'sotw') {
    const response = sotwResponseIfChanged(ofType, watch.request, watch.subscription);
    if (!response) return false;
    watch.answer = response;
    return true;
  }
  const response = deltaResponseIfChanged(ofType, watch.request, watch.subscription);
  if (!response) return false;
  watch.answer = response;
  return true;
}

/** Hands the computed answer to the stream, once. */
function deliverAnswer(watch: OpenWatch): void {
  if (watch.kind === 'sotw') {
    const answer = watch.answer;
    watch.answer = undefined;
    if (answer) watch.respond(answer);
  } else {
    const answer = watch.answer;
    watch.answer = undefined;
    if (answer) watch.respond(answer);
  }
}

/**
 * Adds and changes in push order first, then removal-only answers in reverse push order. For a
 * watch whose answer was just computed (the subscription it was computed against is unchanged).
 */
function answerRank(watch: OpenWatch): number {
  const rank = pushRank(watch.typeUrl);
  return removesOnly(watch) ? 1000 - rank : rank;
}

/** True when the watch's computed answer only takes resources away. */
function removesOnly(watch: OpenWatch): boolean {
  if (watch.kind === 'sotw') return watch.answer !== undefined && sotwRemovesOnly(watch.answer, watch.subscription);
  return watch.answer !== undefined && watch.answer.changed.length === 0;
}

/** True when every resource sent is one the proxy already has, and some it had are gone. */
function sotwRemovesOnly(response: SotwWatchResponse, subscription: SotwSubscriptionView): boolean {
  const unchanged = response.resources.every((resource) => subscription.deliveredHashes.get(resource.name) === resource.hash);
  return unchanged && response.resources.length < subscription.deliveredHashes.size;
}

function sotwResponseIfChanged(
  ofType: TypeSnapshot,
  request: SotwWatchRequest,
  subscription: SotwSubscriptionView,
): SotwWatchResponse | undefined {
  const versionChanged = subscription.deliveredVersion !== ofType.version;
  const newlyRequested = !request.wildcard && someNotIn(request.resourceNames, subscription.deliveredNames);
  if (!versionChanged && !newlyRequested) return undefined;
  if (request.wildcard) return { typeUrl: request.typeUrl, version: ofType.version, resources: [...ofType.resources.values()], hashes: ofType.hashes };
  const resources: EncodedResource[] = [];
  const hashes = new Map<string, string>();
  for (const name of request.resourceNames) {
    const resource = ofType.resources.get(name);
    if (!resource) continue;
    resources.push(resource);
    hashes.set(name, resource.hash);
  }
  return { typeUrl: request.typeUrl, version: ofType.version, resources, hashes };
}

function someNotIn(names: ReadonlySet<string>, known: NameLookup): boolean {
  for (const name of names) if (!known.has(name)) return true;
  return false;
}

function deltaResponseIfChanged(
  ofType: TypeSnapshot,
  request: DeltaWatchRequest,
  subscription: DeltaSubscriptionView,
): DeltaWatchResponse | undefined {
  const changed: EncodedResource[] = [];
  if (request.wildcard) {
    for (const resource of ofType.resources.values()) {
      if (subscription.knownVersions.get(resource.name) !== resource.hash) changed.push(resource);
    }
  } else {
    for (const name of request.resourceNames) {
      const resource = ofType.resources.get(name);
      if (resource && subscription.knownVersions.get(name) !== resource.hash) changed.push(resource);
    }
  }
  const removed: string[] = [];
  for (const name of subscription.knownVersions.keys()) {
    if ((request.wildcard || request.resourceNames.has(name)) && !ofType.resources.has(name)) removed.push(name);
  }
  if (changed.length === 0 && removed.length === 0) return undefined;
  return { typeUrl: request.typeUrl, systemVersion: ofType.version, changed, removed };
}
