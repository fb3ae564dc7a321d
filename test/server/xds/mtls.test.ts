// mTLS on the xDS port, as an impostor would try it with a raw grpc-js client: only a certificate of
// the weir CA whose SPIFFE ID names the node id the stream claims gets config. No certificate,
// another node's certificate, another CA's, an expired one, one superseded by a re-enrolment and a
// revoked node's get nothing, and the server records no proxy for them (so nothing they send can
// count as an ACK). A stream ends when its certificate expires or its node is revoked, and a node
// renews its certificate over the same port with the one it holds.
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readNodeCredentials } from '../../../server/pki/node-credentials.ts';
import { startControlServer, type ControlServer } from '../../../server/xds/control-server.ts';
import { addNodeCertificateService } from '../../../server/xds/node-certificate-service.ts';
import { renewNodeCredentials } from '../../../server/xds/node-certificate-client.ts';
import { CLUSTER_TYPE_URL } from '../../../server/xds/resources/cluster.ts';
import { Snapshot } from '../../../server/xds/snapshot.ts';
import { silentLogger } from '../../../server/log/logger.ts';
import { createTestPki, grpcCredentialsOf, type TestPki } from '../../support/test-pki.ts';
import { openAds } from './support/grpc-client.ts';
import { cluster, sotwRequest } from './support/resources.ts';

let pki: TestPki;
let otherCa: TestPki;
let server: ControlServer;
let target: string;
const streams: Array<{ close(): void }> = [];

beforeAll(async () => {
  pki = createTestPki();
  otherCa = createTestPki();
  server = await startControlServer({
    security: pki.security,
    batchWindowMs: 0,
    snapshot: new Snapshot([cluster('a')]),
    registerServices: (grpcServer) => addNodeCertificateService(grpcServer, { authority: pki.authority, logger: silentLogger() }),
  });
  target = `127.0.0.1:${server.port}`;
});

afterEach(() => {
  for (const stream of streams.splice(0)) stream.close();
});

afterAll(async () => {
  await server.stop();
  pki.remove();
  otherCa.remove();
});

function adsAs(credentials: grpc.ChannelCredentials, nodeId: string) {
  const stream = openAds(target, credentials);
  streams.push(stream);
  stream.write(sotwRequest({ node: { id: nodeId, cluster: 'c' } }));
  return stream;
}

const trust = (): { caPem: string } => ({ caPem: pki.authority.ca.certificatePem });

describe('xDS over mTLS', () => {
  it('serves a proxy whose certificate names its node id, and records its ACK', async () => {
    const stream = adsAs(grpcCredentialsOf(pki.enrol('node-a'), trust()), 'node-a');
    const response = await stream.nextResponse();
    expect(response.resources).toHaveLength(1);
    stream.write(sotwRequest({ version_info: response.version_info, response_nonce: response.nonce }));
    await expect.poll(() => server.status.ackedVersion('node-a', CLUSTER_TYPE_URL)).toBe(response.version_info);
  });

  it('refuses another node\'s certificate with PERMISSION_DENIED naming both, and records nothing', async () => {
    const stream = adsAs(grpcCredentialsOf(pki.enrol('node-b'), trust()), 'victim-1');
    const status = await stream.status;
    expect(status.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(status.details).toContain('node id "victim-1" does not match the client certificate, which is node "node-b" (spiffe://weir.local/node/node-b)');
    expect(server.status.get('victim-1')).toBeUndefined();
  });

  it('gives a client without a certificate no stream (TLS refuses it)', async () => {
    const stream = adsAs(grpcCredentialsOf(undefined, trust()), 'victim-2');
    const status = await stream.status;
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
    expect(server.status.get('victim-2')).toBeUndefined();
  });

  it('gives a certificate of another CA with the right SPIFFE ID no stream', async () => {
    const stream = adsAs(grpcCredentialsOf(otherCa.enrol('victim-3'), trust()), 'victim-3');
    const status = await stream.status;
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
    expect(server.status.get('victim-3')).toBeUndefined();
  });

  it('gives an expired certificate no stream', async () => {
    const stream = adsAs(grpcCredentialsOf(pki.enrol('victim-4', { lifetimeMs: -60_000 }), trust()), 'victim-4');
    const status = await stream.status;
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
    expect(server.status.get('victim-4')).toBeUndefined();
  });

  it('ends a stream when its certificate expires', async () => {
    const stream = adsAs(grpcCredentialsOf(pki.enrol('short-lived', { lifetimeMs: 1500 }), trust()), 'short-lived');
    await stream.nextResponse();
    const status = await stream.status;
    expect(status.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(status.details).toMatch(/client certificate of node "short-lived" expired at/);
    await expect.poll(() => server.status.get('short-lived')?.connected).toBe(false);
  });

  it('refuses a certificate superseded by a new enrolment of the same node id and ends its open stream', async () => {
    const firstDir = pki.enrol('node-c');
    const first = grpcCredentialsOf(firstDir, trust());
    const open = adsAs(first, 'node-c');
    await open.nextResponse();
    const copyOfFirst = readNodeCredentials(firstDir);
    pki.enrol('node-c'); // writes a new key and certificate into the same directory
    const ended = await open.status;
    expect(ended.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(ended.details).toContain('was superseded by a new enrolment');
    const reused = adsAs(grpc.credentials.createSsl(Buffer.from(copyOfFirst.caPem), Buffer.from(copyOfFirst.privateKeyPem), Buffer.from(copyOfFirst.certificatePem), { checkServerIdentity: () => undefined }), 'node-c');
    const refused = await reused.status;
    expect(refused.code).toBe(grpc.status.PERMISSION_DENIED);
    const current = adsAs(grpcCredentialsOf(firstDir, trust()), 'node-c');
    expect((await current.nextResponse()).resources).toHaveLength(1);
  });

  it('ends a revoked node\'s streams, refuses it afterwards and does not renew its certificate', async () => {
    const dir = pki.enrol('node-d', { xdsAddress: target });
    const open = adsAs(grpcCredentialsOf(dir, trust()), 'node-d');
    await open.nextResponse();
    expect(pki.authority.revoke('node-d')).toBe(true);
    const ended = await open.status;
    expect(ended.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(ended.details).toMatch(/node "node-d" was revoked at/);
    const again = await adsAs(grpcCredentialsOf(dir, trust()), 'node-d').status;
    expect(again.code).toBe(grpc.status.PERMISSION_DENIED);
    await expect(renewNodeCredentials({ dir })).rejects.toThrow(/certificate renewal refused: node "node-d" was revoked/);
  });

  it('renews a node\'s certificate for a fresh key over the xDS port; the new one is served', async () => {
    const dir = pki.enrol('node-e', { xdsAddress: target });
    const before = readNodeCredentials(dir);
    const renewed = await renewNodeCredentials({ dir });
    const after = readNodeCredentials(dir);
    expect(after.certificate.serialNumber).toBe(renewed.serial);
    expect(after.certificate.serialNumber).not.toBe(before.certificate.serialNumber);
    expect(after.privateKeyPem).not.toBe(before.privateKeyPem);
    expect(after.certificate.subjectAltName).toBe('URI:spiffe://weir.local/node/node-e');
    const stream = adsAs(grpcCredentialsOf(dir, trust()), 'node-e');
    expect((await stream.nextResponse()).resources).toHaveLength(1);
  });
});
