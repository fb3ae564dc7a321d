// HTTP rules (Cilium's PortRuleHTTP) enforced live in a real Envoy: `weir serve` with the policy
// store, an Envoy with the Weir agent, Weir's HTTP filter in Envoy's HTTP connection manager in
// front of a real HTTP/1.1 + HTTP/2 backend and a real gRPC backend, and real clients (Node's
// http and http2, undici, curl, grpc-js, raw sockets) from different source addresses. Verdicts
// are read off the wire, off the backends (what reached them) and off `weir monitor`.
import * as grpc from '@grpc/grpc-js';
import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deathStarService, DEATHSTAR_SERVICE, type Landing } from '../../demo/backends/grpc-backend.ts';
import { runMonitor } from '../../server/cli/monitor-command.ts';
import type { AccessLogRecord } from '../../server/accesslog/access-log-record.ts';
import { curl, Http1Client, Http2Client, rawExchange } from '../support/http-clients.ts';
import { deployRebels, HAN_IP, leiaPolicy, LUKE_IP, REBEL_ENDPOINTS_YAML, type HttpDeployment } from '../support/http-deployment.ts';

const DENIED_BODY = 'Access denied\r\n';
const LUKE = '{ matchLabels: { io.cilium.k8s.policy.serviceaccount: luke } }';
const ANYONE = '{}';

/** Cilium's service-account example: luke may GET /public on leia, nothing else, nobody else. */
const SERVICE_ACCOUNT_POLICY = leiaPolicy('k8s-svc-account', LUKE, '[{ method: GET, path: "/public$" }]');

describe('HTTP rules in a real Envoy', () => {
  let deployment: HttpDeployment;

  beforeAll(async () => {
    deployment = await deployRebels({ nodeId: 'http-rules', policies: { 'rebels.yaml': REBEL_ENDPOINTS_YAML, 'leia.yaml': SERVICE_ACCOUNT_POLICY } });
  }, 90_000);

  afterAll(async () => {
    await deployment?.stop();
  });

  const received = (): string[] => deployment.web.received.map((request) => `${request.method} ${request.path}`);

  it('service account example: luke may GET /public on leia; /publicity, POST and han are denied with Cilium\'s 403 and never reach leia', async () => {
    const luke = new Http1Client(deployment.webPort, LUKE_IP);
    const han = new Http1Client(deployment.webPort, HAN_IP);
    try {
      const before = deployment.web.received.length;
      expect(await luke.request({ path: '/public' })).toMatchObject({ status: 200, body: 'GET /public\n' });
      expect(await luke.request({ path: '/publicity' })).toMatchObject({ status: 403, body: DENIED_BODY });
      expect(await luke.request({ path: '/public/x' })).toMatchObject({ status: 403, body: DENIED_BODY });
      expect(await luke.request({ method: 'POST', path: '/public' })).toMatchObject({ status: 403, body: DENIED_BODY });
      expect(await han.request({ path: '/public' })).toMatchObject({ status: 403, body: DENIED_BODY });
      expect(received().slice(before)).toEqual(['GET /public']);
    } finally {
      luke.close();
      han.close();
    }
  });

  it('Cilium\'s founding examples: GET /public/.* for anyone; a header required by name, then by value; a header listed as "X-Token: [0-9]+" is the literal value, as in Cilium', async () => {
    await deployment.putPolicy('leia.yaml', leiaPolicy('public-get', ANYONE, '[{ method: GET, path: "/public/.*" }]'));
    const han = new Http1Client(deployment.webPort, HAN_IP);
    try {
      expect((await han.request({ path: '/public/map.txt' })).status).toBe(200);
      expect((await han.request({ path: '/public/' })).status).toBe(200);
      expect((await han.request({ path: '/public' })).status).toBe(403);
      expect((await han.request({ path: '/private/plans' })).status).toBe(403);
      expect((await han.request({ method: 'PUT', path: '/public/map.txt' })).status).toBe(403);

      await deployment.putPolicy('leia.yaml', leiaPolicy('token-present', ANYONE, '[{ headers: ["X-Token"] }]'));
      expect((await han.request({ path: '/any' })).status).toBe(403);
      expect((await han.request({ path: '/any', headers: { 'x-token': '' } })).status).toBe(200);
      expect((await han.request({ path: '/any', headers: { 'X-Token': '42' } })).status).toBe(200);

      await deployment.putPolicy('leia.yaml', leiaPolicy('token-value', ANYONE, '[{ headers: ["X-Token: 1234"] }, { headerMatches: [{ name: X-Ship, value: falcon }] }]'));
      expect((await han.request({ path: '/any', headers: { 'X-Token': '1234' } })).status).toBe(200);
      expect((await han.request({ path: '/any', headers: { 'X-Token': '12345' } })).status).toBe(403);
      expect((await han.request({ path: '/any', headers: { 'X-Token': ['1234', '1234'] } })).status).toBe(403); // "1234,1234", as Envoy joins them
      expect((await han.request({ path: '/any', headers: { 'x-ship': 'falcon' } })).status).toBe(200);
      expect((await han.request({ path: '/any', headers: { 'x-ship': 'Falcon' } })).status).toBe(403);

      await deployment.putPolicy('leia.yaml', leiaPolicy('token-regex-looking', ANYONE, '[{ method: GET, path: "/public/.*", headers: ["X-Token: [0-9]+"] }]'));
      expect((await han.request({ path: '/public/a', headers: { 'X-Token': '12345' } })).status).toBe(403);
      expect((await han.request({ path: '/public/a', headers: { 'X-Token': '[0-9]+' } })).status).toBe(200);
    } finally {
      han.close();
    }
  }, 60_000);

  it('matches host and method as whole-value regexes; the identity is the TCP peer, not X-Forwarded-For', async () => {
    await deployment.putPolicy('leia.yaml', leiaPolicy('host-method', LUKE, `[{ method: "GET|HEAD", host: 'leia\\.rebels(:[0-9]+)?' }]`));
    const luke = new Http1Client(deployment.webPort, LUKE_IP);
    const han = new Http1Client(deployment.webPort, HAN_IP);
    try {
      expect((await luke.request({ path: '/', headers: { host: 'leia.rebels' } })).status).toBe(200);
      expect((await luke.request({ method: 'HEAD', path: '/', headers: { host: 'leia.rebels:8080' } })).status).toBe(200);
      expect((await luke.request({ path: '/', headers: { host: 'leia.rebels.evil' } })).status).toBe(403);
      expect((await luke.request({ path: '/', headers: { host: 'leiaXrebels' } })).status).toBe(403);
      expect((await luke.request({ method: 'OPTIONS', path: '/', headers: { host: 'leia.rebels' } })).status).toBe(403);
      expect((await han.request({ path: '/', headers: { host: 'leia.rebels', 'x-forwarded-for': LUKE_IP } })).status).toBe(403);
    } finally {
      luke.close();
      han.close();
    }
  }, 30_000);

  it('sees a policy change on open connections: the next request on an HTTP/1.1 keep-alive connection and on an HTTP/2 connection gets the new verdict', async () => {
    await deployment.putPolicy('leia.yaml', SERVICE_ACCOUNT_POLICY);
    const http1 = new Http1Client(deployment.webPort, LUKE_IP);
    const http2 = new Http2Client(deployment.webPort, LUKE_IP);
    try {
      const first1 = await http1.request({ path: '/public' });
      const first2 = await http2.request({ path: '/public' });
      expect([first1.status, first2.status]).toEqual([200, 200]);
      expect((await http1.request({ path: '/secret' })).status).toBe(403);
      // The worker's VM has the generation pushed by the agent (no shared-data read per request):
      // the change below must reach it that way.
      await deployment.envoy.waitForLog(/the agent pushes policy generations to this VM/);

      await deployment.putPolicy('leia.yaml', leiaPolicy('secret-only', LUKE, '[{ method: GET, path: "/secret" }]'));
      const after1 = await http1.request({ path: '/public' });
      const after2 = await http2.request({ path: '/public' });
      expect(after1).toMatchObject({ status: 403, body: DENIED_BODY, localPort: first1.localPort });
      expect(after2).toMatchObject({ status: 403, body: DENIED_BODY, localPort: first2.localPort });
      expect(await http1.request({ path: '/secret' })).toMatchObject({ status: 200, localPort: first1.localPort });
      expect(await http2.request({ path: '/secret' })).toMatchObject({ status: 200, localPort: first2.localPort });
    } finally {
      http1.close();
      http2.close();
    }
  }, 30_000);

  it('answers pipelined HTTP/1.1 requests in order, forwarding only the allowed ones (raw socket and undici)', async () => {
    await deployment.putPolicy('leia.yaml', SERVICE_ACCOUNT_POLICY);
    const before = deployment.web.received.length;
    const request = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: leia\r\n\r\n`;
    const answers = await rawExchange(deployment.webPort, LUKE_IP, [request('/publicity'), request('/public'), request('/public')].join(''), 3);
    expect(answers).toEqual([{ status: 403, body: DENIED_BODY }, { status: 200, body: 'GET /public\n' }, { status: 200, body: 'GET /public\n' }]);
    // A denial after an upstream response stalls the pipeline in Envoy 1.40 itself (its own
    // direct_response does the same; docs/http.md): the denial still arrives in order.
    const afterResponse = await rawExchange(deployment.webPort, LUKE_IP, [request('/public'), request('/publicity')].join(''), 2);
    expect(afterResponse).toEqual([{ status: 200, body: 'GET /public\n' }, { status: 403, body: DENIED_BODY }]);

    const client = new Client(`http://127.0.0.1:${deployment.webPort}`, { pipelining: 3, localAddress: LUKE_IP });
    try {
      const statuses = await Promise.all(['/private', '/public', '/public'].map(async (path) => {
        const response = await client.request({ method: 'GET', path });
        await response.body.text();
        return response.statusCode;
      }));
      expect(statuses).toEqual([403, 200, 200]);
    } finally {
      await client.close();
    }
    expect(received().slice(before)).toEqual(['GET /public', 'GET /public', 'GET /public', 'GET /public', 'GET /public']);
  }, 30_000);

  it('works the same for curl over HTTP/1.1 and HTTP/2, and for Node\'s http2', async () => {
    await deployment.putPolicy('leia.yaml', SERVICE_ACCOUNT_POLICY);
    expect(await curl(deployment.webPort, LUKE_IP, { path: '/public' })).toEqual({ status: 200, body: 'GET /public\n', version: '1.1' });
    expect(await curl(deployment.webPort, LUKE_IP, { path: '/public', http2: true })).toEqual({ status: 200, body: 'GET /public\n', version: '2' });
    expect(await curl(deployment.webPort, LUKE_IP, { path: '/publicity', http2: true })).toEqual({ status: 403, body: DENIED_BODY, version: '2' });
    expect(await curl(deployment.webPort, HAN_IP, { path: '/public', http2: true })).toEqual({ status: 403, body: DENIED_BODY, version: '2' });
    const han = new Http2Client(deployment.webPort, HAN_IP);
    try {
      expect(await han.request({ path: '/public' })).toMatchObject({ status: 403, body: DENIED_BODY });
    } finally {
      han.close();
    }
    const versions = deployment.web.received.slice(-2).map((request) => request.httpVersion);
    expect(versions).toEqual(['1.1', '2.0']);
  }, 30_000);

  it('rejects malformed requests in Envoy before the rules run: nothing reaches leia', async () => {
    await deployment.putPolicy('leia.yaml', leiaPolicy('anything', ANYONE, '[{}]'));
    const before = deployment.web.received.length;
    const malformed = [
      'GET /public HTTP/1.1\r\nHost: leia\r\nBad Header: x\r\n\r\n', // space in a header name
      'POST /public HTTP/1.1\r\nHost: leia\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n', // smuggling shape
      'GET public HTTP/1.1\r\nHost: leia\r\n\r\n', // no leading slash
      'GET /pub\x00lic HTTP/1.1\r\nHost: leia\r\n\r\n', // NUL in the path
    ];
    for (const request of malformed) {
      const answers = await rawExchange(deployment.webPort, LUKE_IP, request, 1);
      expect(answers.map((answer) => answer.status), JSON.stringify(request)).toEqual([400]);
    }
    expect(deployment.web.received.length).toBe(before);
    expect((await curl(deployment.webPort, LUKE_IP, { path: '/anything' })).status).toBe(200);
  }, 30_000);

  it('normalises the path before the rules, as the upstream receives it: dot segments and %2F cannot reach around a path rule', async () => {
    await deployment.putPolicy('leia.yaml', leiaPolicy('public-only', ANYONE, '[{ path: "/public/.*" }]'));
    const before = deployment.web.received.length;
    const tricks = ['GET /public/../secret HTTP/1.1\r\nHost: leia\r\n\r\n', 'GET /public/..%2Fsecret HTTP/1.1\r\nHost: leia\r\n\r\n', 'GET /public/%2E%2E/secret HTTP/1.1\r\nHost: leia\r\n\r\n'];
    for (const request of tricks) {
      const answers = await rawExchange(deployment.webPort, LUKE_IP, request, 1);
      expect(answers, JSON.stringify(request)).toEqual([{ status: 403, body: DENIED_BODY }]);
    }
    const allowed = await rawExchange(deployment.webPort, LUKE_IP, 'GET /public//a/./b HTTP/1.1\r\nHost: leia\r\n\r\n', 1);
    expect(allowed).toEqual([{ status: 200, body: 'GET /public/a/b\n' }]);
    expect(received().slice(before)).toEqual(['GET /public/a/b']);
  }, 30_000);

  it('gRPC: a method rule allows the unary call; the streaming call gets PERMISSION_DENIED "Access denied" and never reaches the server; then allowed, it streams', async () => {
    await deployment.putPolicy('leia-grpc.yaml', leiaPolicy('grpc-landing', LUKE, `[{ method: POST, path: '/${DEATHSTAR_SERVICE.replaceAll('.', '\\.')}/RequestLanding' }]`, 'GRPC_PORT'));
    const DeathStar = deathStarService();
    const client = new DeathStar(`127.0.0.1:${deployment.grpcPort}`, grpc.credentials.createInsecure());
    try {
      const before = deployment.grpc.received.length;
      const landing = await new Promise<Landing>((resolve, reject) => {
        client['RequestLanding']!({ name: 'x-wing' }, (error: grpc.ServiceError | null, reply: Landing) => (error ? reject(error) : resolve(reply)));
      });
      expect(landing).toEqual({ ship: 'x-wing', bay: 'bay-1' });
      const denied = await watchHangar(client, 3);
      expect(denied.error?.code).toBe(grpc.status.PERMISSION_DENIED);
      expect(denied.error?.details).toBe(DENIED_BODY); // Envoy sends the body as grpc-message
      expect(denied.landings).toEqual([]);
      expect(deployment.grpc.received.slice(before)).toEqual([`/${DEATHSTAR_SERVICE}/RequestLanding`]);

      await deployment.putPolicy('leia-grpc.yaml', leiaPolicy('grpc-all', LUKE, `[{ method: POST, path: '/${DEATHSTAR_SERVICE.replaceAll('.', '\\.')}/.*' }]`, 'GRPC_PORT'));
      const streamed = await watchHangar(client, 3);
      expect(streamed.error).toBeUndefined();
      expect(streamed.landings.map((landing) => landing.ship)).toEqual(['tie-0', 'tie-1', 'tie-2']);
    } finally {
      client.close();
    }
  }, 30_000);

  it('logs every request with method, path, host, status and verdict in `weir monitor`', async () => {
    await deployment.putPolicy('leia.yaml', SERVICE_ACCOUNT_POLICY);
    const luke = new Http1Client(deployment.webPort, LUKE_IP);
    try {
      await luke.request({ path: '/public', headers: { host: 'leia.rebels' } });
      await luke.request({ path: '/public-not', headers: { host: 'leia.rebels' } });
    } finally {
      luke.close();
    }
    const records = await waitForRecords(deployment, (all) => ['/public', '/public-not'].every((path) => all.some((record) => record.fields['path'] === path)));
    const mine = records.filter((record) => record.fields['host'] === 'leia.rebels');
    const byType = (type: string, path: string): AccessLogRecord | undefined => mine.find((record) => record.type === type && record.fields['path'] === path);
    // One entry per request: a Request with the response's status, or a Denied with Cilium's 403.
    expect(byType('Request', '/public')).toMatchObject({ protocol: 'http', endpoint: 'leia', direction: 'ingress', fields: { method: 'GET', path: '/public', host: 'leia.rebels', status: '200' } });
    expect(byType('Request', '/public')?.rule).toMatch(/leia\.yaml spec\.ingress\[0\] l7\[0\]$/);
    expect(byType('Denied', '/public-not')).toMatchObject({ fields: { method: 'GET', path: '/public-not', host: 'leia.rebels', status: '403' } });
    expect(byType('Denied', '/public-not')?.reason).toMatch(/^no L7 rule matched \(http rules for remote identity \d+ on port \d+\)$/);
    expect(byType('Denied', '/public-not')?.source.labels).toContain('k8s:io.cilium.k8s.policy.serviceaccount=luke');
    expect(mine.filter((record) => record.fields['path'] === '/public').map((record) => record.type)).toEqual(['Request']);
    const lines: string[] = [];
    await runMonitor({ api: { kind: 'socket', socket: deployment.serve.api.socket }, filter: { protocols: ['http'], verdicts: ['denied'] }, last: 50, noFollow: true, writeLine: (line) => lines.push(line) });
    expect(lines.some((line) => /verdict Denied .*method:GET path:\/public-not host:leia\.rebels status:403/.test(line))).toBe(true);
  }, 30_000);

  it('counts identical allowed requests of a connection into Request entries with their number (`requests`); a denial in between keeps its place; metrics count requests', async () => {
    await deployment.putPolicy('leia.yaml', SERVICE_ACCOUNT_POLICY);
    const host = 'counted.rebels';
    const forwardedBefore = forwardedHttpRequests(deployment);
    const luke = new Http1Client(deployment.webPort, LUKE_IP);
    try {
      for (let i = 0; i < 20; i++) expect((await luke.request({ path: '/public', headers: { host } })).status).toBe(200);
      expect((await luke.request({ path: '/publicity', headers: { host } })).status).toBe(403);
      for (let i = 0; i < 5; i++) expect((await luke.request({ path: '/public', headers: { host } })).status).toBe(200);
    } finally {
      luke.close();
    }
    const mine = (records: AccessLogRecord[]): AccessLogRecord[] => records.filter((record) => record.fields['host'] === host);
    const counted = (records: AccessLogRecord[]): number => records.filter((record) => record.type === 'Request').reduce((total, record) => total + Number(record.fields['requests']), 0);
    const records = mine(await waitForRecords(deployment, (all) => counted(mine(all)) === 25));
    // A run is cut into several entries only when a root tick finds it a second old: the counts
    // before and after the denial are exact however the runs were cut.
    const denial = records.findIndex((record) => record.type === 'Denied');
    expect(records[denial]).toMatchObject({ fields: { method: 'GET', path: '/publicity', host, status: '403' } });
    expect(counted(records.slice(0, denial))).toBe(20);
    expect(counted(records.slice(denial + 1))).toBe(5);
    for (const record of records.filter((entry) => entry.type === 'Request')) {
      expect(record).toMatchObject({ protocol: 'http', endpoint: 'leia', fields: { method: 'GET', path: '/public', host, status: '200' } });
      expect(record.rule).toMatch(/leia\.yaml spec\.ingress\[0\] l7\[0\]$/);
    }
    expect(forwardedHttpRequests(deployment) - forwardedBefore).toBeGreaterThanOrEqual(25);
    const lines: string[] = [];
    await runMonitor({ api: { kind: 'socket', socket: deployment.serve.api.socket }, filter: { protocols: ['http'] }, last: 50, noFollow: true, writeLine: (line) => lines.push(line) });
    expect(lines.some((line) => /verdict Forwarded method:GET path:\/public host:counted\.rebels status:200 requests:\d+$/.test(line))).toBe(true);
  }, 30_000);
});

/** weir_policy_l7_total{proto="http",verdict="forwarded"} summed over the peers. */
function forwardedHttpRequests(deployment: HttpDeployment): number {
  const lines = deployment.serve.observability.registry.exposition().split('\n');
  return lines.filter((line) => line.startsWith('weir_policy_l7_total{proto="http",verdict="forwarded"')).reduce((total, line) => total + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

async function watchHangar(client: grpc.Client, count: number): Promise<{ landings: Landing[]; error?: grpc.ServiceError }> {
  const call = (client as unknown as Record<string, (request: object) => grpc.ClientReadableStream<Landing>>)['WatchHangar']!({ count });
  const landings: Landing[] = [];
  return new Promise((resolve) => {
    call.on('data', (landing: Landing) => landings.push(landing));
    call.on('error', (error: grpc.ServiceError) => resolve({ landings, error }));
    call.on('end', () => resolve({ landings }));
  });
}

async function waitForRecords(deployment: HttpDeployment, done: (records: AccessLogRecord[]) => boolean): Promise<AccessLogRecord[]> {
  const hub = deployment.serve.observability.pipeline.hub;
  for (;;) {
    const records = hub.recent(200, { protocols: ['http'] });
    if (done(records)) return records;
    // The next http record wakes us (the agent ships entries every few tens of milliseconds).
    await new Promise<void>((resolve) => {
      const stop = hub.watch({
        filter: { protocols: ['http'] },
        offer: () => {
          setImmediate(() => {
            stop();
            resolve();
          });
          return 'delivered';
        },
      });
    });
  }
}

describe('HTTP rules in an Envoy with two workers', () => {
  let deployment: HttpDeployment;

  beforeAll(async () => {
    deployment = await deployRebels({ nodeId: 'http-rules-workers', policies: { 'rebels.yaml': REBEL_ENDPOINTS_YAML, 'leia.yaml': SERVICE_ACCOUNT_POLICY }, concurrency: 2 });
  }, 90_000);

  afterAll(async () => {
    await deployment?.stop();
  });

  it('each worker\'s VM has the policy generation pushed by the agent; a change reaches the open connections on both workers', async () => {
    // Eight keep-alive connections: the kernel spreads them over the two workers (SO_REUSEPORT).
    const clients = Array.from({ length: 8 }, () => new Http1Client(deployment.webPort, LUKE_IP));
    try {
      const first = await Promise.all(clients.map((client) => client.request({ path: '/public' })));
      expect(first.map((answer) => answer.status)).toEqual(first.map(() => 200));
      const workers = await workersWithConnections(deployment);
      // One line per worker VM once the agent rang its own queue (a queue wakes one VM only).
      await deployment.envoy.waitForLog(new RegExp(`(?:the agent pushes policy generations to this VM[\\s\\S]*){${workers}}`));

      await deployment.putPolicy('leia.yaml', leiaPolicy('secret-only', LUKE, '[{ method: GET, path: "/secret" }]'));
      const after = await Promise.all(clients.map((client) => client.request({ path: '/public' })));
      expect(after.map((answer) => [answer.status, answer.localPort])).toEqual(first.map((answer) => [403, answer.localPort]));
    } finally {
      for (const client of clients) client.close();
    }
  }, 30_000);
});

/** How many of Envoy's workers accepted connections on the `weir-web` listener (admin stats). */
async function workersWithConnections(deployment: HttpDeployment): Promise<number> {
  const stats = await deployment.envoy.admin(`/stats?filter=${encodeURIComponent(`_${deployment.webPort}\\.worker_[0-9]+\\.downstream_cx_total`)}`);
  const counts = [...stats.body.matchAll(/worker_\d+\.downstream_cx_total: (\d+)/g)].map((match) => Number(match[1]));
  if (counts.length === 0) throw new Error(`no per-worker connection stats for port ${deployment.webPort}:\n${stats.body}`);
  return counts.filter((count) => count > 0).length;
}
