// `GET /v1/policies/wait`: waits until every connected proxy whose Weir agent subscribed to policy
// (and every named one, once it connects) has ACKed the versions carrying revision R (or a later
// revision) and its Envoy has ACKed its own config (listeners, clusters, filters) as last sent, so
// that "enforced" means the proxy serves under that policy; reports a NACK or a timeout instead
// when that happens first. Reads the proxy status registry and the revision history; changes neither.
import type { ProxyStatus, ProxyStatusRegistry, TypeApplyState } from '../xds/proxy-status.ts';
import { CLUSTER_TYPE_URL } from '../xds/resources/cluster.ts';
import { LISTENER_TYPE_URL } from '../xds/resources/listener.ts';
import { POLICY_TYPE_URLS, runsPolicyAgent, type RevisionHistory } from './revision-history.ts';

export interface RevisionWaitOptions {
  revision: string;
  timeoutMs: number;
  status: ProxyStatusRegistry;
  history: RevisionHistory;
  /**
   * Proxies to wait for even before their agent connects (`weir policy wait --node`): without
   * them, only the agents connected at each check count, and none connected means enforced.
   */
  nodeIds?: readonly string[];
  /**
   * Named proxies get their Envoy config from another control plane (Istio): do not wait for their
   * listeners and clusters from this server. Default false.
   */
  policyOnly?: boolean;
  /** How often the registry is re-read. Default 20 ms. */
  pollMs?: number;
  /** Aborts the wait (e.g. the HTTP client went away); resolves as a timeout. */
  signal?: AbortSignal;
}

export interface ProxyEnforcement {
  nodeId: string;
  /** The revision whose versions the agent ACKed, if any this server published. */
  enforcedRevision: string | undefined;
  /** Set when the proxy's Envoy has not ACKed its own listeners, clusters or filters as last sent. */
  envoyConfigPending?: true;
}

export type RevisionWaitOutcome =
  | { kind: 'enforced'; revision: string; proxies: ProxyEnforcement[] }
  | { kind: 'unknown-revision'; revision: string; current: string | undefined }
  | { kind: 'rejected'; revision: string; nodeId: string; typeUrl: string; version: string; message: string }
  | { kind: 'timeout'; revision: string; timeoutMs: number; behind: ProxyEnforcement[]; absent: string[] };

export async function waitForRevision(options: RevisionWaitOptions): Promise<RevisionWaitOutcome> {
  const target = options.history.position(options.revision);
  if (target === undefined) return { kind: 'unknown-revision', revision: options.revision, current: options.history.latest()?.revision };
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const outcome = checkOnce(options, target);
    if (outcome !== undefined) return outcome;
    if (Date.now() >= deadline || options.signal?.aborted) {
      const proxies = agentProxies(options.status);
      const behind = proxies
        .filter((proxy) => !isAtOrAfter(options.history, proxy, target, options))
        .map((proxy) => ({ ...enforcementOf(options.history, proxy), ...(ownConfigSettled(proxy, options) ? {} : { envoyConfigPending: true as const }) }));
      return { kind: 'timeout', revision: options.revision, timeoutMs: options.timeoutMs, behind, absent: unconnectedNodes(options, proxies) };
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(options.pollMs ?? 20, Math.max(1, deadline - Date.now()))));
  }
}

/** Per connected agent proxy, the revision it enforces now. */
export function enforcementOf(history: RevisionHistory, proxy: ProxyStatus): ProxyEnforcement {
  return { nodeId: proxy.nodeId, enforcedRevision: history.enforcedBy(proxy)?.revision };
}

function checkOnce(options: RevisionWaitOptions, target: number): RevisionWaitOutcome | undefined {
  const proxies = agentProxies(options.status);
  const behind = proxies.filter((proxy) => !isAtOrAfter(options.history, proxy, target, options));
  if (behind.length === 0 && unconnectedNodes(options, proxies).length === 0) return { kind: 'enforced', revision: options.revision, proxies: proxies.map((proxy) => enforcementOf(options.history, proxy)) };
  for (const proxy of behind) {
    const rejection = options.history.rejectionAtOrAfter(proxy, target) ?? configRejection(proxy);
    if (rejection !== undefined) return { kind: 'rejected', revision: options.revision, nodeId: proxy.nodeId, typeUrl: rejection.typeUrl, version: rejection.version, message: rejection.message };
  }
  return undefined;
}

/** Envoy's own config types, which the Weir agent's policy types ride beside. */
export const ENVOY_CONFIG_TYPES: ReadonlySet<string> = new Set([LISTENER_TYPE_URL, CLUSTER_TYPE_URL]);

/**
 * Whether the proxy's Envoy runs the config this server last sent it: every type other than the
 * policy types ACKed at the sent version. A named proxy (`--node`) must also have its listeners and
 * clusters from this server at all, unless policyOnly: after a restart of `weir serve` the agent
 * often reconnects before Envoy's ADS stream, and Envoy serves nothing until that is back.
 */
function ownConfigSettled(proxy: ProxyStatus, options: RevisionWaitOptions): boolean {
  const config = proxy.types.filter((state) => !isPolicyType(state.typeUrl));
  const named = options.nodeIds?.includes(proxy.nodeId) === true;
  if (named && !options.policyOnly && ![...ENVOY_CONFIG_TYPES].every((typeUrl) => config.some((state) => state.typeUrl === typeUrl))) return false;
  // A type this server never answered (nothing of it to serve) cannot hold the wait; listeners and clusters always get an answer.
  const answered = config.filter((state) => state.sentVersion !== undefined || state.ackedVersion !== undefined || ENVOY_CONFIG_TYPES.has(state.typeUrl));
  return answered.every(holdsWhatWasSent);
}

/**
 * The proxy runs the last version sent, or, when nothing was sent on this connection, a version it
 * reported on reconnecting that the server adopted (versions are content hashes: an equal one is
 * not resent, and a different one is sent at once, which sets sentVersion).
 */
export function holdsWhatWasSent(state: Pick<TypeApplyState, 'awaitingReply' | 'ackedVersion' | 'sentVersion'>): boolean {
  if (state.awaitingReply || state.ackedVersion === undefined) return false;
  return state.sentVersion === undefined || state.ackedVersion === state.sentVersion;
}

/** A NACK of the config last sent to the proxy's Envoy: it will not ACK that version. */
function configRejection(proxy: ProxyStatus): { typeUrl: string; version: string; message: string } | undefined {
  const rejected = proxy.types.find((state) => !isPolicyType(state.typeUrl) && state.lastNack !== undefined && state.lastNack.version === state.sentVersion);
  return rejected?.lastNack === undefined ? undefined : { typeUrl: rejected.typeUrl, version: rejected.lastNack.version, message: rejected.lastNack.message };
}

function isPolicyType(typeUrl: string): boolean {
  return (POLICY_TYPE_URLS as readonly string[]).includes(typeUrl);
}

function agentProxies(status: ProxyStatusRegistry): ProxyStatus[] {
  return status.list().filter((proxy) => proxy.connected && runsPolicyAgent(proxy));
}

/** The named proxies (options.nodeIds) that are not among the connected `agents`. */
function unconnectedNodes(options: RevisionWaitOptions, agents: readonly ProxyStatus[]): string[] {
  return (options.nodeIds ?? []).filter((nodeId) => !agents.some((proxy) => proxy.nodeId === nodeId));
}

function isAtOrAfter(history: RevisionHistory, proxy: ProxyStatus, target: number, options: RevisionWaitOptions): boolean {
  const enforced = history.enforcedBy(proxy);
  return enforced !== undefined && enforced.position >= target && ownConfigSettled(proxy, options);
}
