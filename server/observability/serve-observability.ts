// The observability side of `weir serve` in one call: a metrics registry with the xDS and
// access-log families, the counting proxy status registry to give the xDS server, the access-log
// gRPC service to register on it, identity lookups from the policy store for records, and the raw
// REST routes (`/v1/flows`, `/metrics`, `/v1/status`) to mount on the API server.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { accessLogEntryLogger, createAccessLogPipeline, type AccessLogPipeline } from '../accesslog/access-log-pipeline.ts';
import { handleFlowsRequest } from '../accesslog/flows-http.ts';
import { parseCidr } from '../identity/cidr.ts';
import { IpIdentityMap } from '../identity/ip-identity-map.ts';
import { reservedIdentityName } from '../identity/reserved-identities.ts';
import type { PolicyStoreState } from '../store/policy-store.ts';
import type { ProxyStatus } from '../xds/proxy-status.ts';
import type { SecurityHealth, StoreHealth } from './health-report.ts';
import { handleMetricsRequest, handleStatusRequest } from './http.ts';
import { MetricsRegistry } from './metrics-registry.ts';
import type { UpstreamHealth } from './upstream-probe.ts';
import { createAccessLogCounters, registerAccessLogPipelineMetrics } from './weir-metrics.ts';
import { CountingProxyStatusRegistry, createXdsCounters, registerProxyStatusMetrics } from './xds-metrics.ts';

export interface ServeObservabilityOptions {
  logger: Logger;
  /** Access-log records as JSON lines to this file; default: the serve logger (stdout), component accesslog. */
  accessLogFile?: string;
  /** Records kept in memory for `weir monitor --last`. Default 4096. */
  ringSize?: number;
  /** The store state in force, for identities, labels and the status report. */
  currentState?: () => PolicyStoreState;
  /** Which revision a proxy enforces (server/api/revision-history.ts). */
  enforcedRevision?: (proxy: ProxyStatus) => string | undefined;
  /** How proxies are authenticated, for `weir status`. */
  security?: () => SecurityHealth;
  /** Redirects and policies that do not fit together, for the status report. */
  wiring?: () => readonly string[];
  /** Whether each redirect's upstream accepts connections, for the status report. */
  upstreams?: () => readonly UpstreamHealth[];
}

export interface ServeObservability {
  registry: MetricsRegistry;
  /** Give to startControlServer({ status }). */
  status: CountingProxyStatusRegistry;
  pipeline: AccessLogPipeline;
  /** Give to startControlServer({ registerServices }). */
  registerServices: AccessLogPipeline['registerServices'];
  /** Give to startApiServer({ mounts }). */
  mounts: Array<(request: IncomingMessage, response: ServerResponse) => boolean>;
}

export function createServeObservability(options: ServeObservabilityOptions): ServeObservability {
  const registry = new MetricsRegistry();
  const status = new CountingProxyStatusRegistry(createXdsCounters(registry));
  registerProxyStatusMetrics(registry, status);
  const identities = identityLookups(options.currentState);
  const pipeline = createAccessLogPipeline({
    counters: createAccessLogCounters(registry),
    logger: options.logger,
    entryLogger: options.accessLogFile !== undefined ? accessLogEntryLogger({ file: options.accessLogFile }) : options.logger.child({ component: 'accesslog' }),
    labelsOf: identities.labelsOf,
    identityOfAddress: identities.identityOfAddress,
    ...(options.ringSize !== undefined ? { ringSize: options.ringSize } : {}),
  });
  registerAccessLogPipelineMetrics(registry, pipeline);
  const healthSources = {
    status,
    sessions: pipeline.sessions,
    hub: pipeline.hub,
    pluginReports: pipeline.pluginReports,
    ...(options.currentState ? { store: () => storeHealth(options.currentState?.()) } : {}),
    ...(options.enforcedRevision ? { enforcedRevision: options.enforcedRevision } : {}),
    ...(options.security ? { security: options.security } : {}),
    ...(options.wiring ? { wiring: options.wiring } : {}),
    ...(options.upstreams ? { upstreams: options.upstreams } : {}),
  };
  return {
    registry,
    status,
    pipeline,
    registerServices: pipeline.registerServices,
    mounts: [
      (request, response) => handleFlowsRequest(request, response, pipeline.hub),
      (request, response) => handleMetricsRequest(request, response, registry),
      (request, response) => handleStatusRequest(request, response, healthSources),
    ],
  };
}

function storeHealth(state: PolicyStoreState | undefined): StoreHealth {
  if (state === undefined) return { revision: undefined };
  return {
    revision: state.revision,
    policies: state.files.reduce((sum, file) => sum + file.policies.length, 0),
    endpoints: state.endpoints.length,
    enforcementMode: state.policySet.enforcementMode,
  };
}

/** Label and IP lookups over the store state, rebuilt only when the revision changes. */
function identityLookups(currentState: (() => PolicyStoreState) | undefined): {
  labelsOf: (identity: number) => readonly string[] | undefined;
  identityOfAddress: (ip: string) => number | undefined;
} {
  let builtFor: string | undefined;
  let labels = new Map<number, readonly string[]>();
  let ipMap = new IpIdentityMap();
  const refresh = (): void => {
    const state = currentState?.();
    if (state === undefined || state.revision === builtFor) return;
    builtFor = state.revision;
    labels = new Map(state.policySet.identities.map((identity) => [identity.identity, [...identity.labels]]));
    ipMap = new IpIdentityMap();
    for (const entry of state.policySet.ipIdentities) {
      const parsed = parseCidr(entry.cidr);
      if (parsed.ok) ipMap.set(parsed.cidr, entry.identity);
    }
  };
  return {
    labelsOf: (identity) => {
      refresh();
      const reserved = reservedIdentityName(identity);
      return labels.get(identity) ?? (reserved !== undefined ? [`reserved:${reserved}`] : undefined);
    },
    identityOfAddress: (ip) => {
      if (currentState === undefined) return undefined;
      refresh();
      return ipMap.lookup(ip);
    },
  };
}
