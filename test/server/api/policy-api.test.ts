// The REST API against a real `weir serve` on a temp unix socket: import is all-or-nothing with
// every problem named, the policy resources reach a scripted agent over real gRPC, and
// /v1/policies/wait answers only once the agent ACKed (409 on its NACK, 504 on timeout).
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IDENTITY_MAP_TYPE_URL, decodeIdentityMap } from '../../../server/xds/resources/identity-map.ts';
import { NETWORK_POLICY_TYPE_URL, decodeNetworkPolicy } from '../../../server/xds/resources/network-policy.ts';
import { apiTargetFrom, callApi } from '../../../server/cli/api-client.ts';
import { ENDPOINTS_YAML, readOnlyPolicy } from '../../support/droid-deployment.ts';
import { openScriptedAgent, startTestServer, type ScriptedAgent, type TestServer } from './support.ts';

let server: TestServer | undefined;
let agent: ScriptedAgent | undefined;

afterEach(async () => {
  agent?.close();
  agent = undefined;
  await server?.stop();
  server = undefined;
});

async function started(options: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  server = await startTestServer(options);
  return server;
}

/** Resolves once /v1/proxies shows the proxy's ACK of `version` for `typeUrl` (the server has processed it). */
async function ackRecorded(api: TestServer['api'], nodeId: string, typeUrl: string, version: string): Promise<void> {
  await vi.waitUntil(async () => {
    const body = (await api('GET', '/v1/proxies')).body as { proxies: Array<{ nodeId: string; types: Array<{ typeUrl: string; ackedVersion?: string }> }> };
    const proxy = body.proxies.find((candidate) => candidate.nodeId === nodeId);
    return proxy?.types.some((type) => type.typeUrl === typeUrl && type.ackedVersion === version) === true;
  }, { timeout: 20_000, interval: 20 });
}

describe('policy import', () => {
  it('stores the file, returns the new revision and lists policies, endpoints and identities', async () => {
    const { api, dir } = await started({ policies: { 'endpoints.yaml': ENDPOINTS_YAML } });
    const before = (await api('GET', '/v1/policies/revision')).body['revision'];
    const imported = await api('POST', '/v1/policies', readOnlyPolicy());
    expect(imported.status).toBe(200);
    expect(imported.body).toMatchObject({ file: 'droid-readonly.yaml', policies: ['droid-readonly'], endpoints: [] });
    expect(imported.body['revision']).not.toBe(before);
    expect((await api('GET', '/v1/policies/revision')).body['revision']).toBe(imported.body['revision']);
    expect(fs.readFileSync(path.join(dir, 'policies', 'droid-readonly.yaml'), 'utf8')).toBe(readOnlyPolicy());

    const policies = await api('GET', '/v1/policies');
    expect(policies.body['files']).toEqual([
      { file: 'droid-readonly.yaml', policies: ['droid-readonly'], endpoints: [] },
      { file: 'endpoints.yaml', policies: [], endpoints: ['droid-server', 'droid-client'] },
    ]);
    const endpoints = (await api('GET', '/v1/endpoints')).body['endpoints'] as Array<Record<string, unknown>>;
    expect(endpoints.map((endpoint) => [endpoint['name'], endpoint['ingress'], endpoint['ips']])).toEqual([
      ['droid-server', 'default-deny', ['127.0.0.1']],
      ['droid-client', 'default-allow', ['127.0.0.2']],
    ]);
    const identities = (await api('GET', '/v1/identities')).body as { ipIdentities: Array<{ cidr: string; identity: number }> };
    const client = endpoints.find((endpoint) => endpoint['name'] === 'droid-client');
    expect(identities.ipIdentities).toContainEqual({ cidr: '127.0.0.2/32', identity: client?.['identity'] });
    expect((await api('GET', '/v1/policies/droid-readonly')).text).toBe(readOnlyPolicy());
  });

  it('rejects an invalid policy with every problem (file: path: reason) and changes nothing', async () => {
    const { api, dir } = await started({ policies: { 'endpoints.yaml': ENDPOINTS_YAML } });
    const before = (await api('GET', '/v1/policies/revision')).body['revision'];
    const invalid = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: broken }
spec:
  endpointSelector: { matchLabels: { app: droid-server } }
  ingress:
    - toPorts:
        - ports: [{ port: "9000" }]
          rules: { l7proto: r2d2, l7: [{ cmd: FLY }, { cmd: READ, file: "(unclosed" }, { cmd: READ, colour: red }] }
        - ports: [{ port: 9001 }]
          rules: { l7proto: gopher, l7: [{}] }
        - ports: [{ port: [80] }]
`;
    const rejected = await api('POST', '/v1/policies?file=broken.yaml', invalid);
    expect(rejected.status).toBe(400);
    expect(rejected.body.error).toBe('policy rejected (5 problems); nothing was changed');
    expect(rejected.body.problems).toEqual([
      'broken.yaml: spec.ingress[0].toPorts[0].rules.l7[0].cmd: unknown r2d2 command "FLY"; expected one of READ, WRITE, HALT, RESET (case-sensitive)',
      'broken.yaml: spec.ingress[0].toPorts[0].rules.l7[1].file: invalid regex "(unclosed": missing closing ")" at offset 0; see docs/policy.md "Regular expressions" for the supported syntax',
      'broken.yaml: spec.ingress[0].toPorts[0].rules.l7[2].colour: unknown r2d2 rule key; r2d2 accepts cmd, file',
      'broken.yaml: spec.ingress[0].toPorts[1].rules.l7proto: unknown l7proto "gopher"; Weir has parsers for r2d2, memcache, cassandra, kafka',
      'broken.yaml: spec.ingress[0].toPorts[2].ports[0].port: expected a port number 0..65535, got [80]',
    ]);
    expect((await api('GET', '/v1/policies/revision')).body['revision']).toBe(before);
    expect(fs.existsSync(path.join(dir, 'policies', 'broken.yaml'))).toBe(false);
  });

  it('reports a YAML syntax error with its line and column', async () => {
    const { api } = await started();
    const rejected = await api('POST', '/v1/policies?file=syntax.yaml', 'apiVersion: cilium.io/v2\nspec: [\n  a: b\n');
    expect(rejected.status).toBe(400);
    expect(rejected.body.problems).toEqual(['syntax.yaml: YAML syntax error at line 4, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]']);
  });

  it('asks for a file name when the policy has no metadata.name', async () => {
    const { api } = await started();
    const rejected = await api('POST', '/v1/policies', '[{ "endpointSelector": {} }]');
    expect(rejected.status).toBe(400);
    expect(rejected.body.error).toMatch(/pass \?file=NAME\.yaml/);
  });
});

describe('policy delete', () => {
  it('removes the file holding a policy and answers 404 for a name nobody holds', async () => {
    const { api, dir } = await started({ policies: { 'endpoints.yaml': ENDPOINTS_YAML } });
    const imported = await api('POST', '/v1/policies', readOnlyPolicy());
    const deleted = await api('DELETE', '/v1/policies/droid-readonly');
    expect(deleted.status).toBe(200);
    expect(deleted.body['deleted']).toBe('droid-readonly.yaml');
    expect(deleted.body['revision']).not.toBe(imported.body['revision']);
    expect(fs.existsSync(path.join(dir, 'policies', 'droid-readonly.yaml'))).toBe(false);
    const missing = await api('DELETE', '/v1/policies/droid-readonly');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatch(/no policy or policy file named "droid-readonly"/);
  });
});

describe('policy delivery and wait', () => {
  it('serves one NetworkPolicy per endpoint and the IdentityMap, both carrying the revision', async () => {
    const { serve, api } = await started({ policies: { 'endpoints.yaml': ENDPOINTS_YAML, 'droid.yaml': readOnlyPolicy() } });
    const revision = (await api('GET', '/v1/policies/revision')).body['revision'];
    agent = openScriptedAgent(serve, 'edge-1');
    const policies = await agent.next(NETWORK_POLICY_TYPE_URL);
    const decoded = policies.resources.map((resource) => decodeNetworkPolicy(resource.value));
    expect(decoded.map((policy) => [policy.endpoint, policy.endpointIps, policy.revision])).toEqual([
      ['droid-client', ['127.0.0.2'], revision],
      ['droid-server', ['127.0.0.1'], revision],
    ]);
    const server = decoded.find((policy) => policy.endpoint === 'droid-server');
    const compiled = JSON.parse(new TextDecoder().decode(server?.compiled)) as { format: string; ingress: { enforcement: string } };
    expect(compiled).toMatchObject({ format: 'weir.policy/v1', ingress: { enforcement: 'default-deny' } });
    const identityMap = await agent.next(IDENTITY_MAP_TYPE_URL);
    expect(decodeIdentityMap(identityMap.resources[0]?.value ?? new Uint8Array()).revision).toBe(revision);
  });

  it('resolves only after the agent ACKed the versions carrying the revision, and shows it in /v1/proxies', async () => {
    const { serve, api } = await started({ policies: { 'endpoints.yaml': ENDPOINTS_YAML } });
    agent = openScriptedAgent(serve, 'edge-1');
    agent.ack(NETWORK_POLICY_TYPE_URL, await agent.next(NETWORK_POLICY_TYPE_URL));
    agent.ack(IDENTITY_MAP_TYPE_URL, await agent.next(IDENTITY_MAP_TYPE_URL));
    const revision = (await api('POST', '/v1/policies', readOnlyPolicy())).body['revision'] as string;
    const policyUpdate = await agent.next(NETWORK_POLICY_TYPE_URL);
    const identityUpdate = await agent.next(IDENTITY_MAP_TYPE_URL);
    const waiting = api('GET', `/v1/policies/wait?revision=${revision}&timeout=30`);
    expect((await api('GET', `/v1/policies/wait?revision=${revision}&timeout=0`)).status).toBe(504);
    agent.ack(NETWORK_POLICY_TYPE_URL, policyUpdate);
    await ackRecorded(api, 'edge-1', NETWORK_POLICY_TYPE_URL, policyUpdate.version_info);
    expect((await api('GET', `/v1/policies/wait?revision=${revision}&timeout=0`)).status).toBe(504); // the identity map is not ACKed yet
    agent.ack(IDENTITY_MAP_TYPE_URL, identityUpdate);
    const waited = await waiting;
    expect(waited.status).toBe(200);
    expect(waited.body).toEqual({ revision, proxies: [{ nodeId: 'edge-1', enforcedRevision: revision }] });
    const proxies = (await api('GET', '/v1/proxies')).body as { revision: string; proxies: Array<{ nodeId: string; enforcedRevision: string; policyAgent: boolean }> };
    expect(proxies.revision).toBe(revision);
    expect(proxies.proxies.map((proxy) => [proxy.nodeId, proxy.policyAgent, proxy.enforcedRevision])).toEqual([['edge-1', true, revision]]);
  });

  // A scripted agent has no Envoy behind it, so these waits take policyOnly (revision-wait.test.ts covers the Envoy half).
  it('with node=ID waits for that proxy to connect and ACK, and times out naming it while its agent is away', async () => {
    const { serve, api } = await started({ policies: { 'endpoints.yaml': ENDPOINTS_YAML } });
    const absent = await api('GET', '/v1/policies/wait?node=edge-4&timeout=0.3');
    expect(absent.status).toBe(504);
    expect(absent.body.error).toMatch(/^timed out after 0.3 s waiting for revision [0-9a-f]{16} on edge-4 \(its Weir agent is not connected\)$/);
    expect((await api('GET', '/v1/policies/wait?timeout=10')).body).toMatchObject({ proxies: [] }); // without node=: no agent, nothing to wait for
    const waiting = api('GET', '/v1/policies/wait?node=edge-4&policyOnly=true&timeout=30');
    agent = openScriptedAgent(serve, 'edge-4');
    const policy = await agent.next(NETWORK_POLICY_TYPE_URL);
    agent.ack(NETWORK_POLICY_TYPE_URL, policy);
    await ackRecorded(api, 'edge-4', NETWORK_POLICY_TYPE_URL, policy.version_info);
    expect((await api('GET', '/v1/policies/wait?node=edge-4&policyOnly=true&timeout=0')).status).toBe(504); // the identity map is not ACKed yet
    agent.ack(IDENTITY_MAP_TYPE_URL, await agent.next(IDENTITY_MAP_TYPE_URL));
    const waited = await waiting;
    expect(waited.status).toBe(200);
    expect(waited.body).toMatchObject({ proxies: [{ nodeId: 'edge-4' }] });
  });

  it('answers 409 with the agent\'s message when it NACKs the revision', async () => {
    const { serve, api } = await started({ policies: { 'endpoints.yaml': ENDPOINTS_YAML } });
    agent = openScriptedAgent(serve, 'edge-2');
    agent.ack(NETWORK_POLICY_TYPE_URL, await agent.next(NETWORK_POLICY_TYPE_URL));
    agent.ack(IDENTITY_MAP_TYPE_URL, await agent.next(IDENTITY_MAP_TYPE_URL));
    const revision = (await api('POST', '/v1/policies', readOnlyPolicy())).body['revision'] as string;
    const waiting = api('GET', `/v1/policies/wait?revision=${revision}&timeout=10`);
    agent.nack(NETWORK_POLICY_TYPE_URL, await agent.next(NETWORK_POLICY_TYPE_URL), 'droid-server: compiled: not valid JSON at byte 12');
    const waited = await waiting;
    expect(waited.status).toBe(409);
    expect(waited.body.error).toMatch(new RegExp(`^proxy edge-2 rejected type.googleapis.com/weir.NetworkPolicy version [0-9a-f]{16} \\(revision ${revision} or later\\): droid-server: compiled: not valid JSON at byte 12`));
    // Asked again after the NACK: still 409 at once, since rejected content is never resent.
    expect((await api('GET', `/v1/policies/wait?revision=${revision}&timeout=10`)).status).toBe(409);
  });

  it('answers 504 naming the proxies still behind, and 404 for a revision it never published', async () => {
    const { serve, api } = await started({ policies: { 'endpoints.yaml': ENDPOINTS_YAML } });
    agent = openScriptedAgent(serve, 'edge-3');
    await agent.next(NETWORK_POLICY_TYPE_URL);
    const waited = await api('GET', '/v1/policies/wait?timeout=0.3');
    expect(waited.status).toBe(504);
    expect(waited.body.error).toMatch(/^timed out after 0.3 s waiting for revision [0-9a-f]{16} on edge-3 \(enforces no revision yet\)$/);
    const unknown = await api('GET', '/v1/policies/wait?revision=0123456789abcdef&timeout=1');
    expect(unknown.status).toBe(404);
  });
});

describe('API over TCP', () => {
  it('speaks only HTTPS with a certificate of the weir CA, and requires the bearer token from api.tcp.tokenFile', async () => {
    const token = 'test-token-0123456789abcdef';
    const { serve } = await started({
      apiConfig: 'api: { socket: weir.sock, tcp: { address: 127.0.0.1, port: 0, tokenFile: token.txt } }',
      files: { 'token.txt': `${token}\n` },
    });
    const get = (authorization: string | undefined, ca: string | null = serve.authority.ca.certificatePem) =>
      new Promise<number>((resolve, reject) => {
        const request = https.get({ host: '127.0.0.1', port: serve.api.tcpPort, path: '/v1/policies/revision', ...(ca !== null ? { ca } : {}), headers: authorization ? { authorization } : {} }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        request.on('error', reject);
      });
    expect(await get(undefined)).toBe(401);
    expect(await get('Bearer wrong')).toBe(401);
    expect(await get(`Bearer ${token}`)).toBe(200);
    await expect(get(`Bearer ${token}`, null)).rejects.toThrow(/self-signed certificate|unable to verify|unable to get local issuer/);
    await expect(fetch(`http://127.0.0.1:${serve.api.tcpPort}/v1/policies/revision`, { headers: { authorization: `Bearer ${token}` } })).rejects.toThrow();
    const cli = apiTargetFrom({ server: `https://127.0.0.1:${serve.api.tcpPort}` }, { WEIR_API_TOKEN: token, WEIR_CA_FILE: serve.authority.ca.certificateFile });
    const reply = await callApi(cli, { method: 'GET', path: '/v1/policies/revision' });
    expect(reply.status).toBe(200);
    expect(() => apiTargetFrom({ server: `http://127.0.0.1:${serve.api.tcpPort}` }, {})).toThrow(/speaks only HTTPS; use https:\/\/HOST:PORT/);
  });

  it('serves Prometheus metrics read-only on metrics.port, without a token, and nothing else there', async () => {
    const { serve } = await started({ apiConfig: 'api: { socket: weir.sock }\nmetrics: { address: 127.0.0.1, port: 0 }' });
    const base = `http://127.0.0.1:${serve.metrics?.port ?? 0}`;
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('weir_xds_pushes_total');
    expect((await fetch(`${base}/metrics`, { method: 'POST' })).status).toBe(405);
    const policies = await fetch(`${base}/v1/policies`, { method: 'POST', body: readOnlyPolicy() });
    expect(policies.status).toBe(404);
    expect((await fetch(`${base}/v1/nodes/edge-1/revoke`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${base}/v1/status`)).status).toBe(404);
  });
});
