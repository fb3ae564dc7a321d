// Policy enforced live in a real Envoy: `weir serve` (in process) with the policy store, an Envoy
// bootstrapped with the Weir agent, the r2d2 parser guarding the droid-server endpoint, and raw TCP
// clients from different 127.x source addresses (different identities). Policy changes go through
// the real `weir` CLI; verdicts are read off the wire and off the backend.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWeirCli, type CliRun } from '../../demo/weir-process.ts';
import { DROID_CLIENT_IP, ENDPOINTS_YAML, deployDroids, readOnlyPolicy, type DroidDeployment } from '../support/droid-deployment.ts';

/** droid-client may READ on the backend port; selecting droid-server makes its ingress default-deny. */
const READ_ONLY_POLICY = readOnlyPolicy('droid-readonly', 'READ', { port: 'BACKEND_PORT' });

const STRANGER_IP = '127.0.0.3';

/** Everyone may do anything, but droid-client is denied at L3/L4: deny beats allow. */
const DENY_CLIENT = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: droid-deny-client }
spec:
  endpointSelector: { matchLabels: { app: droid-server } }
  ingress:
    - fromEntities: [all]
  ingressDeny:
    - fromEndpoints: [{ matchLabels: { app: droid-client } }]
`;

interface LineSession {
  /** Sends one request line; resolves with the reply line, or 'closed' if the connection ended. */
  request(line: string, timeoutMs?: number): Promise<string>;
  close(): void;
}

async function openSession(port: number, localAddress: string): Promise<LineSession> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  let buffered = '';
  let closed = false;
  const wakers = new Set<() => void>();
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('latin1');
    for (const wake of wakers) wake();
  });
  socket.on('close', () => {
    closed = true;
    for (const wake of wakers) wake();
  });
  return {
    request: (line, timeoutMs = 3000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const end = buffered.indexOf('\r\n');
          if (end >= 0) {
            const reply = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            finish();
            resolve(reply);
          } else if (closed) {
            finish();
            resolve('closed');
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`no reply to ${JSON.stringify(line)} from ${localAddress} within ${timeoutMs} ms`));
        }, timeoutMs);
        const finish = (): void => {
          clearTimeout(timer);
          wakers.delete(check);
        };
        wakers.add(check);
        if (closed) check();
        else socket.write(`${line}\r\n`);
      }),
    close: () => socket.destroy(),
  };
}

/** One request on a fresh connection from `from`. */
async function verdict(deployment: DroidDeployment, from: string, line: string): Promise<string> {
  const session = await openSession(deployment.proxyPort, from);
  try {
    return await session.request(line);
  } finally {
    session.close();
  }
}

function weir(deployment: DroidDeployment, args: string[]): Promise<CliRun> {
  return runWeirCli(args, { socket: deployment.serve.api.socket });
}

function writePolicy(deployment: DroidDeployment, name: string, text: string): string {
  const file = path.join(deployment.dir, name);
  fs.writeFileSync(file, text.replaceAll('BACKEND_PORT', String(deployment.backend.port)));
  return file;
}

async function waitEnforced(deployment: DroidDeployment): Promise<void> {
  // --node: right after deployDroids() the agent may not be connected yet.
  const waited = await weir(deployment, ['policy', 'wait', '--node', deployment.nodeId, '--timeout', '20']);
  if (waited.code !== 0) throw new Error(`weir policy wait failed (${waited.code}): ${waited.stderr}\nEnvoy log:\n${deployment.envoy.log().slice(-3000)}`);
}

describe('mode default: policy from the store, enforced by the agent in a real Envoy', () => {
  let deployment: DroidDeployment;

  beforeAll(async () => {
    deployment = await deployDroids({ enforcementMode: 'default', policies: { 'endpoints.yaml': ENDPOINTS_YAML }, nodeId: 'enforce-default' });
    await waitEnforced(deployment);
  }, 60_000);

  afterAll(async () => {
    await deployment?.stop();
  });

  it('allows everything while no rule selects the endpoint', async () => {
    expect(await verdict(deployment, DROID_CLIENT_IP, 'WRITE open-door')).toMatch(/^OK /);
    expect(await verdict(deployment, STRANGER_IP, 'READ open-door')).toMatch(/^OK /);
  });

  it('denies on an open connection once `weir policy wait` returns (the agent ACKed the imported revision)', async () => {
    const session = await openSession(deployment.proxyPort, DROID_CLIENT_IP);
    try {
      expect(await session.request('WRITE before-import')).toMatch(/^OK /);
      const imported = await weir(deployment, ['policy', 'import', writePolicy(deployment, 'droid-readonly.yaml', READ_ONLY_POLICY), '-o', 'json']);
      expect(imported.code).toBe(0);
      const revision = (JSON.parse(imported.stdout) as { revision: string }).revision;

      const waited = await weir(deployment, ['policy', 'wait', revision, '--timeout', '10']);
      expect(waited.code).toBe(0);
      expect(waited.stdout).toBe(`revision ${revision} is enforced by 1 proxy: enforce-default\n`);
      // "Enforced" is what the user waits for: the very next request on the open connection is denied.
      expect(await session.request('WRITE after-wait')).toBe('ERROR');
      expect(await session.request('READ still-allowed')).toMatch(/^OK /);
      expect(deployment.backend.received).not.toContain('WRITE after-wait');
      const proxy = deployment.serve.controlServer.status.get('enforce-default');
      expect(proxy && deployment.serve.history.enforcedBy(proxy)?.revision).toBe(revision);
    } finally {
      session.close();
    }
  }, 30_000);

  it('tells identities apart by source address: the allowed client passes, another is denied by default', async () => {
    expect(await verdict(deployment, DROID_CLIENT_IP, 'READ identity-check')).toMatch(/^OK /);
    expect(await verdict(deployment, STRANGER_IP, 'READ stranger')).toBe('ERROR');
    expect(deployment.backend.received).not.toContain('READ stranger');
  });

  it('rejects invalid policies with precise messages and leaves the verdicts unchanged', async () => {
    const before = deployment.serve.store.current().revision;
    const cases: Array<{ name: string; text: string; message: string }> = [
      { name: 'bad-regex.yaml', text: READ_ONLY_POLICY.replace('{ cmd: READ }', '{ cmd: READ, file: "(oops" }'), message: 'bad-regex.yaml: spec.ingress[0].toPorts[0].rules.l7[0].file: invalid regex "(oops": missing closing ")" at offset 0' },
      { name: 'bad-key.yaml', text: READ_ONLY_POLICY.replace('{ cmd: READ }', '{ cmd: READ, colour: red }'), message: 'bad-key.yaml: spec.ingress[0].toPorts[0].rules.l7[0].colour: unknown r2d2 rule key; r2d2 accepts cmd, file' },
      { name: 'bad-command.yaml', text: READ_ONLY_POLICY.replace('cmd: READ', 'cmd: FLY'), message: 'bad-command.yaml: spec.ingress[0].toPorts[0].rules.l7[0].cmd: unknown r2d2 command "FLY"' },
      { name: 'bad-l7proto.yaml', text: READ_ONLY_POLICY.replace('l7proto: r2d2', 'l7proto: gopher'), message: 'bad-l7proto.yaml: spec.ingress[0].toPorts[0].rules.l7proto: unknown l7proto "gopher"' },
      { name: 'bad-type.yaml', text: READ_ONLY_POLICY.replace('port: "BACKEND_PORT"', 'port: [BACKEND_PORT]'), message: 'bad-type.yaml: spec.ingress[0].toPorts[0].ports[0].port: expected a port number 0..65535' },
      { name: 'bad-yaml.yaml', text: `${READ_ONLY_POLICY}  - [unclosed\n`, message: 'bad-yaml.yaml: YAML syntax error at line' },
    ];
    for (const invalid of cases) {
      const rejected = await weir(deployment, ['policy', 'import', writePolicy(deployment, invalid.name, invalid.text)]);
      expect(rejected.code, invalid.name).toBe(1);
      expect(rejected.stderr, invalid.name).toContain(invalid.message);
    }
    expect(deployment.serve.store.current().revision).toBe(before);
    expect(await verdict(deployment, DROID_CLIENT_IP, 'READ after-invalid')).toMatch(/^OK /);
    expect(await verdict(deployment, DROID_CLIENT_IP, 'WRITE after-invalid')).toBe('ERROR');
    expect(await verdict(deployment, STRANGER_IP, 'READ after-invalid')).toBe('ERROR');
  }, 60_000);

  it('lets a deny rule beat an allow rule', async () => {
    expect((await weir(deployment, ['policy', 'delete', 'droid-readonly'])).code).toBe(0);
    const imported = await weir(deployment, ['policy', 'import', writePolicy(deployment, 'droid-deny-client.yaml', DENY_CLIENT)]);
    expect(imported.code).toBe(0);
    await waitEnforced(deployment);
    expect(await verdict(deployment, STRANGER_IP, 'WRITE everyone-else')).toMatch(/^OK /);
    expect(['ERROR', 'closed']).toContain(await verdict(deployment, DROID_CLIENT_IP, 'READ denied-client'));
    expect(deployment.backend.received).not.toContain('READ denied-client');
  }, 30_000);
});

describe('mode always and fail closed', () => {
  let deployment: DroidDeployment;

  beforeAll(async () => {
    deployment = await deployDroids({ enforcementMode: 'always', policies: { 'endpoints.yaml': ENDPOINTS_YAML }, nodeId: 'enforce-always' });
    await waitEnforced(deployment);
  }, 60_000);

  afterAll(async () => {
    await deployment?.stop();
  });

  it('denies an endpoint no rule selects', async () => {
    expect(await verdict(deployment, DROID_CLIENT_IP, 'READ unselected')).toBe('ERROR');
    expect(deployment.backend.received).not.toContain('READ unselected');
  });

  it('denies while the store has no policy for the redirect\'s endpoint (fail closed), then follows the import', async () => {
    expect((await weir(deployment, ['policy', 'delete', 'endpoints.yaml'])).code).toBe(0);
    await waitEnforced(deployment);
    expect(await verdict(deployment, DROID_CLIENT_IP, 'READ no-policy')).toBe('ERROR');
    expect((await weir(deployment, ['policy', 'import', writePolicy(deployment, 'endpoints.yaml', ENDPOINTS_YAML)])).code).toBe(0);
    expect((await weir(deployment, ['policy', 'import', writePolicy(deployment, 'droid-readonly.yaml', READ_ONLY_POLICY)])).code).toBe(0);
    await waitEnforced(deployment);
    expect(await verdict(deployment, DROID_CLIENT_IP, 'READ with-policy')).toMatch(/^OK /);
  }, 60_000);
});
