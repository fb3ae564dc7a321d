import { describe, expect, it } from 'vitest';
import { MetricsRegistry } from '../../../server/observability/metrics-registry.ts';
import { CountingProxyStatusRegistry, createXdsCounters, registerProxyStatusMetrics } from '../../../server/observability/xds-metrics.ts';
import { NETWORK_POLICY_TYPE_URL } from '../../../server/xds/resources/network-policy.ts';

const CLUSTER = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';

describe('xDS metrics', () => {
  it('counts pushes, ACKs and NACKs per type and exposes connected proxies and applied versions', () => {
    const registry = new MetricsRegistry();
    const status = new CountingProxyStatusRegistry(createXdsCounters(registry));
    registerProxyStatusMetrics(registry, status);
    status.streamOpened({ id: 'node-a', cluster: 'c' }, { variant: 'sotw', peer: 'ipv4:127.0.0.1:1' });
    status.streamOpened({ id: 'node-b', cluster: 'c' }, { variant: 'sotw', peer: 'ipv4:127.0.0.1:2' });
    status.streamClosed({ id: 'node-b', cluster: 'c' });
    status.recordSent('node-a', CLUSTER, 'v1');
    status.recordAck('node-a', CLUSTER, 'v1');
    status.recordSent('node-a', NETWORK_POLICY_TYPE_URL, 'p1');
    status.recordAck('node-a', NETWORK_POLICY_TYPE_URL, 'p1');
    status.recordSent('node-a', NETWORK_POLICY_TYPE_URL, 'p2');
    status.recordNack('node-a', NETWORK_POLICY_TYPE_URL, 'p2', 'bad table');
    const text = registry.exposition();
    expect(text).toContain('weir_xds_pushes_total{type="NetworkPolicy"} 2');
    expect(text).toContain('weir_xds_acks_total{type="Cluster"} 1');
    expect(text).toContain('weir_xds_nacks_total{type="NetworkPolicy"} 1');
    expect(text).toContain('weir_xds_connected_proxies 1');
    expect(text).toContain('weir_proxy_applied_version_info{node="node-a",type="NetworkPolicy",version="p1"} 1');
    expect(text).toContain('weir_proxy_nacked{node="node-a",type="NetworkPolicy"} 1');
    expect(text).toContain('weir_proxy_nacked{node="node-a",type="Cluster"} 0');
    expect(status.ackedVersion('node-a', NETWORK_POLICY_TYPE_URL)).toBe('p1');
  });
});
