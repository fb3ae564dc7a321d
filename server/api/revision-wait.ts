// `GET /v1/policies/wait`: waits until every connected proxy whose Weir agent subscribed to policy
// (and every named one, once it connects) has ACKed the versions carrying revision R (or a later
// revision), and reports a NACK or a timeout instead when that happens first. Reads the proxy status registry and the revision history;
// changes neither.
import type { ProxyStatus, ProxyStatusRegistry } from '../xds/proxy-status.ts';
import { runsPolicyAgent, type RevisionHistory } from './revision-history.ts';

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
  /** How often the registry is re-read. Default 20 ms. */
  pollMs?: number;
  /** Aborts the wait (e.g. the HTTP client went away); resolves as a timeout. */
  signal?: AbortSignal;
}

export interface ProxyEnforcement {
  nodeId: string;
  /** The revision whose versions the agent ACKed, if any this server published. */
  enforcedRevision: string | undefined;
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
      const behind = proxies.filter((proxy) => !isAtOrAfter(options.history, proxy, target)).map((proxy) => enforcementOf(options.history, proxy));
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
  const behind = proxies.filter((proxy) => !isAtOrAfter(options.history, proxy, target));
  if (behind.length === 0 && unconnectedNodes(options, proxies).length === 0) return { kind: 'enforced', revision: options.revision, proxies: proxies.map((proxy) => enforcementOf(options.history, proxy)) };
  for (const proxy of behind) {
    const rejection = options.history.rejectionAtOrAfter(proxy, target);
    if (rejection !== undefined) return { kind: 'rejected', revision: options.revision, nodeId: proxy.nodeId, typeUrl: rejection.typeUrl, version: rejection.version, message: rejection.message };
  }
  return undefined;
}

function agentProxies(status: ProxyStatusRegistry): ProxyStatus[] {
  return status.list().filter((proxy) => proxy.connected && runsPolicyAgent(proxy));
}

/** The named proxies (options.nodeIds) that are not among the connected `agents`. */
function unconnectedNodes(options: RevisionWaitOptions, agents: readonly ProxyStatus[]): string[] {
  return (options.nodeIds ?? []).filter((nodeId) => !agents.some((proxy) => proxy.nodeId === nodeId));
}

function isAtOrAfter(history: RevisionHistory, proxy: ProxyStatus, target: number): boolean {
  const enforced = history.enforcedBy(proxy);
  return enforced !== undefined && enforced.position >= target;
}
