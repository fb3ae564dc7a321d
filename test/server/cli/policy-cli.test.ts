// The policy, endpoint, identity and proxy commands as a person runs them: the real `weir` process
// against a real server on a temp unix socket. Checks stdout, stderr and the documented exit codes.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NETWORK_POLICY_TYPE_URL } from '../../../server/xds/resources/network-policy.ts';
import { IDENTITY_MAP_TYPE_URL } from '../../../server/xds/resources/identity-map.ts';
import { runWeirCli, type CliRun } from '../../../demo/weir-process.ts';
import { ENDPOINTS_YAML, readOnlyPolicy } from '../../support/droid-deployment.ts';
import { openScriptedAgent, startTestServer, type ScriptedAgent, type TestServer } from '../api/support.ts';

let server: TestServer;

function weir(args: string[], options: { stdin?: string; socket?: string } = {}): Promise<CliRun> {
  return runWeirCli(args, { socket: options.socket ?? server.serve.api.socket, stdin: options.stdin });
}

beforeAll(async () => {
  server = await startTestServer({ policies: { 'endpoints.yaml': ENDPOINTS_YAML } });
  fs.writeFileSync(path.join(server.dir, 'droid.yaml'), readOnlyPolicy());
  fs.writeFileSync(path.join(server.dir, 'bad.yaml'), readOnlyPolicy('bad', 'FLY'));
});

afterAll(async () => {
  await server?.stop();
});

describe('weir policy', () => {
  it('imports a file, prints the revision, and lists it in policy get (table and -o json)', async () => {
    const imported = await weir(['policy', 'import', path.join(server.dir, 'droid.yaml')]);
    expect(imported.stderr).toBe('');
    expect(imported.code).toBe(0);
    const revision = (await server.api('GET', '/v1/policies/revision')).body['revision'] as string;
    expect(imported.stdout).toBe(`imported droid.yaml (policy droid-readonly); revision ${revision}\nrun \`weir policy wait ${revision}\` to wait until every proxy enforces it\n`);
    const table = await weir(['policy', 'get']);
    expect(table.stdout.split('\n')).toEqual([
      'FILE            POLICIES        ENDPOINTS',
      'droid.yaml      droid-readonly  -',
      'endpoints.yaml  -               droid-server, droid-client',
      `revision ${revision}, enforcement mode default`,
      '',
    ]);
    const json = JSON.parse((await weir(['policy', 'get', '-o', 'json'])).stdout) as { revision: string };
    expect(json.revision).toBe(revision);
    expect((await weir(['policy', 'get', 'droid-readonly'])).stdout).toBe(readOnlyPolicy());
  }, 120_000);

  it('refuses an invalid policy with exit 1 and each problem on stderr, changing nothing', async () => {
    const before = (await server.api('GET', '/v1/policies/revision')).body['revision'];
    const rejected = await weir(['policy', 'import', path.join(server.dir, 'bad.yaml')]);
    expect(rejected.code).toBe(1);
    expect(rejected.stdout).toBe('');
    expect(rejected.stderr).toBe(
      'weir policy import: policy rejected (1 problem); nothing was changed\n' +
        '  bad.yaml: spec.ingress[0].toPorts[0].rules.l7[0].cmd: unknown r2d2 command "FLY"; expected one of READ, WRITE, HALT, RESET (case-sensitive)\n',
    );
    expect((await server.api('GET', '/v1/policies/revision')).body['revision']).toBe(before);
  }, 120_000);

  it('imports from standard input, naming the file after metadata.name, and deletes by policy name', async () => {
    const imported = await weir(['policy', 'import', '-'], { stdin: readOnlyPolicy('from-stdin', 'HALT') });
    expect(imported.code).toBe(0);
    expect(imported.stdout).toMatch(/^imported from-stdin\.yaml \(policy from-stdin\); revision [0-9a-f]{16}\n/);
    const deleted = await weir(['policy', 'delete', 'from-stdin']);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toMatch(/^deleted from-stdin\.yaml; revision [0-9a-f]{16}\n$/);
    const again = await weir(['policy', 'delete', 'from-stdin']);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe('weir policy delete: no policy or policy file named "from-stdin"; list them with GET /v1/policies (weir policy get)\n');
  }, 120_000);

  it('wait exits 0 once the agent ACKed, 3 when it NACKed, 4 on timeout', async () => {
    let agent: ScriptedAgent | undefined = openScriptedAgent(server.serve, 'cli-edge');
    try {
      const policies = await agent.next(NETWORK_POLICY_TYPE_URL);
      const identities = await agent.next(IDENTITY_MAP_TYPE_URL);
      const timedOut = await weir(['policy', 'wait', '--timeout', '0.5']);
      expect(timedOut.code).toBe(4);
      expect(timedOut.stderr).toMatch(/^weir policy wait: timed out after 0.5 s waiting for revision [0-9a-f]{16} on cli-edge \(enforces no revision yet\)\n$/);
      agent.ack(NETWORK_POLICY_TYPE_URL, policies);
      agent.ack(IDENTITY_MAP_TYPE_URL, identities);
      const enforced = await weir(['policy', 'wait']);
      expect(enforced.code).toBe(0);
      expect(enforced.stdout).toMatch(/^revision [0-9a-f]{16} is enforced by 1 proxy: cli-edge\n$/);
      const absent = await weir(['policy', 'wait', '--node', 'cli-edge', '--node', 'cli-absent', '--timeout', '0.3']);
      expect(absent.code).toBe(4);
      expect(absent.stderr).toMatch(
        /^weir policy wait: timed out after 0.3 s waiting for revision [0-9a-f]{16} on cli-edge \(enforces [0-9a-f]{16}; its Envoy has not ACKed its listeners and clusters from this server\), cli-absent \(its Weir agent is not connected\)\n$/,
      );
      const policyOnly = await weir(['policy', 'wait', '--node', 'cli-edge', '--policy-only', '--timeout', '5']);
      expect(policyOnly.stdout).toMatch(/^revision [0-9a-f]{16} is enforced by 1 proxy: cli-edge\n$/);
      const proxies = await weir(['proxy', 'list']);
      expect(proxies.stdout).toMatch(/cli-edge\s+connected \(sotw\)\s+[0-9a-f]{16}\s+NetworkPolicy\s+/);
      await weir(['policy', 'import', path.join(server.dir, 'droid.yaml'), '--name', 'renamed.yaml']);
      agent.nack(NETWORK_POLICY_TYPE_URL, await agent.next(NETWORK_POLICY_TYPE_URL), 'agent cannot parse compiled policy');
      const rejected = await weir(['policy', 'wait', '--timeout', '10']);
      expect(rejected.code).toBe(3);
      expect(rejected.stderr).toMatch(/^weir policy wait: proxy cli-edge rejected type.googleapis.com\/weir.NetworkPolicy version [0-9a-f]{16} \(revision [0-9a-f]{16} or later\): agent cannot parse compiled policy; the previous policy stays in force there\n$/);
    } finally {
      agent.close();
      agent = undefined;
      await weir(['policy', 'delete', 'renamed.yaml']);
    }
  }, 60_000);
});

describe('weir endpoint list, identity list', () => {
  it('print endpoints with identity, IPs and enforcement, and the IP -> identity map', async () => {
    const endpoints = await weir(['endpoint', 'list']);
    expect(endpoints.code).toBe(0);
    const lines = endpoints.stdout.split('\n');
    expect(lines[0]).toMatch(/^NAME\s+NAMESPACE\s+IDENTITY\s+IPS\s+INGRESS\s+POLICY PORTS\s+REDIRECTS \(PORT <- LISTENER -> UPSTREAM\)\s+EGRESS\s+LABELS\s+SOURCE$/);
    expect(lines[1]).toMatch(/^droid-server\s+-\s+\d+\s+127\.0\.0\.1\s+default-deny\s+9000\s+9000 <- 127\.0\.0\.1:10000 \(r2d2\) -> 127\.0\.0\.1:9000\s+default-allow\s+k8s:app=droid-server\s+store$/);
    const identities = await weir(['identity', 'list', '-o', 'json']);
    const body = JSON.parse(identities.stdout) as { ipIdentities: Array<{ cidr: string }> };
    expect(body.ipIdentities.map((entry) => entry.cidr)).toEqual(['127.0.0.1/32', '127.0.0.2/32']);
    expect((await weir(['identity', 'list'])).stdout).toMatch(/^IDENTITY\s+LABELS\n1\s+reserved:host\n/);
  }, 120_000);
});

describe('weir policy trace', () => {
  it('prints the verdict and the rule that decided, without traffic', async () => {
    const traced = await weir(['policy', 'trace', '--src', 'droid-client', '--dst', 'droid-server', '--dport', '9000', '--l7', 'cmd=READ']);
    expect(traced.stderr).toBe('');
    expect(traced.code).toBe(0);
    const lines = traced.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^source: droid-client \(identity \d+: k8s:app=droid-client\)$/);
    expect(lines.at(-2)).toBe('L7 cmd=READ: allowed: allowed by r2d2 rule 0 of droid.yaml spec.ingress[0]');
    expect(lines.at(-1)).toBe('verdict: ALLOWED');
    const denied = await weir(['policy', 'trace', '--src', '127.0.0.9', '--dst', 'droid-server', '--dport', '9000']);
    expect(denied.stdout.trimEnd().split('\n').at(-1)).toBe('verdict: DENIED');
    const unknown = await weir(['policy', 'trace', '--src', 'nobody', '--dst', 'droid-server', '--dport', '9000']);
    expect(unknown).toMatchObject({ code: 1, stderr: expect.stringContaining('is neither an endpoint name') });
  }, 120_000);
});

describe('errors a person can act on', () => {
  it('exits 2 with usage for a bad subcommand or flag, and 1 when no server listens', async () => {
    const usage = await weir(['policy', 'frobnicate']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^weir: unknown policy subcommand "frobnicate"; use import, get, delete, wait or trace\nusage:/);
    expect((await weir(['endpoint', 'list', '--colour'])).code).toBe(2);
    const socket = path.join(server.dir, 'nobody.sock');
    const unreachable = await weir(['policy', 'get'], { socket });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toBe(`weir policy get: cannot reach weir serve at unix socket ${socket} (ENOENT); is \`weir serve\` running in this directory? pass --socket PATH (the api.socket of its config) or set WEIR_SOCKET\n`);
  }, 120_000);
});
