// Weir as a sidecar with Istio's layout, in real network namespaces: memcached in a server
// namespace behind `weir sidecar iptables` and an Envoy (uid 1337) bootstrapped with
// `weir bootstrap --mode sidecar`, unmodified clients (memjs, the memcached npm client, nc) in two
// client namespaces connecting to the server's own address and port 11211. Checks the secure-fleet
// and 1.3-post policies on ingress, a policy change on an open connection, that 15021/15090 answer
// and are not captured, that Envoy's own traffic is not looped, that a killed Envoy means refused
// connections the server never sees and a restarted one enforces again; then a client-side sidecar
// enforcing egress. Everything runs in namespaces this file creates and removes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../demo/servers/project-paths.ts';
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
  ncListenIn,
  startMemcachedIn,
  startNamespacedEnvoy,
  startServeIn,
  type NamespacedClients,
  type NamespacedServe,
  type ProxyDeployment,
} from '../support/interception-lab.ts';

const missing = labPrerequisites();
const SECURE_FLEET = examplePolicy('memcached-secure-fleet.yaml');
const REBEL_ALLIANCE = examplePolicy('memcached-rebel-alliance.yaml');


describe.skipIf(missing !== undefined)(`sidecar interception in network namespaces${missing === undefined ? '' : ` (skipped: ${missing})`}`, () => {
  let lab: Lab;
  let serve: NamespacedServe;
  let server: Workload;
  let aWing: Workload;
  let xWing: Workload;
  let sidecar: ProxyDeployment;
  let aWingClients: NamespacedClients;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-sidecar-'));
  const context = (): string => `weir serve:\n${serve?.log().slice(-6000) ?? ''}\nEnvoy:\n${sidecar?.envoy.log().slice(-3000) ?? ''}`;

  const sidecarArgs = (xdsPort: number): string[] => [
    '--mode', 'sidecar', '--endpoint-name', 'memcd-server', '--endpoint-ip', server.ip, '--label', 'app=memcd-server', '--namespace', 'default',
    '--xds', `${gatewayOf(server)}:${xdsPort}`,
  ];
  const waitEnforcing = (nodeId: string): Promise<void> => serve.waitEnforcing(nodeId);
  const waitReady = async (workload: Workload): Promise<void> => {
    await waitFor(() => curlIn(lab, workload.ns, `http://${workload.ip}:15021/healthz/ready`).status === 200, 30_000, `${workload.ns}'s sidecar ready on 15021`, context);
  };

  beforeAll(async () => {
    lab = createLab(['srv', 'aw', 'xw']);
    ({ srv: server, aw: aWing, xw: xWing } = lab.workloads as Record<'srv' | 'aw' | 'xw', Workload>);
    serve = await startServeIn(lab, lab.node.ns, dir, {
      'secure-fleet.yaml': SECURE_FLEET,
      'a-wing.yaml': endpointDoc('a-wing', aWing.ip, { app: 'a-wing' }),
      'x-wing.yaml': endpointDoc('x-wing', xWing.ip, { app: 'x-wing' }),
    });
    await startMemcachedIn(lab, server);
    const capture = lab.exec(lab.node.ns, process.execPath, [path.join(projectRoot, 'bin', 'weir.js'), 'sidecar', 'iptables', '--network-namespace', server.ns]);
    expect(capture.stdout + capture.stderr).toContain('IPv4: capture rules installed');
    sidecar = await startNamespacedEnvoy(lab, server.ns, serve, sidecarArgs(serve.xdsPort));
    await waitReady(server);
    await waitEnforcing(sidecar.nodeId);
    aWingClients = memcacheClientsIn(lab, aWing.ns, server.ip, 11211);
  }, 120_000);

  afterAll(async () => {
    await aWingClients?.stop();
    await sidecar?.envoy.stop();
    await serve?.stop();
    await lab?.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('enforces secure-fleet on ingress for memjs, the memcached client and nc, addressed to the server itself', async () => {
    expect(await aWingClients.call({ client: 'memjs', op: 'set', key: 'awing-coord', value: '4,2' })).toMatchObject({ ok: true, value: 'true' });
    expect(await aWingClients.call({ client: 'memcached', op: 'get', key: 'awing-coord' })).toMatchObject({ ok: true, value: '4,2' });
    expect(ncIn(lab, xWing.ns, server.ip, 11211, 'set xwing-coord 0 600 3\r\n8,1\r\n')).toBe('STORED\r\n');
    // a-wing may not touch x-wing's coordinates: denied in each protocol, and memcached never saw the write.
    expect(await aWingClients.call({ client: 'memjs', op: 'set', key: 'xwing-coord', value: 'evil' })).toMatchObject({ ok: false });
    expect(await aWingClients.call({ client: 'memcached', op: 'set', key: 'xwing-coord', value: 'evil' })).toMatchObject({ ok: false, error: expect.stringContaining('access denied') });
    expect(ncIn(lab, aWing.ns, server.ip, 11211, 'get xwing-coord\r\n')).toBe('CLIENT_ERROR access denied\r\n');
    expect(memcachedValue(lab, server, 'xwing-coord')).toBe('8,1');
    // Ports no rule names are denied once a policy selects the endpoint (Cilium's default deny).
    await ncListenIn(lab, server.ns, server.ip, 7000, { keep: true });
    expect(ncIn(lab, aWing.ns, server.ip, 7000, 'hello\n')).toBe('');
  });

  it('serves readiness on 15021 and Prometheus stats on 15090 from other namespaces, without capturing them', () => {
    expect(curlIn(lab, aWing.ns, `http://${server.ip}:15021/healthz/ready`)).toMatchObject({ status: 200, body: expect.stringContaining('LIVE') });
    const stats = curlIn(lab, aWing.ns, `http://${server.ip}:15090/stats/prometheus`);
    expect(stats.status).toBe(200);
    // virtualInbound saw only the memcached connections, never these HTTP ones.
    const inbound = /envoy_listener_downstream_cx_total\{envoy_listener_address="0\.0\.0\.0_15006"\} (\d+)/.exec(stats.body);
    expect(Number(inbound?.[1])).toBeGreaterThan(0);
    const before = Number(inbound?.[1]);
    curlIn(lab, aWing.ns, `http://${server.ip}:15021/healthz/ready`);
    const after = /envoy_listener_downstream_cx_total\{envoy_listener_address="0\.0\.0\.0_15006"\} (\d+)/.exec(curlIn(lab, aWing.ns, `http://${server.ip}:15090/stats/prometheus`).body);
    expect(Number(after?.[1])).toBe(before);
  });

  it("does not loop Envoy's own traffic (uid 1337): its xDS connection bypasses virtualOutbound, and so does anything it runs", async () => {
    const stats = curlIn(lab, server.ns, `http://${server.ip}:15090/stats/prometheus`).body;
    expect(/envoy_listener_downstream_cx_total\{envoy_listener_address="0\.0\.0\.0_15001"\} (\d+)/.exec(stats)?.[1]).toBe('0');
    // A uid-1337 process in the server namespace reaches x-wing directly; root's connection is captured.
    await ncListenIn(lab, xWing.ns, xWing.ip, 7100, { keep: true });
    expect(lab.exec(server.ns, 'nc', ['-z', '-w', '3', xWing.ip, '7100'], { uid: ENVOY_UID }).status).toBe(0);
    const outbound = /envoy_listener_downstream_cx_total\{envoy_listener_address="0\.0\.0\.0_15001"\} (\d+)/.exec(curlIn(lab, server.ns, `http://${server.ip}:15090/stats/prometheus`).body)?.[1];
    expect(outbound).toBe('0');
  });

  it('applies a policy change to a connection that is already open', async () => {
    expect(await aWingClients.call({ client: 'memjs', op: 'get', key: 'xwing-coord' })).toMatchObject({ ok: false });
    const connections = memcachedStats(lab, server)['total_connections'] ?? 0;
    const widened = SECURE_FLEET.replace('app: a-wing\n      toPorts:\n        - ports:\n            - port: \'11211\'\n              protocol: TCP\n          rules:\n            l7proto: memcache\n            l7:\n', "app: a-wing\n      toPorts:\n        - ports:\n            - port: '11211'\n              protocol: TCP\n          rules:\n            l7proto: memcache\n            l7:\n              - command: get\n                keyExact: xwing-coord\n");
    expect(widened).not.toBe(SECURE_FLEET);
    await serve.importFile('secure-fleet.yaml', widened);
    await waitEnforcing(sidecar.nodeId);
    expect(await aWingClients.call({ client: 'memjs', op: 'get', key: 'xwing-coord' })).toMatchObject({ ok: true, value: '8,1' });
    // Same connection: memcached counted only the stats connection of this check.
    expect((memcachedStats(lab, server)['total_connections'] ?? 0) - connections).toBe(1);
    await serve.importFile('secure-fleet.yaml', SECURE_FLEET);
    await waitEnforcing(sidecar.nodeId);
  });

  it('refuses captured traffic while Envoy is down (memcached sees nothing) and enforces again once it is back', async () => {
    await sidecar.envoy.stop();
    const before = memcachedStats(lab, server);
    expect(ncIn(lab, aWing.ns, server.ip, 11211, 'get awing-coord\r\n')).toBe('');
    const refused = lab.exec(aWing.ns, 'nc', ['-z', '-w', '3', server.ip, '11211']);
    expect(refused.status).not.toBe(0);
    const freshClients = memcacheClientsIn(lab, aWing.ns, server.ip, 11211);
    expect(await freshClients.call({ client: 'memjs', op: 'get', key: 'awing-coord' })).toMatchObject({ ok: false });
    await freshClients.stop();
    const after = memcachedStats(lab, server);
    // Only the stats connection of this check reached memcached; no command did.
    expect(after['total_connections']! - before['total_connections']!).toBe(1);
    expect(after['cmd_get']).toBe(before['cmd_get']);
    sidecar = await startNamespacedEnvoy(lab, server.ns, serve, sidecar.bootstrapArgs);
    await waitReady(server);
    await waitEnforcing(sidecar.nodeId);
    expect(ncIn(lab, aWing.ns, server.ip, 11211, 'get awing-coord\r\n')).toBe('VALUE awing-coord 0 3\r\n4,2\r\nEND\r\n');
    expect(ncIn(lab, aWing.ns, server.ip, 11211, 'get xwing-coord\r\n')).toBe('CLIENT_ERROR access denied\r\n');
  });

  it('enforces the 1.3 release post policy (alliance/fleet/ prefixes by function)', async () => {
    expect((await serve.api('DELETE', '/v1/policies/secure-fleet.yaml')).status).toBe(200);
    for (const [name, text] of Object.entries({
      'rebel-alliance.yaml': REBEL_ALLIANCE,
      'a-wing.yaml': endpointDoc('a-wing', aWing.ip, { function: 'fleet-maintanence' }),
      'x-wing.yaml': endpointDoc('x-wing', xWing.ip, { function: 'fleet-monitoring' }),
      // The store's definition of the server's endpoint wins over the sidecar's metadata.
      'memcd-server.yaml': endpointDoc('memcd-server', server.ip, { app: 'memcached' }),
    })) {
      await serve.importFile(name, text);
    }
    await waitEnforcing(sidecar.nodeId);
    expect(ncIn(lab, aWing.ns, server.ip, 11211, 'set alliance/fleet/a 0 600 2\r\nok\r\n')).toBe('STORED\r\n');
    expect(ncIn(lab, xWing.ns, server.ip, 11211, 'get alliance/fleet/a\r\n')).toBe('VALUE alliance/fleet/a 0 2\r\nok\r\nEND\r\n');
    expect(ncIn(lab, xWing.ns, server.ip, 11211, 'set alliance/fleet/a 0 600 2\r\nno\r\n')).toBe('CLIENT_ERROR access denied\r\n');
    expect(ncIn(lab, aWing.ns, server.ip, 11211, 'get empire/plans\r\n')).toBe('CLIENT_ERROR access denied\r\n');
    expect(memcachedValue(lab, server, 'alliance/fleet/a')).toBe('ok');
  });

  it('enforces egress in a client-side sidecar: only what the client may send leaves its namespace', async () => {
    await serve.importFile('a-wing-egress.yaml', A_WING_EGRESS);
    expect(lab.exec(lab.node.ns, process.execPath, [path.join(projectRoot, 'bin', 'weir.js'), 'sidecar', 'iptables', '--network-namespace', aWing.ns]).status).toBe(0);
    const clientSidecar = await startNamespacedEnvoy(lab, aWing.ns, serve, [
      '--mode', 'sidecar', '--endpoint-name', 'a-wing', '--endpoint-ip', aWing.ip, '--label', 'function=fleet-maintanence', '--xds', `${gatewayOf(aWing)}:${serve.xdsPort}`,
    ]);
    try {
      await waitReady(aWing);
      await serve.waitEnforcing(clientSidecar.nodeId);
      // The server's ingress policy lets fleet maintenance write; a-wing's egress policy only lets it read.
      expect(ncIn(lab, aWing.ns, server.ip, 11211, 'get alliance/fleet/a\r\n')).toBe('VALUE alliance/fleet/a 0 2\r\nok\r\nEND\r\n');
      expect(ncIn(lab, aWing.ns, server.ip, 11211, 'set alliance/fleet/a 0 600 2\r\nxx\r\n')).toBe('CLIENT_ERROR access denied\r\n');
      expect(memcachedValue(lab, server, 'alliance/fleet/a')).toBe('ok');
      const flows = await serve.api('GET', '/v1/flows?follow=false&last=200');
      const denials = flows.text.split('\n').filter((line) => line.startsWith('data: ')).map((line) => JSON.parse(line.slice(6)) as { nodeId: string; direction: string; type: string; fields?: Record<string, string> });
      expect(denials).toContainEqual(expect.objectContaining({ nodeId: clientSidecar.nodeId, direction: 'egress', type: 'Denied', fields: expect.objectContaining({ command: 'set' }) }));
      // Destinations and ports the egress policy does not name are denied: x-wing's listener gets nothing.
      const listener = await ncListenIn(lab, xWing.ns, xWing.ip, 7200);
      let received = '';
      listener.stdout?.on('data', (chunk: Buffer) => (received += chunk.toString()));
      const closed = new Promise((resolve) => listener.once('exit', resolve));
      expect(ncIn(lab, aWing.ns, xWing.ip, 7200, 'secret coordinates\n')).toBe('');
      await closed;
      expect(received).toBe('');
    } finally {
      await clientSidecar.envoy.stop();
    }
  });
});

const A_WING_EGRESS = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: a-wing-egress
spec:
  endpointSelector:
    matchLabels:
      function: fleet-maintanence
  egress:
    - toEndpoints:
        - matchLabels:
            app: memcached
      toPorts:
        - ports:
            - port: '11211'
              protocol: TCP
          rules:
            l7proto: memcache
            l7:
              - command: get
                keyPrefix: alliance/fleet/
`;
