// Weir's parsers as Istio WasmPlugins in Istio sidecars, configured by a real istiod: weir-istiod
// (istiod with Istio's fake Kubernetes client, so WasmPlugins take istiod's Kubernetes path) and
// `weir serve` in the node namespace; in each server namespace a server behind Istio's capture
// rules (`weir sidecar iptables`) and a real Envoy (uid 1337) started as pilot-agent starts it: a
// pilot-agent-shaped bootstrap plus `--config-yaml` with the bootstrapOverride from
// `weir istio manifests` (the Weir agent, the weir-xds cluster with mTLS). The WasmPlugin from the
// same manifests goes through istiod; unmodified clients in client namespaces connect to the
// server's own address. memcached's sidecar runs Istio mTLS PERMISSIVE, its certificates over SDS
// as istio-agent serves them (workload-sds.ts): plaintext clients are known by address, mTLS
// clients by their SPIFFE ID. Cassandra's sidecar shares the istiod and `weir serve`. Checks:
// Istio's validation of the manifests, secure-fleet enforced, the SPIFFE ID's service account
// taking precedence over the address, an untrusted trust domain denied, Envoy's Wasm stats, a
// policy change on an open connection, a bad pluginConfig NACKed (istiod's sync status and
// `weir status`) with the previous configuration still enforcing, and the Empire's Cassandra policy.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { projectRoot } from '../../demo/servers/project-paths.ts';
import { startEnvoy, type EnvoyProcess } from '../../demo/servers/envoy/process.ts';
import type { RunningCassandra } from '../../demo/servers/index.ts';
import { waitFor } from '../filters/envoy-harness.ts';
import { createLab, gatewayOf, labPrerequisites, type Lab, type Workload } from '../support/netns-lab.ts';
import {
  startCassandraIn,
  cqlIn,
  curlIn,
  endpointDoc,
  examplePolicy,
  ENVOY_UID,
  memcacheClientsIn,
  memcachedStats,
  memcachedValue,
  lineClientIn,
  startMemcachedIn,
  startServeIn,
  type NamespacedClients,
  type NamespacedServe,
  type TlsClientFiles,
} from '../support/interception-lab.ts';
import { weirIstiodMissing } from '../support/istiod/install.ts';
import { pilotAgentBootstrap, startIstiodIn, writeManifest, type IstioSidecarIdentity, type RunningIstiod } from '../support/istiod/weir-istiod.ts';
import { createMeshCa, startWorkloadSds, type RunningWorkloadSds, type WorkloadCertificate } from '../support/istiod/workload-sds.ts';

const missing = labPrerequisites() ?? weirIstiodMissing();
const SECURE_FLEET = examplePolicy('memcached-secure-fleet.yaml');
const WEIR = path.join(projectRoot, 'bin', 'weir.js');
const FILTERS_DIR = path.join(projectRoot, 'build', 'filters');
const WORKLOAD = { name: 'memcd-server', namespace: 'default', labels: { app: 'memcd-server' } };
const NODE_ID = `${WORKLOAD.name}.${WORKLOAD.namespace}`;
const CASSANDRA = { name: 'cass-server', namespace: 'default', labels: { app: 'cass-server' } };
const ECDS_TYPE = 'type.googleapis.com/envoy.config.core.v3.TypedExtensionConfig';
const TRUST_DOMAIN = 'cluster.local';
/**
 * A trust domain alias of the mesh (MeshConfig trustDomainAliases) that the Weir plugins were not
 * told about: istiod's inbound chain accepts its certificates, the parsers must not.
 */
const ALIAS_TRUST_DOMAIN = 'galactic-empire.example';
const UNAUTHORIZED = 0x2100;
/** The end of a memcached text reply to one get or one storage command. */
const REPLY_END = /(END|STORED|NOT_STORED|ERROR|CLIENT_ERROR [^\r]*|SERVER_ERROR [^\r]*)\r\n$/;

/** a-wing's service account may read its coordinates whatever address it connects from (the SPIFFE peers' rule). */
const A_WING_SERVICE_ACCOUNT_POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: a-wing-service-account }
spec:
  endpointSelector: { matchLabels: { app: memcd-server } }
  ingress:
    - fromEndpoints: [{ matchLabels: { io.cilium.k8s.policy.serviceaccount: a-wing, k8s:io.kubernetes.pod.namespace: default } }]
      toPorts: [{ ports: [{ port: "11211", protocol: TCP }], rules: { l7proto: memcache, l7: [{ command: get, keyExact: awing-coord }] } }]
`;

/**
 * What an Istio cluster already has: mTLS off mesh-wide, PERMISSIVE for memcached's pods (mTLS
 * clients and plaintext ones), and each workload's Service and pod.
 */
function meshObjects(memcachedIp: string): string {
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
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: memcd-server, namespace: default }
spec: { selector: { matchLabels: { app: memcd-server } }, mtls: { mode: PERMISSIVE } }
${workloadObjects('memcd-server', memcachedIp, 11211, 'tcp-memcache')}`;
}

/** A Service (as a ServiceEntry) and its one pod (a WorkloadEntry) for a workload labelled app=NAME. */
function workloadObjects(name: string, ip: string, port: number, portName: string): string {
  return `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: default }
spec:
  hosts: [${name}.default.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: ${port}, name: ${portName}, protocol: TCP }]
  workloadSelector: { labels: { app: ${name} } }
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: ${name}-0, namespace: default }
spec: { address: ${ip}, labels: { app: ${name} }, serviceAccount: default }
`;
}

describe.skipIf(missing !== undefined)(`Weir parsers as Istio WasmPlugins, configured by istiod${missing === undefined ? '' : ` (skipped: ${missing})`}`, () => {
  let lab: Lab;
  let serve: NamespacedServe;
  let istiod: RunningIstiod;
  let server: Workload;
  let aWing: Workload;
  let xWing: Workload;
  let cassandraServer: Workload;
  let outpost: Workload;
  let hq: Workload;
  let envoy: EnvoyProcess;
  let cassandraEnvoy: EnvoyProcess;
  let cassandraNode: RunningCassandra;
  let cassandraStarting: Promise<RunningCassandra> | undefined;
  let sds: RunningWorkloadSds;
  let aWingClients: NamespacedClients;
  let manifestsYaml: string;
  let wasmPlugin: Record<string, unknown>;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-istio-'));
  /** Client identities as Istio's CA would issue them, and one from a trust domain the plugins do not trust. */
  const peers: Record<'aWing' | 'xWing' | 'foreign', TlsClientFiles> = { aWing: tlsFiles('a-wing'), xWing: tlsFiles('x-wing'), foreign: tlsFiles('foreign') };
  const context = (): string =>
    `weir serve:\n${serve?.log().slice(-5000) ?? ''}\nEnvoy:\n${envoy?.log().slice(-4000) ?? ''}\nCassandra's Envoy:\n${cassandraEnvoy?.log().slice(-3000) ?? ''}\nweir-istiod:\n${istiod?.log().slice(-3000) ?? ''}`;
  const weir = (args: readonly string[]): { status: number | null; stdout: string; stderr: string } => {
    const result = spawnSync(process.execPath, [WEIR, ...args, '--socket', serve.socket], { encoding: 'utf8', timeout: 60_000 });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  const adminStats = (): string => curlIn(lab, server.ns, 'http://127.0.0.1:15000/stats').body;
  const ecdsState = (proxy = 'memcd-server-0.default'): { status: string; error?: string } | undefined =>
    istiod.syncz().find((candidate) => candidate.proxy === proxy)?.types[ECDS_TYPE];

  function tlsFiles(name: string): TlsClientFiles {
    return { certificate: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`), ca: path.join(dir, 'mesh-root.crt') };
  }

  /**
   * What docs/istio.md has the user do for one workload, then its pod as Kubernetes would start it:
   * enrol the node, print the manifests, apply them to istiod, mount the override ConfigMap, and
   * start Envoy in the workload's namespace as pilot-agent does. Resolves once istiod's ECDS (the
   * WasmPlugin) is ACKed and the agent enforces the policy.
   */
  async function deployIstioSidecar(workload: { name: string; namespace: string; labels: Record<string, string> }, pod: Workload, options: { sdsSocket?: string } = {}): Promise<{ envoy: EnvoyProcess; manifests: string }> {
    const nodeId = `${workload.name}.${workload.namespace}`;
    const certs = path.join(dir, `${workload.name}-credentials`);
    const enrolled = weir(['bootstrap', '--node-id', nodeId, '--certs', certs, '--xds', `${gatewayOf(pod)}:${serve.xdsPort}`]);
    expect(enrolled.status, enrolled.stderr).toBe(0);
    const bootstrapMount = path.join(dir, `${workload.name}-bootstrap`);
    const labels = Object.entries(workload.labels).flatMap(([key, value]) => ['--label', `${key}=${value}`]);
    const generated = weir([
      'istio', 'manifests', '--workload', workload.name, '--namespace', workload.namespace, ...labels,
      '--module-url', `file://${FILTERS_DIR}/{parser}.wasm`, '--weir-xds', `${gatewayOf(pod)}:${serve.xdsPort}`,
      '--bootstrap-mount', bootstrapMount, '--credentials-mount', certs, '--trust-domain', TRUST_DOMAIN,
    ]);
    expect(generated.status, generated.stderr).toBe(0);
    const objects = parseAllDocuments(generated.stdout).map((document) => document.toJS() as Record<string, unknown> & { kind: string; data?: Record<string, string>; binaryData?: Record<string, string> });
    const configMap = objects.find((object) => object.kind === 'ConfigMap');
    // Istio's injector mounts the ConfigMap; pilot-agent passes custom_bootstrap.json as --config-yaml.
    fs.mkdirSync(bootstrapMount, { recursive: true });
    for (const [file, text] of Object.entries(configMap?.data ?? {})) fs.writeFileSync(path.join(bootstrapMount, file), text);
    for (const [file, base64] of Object.entries(configMap?.binaryData ?? {})) fs.writeFileSync(path.join(bootstrapMount, file), Buffer.from(base64, 'base64'));
    fs.chmodSync(dir, 0o711);
    for (const owned of [certs, bootstrapMount]) expect(spawnSync('chown', ['-R', `${ENVOY_UID}:${ENVOY_UID}`, owned]).status).toBe(0);
    istiod.apply(generated.stdout);
    const identity: IstioSidecarIdentity = { pod: `${workload.name}-0`, namespace: workload.namespace, ip: pod.ip, workload: workload.name, labels: workload.labels, serviceAccount: 'default' };
    const started = await startEnvoy({
      bootstrapYaml: pilotAgentBootstrap(identity, gatewayOf(pod), options.sdsSocket === undefined ? {} : { sdsSocket: options.sdsSocket }),
      extraArgs: ['--config-yaml', fs.readFileSync(path.join(bootstrapMount, 'custom_bootstrap.json'), 'utf8')],
      launcher: lab.launcher(pod.ns, ENVOY_UID),
      workDirOwner: { uid: ENVOY_UID, gid: ENVOY_UID },
      componentLogLevel: 'wasm:info,config:warning',
    });
    await waitFor(() => ecdsState(`${identity.pod}.${workload.namespace}`)?.status === 'SYNCED', 60_000, `istiod's ECDS (the WasmPlugin) ACKed by ${workload.name}'s sidecar`, () => `${started.log().slice(-4000)}\n${istiod.log().slice(-3000)}`);
    await serve.waitEnforcing(nodeId, { policyOnly: true });
    return { envoy: started, manifests: generated.stdout };
  }

  /** Cassandra on its own address in its namespace, with the Empire's keyspaces, created past the sidecar as the guide's populate script does. */
  async function startEmpireCassandra(): Promise<RunningCassandra> {
    const node = await startCassandraIn(lab, cassandraServer);
    const setup = cqlIn(lab, cassandraServer.ns, cassandraServer.ip, node.nativePort, [
      "CREATE KEYSPACE deathstar WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
      "CREATE KEYSPACE attendance WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
      'CREATE TABLE deathstar.scrum_notes (empire_member_id uuid, content varchar, creation timeuuid, PRIMARY KEY (empire_member_id, creation))',
      'CREATE TABLE attendance.daily_records (creation timeuuid, loc_id uuid, present boolean, empire_member_id uuid, PRIMARY KEY (loc_id, creation, empire_member_id))',
      "INSERT INTO deathstar.scrum_notes (empire_member_id, content, creation) VALUES (uuid(), 'Exhaust port is 2 meters wide', now())",
    ]);
    expect(setup.every((outcome) => outcome.ok), JSON.stringify(setup)).toBe(true);
    return node;
  }

  beforeAll(async () => {
    lab = createLab(['srv', 'aw', 'xw', 'cas', 'op', 'hq']);
    ({ srv: server, aw: aWing, xw: xWing, cas: cassandraServer, op: outpost, hq } = lab.workloads as Record<'srv' | 'aw' | 'xw' | 'cas' | 'op' | 'hq', Workload>);
    serve = await startServeIn(lab, lab.node.ns, dir, {
      'secure-fleet.yaml': SECURE_FLEET,
      'a-wing-service-account.yaml': A_WING_SERVICE_ACCOUNT_POLICY,
      'a-wing.yaml': endpointDoc('a-wing', aWing.ip, { app: 'a-wing' }, { namespace: 'default', serviceAccount: 'a-wing' }),
      'x-wing.yaml': endpointDoc('x-wing', xWing.ip, { app: 'x-wing' }, { namespace: 'default', serviceAccount: 'x-wing' }),
      'outpost.yaml': endpointDoc('outpost', outpost.ip, { app: 'empire-outpost' }),
      'hq.yaml': endpointDoc('hq', hq.ip, { app: 'empire-hq' }),
    });
    istiod = await startIstiodIn(lab, lab.node.ns, { meshConfigFile: writeManifest(dir, 'mesh.yaml', `trustDomain: ${TRUST_DOMAIN}\ntrustDomainAliases: [${ALIAS_TRUST_DOMAIN}]\n`) });
    // Cassandra takes the longest to start: it starts now and is awaited once memcached's sidecar runs.
    cassandraStarting = startEmpireCassandra();
    cassandraStarting.catch(() => undefined);
    istiod.apply(meshObjects(server.ip));
    await startMemcachedIn(lab, server);
    for (const pod of [server, cassandraServer]) {
      const capture = lab.exec(lab.node.ns, process.execPath, [WEIR, 'sidecar', 'iptables', '--network-namespace', pod.ns], { timeoutMs: 120_000 });
      expect(capture.stdout + capture.stderr, `weir sidecar iptables exited with ${capture.status}`).toContain('IPv4: capture rules installed');
    }

    // istio-agent's part: the mesh CA's certificates for memcached's sidecar over SDS, and the clients'.
    const ca = createMeshCa('weir test mesh CA');
    fs.writeFileSync(peers.aWing.ca, ca.certificatePem);
    const issued: Record<keyof typeof peers, WorkloadCertificate> = {
      aWing: ca.issue(`spiffe://${TRUST_DOMAIN}/ns/default/sa/a-wing`),
      xWing: ca.issue(`spiffe://${TRUST_DOMAIN}/ns/default/sa/x-wing`),
      foreign: ca.issue(`spiffe://${ALIAS_TRUST_DOMAIN}/ns/default/sa/a-wing`),
    };
    for (const [name, certificate] of Object.entries(issued) as Array<[keyof typeof peers, WorkloadCertificate]>) {
      fs.writeFileSync(peers[name].certificate, certificate.certificatePem);
      fs.writeFileSync(peers[name].key, certificate.privateKeyPem, { mode: 0o600 });
    }
    const sdsSocket = path.join(dir, 'workload-spiffe-uds', 'socket');
    sds = await startWorkloadSds({ socketPath: sdsSocket, owner: ENVOY_UID, workload: ca.issue(`spiffe://${TRUST_DOMAIN}/ns/default/sa/default`), rootCertificatePem: ca.certificatePem });
    fs.chmodSync(path.dirname(sdsSocket), 0o755);

    const memcachedSidecar = await deployIstioSidecar(WORKLOAD, server, { sdsSocket });
    envoy = memcachedSidecar.envoy;
    manifestsYaml = memcachedSidecar.manifests;
    const plugins = parseAllDocuments(manifestsYaml).map((document) => document.toJS() as Record<string, unknown> & { kind: string }).filter((object) => object.kind === 'WasmPlugin');
    expect(plugins.map((plugin) => (plugin.metadata as { name: string }).name)).toEqual(['weir-memcd-server-memcache-11211']);
    wasmPlugin = plugins[0] as Record<string, unknown>;
    aWingClients = memcacheClientsIn(lab, aWing.ns, server.ip, 11211);

    cassandraNode = await cassandraStarting;
    const port = cassandraNode.nativePort;
    istiod.apply(workloadObjects(CASSANDRA.name, cassandraServer.ip, port, 'tcp-cql'));
    await serve.importFile('empire.yaml', fs.readFileSync(path.join(projectRoot, 'examples', 'policies', 'cassandra-empire.yaml'), 'utf8').replaceAll('"9042"', `"${port}"`));
    cassandraEnvoy = (await deployIstioSidecar(CASSANDRA, cassandraServer)).envoy;
  }, 420_000);

  afterAll(async () => {
    await aWingClients?.stop();
    await envoy?.stop();
    await cassandraEnvoy?.stop();
    await sds?.stop();
    await serve?.stop();
    // A start-up that failed elsewhere still leaves a Cassandra to stop once it is up.
    await (cassandraNode ?? (await cassandraStarting?.catch(() => undefined)))?.stop();
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
    expect(lineClientIn(lab, aWing.ns, server.ip, 11211, 'get awing-coord\r\n', { until: REPLY_END }).reply).toBe('VALUE awing-coord 0 3\r\n4,2\r\nEND\r\n');
    expect(lineClientIn(lab, xWing.ns, server.ip, 11211, 'set xwing-coord 0 600 3\r\n8,1\r\n', { until: REPLY_END }).reply).toBe('STORED\r\n');
    // a-wing may not touch x-wing's coordinates: denied, and memcached never saw the write.
    expect(await aWingClients.call({ client: 'memjs', op: 'set', key: 'xwing-coord', value: 'evil' })).toMatchObject({ ok: false });
    expect(lineClientIn(lab, aWing.ns, server.ip, 11211, 'get xwing-coord\r\n', { until: REPLY_END }).reply).toBe('CLIENT_ERROR access denied\r\n');
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
    expect(lineClientIn(lab, aWing.ns, server.ip, 11211, 'get xwing-coord\r\n', { until: REPLY_END }).reply).toBe('CLIENT_ERROR access denied\r\n');
    expect(lineClientIn(lab, aWing.ns, server.ip, 11211, 'get awing-coord\r\n', { until: REPLY_END }).reply).toBe('VALUE awing-coord 0 3\r\n4,2\r\nEND\r\n');
    istiod.apply(JSON.stringify(wasmPlugin));
    await waitFor(() => ecdsState()?.status === 'SYNCED' && ecdsState()?.error === undefined, 60_000, 'the good pluginConfig ACKed again', context);
  });
  it("knows an mTLS peer by its SPIFFE ID: the service account's rule applies, whatever address it connects from", () => {
    // a-wing's certificate from x-wing's address reads a-wing's coordinates (x-wing by address may not) ...
    const fromXWing = lineClientIn(lab, xWing.ns, server.ip, 11211, 'get awing-coord\r\n', { until: REPLY_END, tls: peers.aWing });
    expect(fromXWing, fromXWing.stderr).toMatchObject({ reply: 'VALUE awing-coord 0 3\r\n4,2\r\nEND\r\n', handshakeFailed: false });
    // ... and nothing else: the certificate proves the service account, not app=a-wing, whose rule allows xwing-coord to no one but x-wing.
    expect(lineClientIn(lab, aWing.ns, server.ip, 11211, 'get xwing-coord\r\n', { until: REPLY_END, tls: peers.aWing }).reply).toBe('CLIENT_ERROR access denied\r\n');
    // x-wing's certificate from a-wing's address: x-wing's service account has no rule; the address no longer counts.
    expect(lineClientIn(lab, aWing.ns, server.ip, 11211, 'get awing-coord\r\n', { until: REPLY_END, tls: peers.xWing }).reply).toBe('CLIENT_ERROR access denied\r\n');
    // Envoy terminated TLS on Istio's inbound mTLS chain, with the certificate from SDS.
    expect(sds.requested()).toEqual(expect.arrayContaining(['default', 'ROOTCA']));
    expect(Number(/listener\.0\.0\.0\.0_15006\.ssl\.handshake: (\d+)/.exec(adminStats())?.[1])).toBeGreaterThanOrEqual(3);
  });

  it("denies a SPIFFE ID from a trust domain the plugin was not given, though the mesh's TLS accepts it (an alias)", async () => {
    const foreign = lineClientIn(lab, aWing.ns, server.ip, 11211, 'get awing-coord\r\n', { until: REPLY_END, tls: peers.foreign });
    expect(foreign, foreign.stderr).toMatchObject({ reply: 'CLIENT_ERROR access denied\r\n', handshakeFailed: false });
    await waitFor(() => serve.log().includes(`is from trust domain \\"${ALIAS_TRUST_DOMAIN}\\"`), 30_000, 'the access log naming the untrusted trust domain', context);
  });

  it("enforces the Empire's Cassandra policy through istiod's WasmPlugin: the outpost records attendance, only headquarters reads the plans", () => {
    const port = cassandraNode.nativePort;
    const [recorded, plans] = cqlIn(lab, outpost.ns, cassandraServer.ip, port, [
      'INSERT INTO attendance.daily_records (creation, loc_id, present, empire_member_id) VALUES (now(), uuid(), true, uuid())',
      'SELECT content FROM deathstar.scrum_notes',
    ]);
    expect(recorded).toMatchObject({ ok: true });
    expect(plans).toMatchObject({ ok: false, code: UNAUTHORIZED });
    const [read] = cqlIn(lab, hq.ns, cassandraServer.ip, port, ['SELECT content FROM deathstar.scrum_notes']);
    expect(read).toMatchObject({ ok: true, rows: [{ content: 'Exhaust port is 2 meters wide' }] });
    // Cassandra's own data: the outpost's record is there.
    const [attendance] = cqlIn(lab, cassandraServer.ns, cassandraServer.ip, port, ['SELECT count(*) AS n FROM attendance.daily_records']);
    expect(attendance).toMatchObject({ ok: true, rows: [{ n: '1' }] });
  });
});
