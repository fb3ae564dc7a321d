// A ConfigWatcher over per-proxy snapshots (go-control-plane's SnapshotCache): each proxy gets
// the snapshot set for its node id, else the default snapshot shared by all proxies, so shared
// config is encoded once. Open watches are answered when a new snapshot changes what they see;
// changes inside the batching window coalesce into one answer per watch, in push order
// (clusters before listeners). Knows nothing of gRPC or nonces.
import type {
  CancelWatch,
  ConfigWatcher,
  DeltaSubscriptionView,
  DeltaWatchRequest,
  DeltaWatchResponse,
  NodeIdentity,
  SotwSubscriptionView,
  SotwWatchRequest,
  SotwWatchResponse,
} from './config-watcher.ts';
import type { EncodedResource } from './resources/encoded-resource.ts';
import { pushRank } from './resources/push-order.ts';
import type { Snapshot } from './snapshot.ts';

/** Key of the snapshot every proxy without a snapshot of its own receives. */
export const DEFAULT_SNAPSHOT_KEY = '*';

export interface SnapshotCacheOptions {
  /** Changes within this many milliseconds coalesce into one push per watch. Default 100; 0 = push at once. */
  batchWindowMs?: number;
}

export const DEFAULT_BATCH_WINDOW_MS = 100;

interface OpenWatch {
  node: NodeIdentity;
  typeUrl: string;
  /** Answers if there is something to send; true when it answered (the watch is then spent). */
  tryAnswer: (snapshot: Snapshot) => boolean;
}

export class SnapshotCache implements ConfigWatcher {
  readonly #snapshots = new Map<string, Snapshot>();
  readonly #watches = new Set<OpenWatch>();
  readonly #batchWindowMs: number;
  #flushTimer: NodeJS.Timeout | undefined;

  constructor(options: SnapshotCacheOptions = {}) {
    this.#batchWindowMs = options.batchWindowMs ?? DEFAULT_BATCH_WINDOW_MS;
    if (!Number.isFinite(this.#batchWindowMs) || this.#batchWindowMs < 0) {
      throw new Error(`batchWindowMs must be a number >= 0, got ${this.#batchWindowMs}`);
    }
  }

  /** Sets the snapshot for one node id, or for every proxy with DEFAULT_SNAPSHOT_KEY. */
  setSnapshot(key: string, snapshot: Snapshot): void {
    this.#snapshots.set(key, snapshot);
    this.#scheduleFlush();
  }

  clearSnapshot(key: string): void {
    this.#snapshots.delete(key);
  }

  snapshotFor(node: NodeIdentity): Snapshot | undefined {
    return this.#snapshots.get(node.id) ?? this.#snapshots.get(DEFAULT_SNAPSHOT_KEY);
  }

  /** Answers pending watches now instead of at the end of the batching window. */
  flush(): void {
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    const inPushOrder = [...this.#watches].sort((left, right) => pushRank(left.typeUrl) - pushRank(right.typeUrl));
    for (const watch of inPushOrder) {
      if (!this.#watches.has(watch)) continue;
      const snapshot = this.snapshotFor(watch.node);
      if (snapshot && watch.tryAnswer(snapshot)) this.#watches.delete(watch);
    }
  }

  /** Stops the batching timer; open watches stay unanswered. */
  close(): void {
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#watches.clear();
  }

  openWatchCount(): number {
    return this.#watches.size;
  }

  createWatch(
    request: SotwWatchRequest,
    subscription: SotwSubscriptionView,
    respond: (response: SotwWatchResponse) => void,
  ): CancelWatch {
    return this.#open({
      node: request.node,
      typeUrl: request.typeUrl,
      tryAnswer: (snapshot) => {
        const response = sotwResponseIfChanged(snapshot, request, subscription);
        if (response) respond(response);
        return response !== undefined;
      },
    });
  }

  createDeltaWatch(
    request: DeltaWatchRequest,
    subscription: DeltaSubscriptionView,
    respond: (response: DeltaWatchResponse) => void,
  ): CancelWatch {
    return this.#open({
      node: request.node,
      typeUrl: request.typeUrl,
      tryAnswer: (snapshot) => {
        const response = deltaResponseIfChanged(snapshot, request, subscription);
        if (response) respond(response);
        return response !== undefined;
      },
    });
  }

  #open(watch: OpenWatch): CancelWatch {
    const snapshot = this.snapshotFor(watch.node);
    if (snapshot && watch.tryAnswer(snapshot)) return () => {};
    this.#watches.add(watch);
    return () => {
      this.#watches.delete(watch);
    };
  }

  #scheduleFlush(): void {
    if (this.#batchWindowMs === 0) {
      this.flush();
      return;
    }
    this.#flushTimer ??= setTimeout(() => this.flush(), this.#batchWindowMs);
  }
}

function sotwResponseIfChanged(
  snapshot: Snapshot,
  request: SotwWatchRequest,
  subscription: SotwSubscriptionView,
): SotwWatchResponse | undefined {
  const ofType = snapshot.forType(request.typeUrl);
  const versionChanged = subscription.deliveredVersion !== ofType.version;
  const newlyRequested =
    !request.wildcard && [...request.resourceNames].some((name) => !subscription.deliveredNames.has(name));
  if (!versionChanged && !newlyRequested) return undefined;
  const resources = request.wildcard
    ? [...ofType.resources.values()]
    : [...request.resourceNames].flatMap((name) => {
        const resource = ofType.resources.get(name);
        return resource ? [resource] : [];
      });
  return { typeUrl: request.typeUrl, version: ofType.version, resources };
}

function deltaResponseIfChanged(
  snapshot: Snapshot,
  request: DeltaWatchRequest,
  subscription: DeltaSubscriptionView,
): DeltaWatchResponse | undefined {
  const ofType = snapshot.forType(request.typeUrl);
  const wanted = (name: string): boolean => request.wildcard || request.resourceNames.has(name);
  const changed: EncodedResource[] = [];
  for (const [name, resource] of ofType.resources) {
    if (wanted(name) && subscription.knownVersions.get(name) !== resource.hash) changed.push(resource);
  }
  const removed = [...subscription.knownVersions.keys()].filter(
    (name) => wanted(name) && !ofType.resources.has(name),
  );
  if (changed.length === 0 && removed.length === 0) return undefined;
  return { typeUrl: request.typeUrl, systemVersion: ofType.version, changed, removed };
}
