// `GET /v1/status` and `weir status`: one health overview of a running server, built from the
// state other modules keep: the policy store's revision, the xDS proxy status registry (connected
// proxies, NACKs, enforced revisions), how the control plane authenticates proxies (mTLS or
// `--insecure`), the access-log agents and the pipeline's drop counters.
// Each check is ok, warning or failing; the server is healthy when nothing fails. Owns the rules
// for those verdicts, not the state.
import type { AgentStatus, AgentSessions } from '../accesslog/agent-sessions.ts';
import type { FlowHub } from '../accesslog/flow-hub.ts';
import type { PluginConfigReports } from '../accesslog/plugin-config-reports.ts';
import type { ProxyStatus, ProxyStatusRegistry } from '../xds/proxy-status.ts';
import { NETWORK_POLICY_TYPE_URL } from '../xds/resources/network-policy.ts';
import type { UpstreamHealth } from './upstream-probe.ts';
import { shortTypeName } from './xds-metrics.ts';

export type CheckStatus = 'ok' | 'warning' | 'failing';

export interface HealthCheck {
  name: 'security' | 'store' | 'wiring' | 'upstreams' | 'xds' | 'policy' | 'agents' | 'accesslog';
  status: CheckStatus;
  detail: string;
}

export interface ProxyHealth {
  nodeId: string;
  connected: boolean;
  policyAgent: boolean;
  enforcedRevision: string | undefined;
  accessLogConnected: boolean;
  nacks: Array<{ type: string; version: string; message: string }>;
}

export interface PipelineHealth {
  recordsInRing: number;
  ringCapacity: number;
  ringEvicted: number;
  viewers: number;
  viewerDropped: number;
  agents: Array<Pick<AgentStatus, 'nodeId' | 'connected' | 'received' | 'duplicates' | 'sequenceGaps' | 'drops' | 'lostTotal' | 'rejected'>>;
}

/** How the xDS port authenticates proxies (server/xds/control-server.ts). */
export interface SecurityHealth {
  mode: 'mtls' | 'insecure';
  trustDomain: string | undefined;
  /** Nodes enrolled with the CA and how many of them are revoked. */
  enrolledNodes?: number;
  revokedNodes?: number;
}

export interface HealthReport {
  healthy: boolean;
  checks: HealthCheck[];
  security: SecurityHealth | undefined;
  storeRevision: string | undefined;
  proxies: ProxyHealth[];
  pipeline: PipelineHealth | undefined;
}

export interface HealthSources {
  status: ProxyStatusRegistry;
  /** The control plane's security mode; a plaintext (`--insecure`) server is a warning. */
  security?: () => SecurityHealth;
  /** The revision in force, how many policies and endpoints it has and, if the last outside change was rejected, why. */
  store?: () => StoreHealth;
  /** Redirects and policies that do not fit together (server/config/wiring-check.ts), as sentences. */
  wiring?: () => readonly string[];
  /** Whether each redirect's upstream accepts connections. */
  upstreams?: () => readonly UpstreamHealth[];
  /** Which policy revision a proxy enforces (its agent ACKed); see server/api/revision-history.ts. */
  enforcedRevision?: (proxy: ProxyStatus) => string | undefined;
  sessions?: AgentSessions;
  hub?: FlowHub;
  /** Plugin configurations parsers in Istio sidecars refused (NACKed to istiod, not to this server). */
  pluginReports?: PluginConfigReports;
}

export interface StoreHealth {
  revision: string | undefined;
  lastRejection?: string;
  /** Policies (CiliumNetworkPolicy documents and rule lists) in force. */
  policies?: number;
  endpoints?: number;
  enforcementMode?: string;
}

export function buildHealthReport(sources: HealthSources): HealthReport {
  const store = sources.store?.();
  const proxies = sources.status.list().map((proxy) => proxyHealth(proxy, sources));
  const agents = sources.sessions?.list() ?? [];
  const security = sources.security?.();
  const checks = [
    ...(security ? [securityCheck(security)] : []),
    storeCheck(store),
    wiringCheck(sources.wiring?.() ?? []),
    upstreamsCheck(sources.upstreams?.()),
    xdsCheck(proxies),
    policyCheck(proxies, store?.revision),
    agentsCheck(proxies, sources.sessions !== undefined),
    accessLogCheck(agents, sources),
  ];
  return {
    healthy: checks.every((check) => check.status !== 'failing'),
    checks,
    security,
    storeRevision: store?.revision,
    proxies,
    pipeline: sources.hub ? pipelineHealth(sources.hub, agents) : undefined,
  };
}

function proxyHealth(proxy: ProxyStatus, sources: HealthSources): ProxyHealth {
  return {
    nodeId: proxy.nodeId,
    connected: proxy.connected,
    policyAgent: proxy.types.some((state) => state.typeUrl === NETWORK_POLICY_TYPE_URL),
    enforcedRevision: sources.enforcedRevision?.(proxy),
    accessLogConnected: sources.sessions?.get(proxy.nodeId)?.connected ?? false,
    nacks: [
      ...proxy.types.flatMap((state) => (state.lastNack ? [{ type: shortTypeName(state.typeUrl), version: state.lastNack.version, message: state.lastNack.message }] : [])),
      // Envoy's NACK of a WasmPlugin goes to istiod; its parsers told the agent why.
      ...(sources.pluginReports?.rejected(proxy.nodeId) ?? []).map((report) => ({ type: 'plugin configuration', version: report.plugin, message: report.reason })),
    ],
  };
}

function securityCheck(security: SecurityHealth): HealthCheck {
  if (security.mode === 'insecure') {
    return {
      name: 'security',
      status: 'warning',
      detail: 'INSECURE: the xDS port is plaintext (weir serve --insecure, or xds.insecure: true); any process that reaches it can act as any proxy',
    };
  }
  const nodes = security.enrolledNodes !== undefined ? `; ${security.enrolledNodes} nodes enrolled, ${security.revokedNodes ?? 0} revoked` : '';
  return { name: 'security', status: 'ok', detail: `mTLS, trust domain ${security.trustDomain ?? '-'}${nodes}` };
}

function storeCheck(store: StoreHealth | undefined): HealthCheck {
  if (store === undefined) return { name: 'store', status: 'ok', detail: 'no policy store configured' };
  if (store.lastRejection !== undefined) {
    return { name: 'store', status: 'warning', detail: `revision ${store.revision ?? '-'} in force; the last change was rejected: ${store.lastRejection}` };
  }
  if (store.revision === undefined) return { name: 'store', status: 'warning', detail: 'no policy loaded yet' };
  const counts = store.policies === undefined ? '' : ` (${store.policies} polic${store.policies === 1 ? 'y' : 'ies'}, ${store.endpoints ?? 0} endpoints)`;
  if (store.endpoints === 0) {
    return { name: 'store', status: 'warning', detail: `revision ${store.revision}${counts}: no endpoints, so every redirect that guards an endpoint denies everything; import Endpoint documents (docs/identity.md)` };
  }
  if (store.policies === 0) {
    const effect = store.enforcementMode === 'always' ? 'every endpoint denies everything (enforcementMode always)' : 'nothing is enforced: every endpoint accepts all traffic (enforcementMode default)';
    return { name: 'store', status: 'warning', detail: `revision ${store.revision}${counts}: no policies, so ${effect}; import one with weir policy import` };
  }
  return { name: 'store', status: 'ok', detail: `revision ${store.revision}${counts}` };
}

function wiringCheck(warnings: readonly string[]): HealthCheck {
  if (warnings.length === 0) return { name: 'wiring', status: 'ok', detail: 'redirects and policies name the same endpoint ports' };
  return { name: 'wiring', status: 'warning', detail: warnings.join('; ') };
}

function upstreamsCheck(upstreams: readonly UpstreamHealth[] | undefined): HealthCheck {
  if (upstreams === undefined || upstreams.length === 0) return { name: 'upstreams', status: 'ok', detail: 'no redirects' };
  const down = upstreams.filter((upstream) => upstream.reachable === false);
  if (down.length > 0) {
    const list = down.map((upstream) => `redirect ${upstream.redirect}: ${upstream.address}:${upstream.port} (${upstream.error ?? 'unreachable'})`).join('; ');
    return { name: 'upstreams', status: 'failing', detail: `refusing connections, so clients of those listeners see their connection closed: ${list}; start the servers or fix redirects[].upstream` };
  }
  const unknown = upstreams.filter((upstream) => upstream.reachable === undefined).length;
  return { name: 'upstreams', status: 'ok', detail: `${upstreams.length - unknown} of ${upstreams.length} upstreams accept connections${unknown > 0 ? `, ${unknown} not probed yet` : ''}` };
}

function xdsCheck(proxies: readonly ProxyHealth[]): HealthCheck {
  const connected = proxies.filter((proxy) => proxy.connected);
  const nacking = connected.filter((proxy) => proxy.nacks.length > 0);
  const summary = `${connected.length} proxies connected, ${proxies.length - connected.length} disconnected`;
  if (nacking.length > 0) {
    const reasons = nacking.map((proxy) => `${proxy.nodeId} rejected ${proxy.nacks.map((nack) => `${nack.type} ${nack.version}: ${nack.message}`).join('; ')}`);
    return { name: 'xds', status: 'failing', detail: `${summary}; ${reasons.join('; ')}` };
  }
  if (connected.length < proxies.length) return { name: 'xds', status: 'warning', detail: summary };
  return { name: 'xds', status: 'ok', detail: summary };
}

function policyCheck(proxies: readonly ProxyHealth[], storeRevision: string | undefined): HealthCheck {
  const agents = proxies.filter((proxy) => proxy.connected && proxy.policyAgent);
  if (agents.length === 0) return { name: 'policy', status: 'ok', detail: 'no connected proxy runs the policy agent' };
  if (storeRevision === undefined) return { name: 'policy', status: 'ok', detail: `${agents.length} policy agents connected` };
  const behind = agents.filter((proxy) => proxy.enforcedRevision !== storeRevision);
  if (behind.length === 0) return { name: 'policy', status: 'ok', detail: `revision ${storeRevision} enforced on all ${agents.length} proxies` };
  const list = behind.map((proxy) => `${proxy.nodeId} (${proxy.enforcedRevision ?? 'none'})`).join(', ');
  return { name: 'policy', status: 'warning', detail: `revision ${storeRevision} not yet enforced on ${list}` };
}

function agentsCheck(proxies: readonly ProxyHealth[], accessLogEnabled: boolean): HealthCheck {
  const agents = proxies.filter((proxy) => proxy.connected && proxy.policyAgent);
  if (!accessLogEnabled) return { name: 'agents', status: 'ok', detail: `${agents.length} agents; access-log pipeline not running on this server` };
  const silent = agents.filter((proxy) => !proxy.accessLogConnected);
  if (silent.length > 0) {
    return { name: 'agents', status: 'warning', detail: `no access-log stream from ${silent.map((proxy) => proxy.nodeId).join(', ')}` };
  }
  return { name: 'agents', status: 'ok', detail: `${agents.length} agents connected, all shipping access logs` };
}

function accessLogCheck(agents: readonly AgentStatus[], sources: HealthSources): HealthCheck {
  if (!sources.sessions) return { name: 'accesslog', status: 'ok', detail: 'access-log pipeline not running on this server' };
  const received = agents.reduce((sum, agent) => sum + agent.received, 0);
  const lost = agents.reduce((sum, agent) => sum + agent.lostTotal, 0);
  const unexplained = agents.filter((agent) => agent.sequenceGaps > agent.drops.buffer);
  if (unexplained.length > 0) {
    const list = unexplained.map((agent) => `${agent.nodeId}: ${agent.sequenceGaps} missing, ${agent.drops.buffer} reported dropped`).join('; ');
    return { name: 'accesslog', status: 'failing', detail: `entries missing that no agent reported: ${list}` };
  }
  const viewerDropped = sources.hub?.viewerDropped ?? 0;
  const detail = `${received} records received, ${lost} lost before the server, ${viewerDropped} not delivered to slow viewers`;
  return { name: 'accesslog', status: lost > 0 || viewerDropped > 0 ? 'warning' : 'ok', detail };
}

function pipelineHealth(hub: FlowHub, agents: readonly AgentStatus[]): PipelineHealth {
  return {
    recordsInRing: hub.ring.size,
    ringCapacity: hub.ring.capacity,
    ringEvicted: hub.ring.evicted,
    viewers: hub.viewerCount,
    viewerDropped: hub.viewerDropped,
    agents: agents.map(({ nodeId, connected, received, duplicates, sequenceGaps, drops, lostTotal, rejected }) => ({
      nodeId,
      connected,
      received,
      duplicates,
      sequenceGaps,
      drops,
      lostTotal,
      rejected,
    })),
  };
}
