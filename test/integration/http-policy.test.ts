// HTTP rules (Cilium's PortRuleHTTP) enforced live in a real Envoy: `weir serve` with the policy
// store, an Envoy with the Weir agent, Weir's HTTP filter in Envoy's HTTP connection manager in
// front of a real HTTP/1.1 + HTTP/2 backend and a real gRPC backend, and real clients (Node's
// http and http2, undici, curl, grpc-js, raw sockets) from different source addresses. Verdicts
// are read off the wire, off the backends (what reached them) and off `weir monitor`.
import * as grpc from '@grpc/grpc-js';
import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deathStarService, DEATHSTAR_SERVICE, type Landing } from '../../demo/backends/grpc-backend.ts';
import { runMonitor } from '../../server/accesslog/monitor-command.ts';
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
});
