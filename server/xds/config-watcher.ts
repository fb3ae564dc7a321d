// The boundary between the xDS streams and whatever computes config (go-control-plane's
// ConfigWatcher): a stream opens one watch per proxy and type, over its request and a view of what
// that proxy already has, and arms it on every request the protocol lets it answer; an armed watch
// answers at most once, when there is something new to send, and waits to be armed again. Kept for
// the life of the stream rather than created and cancelled per ACK: at thousands of proxies per
// push, a watch object, its closures and its registration per ACK were a fair part of the work.
// Nothing here knows gRPC, nonces or how config is computed.
import type { EncodedResource } from './resources/encoded-resource.ts';

export interface NodeIdentity {
  /** Envoy's node.id. */
  id: string;
  /** Envoy's node.cluster. */
  cluster: string;
}

/** One proxy's watch on one type; the request and view it was opened with are read again at each arming. */
export interface ConfigWatch {
  /**
   * Answers at once if the request and view (as they are now) call for a response, else on the
   * first change that does; at most once per arming. Arming an armed watch looks again.
   */
  arm(): void;
  /** Disarms the watch for good (the stream ended). */
  cancel(): void;
}

export interface SotwWatchRequest {
  node: NodeIdentity;
  typeUrl: string;
  /** Everything of the type (LDS/CDS as Envoy asks), or only `resourceNames`. */
  wildcard: boolean;
  resourceNames: ReadonlySet<string>;
}

/** What the stream already delivered for this type. */
export interface SotwSubscriptionView {
  /** Version last sent on this stream (ACKed or NACKed alike), or the one Envoy reported on reconnect. */
  deliveredVersion: string | undefined;
  /**
   * Names that delivery covered (for named subscriptions, including names that did not exist); only
   * looked up, so a stream may hand over a set or map it shares with the snapshot.
   */
  deliveredNames: NameLookup;
  /** name -> content hash of the resources that delivery carried. */
  deliveredHashes: ReadonlyMap<string, string>;
}

/** A set of names, as far as a watch needs one. */
export type NameLookup = Pick<ReadonlySet<string>, 'has'>;

export interface SotwWatchResponse {
  typeUrl: string;
  version: string;
  resources: readonly EncodedResource[];
  /** name -> content hash of `resources` (shared with the snapshot when it is all of the type). */
  hashes: ReadonlyMap<string, string>;
}

export interface DeltaWatchRequest {
  node: NodeIdentity;
  typeUrl: string;
  wildcard: boolean;
  resourceNames: ReadonlySet<string>;
}

/** What the proxy holds: name -> resource version (content hash). */
export interface DeltaSubscriptionView {
  knownVersions: ReadonlyMap<string, string>;
}

export interface DeltaWatchResponse {
  typeUrl: string;
  /** Debug-only version of the whole type. */
  systemVersion: string;
  changed: readonly EncodedResource[];
  removed: readonly string[];
}

/**
 * `request` and `subscription` belong to the stream, which may change them between armings (not
 * while a watch is armed without arming it again); a new watch is not armed.
 */
export interface ConfigWatcher {
  openWatch(
    request: SotwWatchRequest,
    subscription: SotwSubscriptionView,
    respond: (response: SotwWatchResponse) => void,
  ): ConfigWatch;
  openDeltaWatch(
    request: DeltaWatchRequest,
    subscription: DeltaSubscriptionView,
    respond: (response: DeltaWatchResponse) => void,
  ): ConfigWatch;
}
