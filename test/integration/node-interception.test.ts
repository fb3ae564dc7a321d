// Weir as one proxy per node, in real network namespaces: a node namespace routes between a
// memcached namespace and two client namespaces, `weir node iptables` captures their TCP with
// TPROXY, and one Envoy (uid 1337 with CAP_NET_ADMIN, bootstrapped with `weir bootstrap --mode node`)
// enforces each endpoint's policy, found by address. Unmodified clients connect to the server's own
// address; the server sees the client's own address. Checks secure-fleet and the 1.3 post policy,
// and that a stopped Envoy means refused connections memcached never sees.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../demo/servers/project-paths.ts';
import { waitFor } from '../filters/envoy-harness.ts';
import { createLab, labPrerequisites, type Lab, type Workload } from '../support/netns-lab.ts';
import { curlIn, endpointDoc, examplePolicy, memcacheClientsIn, memcachedStats, memcachedValue, ncIn, startMemcachedIn, startNamespacedEnvoy, startServeIn, type NamespacedServe, type ProxyDeployment } from '../support/interception-lab.ts';

const missing = labPrerequisites();
const SECURE_FLEET = examplePolicy('memcached-secure-fleet.yaml');
const REBEL_ALLIANCE = examplePolicy('memcached-rebel-alliance.yaml');
const LISTENER_PORT = 15006;


describe.skipIf(missing !== undefined)(`per-node interception with TPROXY${missing === undefined ? '' : ` (skipped: ${missing})`}`, () => {
  let lab: Lab;
  let serve: NamespacedServe;
  let server: Workload;
  let aWing: Workload;
  let xWing: Workload;
  let proxy: ProxyDeployment;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-node-'));
  const weir = (args: string[]): string => {
    const run = lab.exec(lab.node.ns, process.execPath, [path.join(projectRoot, 'bin', 'weir.js'), ...args]);
    if (run.status !== 0) throw new Error(`weir ${args.join(' ')}: ${run.stderr}`);
    return run.stdout;
  };
  const startProxy = async (): Promise<ProxyDeployment> => {
    const started = await startNamespacedEnvoy(lab, lab.node.ns, serve, ['--mode', 'node', '--listener-port', String(LISTENER_PORT), '--node-id', 'node-1', '--xds', `127.0.0.1:${serve.xdsPort}`], { transparent: true });
    await waitFor(() => curlIn(lab, lab.node.ns, 'http://127.0.0.1:15021/healthz/ready').status === 200, 30_000, 'the node proxy ready on 15021', () => started.envoy.log() + serve.log().slice(-3000));
    await serve.waitEnforcing(started.nodeId);
    return started;
  };

  beforeAll(async () => {
    lab = createLab(['srv', 'aw', 'xw']);
    ({ srv: server, aw: aWing, xw: xWing } = lab.workloads as Record<'srv' | 'aw' | 'xw', Workload>);
    serve = await startServeIn(lab, lab.node.ns, dir, {
      'secure-fleet.yaml': SECURE_FLEET,
      'memcd-server.yaml': endpointDoc('memcd-server', server.ip, { app: 'memcd-server' }),
      'a-wing.yaml': endpointDoc('a-wing', aWing.ip, { app: 'a-wing' }),
      'x-wing.yaml': endpointDoc('x-wing', xWing.ip, { app: 'x-wing' }),
    });
    await startMemcachedIn(lab, server);
    expect(weir(['node', 'iptables', '--port', String(LISTENER_PORT), '--workload-cidr', '198.18.0.0/15'])).toContain('IPv4: capture rules installed');
    proxy = await startProxy();
  }, 120_000);

  afterAll(async () => {
    await proxy?.envoy.stop();
    await serve?.stop();
    await lab?.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("enforces secure-fleet by the destination's address, and the server sees the client's own address", async () => {
    const clients = memcacheClientsIn(lab, aWing.ns, server.ip, 11211);
    try {
      expect(await clients.call({ client: 'memjs', op: 'set', key: 'awing-coord', value: '4,2' })).toMatchObject({ ok: true, value: 'true' });
      expect(await clients.call({ client: 'memcached', op: 'set', key: 'xwing-coord', value: 'evil' })).toMatchObject({ ok: false, error: expect.stringContaining('access denied') });
      // memjs's connection is open: memcached lists its peer as a-wing's own address.
      const conns = ncIn(lab, server.ns, server.ip, 11211, 'stats conns\r\n');
      expect(conns).toContain(`addr tcp:${aWing.ip}:`);
    } finally {
      await clients.stop();
    }
    expect(ncIn(lab, xWing.ns, server.ip, 11211, 'set xwing-coord 0 600 3\r\n8,1\r\n')).toBe('STORED\r\n');
    expect(ncIn(lab, aWing.ns, server.ip, 11211, 'get xwing-coord\r\n')).toBe('CLIENT_ERROR access denied\r\n');
    expect(ncIn(lab, xWing.ns, server.ip, 11211, 'get awing-coord\r\n')).toBe('CLIENT_ERROR access denied\r\n');
    expect(memcachedValue(lab, server, 'xwing-coord')).toBe('8,1');
    expect(memcachedValue(lab, server, 'awing-coord')).toBe('4,2');
  });

  it('refuses captured traffic while the node proxy is down (memcached sees nothing) and enforces again once it is back', async () => {
    await proxy.envoy.stop();
    const before = memcachedStats(lab, server);
    expect(lab.exec(aWing.ns, 'nc', ['-z', '-w', '3', server.ip, '11211']).status).not.toBe(0);
    expect(ncIn(lab, aWing.ns, server.ip, 11211, 'get awing-coord\r\n')).toBe('');
    const after = memcachedStats(lab, server);
    expect(after['total_connections']! - before['total_connections']!).toBe(1);
    expect(after['cmd_get']).toBe(before['cmd_get']);
    proxy = await startProxy();
    expect(ncIn(lab, aWing.ns, server.ip, 11211, 'get awing-coord\r\n')).toBe('VALUE awing-coord 0 3\r\n4,2\r\nEND\r\n');
  });

  it('enforces the 1.3 release post policy', async () => {
    expect((await serve.api('DELETE', '/v1/policies/secure-fleet.yaml')).status).toBe(200);
    await serve.importFile('rebel-alliance.yaml', REBEL_ALLIANCE);
    await serve.importFile('memcd-server.yaml', endpointDoc('memcd-server', server.ip, { app: 'memcached' }));
    await serve.importFile('a-wing.yaml', endpointDoc('a-wing', aWing.ip, { function: 'fleet-maintanence' }));
    await serve.importFile('x-wing.yaml', endpointDoc('x-wing', xWing.ip, { function: 'fleet-monitoring' }));
    await serve.waitEnforcing(proxy.nodeId);
    expect(ncIn(lab, aWing.ns, server.ip, 11211, 'set alliance/fleet/b 0 600 2\r\nok\r\n')).toBe('STORED\r\n');
    expect(ncIn(lab, xWing.ns, server.ip, 11211, 'get alliance/fleet/b\r\n')).toBe('VALUE alliance/fleet/b 0 2\r\nok\r\nEND\r\n');
    expect(ncIn(lab, xWing.ns, server.ip, 11211, 'set alliance/fleet/b 0 600 2\r\nno\r\n')).toBe('CLIENT_ERROR access denied\r\n');
    expect(memcachedValue(lab, server, 'alliance/fleet/b')).toBe('ok');
  });
});
