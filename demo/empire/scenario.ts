// The Empire demo (`npm run demo -- empire [--check]`): Cilium's Cassandra getting-started guide on
// a real Cassandra 5 behind a real Envoy with Weir. Before any policy the outpost reads the Death
// Star's scrum notes; with the guide's `secure-empire-cassandra` policy it may only read system
// tables and insert attendance records, its other SELECTs fail with code 0x2100 "Request
// Unauthorized" (cqlsh on protocol v5, cassandra-driver on v4, prepared statements and batches
// too), while HQ still sees everything. Each step prints like the guide and records its outcome.
import path from 'node:path';
import cassandra from 'cassandra-driver';
import { runMonitor } from '../../server/cli/monitor-command.ts';
import { projectRoot } from '../servers/project-paths.ts';
import { OutcomeLog, heading, importAndWait, indent, say } from '../outcome-log.ts';
import type { DemoOptions, RunningR2d2Demo } from '../r2d2/scenario.ts';
import { EMPIRE_DEMO, attachEmpire, deployEmpire, type EmpireDeployment } from './deployment.ts';
import { DAILY_RECORD_COUNT, SCRUM_NOTE_COUNT, countRowsDirectly, populateEmpire } from './empire-data.ts';
import { writeGuideVerbatimPolicy } from './guide-policy.ts';
import { DriverSession, cqlsh, openRelay, type Relay } from './members.ts';

const ENDPOINTS = path.join(projectRoot, 'demo', 'empire', 'endpoints.yaml');
const EMPIRE_POLICY = path.join(projectRoot, 'examples', 'policies', 'cassandra-empire.yaml');
const HQ_ADDRESS = '127.0.0.41';
const OUTPOST_ADDRESS = '127.0.0.42';

const INSERT_RECORD = 'INSERT INTO attendance.daily_records (creation, loc_id, present, empire_member_id) VALUES (now(), uuid(), true, uuid())';
const INSERT_RECORD_BOUND = 'INSERT INTO attendance.daily_records (creation, loc_id, present, empire_member_id) VALUES (now(), ?, ?, uuid())';
const SELECT_RECORDS = 'SELECT * FROM attendance.daily_records';
const SELECT_NOTES = 'SELECT * FROM deathstar.scrum_notes';
const SELECT_LOCAL = 'SELECT release_version FROM system.local';
/** What cqlsh prints for the proxy's 0x2100 error (the guide's output). */
const CQLSH_UNAUTHORIZED = /Unauthorized: Error from server: code=2100 \[Unauthorized\] message="Request Unauthorized"/;
/** What cassandra-driver raises for it: a ResponseError with code 0x2100 = 8448. */
const DRIVER_UNAUTHORIZED = 'ResponseError code=8448: Request Unauthorized';

export async function runEmpireDemo(options: DemoOptions = {}): Promise<RunningR2d2Demo> {
  const deployment = options.compose === true ? await attachEmpire() : await deployEmpire({ endpointsFile: ENDPOINTS });
  const relays: Relay[] = [];
  const stop = async (): Promise<void> => {
    for (const relay of relays) await relay.close().catch(() => undefined);
    await deployment.stop();
  };
  try {
    await populateEmpire(deployment.backend);
    say(`populated         deathstar.scrum_notes (${SCRUM_NOTE_COUNT} notes), attendance.daily_records (${DAILY_RECORD_COUNT} records), directly on Cassandra`);
    const open = async (member: string, address: string): Promise<Relay> => {
      const relay = await openRelay(member, address, deployment.proxyPort);
      relays.push(relay);
      say(`${member.padEnd(18)}connects from ${address} (relay 127.0.0.1:${relay.port})`);
      return relay;
    };
    const empire: Empire = { hq: await open('empire-hq', HQ_ADDRESS), outpost: await open('empire-outpost', OUTPOST_ADDRESS) };
    const log = new OutcomeLog();
    await beforePolicy(empire, log);
    await secureEmpire(deployment, empire, log);
    await headquarters(deployment, empire, log);
    await visibility(deployment, log);
    const hint = options.compose === true ? undefined : `The demo keeps running: \`.venv/bin/cqlsh 127.0.0.1 ${empire.outpost.port}\` talks as the outpost, \`.venv/bin/cqlsh 127.0.0.1 ${empire.hq.port}\` as HQ; \`WEIR_SOCKET=${path.relative(projectRoot, deployment.apiSocket)} node bin/weir.js monitor\` shows the verdicts.`;
    return { outcomes: log.outcomes, hint, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

interface Empire {
  hq: Relay;
  outpost: Relay;
}

async function beforePolicy(empire: Empire, log: OutcomeLog): Promise<void> {
  heading('Before any policy: the outpost reads everything');
  await log.step('no policy: the outpost\'s cqlsh speaks native protocol v5', cqlshPrompt('empire-outpost', 'SHOW VERSION'), () => cqlsh(empire.outpost, 'SHOW VERSION'), /Native protocol v5\]/);
  await log.step('no policy: the outpost reads the Death Star\'s scrum notes', cqlshPrompt('empire-outpost', SELECT_NOTES), () => cqlsh(empire.outpost, SELECT_NOTES), rowsLine(SCRUM_NOTE_COUNT));
  await log.step('no policy: the outpost reads every attendance record', cqlshPrompt('empire-outpost', SELECT_RECORDS), () => cqlsh(empire.outpost, SELECT_RECORDS), rowsLine(DAILY_RECORD_COUNT));
}

async function secureEmpire(deployment: EmpireDeployment, empire: Empire, log: OutcomeLog): Promise<void> {
  heading('Step 1: the guide\'s secure-empire-cassandra policy');
  say('First verbatim, as the guide wrote it for Cassandra 3:\n');
  const verbatim = path.join(EMPIRE_DEMO.stateDir, 'cassandra-empire.guide-verbatim.yaml');
  writeGuideVerbatimPolicy(EMPIRE_POLICY, verbatim);
  await importAndWait(deployment, log, [verbatim, '--name', path.basename(EMPIRE_POLICY)], 'the guide\'s policy verbatim');
  await log.step(
    'guide verbatim: the outpost\'s cqlsh cannot even connect (it reads system_virtual_schema.*)',
    cqlshPrompt('empire-outpost', SELECT_LOCAL),
    () => cqlsh(empire.outpost, SELECT_LOCAL),
    /^Connection error: .*Unauthorized\('Error from server: code=2100 \[Unauthorized\] message="Request Unauthorized"'\)/,
  );
  say('\nSo Weir\'s copy (examples/policies/cassandra-empire.yaml) adds `select` on system_virtual_schema.*:');
  say('cqlsh on Cassandra 4 and 5 reads it while connecting.\n');
  await importAndWait(deployment, log, [EMPIRE_POLICY], 'secure-empire-cassandra');

  say('\nThe outpost with cqlsh (protocol v5):');
  await log.step('policy: the outpost\'s cqlsh inserts an attendance record', cqlshPrompt('empire-outpost', INSERT_RECORD), () => cqlsh(empire.outpost, INSERT_RECORD), '');
  await log.step('policy: the outpost\'s cqlsh may not read attendance records (code=2100)', cqlshPrompt('empire-outpost', SELECT_RECORDS), () => cqlsh(empire.outpost, SELECT_RECORDS), CQLSH_UNAUTHORIZED);
  await log.step('policy: the outpost\'s cqlsh may not read the scrum notes (code=2100)', cqlshPrompt('empire-outpost', SELECT_NOTES), () => cqlsh(empire.outpost, SELECT_NOTES), CQLSH_UNAUTHORIZED);

  say('\nThe outpost with cassandra-driver (protocol v4):');
  const driver = new DriverSession(empire.outpost);
  try {
    await log.step('policy: the outpost\'s driver connects on protocol v4 (it reads system tables)', 'empire-outpost > await client.connect()  // negotiated protocol', () => driver.connect(), 'v4');
    await log.step('policy: the outpost\'s driver reads system.local', driverPrompt(SELECT_LOCAL), () => driver.execute(SELECT_LOCAL), '1 rows');
    await log.step('policy: the outpost\'s driver may not read the scrum notes (code 8448)', driverPrompt(SELECT_NOTES), () => driver.execute(SELECT_NOTES), DRIVER_UNAUTHORIZED);
    await log.step('policy: the outpost\'s driver may not read attendance records (code 8448)', driverPrompt(SELECT_RECORDS), () => driver.execute(SELECT_RECORDS), DRIVER_UNAUTHORIZED);
    await log.step('policy: the outpost\'s driver inserts an attendance record', driverPrompt(INSERT_RECORD), () => driver.execute(INSERT_RECORD), 'applied');
    const bound = (): unknown[] => [cassandra.types.Uuid.random(), true];
    await log.step('policy: a prepared INSERT into attendance is allowed', driverPrompt(INSERT_RECORD_BOUND, '[loc_id, true], { prepare: true }'), () => driver.execute(INSERT_RECORD_BOUND, bound(), { prepare: true }), 'applied');
    const selectNote = 'SELECT content FROM deathstar.scrum_notes WHERE empire_member_id = ?';
    await log.step('policy: a prepared SELECT of the scrum notes is denied at PREPARE', driverPrompt(selectNote, '[member_id], { prepare: true }'), () => driver.execute(selectNote, [cassandra.types.Uuid.random()], { prepare: true }), DRIVER_UNAUTHORIZED);
    const deleteRecords = 'DELETE FROM attendance.daily_records WHERE loc_id = ?';
    // Unprepared, so both statements travel in one BATCH frame and the filter judges them together.
    await log.step(
      'policy: a batch with one denied statement (DELETE) is denied whole',
      `empire-outpost > await client.batch([\n      { query: '${INSERT_RECORD_BOUND}', params },\n      { query: '${deleteRecords}', params }])`,
      () => driver.batch([{ query: INSERT_RECORD_BOUND, params: bound() }, { query: deleteRecords, params: [cassandra.types.Uuid.random()] }]),
      DRIVER_UNAUTHORIZED,
    );
  } finally {
    await driver.close();
  }
  const written = DAILY_RECORD_COUNT + 3;
  log.record('policy: Cassandra holds the three allowed inserts and nothing of the denied batch', `${written} attendance records`, `${await countRowsDirectly(deployment.backend, 'attendance.daily_records')} attendance records`);
}

async function headquarters(deployment: EmpireDeployment, empire: Empire, log: OutcomeLog): Promise<void> {
  heading('Step 2: HQ still sees everything');
  const records = DAILY_RECORD_COUNT + 3;
  await log.step('policy: HQ\'s cqlsh reads the scrum notes', cqlshPrompt('empire-hq', SELECT_NOTES), () => cqlsh(empire.hq, SELECT_NOTES), rowsLine(SCRUM_NOTE_COUNT));
  await log.step('policy: HQ\'s cqlsh reads every attendance record, the outpost\'s included', cqlshPrompt('empire-hq', SELECT_RECORDS), () => cqlsh(empire.hq, SELECT_RECORDS), rowsLine(records));
  const driver = new DriverSession(empire.hq);
  try {
    await driver.connect();
    const selectNotes = 'SELECT content FROM deathstar.scrum_notes';
    await log.step('policy: HQ\'s driver runs a prepared SELECT of the scrum notes', driverPrompt(selectNotes, '[], { prepare: true }', 'empire-hq'), () => driver.execute(selectNotes, [], { prepare: true }), `${SCRUM_NOTE_COUNT} rows`);
  } finally {
    await driver.close();
  }
  log.record('policy: HQ changed nothing', `${records} attendance records`, `${await countRowsDirectly(deployment.backend, 'attendance.daily_records')} attendance records`);
}

/** The guide's `cilium monitor -t l7`: the verdicts the Envoy's parser logged, read from the server. */
async function visibility(deployment: EmpireDeployment, log: OutcomeLog): Promise<void> {
  heading('Visibility: what the proxy decided');
  say('$ weir monitor --type l7 --proto cassandra --verdict denied --last 100');
  const lines: string[] = [];
  await runMonitor({
    api: { kind: 'socket', socket: deployment.apiSocket },
    filter: { protocols: ['cassandra'], verdicts: ['denied'] },
    last: 100,
    noFollow: true,
    writeLine: (line) => lines.push(line),
  });
  say(indent(lines.join('\n')));
  const outpostDenied = (action: string, table: string): boolean =>
    lines.some((line) => line.includes('app=empire-outpost') && line.includes('verdict Denied') && line.includes(`query_action:${action} query_table:${table}`));
  log.record('monitor: the outpost\'s SELECT on attendance.daily_records logged Denied', 'true', String(outpostDenied('select', 'attendance.daily_records')));
  log.record('monitor: the outpost\'s SELECT on deathstar.scrum_notes logged Denied', 'true', String(outpostDenied('select', 'deathstar.scrum_notes')));
  log.record('monitor: under the guide\'s verbatim policy cqlsh\'s read of system_virtual_schema.tables was Denied', 'true', String(outpostDenied('select', 'system_virtual_schema.tables')));
  log.record('monitor: the denied batch logged its DELETE Denied', 'true', String(outpostDenied('delete', 'attendance.daily_records')));
  log.record('monitor: the denied batch logged its allowed INSERT Denied with it', 'true', String(outpostDenied('insert', 'attendance.daily_records')));
  log.record('monitor: HQ was never denied', 'false', String(lines.some((line) => line.includes('app=empire-hq'))));
}

function rowsLine(count: number): RegExp {
  return new RegExp(`\\n\\(${count} rows\\)$`);
}

function cqlshPrompt(member: string, cql: string): string {
  return `${member} $ cqlsh cassandra-svc -e "${cql}"`;
}

function driverPrompt(cql: string, rest = '', member = 'empire-outpost'): string {
  return `${member} > await client.execute('${cql}'${rest === '' ? '' : `, ${rest}`})`;
}

