// Remembers, per proxy and resource type, which version was sent, acknowledged or rejected (with
// Envoy's message) and when, and whether the proxy is connected. `weir proxy list`, the REST API and
// `weir policy wait` read it to report what is enforced: "enforced means acknowledged". Builds no
// resources (see resources/) and speaks no gRPC (see ads.ts).
import type { NodeIdentity } from './config-watcher.ts';

export interface NackRecord {
  version: string;
  message: string;
  at: Date;
}

export interface TypeApplyState {
  typeUrl: string;
  sentVersion: string | undefined;
  sentAt: Date | undefined;
  /** A response is out and neither ACKed nor NACKed yet. */
  awaitingReply: boolean;
  ackedVersion: string | undefined;
  ackedAt: Date | undefined;
  /** name -> content hash of every resource of this type the proxy runs, as of the last ACK. */
  ackedResources: ReadonlyMap<string, string>;
  /** The latest rejection; cleared when a later version is ACKed. */
  lastNack: NackRecord | undefined;
  /** The xDS variant of the stream that carries this type (an Envoy's own ADS stream and its Weir
   * agent's stream share a node id, and may differ). */
  variant: StreamVariant | undefined;
}

export type StreamVariant = 'sotw' | 'delta';

export interface ProxyStatus {
  nodeId: string;
  cluster: string;
  connected: boolean;
  openStreams: number;
  /** Variant of the most recently opened stream; see TypeApplyState.variant for each type's own. */
  variant: StreamVariant | undefined;
  peer: string | undefined;
  connectedAt: Date | undefined;
  disconnectedAt: Date | undefined;
  types: TypeApplyState[];
}

export interface ProxyStatusOptions {
  /** Source of timestamps. Default: wall clock. */
  now?: () => Date;
}

/** What waitForApplied's test sees of a type's state (the registry's own record, not a copy). */
export type AppliedStateView = Readonly<Pick<TypeApplyState, 'typeUrl' | 'sentVersion' | 'awaitingReply' | 'ackedVersion' | 'ackedResources' | 'lastNack' | 'variant'>>;

export interface WaitForAppliedOptions {
  nodeIds: readonly string[];
  typeUrl: string;
  /** True once the proxy's state for the type includes the change being waited for. */
  isApplied: (state: AppliedStateView) => boolean;
  timeoutMs: number;
}

type StatusListener = () => void;

/**
 * What the registry keeps per proxy and type: TypeApplyState with times as epoch milliseconds
 * (updated in place on every push and ACK, where Date objects would pile up for the collector),
 * and what the proxy will hold once it ACKs the latest response.
 */
interface TrackedTypeState extends Omit<TypeApplyState, 'sentAt' | 'ackedAt'> {
  sentAtMs: number | undefined;
  ackedAtMs: number | undefined;
  pendingResources: ReadonlyMap<string, string> | undefined;
}

interface TrackedProxy extends Omit<ProxyStatus, 'types'> {
  types: TrackedTypeState[];
}

export class ProxyStatusRegistry {
  readonly #proxies = new Map<string, TrackedProxy>();
  readonly #listeners = new Set<StatusListener>();
  readonly #now: () => Date;
  /** Epoch milliseconds for the per-push and per-ACK records: no Date object per record with the wall clock. */
  readonly #nowMs: () => number;

  constructor(options: ProxyStatusOptions = {}) {
    const now = options.now;
    this.#now = now ?? (() => new Date());
    this.#nowMs = now ? () => now().getTime() : Date.now;
  }

  streamOpened(node: NodeIdentity, stream: { variant: StreamVariant; peer: string }): void {
    const proxy = this.#proxy(node);
    proxy.cluster = node.cluster;
    proxy.openStreams += 1;
    proxy.connected = true;
    proxy.variant = stream.variant;
    proxy.peer = stream.peer;
    proxy.connectedAt = this.#now();
    this.#changed();
  }

  streamClosed(node: NodeIdentity): void {
    const proxy = this.#proxy(node);
    proxy.openStreams = Math.max(0, proxy.openStreams - 1);
    proxy.connected = proxy.openStreams > 0;
    if (!proxy.connected) proxy.disconnectedAt = this.#now();
    for (const state of proxy.types) state.awaitingReply = false;
    this.#changed();
  }

  /** `holds`: name -> hash of everything the proxy will run of this type if it ACKs. */
  recordSent(nodeId: string, typeUrl: string, version: string, holds: ReadonlyMap<string, string> = NOTHING_HELD, variant?: StreamVariant): void {
    const state = this.#typeState(nodeId, typeUrl);
    if (variant !== undefined) state.variant = variant;
    state.pendingResources = holds;
    state.sentVersion = version;
    state.sentAtMs = this.#nowMs();
    state.awaitingReply = true;
    this.#changed();
  }

  recordAck(nodeId: string, typeUrl: string, version: string): void {
    const state = this.#typeState(nodeId, typeUrl);
    const pending = state.pendingResources;
    if (pending && state.sentVersion === version) state.ackedResources = pending;
    state.ackedVersion = version;
    state.ackedAtMs = this.#nowMs();
    state.awaitingReply = false;
    if (state.lastNack && state.lastNack.version !== version) state.lastNack = undefined;
    this.#changed();
  }

  recordNack(nodeId: string, typeUrl: string, version: string, message: string): void {
    const state = this.#typeState(nodeId, typeUrl);
    state.lastNack = { version, message, at: this.#now() };
    state.awaitingReply = false;
    this.#changed();
  }

  /**
   * Drops proxies disconnected for longer than `retentionMs`, so a fleet that churns does not grow
   * the registry forever. Returns the node ids dropped.
   */
  forgetDisconnected(retentionMs: number): string[] {
    const cutoff = this.#now().getTime() - retentionMs;
    const dropped: string[] = [];
    for (const [nodeId, proxy] of this.#proxies) {
      if (!proxy.connected && proxy.disconnectedAt && proxy.disconnectedAt.getTime() <= cutoff) {
        this.#proxies.delete(nodeId);
        dropped.push(nodeId);
      }
    }
    return dropped;
  }

  /** Every proxy seen (disconnected ones until forgotten), sorted by node id. Copies, safe to keep. */
  list(): ProxyStatus[] {
    return [...this.#proxies.values()]
      .sort((left, right) => left.nodeId.localeCompare(right.nodeId))
      .map(copyStatus);
  }

  get(nodeId: string): ProxyStatus | undefined {
    const proxy = this.#proxies.get(nodeId);
    return proxy ? copyStatus(proxy) : undefined;
  }

  /** Content hash of the named resource the proxy has ACKed, if any: "does it run change X?" */
  appliedResourceHash(nodeId: string, typeUrl: string, name: string): string | undefined {
    return this.#proxies.get(nodeId)?.types.find((state) => state.typeUrl === typeUrl)?.ackedResources.get(name);
  }

  ackedVersion(nodeId: string, typeUrl: string): string | undefined {
    return this.#proxies.get(nodeId)?.types.find((state) => state.typeUrl === typeUrl)?.ackedVersion;
  }

  /** Calls `listener` after every change of any proxy's state; returns an unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Resolves when every listed proxy's state for the type satisfies `isApplied`; rejects when one of
   * them NACKs (with Envoy's message) or when the timeout passes (naming the proxies still behind).
   */
  waitForApplied(options: WaitForAppliedOptions): Promise<void> {
    const startedAt = this.#now().getTime();
    return new Promise<void>((resolve, reject) => {
      const check = (): void => {
        const outcome = this.#waitOutcome(options, startedAt);
        if (outcome === 'pending') return;
        finish();
        if (outcome === 'applied') resolve();
        else reject(outcome);
      };
      const timer = setTimeout(() => {
        finish();
        const behind = options.nodeIds.filter((nodeId) => !this.#isApplied(nodeId, options));
        reject(new Error(`timed out after ${options.timeoutMs} ms waiting for ${options.typeUrl} on ${behind.join(', ')}`));
      }, options.timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.#listeners.delete(check);
      };
      this.#listeners.add(check);
      check();
    });
  }

  #waitOutcome(options: WaitForAppliedOptions, startedAt: number): 'pending' | 'applied' | Error {
    for (const nodeId of options.nodeIds) {
      const state = this.#proxies.get(nodeId)?.types.find((candidate) => candidate.typeUrl === options.typeUrl);
      if (state?.lastNack && state.lastNack.at.getTime() >= startedAt) {
        return new Error(`proxy ${nodeId} rejected ${options.typeUrl} version ${state.lastNack.version}: ${state.lastNack.message}`);
      }
    }
    return options.nodeIds.every((nodeId) => this.#isApplied(nodeId, options)) ? 'applied' : 'pending';
  }

  #isApplied(nodeId: string, options: WaitForAppliedOptions): boolean {
    const state = this.#proxies.get(nodeId)?.types.find((candidate) => candidate.typeUrl === options.typeUrl);
    return state !== undefined && options.isApplied(state);
  }

  #proxy(node: NodeIdentity): TrackedProxy {
    return this.#proxyById(node.id, node.cluster);
  }

  #proxyById(nodeId: string, cluster = ''): TrackedProxy {
    let proxy = this.#proxies.get(nodeId);
    if (!proxy) {
      proxy = {
        nodeId,
        cluster,
        connected: false,
        openStreams: 0,
        variant: undefined,
        peer: undefined,
        connectedAt: undefined,
        disconnectedAt: undefined,
        types: [],
      };
      this.#proxies.set(nodeId, proxy);
    }
    return proxy;
  }

  #typeState(nodeId: string, typeUrl: string): TrackedTypeState {
    const proxy = this.#proxyById(nodeId);
    // A loop, not find(): this runs for every response and every ACK of every proxy.
    let state: TrackedTypeState | undefined;
    for (const candidate of proxy.types) {
      if (candidate.typeUrl === typeUrl) {
        state = candidate;
        break;
      }
    }
    if (!state) {
      state = {
        typeUrl,
        sentVersion: undefined,
        sentAtMs: undefined,
        awaitingReply: false,
        ackedVersion: undefined,
        ackedAtMs: undefined,
        ackedResources: NOTHING_HELD,
        pendingResources: undefined,
        lastNack: undefined,
        variant: undefined,
      };
      proxy.types.push(state);
    }
    return state;
  }

  #changed(): void {
    if (this.#listeners.size === 0) return;
    for (const listener of [...this.#listeners]) listener();
  }
}

const NOTHING_HELD: ReadonlyMap<string, string> = new Map();

function copyStatus(proxy: TrackedProxy): ProxyStatus {
  return { ...proxy, types: proxy.types.map(publicTypeState) };
}

/** The public view of a tracked state: a copy, with Dates. */
function publicTypeState(state: TrackedTypeState): TypeApplyState {
  return {
    typeUrl: state.typeUrl,
    sentVersion: state.sentVersion,
    sentAt: state.sentAtMs === undefined ? undefined : new Date(state.sentAtMs),
    awaitingReply: state.awaitingReply,
    ackedVersion: state.ackedVersion,
    ackedAt: state.ackedAtMs === undefined ? undefined : new Date(state.ackedAtMs),
    ackedResources: new Map(state.ackedResources),
    lastNack: state.lastNack ? { ...state.lastNack } : undefined,
    variant: state.variant,
  };
}
