// Cilium's Cassandra guide (the Empire policy) with Weir as a sidecar: Cassandra 5 in a server
// namespace on its own address, `weir sidecar iptables` capture and an Envoy (uid 1337) from
// `weir bootstrap --mode sidecar`; cassandra-driver, unmodified, in an outpost and a headquarters
// namespace. The outpost may insert attendance records and read the system tables the driver
// needs; the death star plans are for headquarters only. Checked against Cassandra's own data.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningCassandra } from '../../demo/servers/index.ts';
import { projectRoot } from '../../demo/servers/project-paths.ts';
import { waitFor } from '../filters/envoy-harness.ts';
import { createLab, gatewayOf, labPrerequisites, type Lab, type Workload } from '../support/netns-lab.ts';
import { cqlIn, curlIn, endpointDoc, startNamespacedEnvoy, startCassandraIn, startServeIn, type NamespacedServe, type ProxyDeployment } from '../support/interception-lab.ts';

const missing = labPrerequisites();
const UNAUTHORIZED = 0x2100;

describe.skipIf(missing !== undefined)(`Cassandra behind a sidecar in network namespaces${missing === undefined ? '' : ` (skipped: ${missing})`}`, () => {
  let lab: Lab;
  let serve: NamespacedServe;
  let cassandraNode: RunningCassandra;
  let server: Workload;
  let outpost: Workload;
  let hq: Workload;
  let sidecar: ProxyDeployment;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-sidecar-cql-'));

  beforeAll(async () => {
    lab = createLab(['srv', 'op', 'hq']);
    ({ srv: server, op: outpost, hq } = lab.workloads as Record<'srv' | 'op' | 'hq', Workload>);
    cassandraNode = await startCassandraIn(lab, server);
    const port = cassandraNode.nativePort;
    // Created past the sidecar, as the guide's populate script runs inside the server pod.
    const setup = cqlIn(lab, server.ns, server.ip, port, [
      "CREATE KEYSPACE deathstar WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
      "CREATE KEYSPACE attendance WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
      'CREATE TABLE deathstar.scrum_notes (empire_member_id uuid, content varchar, creation timeuuid, PRIMARY KEY (empire_member_id, creation))',
      'CREATE TABLE attendance.daily_records (creation timeuuid, loc_id uuid, present boolean, empire_member_id uuid, PRIMARY KEY (loc_id, creation, empire_member_id))',
      "INSERT INTO deathstar.scrum_notes (empire_member_id, content, creation) VALUES (uuid(), 'Exhaust port is 2 meters wide', now())",
    ]);
    expect(setup.every((outcome) => outcome.ok), JSON.stringify(setup)).toBe(true);
    const policy = fs.readFileSync(path.join(projectRoot, 'examples', 'policies', 'cassandra-empire.yaml'), 'utf8').replaceAll('"9042"', `"${port}"`);
    serve = await startServeIn(lab, lab.node.ns, dir, {
      'empire.yaml': policy,
      'outpost.yaml': endpointDoc('outpost', outpost.ip, { app: 'empire-outpost' }),
      'hq.yaml': endpointDoc('hq', hq.ip, { app: 'empire-hq' }),
    });
    expect(lab.exec(lab.node.ns, process.execPath, [path.join(projectRoot, 'bin', 'weir.js'), 'sidecar', 'iptables', '--network-namespace', server.ns]).status).toBe(0);
    sidecar = await startNamespacedEnvoy(lab, server.ns, serve, ['--mode', 'sidecar', '--endpoint-name', 'cass-server', '--endpoint-ip', server.ip, '--label', 'app=cass-server', '--xds', `${gatewayOf(server)}:${serve.xdsPort}`]);
    await waitFor(() => curlIn(lab, server.ns, `http://${server.ip}:15021/healthz/ready`).status === 200, 30_000, 'the Cassandra sidecar ready', () => sidecar.envoy.log());
    await serve.waitEnforcing(sidecar.nodeId);
  }, 360_000);

  afterAll(async () => {
    await sidecar?.envoy.stop();
    await serve?.stop();
    await cassandraNode?.stop();
    await lab?.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lets the outpost record attendance but not read or change the plans; headquarters reads them', () => {
    const port = cassandraNode.nativePort;
    const [recorded, plans, sabotage] = cqlIn(lab, outpost.ns, server.ip, port, [
      'INSERT INTO attendance.daily_records (creation, loc_id, present, empire_member_id) VALUES (now(), uuid(), true, uuid())',
      'SELECT content FROM deathstar.scrum_notes',
      "INSERT INTO deathstar.scrum_notes (empire_member_id, content, creation) VALUES (uuid(), 'no exhaust port', now())",
    ]);
    expect(recorded).toMatchObject({ ok: true });
    expect(plans).toMatchObject({ ok: false, code: UNAUTHORIZED });
    expect(sabotage).toMatchObject({ ok: false, code: UNAUTHORIZED });
    const [read] = cqlIn(lab, hq.ns, server.ip, port, ['SELECT content FROM deathstar.scrum_notes']);
    expect(read).toMatchObject({ ok: true, rows: [{ content: 'Exhaust port is 2 meters wide' }] });
    // Cassandra's own data: one attendance record, the plans untouched.
    const [attendance, notes] = cqlIn(lab, server.ns, server.ip, port, ['SELECT count(*) AS n FROM attendance.daily_records', 'SELECT count(*) AS n FROM deathstar.scrum_notes']);
    expect(attendance).toMatchObject({ ok: true, rows: [{ n: '1' }] });
    expect(notes).toMatchObject({ ok: true, rows: [{ n: '1' }] });
  });
});
