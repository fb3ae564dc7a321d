// xDS metrics: pushes, ACKs and NACKs per resource type (counted by a ProxyStatusRegistry that the
// control server is given), and, computed at scrape time from that registry, connected proxies and
// the version of each type every proxy has acknowledged ("enforced means acknowledged").
import { ProxyStatusRegistry, type ProxyStatusOptions, type StreamVariant } from '../xds/proxy-status.ts';
import type { MetricSample, MetricsRegistry, StoredMetric } from './metrics-registry.ts';

export interface XdsCounters {
  pushes: StoredMetric;
  acks: StoredMetric;
  nacks: StoredMetric;
}

/** A proxy status registry that also counts what it records. Pass it to startControlServer({ status }). */
export class CountingProxyStatusRegistry extends ProxyStatusRegistry {
  readonly #counters: XdsCounters;

  constructor(counters: XdsCounters, options: ProxyStatusOptions = {}) {
    super(options);
    this.#counters = counters;
  }

  override recordSent(nodeId: string, typeUrl: string, version: string, holds?: ReadonlyMap<string, string>, variant?: StreamVariant): void {
    this.#counters.pushes.inc({ type: shortTypeName(typeUrl) });
    super.recordSent(nodeId, typeUrl, version, holds, variant);
  }

  override recordAck(nodeId: string, typeUrl: string, version: string): void {
    this.#counters.acks.inc({ type: shortTypeName(typeUrl) });
    super.recordAck(nodeId, typeUrl, version);
  }

  override recordNack(nodeId: string, typeUrl: string, version: string, message: string): void {
    this.#counters.nacks.inc({ type: shortTypeName(typeUrl) });
    super.recordNack(nodeId, typeUrl, version, message);
  }
}

export function createXdsCounters(registry: MetricsRegistry): XdsCounters {
  return {
    pushes: registry.counter('weir_xds_pushes_total', 'xDS responses sent to proxies, by resource type', ['type']),
    acks: registry.counter('weir_xds_acks_total', 'xDS responses proxies acknowledged, by resource type', ['type']),
    nacks: registry.counter('weir_xds_nacks_total', 'xDS responses proxies rejected (NACK), by resource type', ['type']),
  };
}

/** Scrape-time families read from the registry: connected proxies, applied versions, pending replies. */
export function registerProxyStatusMetrics(registry: MetricsRegistry, status: ProxyStatusRegistry): void {
  registry.collected('weir_xds_connected_proxies', 'Proxies with at least one open xDS stream', 'gauge', () => [
    { labels: {}, value: status.list().filter((proxy) => proxy.connected).length },
  ]);
  registry.collected(
    'weir_proxy_applied_version_info',
    'Version of each resource type a proxy has acknowledged (value 1); type NetworkPolicy is the enforced policy',
    'gauge',
    () => appliedVersionSamples(status),
  );
  registry.collected('weir_proxy_nacked', 'Proxies whose latest answer for a type was a NACK (1) or not (0)', 'gauge', () =>
    status.list().flatMap((proxy) =>
      proxy.types.map((state) => ({ labels: { node: proxy.nodeId, type: shortTypeName(state.typeUrl) }, value: state.lastNack ? 1 : 0 })),
    ),
  );
}

function appliedVersionSamples(status: ProxyStatusRegistry): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const proxy of status.list()) {
    for (const state of proxy.types) {
      if (state.ackedVersion === undefined) continue;
      samples.push({ labels: { node: proxy.nodeId, type: shortTypeName(state.typeUrl), version: state.ackedVersion }, value: 1 });
    }
  }
  return samples;
}

/** `type.googleapis.com/envoy.config.cluster.v3.Cluster` -> `Cluster`, `weir.NetworkPolicy` -> `NetworkPolicy`. */
export function shortTypeName(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('.') + 1);
}
