// `npm run demo -- empire --check` must keep working: run the Empire demo as a user would (its own
// Cassandra 5, `weir serve` and Envoy processes on free ports) and require every outcome of Cilium's
// Cassandra guide to match: the outpost's SELECTs refused with code 0x2100 in cqlsh (v5) and the
// driver (v4), its INSERTs, a prepared statement, a batch denied by one statement, HQ's full view.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { expect, it } from 'vitest';
import { projectRoot } from '../../demo/servers/project-paths.ts';

it('npm run demo -- empire --check: every outcome of the Empire demo matches', () => {
  const result = spawnSync(path.join(projectRoot, 'node_modules', '.bin', 'tsx'), ['demo/main.ts', 'empire', '--check'], {
    cwd: projectRoot,
    encoding: 'utf8',
    timeout: 240_000,
  });
  const output = `${result.stdout}\n${result.stderr}`;
  // The guide's denied output, as cqlsh (protocol v5) prints it.
  expect(output).toContain(
    'empire-outpost $ cqlsh cassandra-svc -e "SELECT * FROM attendance.daily_records"\n    <stdin>:1:Unauthorized: Error from server: code=2100 [Unauthorized] message="Request Unauthorized"\n',
  );
  // The guide's policy verbatim keeps cqlsh on Cassandra 5 from connecting (system_virtual_schema.*).
  expect(output).toMatch(/cqlsh cassandra-svc -e "SELECT release_version FROM system.local"\n {4}Connection error: [^\n]*code=2100 \[Unauthorized\] message="Request Unauthorized"/);
  expect(output).toMatch(/empire-outpost \$ cqlsh cassandra-svc -e "SHOW VERSION"\n {4}\[cqlsh [^\n]*\| Native protocol v5\]\n/);
  // The same refusal through cassandra-driver on protocol v4.
  expect(output).toContain("empire-outpost > await client.connect()  // negotiated protocol\n    v4\n");
  expect(output).toContain("empire-outpost > await client.execute('SELECT * FROM deathstar.scrum_notes')\n    ResponseError code=8448: Request Unauthorized\n");
  // HQ sees the eleven records, the outpost's three inserts, and nothing of the denied batch.
  expect(output).toMatch(/empire-hq \$ cqlsh cassandra-svc -e "SELECT \* FROM attendance\.daily_records"\n(?: {4}[^\n]*\n)*? {4}\(14 rows\)\n/);
  // The proxy's verdicts, as `weir monitor` shows them.
  expect(output).toMatch(/<- Request cassandra from \[app=empire-outpost\] to \[app=cass-server\], identity \d+->\d+, verdict Denied query_action:select query_table:deathstar\.scrum_notes/);
  expect(output).not.toMatch(/^FAIL /m);
  expect(output).toContain('demo empire: every outcome matched');
  expect(result.status, output).toBe(0);
}, 300_000);
