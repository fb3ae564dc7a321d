// weir istio manifests' rendering: one WasmPlugin per parser, port and direction, the override
// ConfigMap whose weir-xds cluster uses the mounted credentials (or plaintext when asked), the pod
// annotations that mount them, and the checksum each module URL scheme needs. Istio's own
// validation of the output runs against a real istiod in test/istio.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ISTIO_SIDECAR_MOUNTS, bootstrapOverride, moduleReference, renderIstioManifests, type IstioManifestOptions } from '../../../server/istio/istio-manifests.ts';
import { buildWasmImage } from '../../../server/istio/wasm-image.ts';
import { pluginConfigReportOf, PluginConfigReports } from '../../../server/accesslog/plugin-config-reports.ts';
import type { AccessLogEntryMessage } from '../../../server/accesslog/access-log-record.ts';

const MODULE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]);

function options(overrides: Partial<IstioManifestOptions> = {}): IstioManifestOptions {
  return {
    workload: { name: 'memcd-server', namespace: 'default', labels: { app: 'memcd-server' } },
    layout: { revision: 'r1', endpoint: 'memcd-server.default', inbound: [{ port: 11211, parser: 'memcache' }], outbound: [{ port: 9042, parser: 'cassandra' }], missingModules: [] },
    modules: new Map([['memcache', moduleReference('oci://r.example/weir/{parser}:v1', 'memcache', MODULE)], ['cassandra', moduleReference('oci://r.example/weir/{parser}:v1', 'cassandra', MODULE)]]),
    api: 'WasmPlugin',
    failStrategy: 'FAIL_CLOSE',
    weirServe: { address: 'weir.weir-system.svc', port: 18000 },
    agentWasm: MODULE,
    mounts: ISTIO_SIDECAR_MOUNTS,
    trustDomains: ['cluster.local'],
    ...overrides,
  };
}

describe('weir istio manifests', () => {
  it('renders a WasmPlugin per parser, port and direction, fail-closed, bound to the agent policy of the endpoint', () => {
    const { objects } = renderIstioManifests(options());
    const plugins = objects.filter((object) => (object as { kind: string }).kind === 'WasmPlugin') as Array<{ metadata: { name: string }; spec: Record<string, unknown> }>;
    expect(plugins.map((plugin) => plugin.metadata.name)).toEqual(['weir-memcd-server-memcache-11211', 'weir-memcd-server-cassandra-9042-egress']);
    expect(plugins[0]?.spec).toMatchObject({
      type: 'NETWORK',
      phase: 'AUTHZ',
      failStrategy: 'FAIL_CLOSE',
      selector: { matchLabels: { app: 'memcd-server' } },
      match: [{ mode: 'SERVER', ports: [{ number: 11211 }] }],
      url: 'oci://r.example/weir/memcache:v1',
      sha256: buildWasmImage(MODULE).manifestSha256,
      pluginConfig: { parser: 'memcache', policy: 'agent', endpoint: 'memcd-server.default', direction: 'ingress', port: 11211, spiffeTrustDomains: ['cluster.local'] },
    });
    expect(plugins[1]?.spec).toMatchObject({ match: [{ mode: 'CLIENT', ports: [{ number: 9042 }] }], pluginConfig: { direction: 'egress' } });
    // The peer of an outbound connection is the server, whose certificate the sidecar's own TLS origination checks.
    expect((plugins[1]?.spec['pluginConfig'] as Record<string, unknown>)['spiffeTrustDomains']).toBeUndefined();
    const addressesOnly = renderIstioManifests(options({ trustDomains: [] })).objects[1] as { spec: { pluginConfig: Record<string, unknown> } };
    expect(addressesOnly.spec.pluginConfig['spiffeTrustDomains']).toBeUndefined();
    const traffic = renderIstioManifests(options({ api: 'TrafficExtension' })).objects[1] as { kind: string; spec: { wasm: Record<string, unknown> } };
    expect(traffic.kind).toBe('TrafficExtension');
    expect(traffic.spec.wasm).toMatchObject({ type: 'NETWORK', failStrategy: 'FAIL_CLOSE' });
  });

  it('gives the agent mTLS from the credentials Secret the annotations mount, or plaintext only when asked', () => {
    const secure = renderIstioManifests(options());
    expect(JSON.parse(secure.podAnnotations['sidecar.istio.io/userVolume'] ?? '{}')).toEqual({ 'weir-credentials': { secret: { secretName: 'weir-node-memcd-server' } } });
    expect(JSON.parse(secure.podAnnotations['sidecar.istio.io/userVolumeMount'] ?? '{}')).toEqual({ 'weir-credentials': { mountPath: '/etc/weir/credentials', readOnly: true } });
    const override = JSON.stringify(bootstrapOverride(options()));
    expect(override).toContain('/etc/weir/credentials/envoy-sds-certificate.yaml');
    expect(override).toContain('"vm_id":""');
    const insecure = renderIstioManifests(options({ insecure: true }));
    expect(Object.keys(insecure.podAnnotations)).toEqual(['sidecar.istio.io/bootstrapOverride']);
    expect(JSON.stringify(bootstrapOverride(options({ insecure: true })))).not.toContain('transport_socket');
  });

  it('takes the checksum each URL scheme needs and refuses schemes Istio does not fetch', () => {
    expect(moduleReference('https://h/{parser}.wasm', 'memcache', MODULE)).toEqual({ url: 'https://h/memcache.wasm', sha256: createHash('sha256').update(MODULE).digest('hex') });
    expect(moduleReference('file:///w/{parser}.wasm', 'memcache', MODULE)).toEqual({ url: 'file:///w/memcache.wasm' });
    expect(() => moduleReference('ftp://h/{parser}.wasm', 'memcache', MODULE)).toThrow(/not one Istio fetches/);
  });
});

describe('plugin configuration reports', () => {
  const entry = (plugin: { name: string; state: 'configured' | 'rejected'; reason: string }, time: number): AccessLogEntryMessage => ({
    time_unix_nano: String(time),
    plugin_config: { plugin: plugin.name, state: plugin.state === 'rejected' ? 'PLUGIN_CONFIG_STATE_REJECTED' : 'PLUGIN_CONFIG_STATE_CONFIGURED', reason: plugin.reason },
  });

  it('keeps the newest report per node and plugin and lists the refused ones', () => {
    const reports = new PluginConfigReports();
    const rejected = pluginConfigReportOf(entry({ name: 'default.weir-x', state: 'rejected', reason: 'maxBufferBytes: not an integer' }, 2));
    const olderConfigured = pluginConfigReportOf(entry({ name: 'default.weir-x', state: 'configured', reason: '' }, 1));
    expect(rejected).toBeDefined();
    reports.record('n1', rejected!);
    reports.record('n1', olderConfigured!);
    expect(reports.rejected('n1').map((report) => report.reason)).toEqual(['maxBufferBytes: not an integer']);
    reports.record('n1', pluginConfigReportOf(entry({ name: 'default.weir-x', state: 'configured', reason: '' }, 3))!);
    expect(reports.rejected('n1')).toEqual([]);
    expect(pluginConfigReportOf({ time_unix_nano: '1', protocol: 'memcache', plugin_config: null })).toBeUndefined();
  });
});
