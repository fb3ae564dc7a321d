// Weir's parsers as Istio WasmPlugins in an Istio sidecar, configured by a real istiod: weir-istiod
// (istiod with Istio's fake Kubernetes client, so WasmPlugins take istiod's Kubernetes path) and
// `weir serve` in the node namespace; in the server namespace memcached behind Istio's capture
// rules (`weir sidecar iptables`) and a real Envoy (uid 1337) started as pilot-agent starts it: a
// pilot-agent-shaped bootstrap plus `--config-yaml` with the bootstrapOverride from
// `weir istio manifests` (the Weir agent, the weir-xds cluster with mTLS). The WasmPlugin from the
// same manifests goes through istiod; unmodified clients in two client namespaces connect to the
// server's own address. Checks: Istio's validation of the manifests, secure-fleet enforced, Envoy's
// Wasm stats, a policy change on an open connection, a bad pluginConfig NACKed (istiod's sync
// status and `weir status`) with the previous configuration still enforcing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { projectRoot } from '../../demo/servers/project-paths.ts';
import { startEnvoy, type EnvoyProcess } from '../../demo/servers/envoy/process.ts';
import { waitFor } from '../filters/envoy-harness.ts';
import { createLab, gatewayOf, labPrerequisites, type Lab, type Workload } from '../support/netns-lab.ts';
import {
  curlIn,
  endpointDoc,
  examplePolicy,
  ENVOY_UID,
  memcacheClientsIn,
  memcachedStats,
  memcachedValue,
  ncIn,
  startMemcachedIn,
  startServeIn,
  type NamespacedClients,
  type NamespacedServe,
} from '../support/interception-lab.ts';
import { weirIstiodMissing } from '../support/istiod/install.ts';
import { pilotAgentBootstrap, startIstiodIn, writeManifest, type RunningIstiod } from '../support/istiod/weir-istiod.ts';

const missing = labPrerequisites() ?? weirIstiodMissing();
const SECURE_FLEET = examplePolicy('memcached-secure-fleet.yaml');
const WEIR = path.join(projectRoot, 'bin', 'weir.js');
const FILTERS_DIR = path.join(projectRoot, 'build', 'filters');
const WORKLOAD = { name: 'memcd-server', namespace: 'default', labels: { app: 'memcd-server' } };
const NODE_ID = `${WORKLOAD.name}.${WORKLOAD.namespace}`;
const ECDS_TYPE = 'type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig';

/** What an Istio cluster already has for this workload: mTLS off (no istio-agent), its Service and pod. */
function meshObjects(ip: string): string {
  return `
apiVersion: v1
kind: Namespace
metadata: { name: default }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: istio-system }
spec: { mtls: { mode: DISABLE } }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: memcd-server, namespace: default }
spec:
  hosts: [memcd-server.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 11211, name: tcp-memcache, protocol: TCP }]
  workloadSelector: { labels: { app: memcd-server } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: memcd-server-0, namespace: default }
spec: { address: ${ip}, labels: { app: memcd-server }, serviceAccount: default }
`;
}

describe.skipIf(missing !== undefined)(`Weir parsers as Istio WasmPlugins, configured by istiod${missing === undefined ? '' : ` (skipped: ${missing})`}`, () => {
  let lab: Lab;
  let serve: NamespacedServe;
  let istiod: RunningIstiod;
  let server: Workload;
  let aWing: Workload;
  let xWing: Workload;
  let envoy: EnvoyProcess;
  let aWingClients: NamespacedClients;
  let manifestsYaml: string;
  let wasmPlugin: Record<string, unknown>;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-istio-'));
  const context = (): string =>
    `weir serve:\n${serve?.log().slice(-5000) ?? ''}\nEnvoy:\n${envoy?.log().slice(-4000) ?? ''}\nweir-istiod:\n${istiod?.log().slice(-3000) ?? ''}`;
  const weir = (args: readonly string[]): { status: number | null; stdout: string; stderr: string } => {
    const result = spawnSync(process.execPath, [WEIR, ...args, '--socket', serve.socket], { encoding: 'utf8', timeout: 60_000 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  const adminStats = (): string => curlIn(lab, server.ns, 'http://127.0.0.1:15000/stats').body;
  const ecdsState = (): { status: string; error?: string } | undefined =>
    istiod.syncz().find((proxy) => proxy.proxy === 'memcd-server-0.default')?.types[ECDS_TYPE];

  beforeAll(async () => {
    lab = createLab(['srv', 'aw', 'xw']);
    ({ srv: server, aw: aWing, xw: xWing } = lab.workloads as Record<'srv' | 'aw' | 'xw', Workload>);
    serve = await startServeIn(lab, lab.node.ns, dir, {
      'secure-fleet.yaml': SECURE_FLEET,
      'a-wing.yaml': endpointDoc('a-wing', aWing.ip, { app: 'a-wing' }),
      'x-wing.yaml': endpointDoc('x-wing', xWing.ip, { app: 'x-wing' }),
    });
    istiod = await startIstiodIn(lab, lab.node.ns);
    istiod.apply(meshObjects(server.ip));
    await startMemcachedIn(lab, server);
    const capture = lab.exec(lab.node.ns, process.execPath, [WEIR, 'sidecar', 'iptables', '--network-namespace', server.ns]);
    expect(capture.stdout + capture.stderr).toContain('IPv4: capture rules installed');

    // What the user runs (docs/istio.md): the node's credentials for the Secret's mount path, then the manifests.
    const certs = path.join(dir, 'istio-credentials');
    const enrolled = weir(['bootstrap', '--node-id', NODE_ID, '--certs', certs, '--xds', `${gatewayOf(server)}:${serve.xdsPort}`]);
    expect(enrolled.status, enrolled.stderr).toBe(0);
    const bootstrapMount = path.join(dir, 'istio-bootstrap');
    const generated = weir([
      'istio', 'manifests', '--workload', WORKLOAD.name, '--namespace', WORKLOAD.namespace, '--label', 'app=memcd-server',
      '--module-url', `file://${FILTERS_DIR}/{parser}.wasm`, '--weir-xds', `${gatewayOf(server)}:${serve.xdsPort}`,
      '--bootstrap-mount', bootstrapMount, '--credentials-mount', certs,
    ]);
    expect(generated.status, generated.stderr).toBe(0);
    manifestsYaml = generated.stdout;
    const objects = parseAllDocuments(manifestsYaml).map((document) => document.toJS() as Record<string, unknown> & { kind: string; data?: Record<string, string>; binaryData?: Record<string, string> });
    const configMap = objects.find((object) => object.kind === 'ConfigMap');
    const plugins = objects.filter((object) => object.kind === 'WasmPlugin');
    expect(plugins.map((plugin) => (plugin.metadata as { name: string }).name)).toEqual(['weir-memcd-server-memcache-11211']);
    wasmPlugin = plugins[0] as Record<string, unknown>;

    // Istio's injector mounts the ConfigMap; pilot-agent passes custom_bootstrap.json as --config-yaml.
    fs.mkdirSync(bootstrapMount, { recursive: true });
    for (const [file, text] of Object.entries(configMap?.data ?? {})) fs.writeFileSync(path.join(bootstrapMount, file), text);
    for (const [file, base64] of Object.entries(configMap?.binaryData ?? {})) fs.writeFileSync(path.join(bootstrapMount, file), Buffer.from(base64, 'base64'));
    fs.chmodSync(dir, 0o711);
    for (const owned of [certs, bootstrapMount]) expect(spawnSync('chown', ['-R', `${ENVOY_UID}:${ENVOY_UID}`, owned]).status).toBe(0);
    istiod.apply(manifestsYaml);

    envoy = await startEnvoy({
      bootstrapYaml: pilotAgentBootstrap({ pod: 'memcd-server-0', namespace: 'default', ip: server.ip, workload: WORKLOAD.name, labels: WORKLOAD.labels, serviceAccount: 'default' }, gatewayOf(server)),
      extraArgs: ['--config-yaml', fs.readFileSync(path.join(bootstrapMount, 'custom_bootstrap.json'), 'utf8')],
      launcher: lab.launcher(server.ns, ENVOY_UID),
      workDirOwner: { uid: ENVOY_UID, gid: ENVOY_UID },
      componentLogLevel: 'wasm:info,config:warning',
    });
    await waitFor(() => ecdsState()?.status === 'SYNCED', 60_000, "istiod's ECDS (the WasmPlugin) ACKed by the sidecar", context);
    await serve.waitEnforcing(NODE_ID, { policyOnly: true });
    aWingClients = memcacheClientsIn(lab, aWing.ns, server.ip, 11211);
  }, 180_000);

  afterAll(async () => {
    await aWingClients?.stop();
    await envoy?.stop();
    await serve?.stop();
    await lab?.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("passes Istio's validation: the CRD schemas and istiod's webhook, for the WasmPlugin and the TrafficExtension", () => {
    const asWasmPlugin = istiod.validate(writeManifest(dir, 'wasmplugin.yaml', manifestsYaml));
    expect(asWasmPlugin.ok, asWasmPlugin.output).toBe(true);
    expect(asWasmPlugin.output).toContain('valid WasmPlugin');
    const traffic = weir([
      'istio', 'manifests', '--workload', WORKLOAD.name, '--label', 'app=memcd-server', '--api', 'TrafficExtension',
      '--module-url', 'oci://registry.example.com/weir/{parser}:v1', '--weir-xds', 'weir.weir-system.svc:18000',
    ]);
    expect(traffic.status, traffic.stderr).toBe(0);
    expect(traffic.stdout).toContain('kind: TrafficExtension');
    const asTrafficExtension = istiod.validate(writeManifest(dir, 'trafficextension.yaml', traffic.stdout));
    expect(asTrafficExtension.ok, asTrafficExtension.output).toBe(true);
    // The same validation refuses what a cluster refuses: an unknown fail strategy.
    const broken = istiod.validate(writeManifest(dir, 'broken.yaml', manifestsYaml.replace('failStrategy: FAIL_CLOSE', 'failStrategy: FAIL_SOMETIMES')));
    expect(broken.ok).toBe(false);
    expect(broken.output).toContain('INVALID');
  });

  it('enforces secure-fleet on the inbound chain for clients addressed to the server itself', async () => {
    expect(await aWingClients.call({ client: 'memjs', op: 'set', key: 'awing-coord', value: '4,2' })).toMatchObject({ ok: true, value: 'true' });
    expect(ncIn(lab, aWing.ns, server.ip, 11211, 'get awing-coord\r\n')).toBe('VALUE awing-coord 0 3\r\n4,2\r\nEND\r\n');
    expect(ncIn(lab, xWing.ns, server.ip, 11211, 'set xwing-coord 0 600 3\r\n8,1\r\n')).toBe('STORED\r\n');
    // a-wing may not touch x-wing's coordinates: denied, and memcached never saw the write.
    expect(await aWingClients.call({ client: 'memjs', op: 'set', key: 'xwing-coord', value: 'evil' })).toMatchObject({ ok: false });
    expect(ncIn(lab, aWing.ns, server.ip, 11211, 'get xwing-coord\r\n')).toBe('CLIENT_ERROR access denied\r\n');
    expect(memcachedValue(lab, server, 'xwing-coord')).toBe('8,1');
  });

  it("shows the module loaded in Envoy's own Wasm stats", () => {
    const stats = adminStats();
    expect(Number(/wasm\.envoy\.wasm\.runtime\.v8\.active: (\d+)/.exec(stats)?.[1])).toBeGreaterThan(0);
    expect(Number(/extension_config_discovery\.[^\n]*weir-memcd-server-memcache-11211[^\n]*\.config_reload: (\d+)/.exec(stats)?.[1])).toBeGreaterThan(0);
  });

  it('applies a policy change to a connection that is already open', async () => {
    expect(await aWingClients.call({ client: 'memjs', op: 'get', key: 'xwing-coord' })).toMatchObject({ ok: false });
    const connections = memcachedStats(lab, server)['total_connections'] ?? 0;
    const widened = SECURE_FLEET.replace('              - command: get\n                keyExact: awing-coord\n', '              - command: get\n                keyExact: awing-coord\n              - command: get\n                keyExact: xwing-coord\n');
    expect(widened).not.toBe(SECURE_FLEET);
    await serve.importFile('secure-fleet.yaml', widened);
    await serve.waitEnforcing(NODE_ID, { policyOnly: true });
    expect(await aWingClients.call({ client: 'memjs', op: 'get', key: 'xwing-coord' })).toMatchObject({ ok: true, value: '8,1' });
    // Same connection: memcached counted only the stats connection of this check.
    expect((memcachedStats(lab, server)['total_connections'] ?? 0) - connections).toBe(1);
    await serve.importFile('secure-fleet.yaml', SECURE_FLEET);
    await serve.waitEnforcing(NODE_ID, { policyOnly: true });
  });

  it("NACKs a bad pluginConfig (istiod's sync status and weir status say why) and keeps enforcing the previous one", async () => {
    const spec = wasmPlugin.spec as { pluginConfig: Record<string, unknown> };
    const bad = { ...wasmPlugin, spec: { ...spec, pluginConfig: { ...spec.pluginConfig, maxBufferBytes: 'lots' } } };
    istiod.apply(JSON.stringify(bad));
    const nack = await waitFor(() => { const state = ecdsState(); return state?.error !== undefined ? state : undefined; }, 60_000, "istiod's sync status showing the sidecar's NACK", context);
    expect(nack.status).toBe('ERROR');
    const status = await waitFor(() => { const text = weir(['status']).stdout; return text.includes('plugin configuration') ? text : undefined; }, 30_000, 'weir status listing the refused plugin configuration', context);
    expect(status).toMatch(/memcd-server\.default rejected plugin configuration default\.weir-memcd-server-memcache-11211[^:]*: byte \d+: expected a number/);
    // The previous configuration stays in force.
    expect(ncIn(lab, aWing.ns, server.ip, 11211, 'get xwing-coord\r\n')).toBe('CLIENT_ERROR access denied\r\n');
    expect(ncIn(lab, aWing.ns, server.ip, 11211, 'get awing-coord\r\n')).toBe('VALUE awing-coord 0 3\r\n4,2\r\nEND\r\n');
    istiod.apply(JSON.stringify(wasmPlugin));
    await waitFor(() => ecdsState()?.status === 'SYNCED' && ecdsState()?.error === undefined, 60_000, 'the good pluginConfig ACKed again', context);
  });
});
