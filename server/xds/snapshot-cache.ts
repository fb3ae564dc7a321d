// A ConfigWatcher over per-proxy snapshots (go-control-plane's SnapshotCache): each proxy gets
// the snapshot set for its node id, else the default snapshot shared by all proxies, so shared
// config is encoded once. Open watches are answered when a new snapshot changes what they see;
// changes inside the batching window coalesce into one answer per watch. Answers that add or change
// go first, in push order (clusters before listeners); answers that only remove go last, in reverse
// (listeners before the clusters they used). Knows nothing of gRPC or nonces.
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

interface PendingAnswer {
  /** The answer only takes resources away. */
  removalOnly: boolean;
  deliver: () => void;
}

interface OpenWatch {
  node: NodeIdentity;
  typeUrl: string;
  /** What this watch would answer with the snapshot, if anything. */
  pendingAnswer: (snapshot: Snapshot) => PendingAnswer | undefined;
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
    const answers: Array<{ watch: OpenWatch; answer: PendingAnswer }> = [];
    for (const watch of this.#watches) {
      const snapshot = this.snapshotFor(watch.node);
      const answer = snapshot ? watch.pendingAnswer(snapshot) : undefined;
      if (answer) answers.push({ watch, answer });
    }
    answers.sort((left, right) => answerRank(left.watch, left.answer) - answerRank(right.watch, right.answer));
    for (const { watch, answer } of answers) {
      if (!this.#watches.delete(watch)) continue;
      answer.deliver();
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
      pendingAnswer: (snapshot) => {
        const response = sotwResponseIfChanged(snapshot, request, subscription);
        if (!response) return undefined;
        return { removalOnly: sotwRemovesOnly(response, subscription), deliver: () => respond(response) };
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
      pendingAnswer: (snapshot) => {
        const response = deltaResponseIfChanged(snapshot, request, subscription);
        if (!response) return undefined;
        return { removalOnly: response.changed.length === 0, deliver: () => respond(response) };
      },
    });
  }

  #open(watch: OpenWatch): CancelWatch {
    const snapshot = this.snapshotFor(watch.node);
    const answer = snapshot ? watch.pendingAnswer(snapshot) : undefined;
    if (answer) {
      answer.deliver();
      return () => {};
    }
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

/** Adds and changes in push order first, then removal-only answers in reverse push order. */
function answerRank(watch: OpenWatch, answer: PendingAnswer): number {
  const rank = pushRank(watch.typeUrl);
  return answer.removalOnly ? 1000 - rank : rank;
}

/** True when every resource sent is one the proxy already has, and some it had are gone. */
function sotwRemovesOnly(response: SotwWatchResponse, subscription: SotwSubscriptionView): boolean {
  const unchanged = response.resources.every((resource) => subscription.deliveredHashes.get(resource.name) === resource.hash);
  return unchanged && response.resources.length < subscription.deliveredHashes.size;
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
