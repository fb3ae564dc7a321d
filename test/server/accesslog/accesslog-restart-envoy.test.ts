// `weir serve` restarted in the middle of a stream of requests through a real Envoy: the server is
// stopped while clients keep sending r2d2 requests, started again on the same xDS port with the
// same policy directory, and the Weir agent reconnects and resends what the first server did not
// acknowledge. Every logged entry must be accounted for exactly: received by the first server,
// received by the second, minus what both received (the resent, unacknowledged tail), plus the
// drops the agent reported. `weir status` on the second server reports the loss, if any.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startR2d2Backend, type R2d2Backend } from '../../../demo/backends/r2d2-backend.ts';
import type { AccessLogRecord } from '../../../server/accesslog/access-log-record.ts';
import type { AgentStatus } from '../../../server/accesslog/agent-sessions.ts';
import { runServe, type RunningServe } from '../../../server/cli/serve-command.ts';
import { listenerPort } from '../../../demo/servers/envoy/listeners.ts';
import { startEnvoy, type EnvoyProcess } from '../../../demo/servers/envoy/process.ts';
import { silentLogger } from '../../../server/log/logger.ts';
import { weirStatus } from '../../../server/cli/status-command.ts';
import { renderBootstrap } from '../../../server/xds/bootstrap.ts';
import { enrolNode } from '../../support/test-pki.ts';
import { parseAccessLog, waitFor } from '../../filters/envoy-harness.ts';
import { waitForAgentEnforcing } from '../../support/agent-enforcement.ts';
import { DROID_CLIENT_IP, DROID_READ_ONLY_POLICIES, writeDroidServeConfig } from '../../support/droid-deployment.ts';
import { freeLoopbackPort } from '../../../demo/servers/loopback-port.ts';

const NODE_ID = 'accesslog-restart-node';
const CONNECTIONS = 4;
const CHUNKS_PER_CONNECTION = 60;
const REQUESTS_PER_CHUNK = 25;
const CHUNK_INTERVAL_MS = 40; // about 2.4 s of traffic
const REQUESTS = CONNECTIONS * CHUNKS_PER_CONNECTION * REQUESTS_PER_CHUNK;
const ENTRIES_PER_REQUEST = 2; // each READ logs a Request entry and a Response entry

let dir: string;
let configFile: string;
let backend: R2d2Backend;
let envoy: EnvoyProcess | undefined;
const servers: RunningServe[] = [];
const recordsByServer: AccessLogRecord[][] = []; // what startServe() collected, for the diagnosis

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-accesslog-restart-'));
  backend = await startR2d2Backend();
  // A fixed (free) xDS port, so the restarted server is where Envoy and the agent reconnect.
  configFile = await writeDroidServeConfig(dir, { backendPort: backend.port, xdsPort: await freeLoopbackPort(), policies: DROID_READ_ONLY_POLICIES });
}, 60_000);

afterAll(async () => {
  await envoy?.stop();
  for (const serve of servers) await serve.stop().catch(() => undefined);
  await backend?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Starts `weir serve` from the test's config and collects every record its hub publishes. */
async function startServe(collected: AccessLogRecord[]): Promise<RunningServe> {
  const serve = await runServe({ configFile, logger: silentLogger() });
  servers.push(serve);
  recordsByServer.push(collected);
  serve.observability.pipeline.hub.watch({
    filter: {},
    offer: (record) => {
      collected.push(record);
      return 'delivered';
    },
  });
  return serve;
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  await waitFor(condition, timeoutMs, what, diagnosis);
}

/**
 * What each server knows of the agent, Envoy's log without the entries it printed, and where
 * entries went missing: per type and connection, how many Envoy printed (written by the filter)
 * against how many the servers received.
 */
function diagnosis(): string {
  const sessions = servers.map((serve, index) => `server ${index + 1}: ${JSON.stringify(serve.observability.pipeline.sessions.get(NODE_ID) ?? null)}`);
  const log = envoy?.log() ?? '';
  const printed = tally(parseAccessLog(log).map((entry) => `${entry.type}/${entry.connection}`));
  const received = tally(recordsByServer.flat().map((record) => `${record.type}/${record.connectionId}`));
  const counts = [...new Set([...printed.keys(), ...received.keys()])].sort().map((key) => `${key}: printed ${printed.get(key) ?? 0}, received ${received.get(key) ?? 0}`);
  const otherLines = log.split('\n').filter((line) => !line.includes('weir-accesslog'));
  // Sessions last: only the tail is shown.
  return `Envoy log without its weir-accesslog lines:\n${otherLines.join('\n')}\nentries (type/connection):\n${counts.join('\n')}\n${sessions.join('\n')}`;
}

function tally(keys: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1);
  return counts;
}

function sessionOf(serve: RunningServe): AgentStatus {
  const session = serve.observability.pipeline.sessions.get(NODE_ID);
  if (session === undefined) throw new Error(`weir serve on xDS port ${serve.controlServer.port} never heard the agent of ${NODE_ID}`);
  return session;
}

describe('access logs across a restart of weir serve', () => {
  it('the agent reconnects, logging resumes, and received + reported drops - duplicates = entries logged', async () => {
    const firstRecords: AccessLogRecord[] = [];
    const secondRecords: AccessLogRecord[] = [];
    const first = await startServe(firstRecords);
    // The second server reads the same PKI directory: same CA, same enrolment, so the agent's certificate stays good.
    const credentialsDir = enrolNode(first.authority, NODE_ID, path.join(path.dirname(configFile), 'node'));
    envoy = await startEnvoy({ bootstrapYaml: renderBootstrap({ nodeId: NODE_ID, xdsPort: first.controlServer.port, adminPort: 0, credentialsDir }) });
    await envoy.waitReady();
    const proxyPort = await listenerPort(envoy, 'weir-r2d2');
    await until(() => first.observability.pipeline.sessions.get(NODE_ID)?.connected === true, 20_000, 'the agent opening its access-log stream');
    await waitForAgentEnforcing(first, NODE_ID, diagnosis); // before it, READs are denied and log one entry, not two

    const traffic = Promise.all(Array.from({ length: CONNECTIONS }, (_unused, index) => paced(proxyPort, `c${index}`)));
    await until(() => firstRecords.length > 0, 10_000, 'the first server receiving records');
    await new Promise((resolve) => setTimeout(resolve, 500));
    await first.stop();
    const sentBeforeRestart = sent;
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = await startServe(secondRecords);
    await traffic;
    expect(sentBeforeRestart).toBeGreaterThan(0);
    expect(sentBeforeRestart).toBeLessThan(REQUESTS); // the restart happened in the middle of the stream
    expect(deniedReplies, 'READs denied: the policy in force is kept across the restart').toBe(0);

    const logged = REQUESTS * ENTRIES_PER_REQUEST;
    const before = sessionOf(first);
    const accounted = (): number => {
      const after = second.observability.pipeline.sessions.get(NODE_ID);
      if (after === undefined) return 0;
      const bothReceived = Math.max(0, before.highestSequence - after.runFirstSequence + 1);
      return before.received + after.received - bothReceived + after.lostTotal + before.rejected;
    };
    await until(() => accounted() >= logged, 60_000, `${logged} entries received by one of the servers or counted as dropped`);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = sessionOf(second);
    expect(after.connected).toBe(true);
    expect(after.agentRun).toBe(before.agentRun); // the same agent run: Envoy was not restarted
    expect(after.runFirstSequence).toBeGreaterThan(1); // the second server did not hear the run from its start
    expect(after.runFirstSequence).toBeLessThanOrEqual(before.highestSequence + 1); // ... nor miss anything in between
    expect(accounted()).toBe(logged);
    expect([before.sequenceGaps, after.sequenceGaps]).toEqual([0, 0]);
    expect(after.received).toBeGreaterThan(0); // logging resumed

    // The records themselves: each request seen at most once per server, every one seen or dropped.
    expect(firstRecords.length).toBe(before.received);
    expect(secondRecords.length).toBe(after.received);
    const requestFiles = [...firstRecords, ...secondRecords].filter((record) => record.type === 'Request').map((record) => record.fields.file ?? '');
    const distinct = new Set(requestFiles);
    expect(distinct.size + after.lostTotal).toBeGreaterThanOrEqual(REQUESTS);
    expect(distinct.size).toBeLessThanOrEqual(REQUESTS);
    expect([...distinct].every((file) => /^c\d-\d+$/.test(file))).toBe(true);

    // `weir status` on the restarted server: the access-log check states what was lost.
    const status = await weirStatus({ api: { kind: 'socket', socket: second.api.socket } });
    expect(status.text).toContain(`${NODE_ID}: ${after.received} received, lost ${after.lostTotal} (`);
    expect(status.text).toMatch(new RegExp(`accesslog\\s+${after.lostTotal > 0 ? 'warning' : 'ok'}\\s+${after.received} records received, ${after.lostTotal} lost before the server`));
  }, 120_000);
});

let sent = 0;
let deniedReplies = 0;

/** Sends READ lines in chunks at a steady pace on one connection; resolves when every reply arrived. */
async function paced(proxyPort: number, tag: string): Promise<void> {
  const socket = net.connect({ port: proxyPort, host: '127.0.0.1', localAddress: DROID_CLIENT_IP });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const expected = CHUNKS_PER_CONNECTION * REQUESTS_PER_CHUNK;
  let replies = 0;
  const done = new Promise<void>((resolve, reject) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const lines = text.split('\n');
      text = lines.pop() ?? '';
      for (const line of lines) if (line.startsWith('ERROR')) deniedReplies += 1;
      replies += lines.length;
      if (replies >= expected) resolve();
    });
    socket.once('close', () => (replies >= expected ? resolve() : reject(new Error(`connection ${tag} closed after ${replies} of ${expected} replies`))));
  });
  for (let chunk = 0; chunk < CHUNKS_PER_CONNECTION; chunk++) {
    const lines = Array.from({ length: REQUESTS_PER_CHUNK }, (_unused, index) => `READ ${tag}-${chunk * REQUESTS_PER_CHUNK + index}\r\n`);
    socket.write(lines.join(''));
    sent += REQUESTS_PER_CHUNK;
    await new Promise((resolve) => setTimeout(resolve, CHUNK_INTERVAL_MS));
  }
  await done;
  socket.destroy();
}
