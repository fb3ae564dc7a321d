// The access-log path end to end in a real Envoy: r2d2 parser -> shared queue -> Weir agent ->
// weir.AccessLogService -> `weir serve` (in process) -> ring, metrics and `weir monitor`. Clients
// connect from 127.0.0.2 (droid-client) so identities and labels come from the policy store.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMonitor } from '../../../server/cli/monitor-command.ts';
import type { RunningServe } from '../../../server/cli/serve-command.ts';
import type { EnvoyProcess } from '../../../demo/servers/envoy/process.ts';
import { waitFor } from '../../filters/envoy-harness.ts';
import { waitForAgentEnforcing } from '../../support/agent-enforcement.ts';
import { DROID_CLIENT_IP, DROID_READ_ONLY_POLICIES, deployDroids, type DroidDeployment } from '../../support/droid-deployment.ts';

const NODE_ID = 'accesslog-node';

let deployment: DroidDeployment | undefined;
let serve: RunningServe;
let envoy: EnvoyProcess;
let proxyPort: number;

beforeAll(async () => {
  deployment = await deployDroids({ policies: DROID_READ_ONLY_POLICIES, nodeId: NODE_ID });
  ({ serve, envoy, proxyPort } = deployment);
  await until(() => serve.observability.pipeline.sessions.get(NODE_ID)?.connected === true, 20_000, 'the agent opening its access-log stream');
  await waitForAgentEnforcing(serve, NODE_ID, () => `Envoy log:\n${envoy.log()}`);
}, 60_000);

afterAll(async () => {
  await deployment?.stop();
});

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  await waitFor(condition, timeoutMs, what, () => `Envoy log:\n${envoy?.log() ?? ''}`);
}

/** Sends request lines on one connection from `from` and returns the reply lines. */
async function exchange(from: string, lines: readonly string[]): Promise<string[]> {
  const socket = net.connect({ port: proxyPort, host: '127.0.0.1', localAddress: from });
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const replies: string[] = [];
  for (const line of lines) {
    socket.write(`${line}\r\n`);
    const deadline = Date.now() + 3000;
    while (!received.includes('\r\n') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    const end = received.indexOf('\r\n');
    replies.push(end >= 0 ? received.slice(0, end) : 'no reply');
    received = end >= 0 ? received.slice(end + 2) : received;
  }
  socket.destroy();
  return replies;
}

describe('access logs from a real Envoy', () => {
  it('delivers allowed and denied r2d2 requests with fields, addresses and identities, and weir monitor prints them', async () => {
    const hub = serve.observability.pipeline.hub;
    const before = hub.ring.added;
    expect(await exchange(DROID_CLIENT_IP, ['READ alpha', 'WRITE beta'])).toEqual([expect.stringMatching(/^OK /), 'ERROR']);
    // READ, its reply (Response), WRITE (Denied); the probe's reply that became ERROR is no Response.
    await until(() => hub.ring.added >= before + 3, 10_000, 'three access-log records');
    // No fourth record for that session: a later allowed request's two records come right after the three.
    expect(await exchange(DROID_CLIENT_IP, ['READ marker'])).toEqual([expect.stringMatching(/^OK /)]);
    await until(() => hub.ring.added >= before + 5, 10_000, 'the marker READ\'s two records');
    expect(hub.ring.added).toBe(before + 5);
    const records = hub.recent(5);
    expect(records.slice(3)).toMatchObject([{ type: 'Request', fields: { cmd: 'READ', file: 'marker' } }, { type: 'Response', fields: { status: 'OK' } }]);
    const [allowed, response, denied] = records;
    const state = serve.store.current();
    const identityOf = (name: string): number | undefined => state.policySet.identities.find((identity) => identity.labels.includes(`k8s:app=${name}`))?.identity;
    expect(allowed).toMatchObject({
      nodeId: NODE_ID,
      type: 'Request',
      protocol: 'r2d2',
      fields: { cmd: 'READ', file: 'alpha' },
      source: { identity: identityOf('droid-client'), labels: expect.arrayContaining(['k8s:app=droid-client']) },
      destination: { address: `127.0.0.1:${proxyPort}`, identity: identityOf('droid-server') },
      direction: 'ingress',
      endpoint: 'droid-server',
      policyRevision: state.revision,
      rule: 'droids.yaml document 3 spec.ingress[0] l7[0]',
    });
    expect(response).toMatchObject({ type: 'Response', protocol: 'r2d2', fields: { status: 'OK' }, direction: 'ingress', policyRevision: state.revision, rule: '' });
    expect(allowed?.source.address).toMatch(/^127\.0\.0\.2:\d+$/);
    expect(denied).toMatchObject({ type: 'Denied', protocol: 'r2d2', fields: { cmd: 'WRITE', file: 'beta' }, direction: 'ingress', endpoint: 'droid-server', policyRevision: state.revision, rule: '' });
    expect(serve.observability.registry.exposition()).toMatch(/weir_policy_l7_total\{proto="r2d2",verdict="denied",source="[0-9a-z:]+",destination="[0-9a-z:]+"\} [1-9]/);

    const lines: string[] = [];
    await runMonitor({ api: { kind: 'socket', socket: serve.api.socket }, filter: { verdicts: ['denied'] }, last: 1, noFollow: true, writeLine: (line) => lines.push(line) });
    expect(lines).toEqual([
      `<- Request r2d2 from [app=droid-client] to [app=droid-server], identity ${identityOf('droid-client')}->${identityOf('droid-server')}, verdict Denied cmd:WRITE file:beta reason:${JSON.stringify(denied?.reason)}`,
    ]);
  }, 30_000);

  it('accounts for every request of a burst: records received plus reported drops equal entries logged', async () => {
    const requests = Number(process.env.WEIR_ACCESSLOG_BURST ?? 100_000);
    const total = 2 * requests; // each READ logs a Request and a Response entry
    const connections = 10;
    const sessions = serve.observability.pipeline.sessions;
    const start = sessions.get(NODE_ID);
    const accounted = (): number => {
      const now = sessions.get(NODE_ID);
      return (now?.received ?? 0) - (start?.received ?? 0) + (now?.lostTotal ?? 0) - (start?.lostTotal ?? 0);
    };
    await Promise.all(Array.from({ length: connections }, (_unused, index) => pipelined(DROID_CLIENT_IP, requests / connections, `burst-${index}`)));
    await until(() => accounted() >= total, 60_000, `${total} records received or counted as dropped`);
    // Nothing counted twice: once a later request's two records are in, the count is exactly two more.
    expect(await exchange(DROID_CLIENT_IP, ['READ after-burst'])).toEqual([expect.stringMatching(/^OK /)]);
    await until(() => accounted() >= total + 2, 10_000, 'the records of a READ after the burst');
    expect(accounted()).toBe(total + 2);
    const end = sessions.get(NODE_ID);
    expect(end?.sequenceGaps).toBe(start?.sequenceGaps);
    expect(end?.duplicates).toBe(start?.duplicates);
  }, 120_000);
});

/** Writes `count` READ lines at once on one connection and resolves when every reply arrived. */
async function pipelined(from: string, count: number, tag: string): Promise<void> {
  const socket = net.connect({ port: proxyPort, host: '127.0.0.1', localAddress: from });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let replies = 0;
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      for (const byte of chunk) if (byte === 0x0a) replies += 1;
      if (replies >= count) resolve();
    });
    socket.once('close', () => (replies >= count ? resolve() : reject(new Error(`connection ${tag} closed after ${replies} of ${count} replies`))));
  });
  socket.write(Array.from({ length: count }, (_unused, index) => `READ ${tag}-${index}\r\n`).join(''));
  await done;
  socket.destroy();
}
