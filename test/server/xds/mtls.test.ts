// mTLS on the xDS port: a proxy whose node id matches its certificate's SAN gets config; a proxy
// claiming another node's id is refused with PERMISSION_DENIED; one without a certificate never
// gets a stream. Certificates are made with openssl for each run.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admitNodeMatchingCertificate, startControlServer, type ControlServer } from '../../../server/xds/control-server.ts';
import { Snapshot } from '../../../server/xds/snapshot.ts';
import { openAds } from './support/grpc-client.ts';
import { cluster, sotwRequest } from './support/resources.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-mtls-'));
const file = (name: string): string => path.join(dir, name);
let server: ControlServer;

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function issue(name: string, subjectAltName: string): void {
  fs.writeFileSync(file(`${name}.ext`), `subjectAltName=${subjectAltName}\n`);
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.ext`);
}

function clientCredentials(name: string | undefined): grpc.ChannelCredentials {
  const ca = fs.readFileSync(file('ca.crt'));
  if (!name) return grpc.credentials.createSsl(ca);
  return grpc.credentials.createSsl(ca, fs.readFileSync(file(`${name}.key`)), fs.readFileSync(file(`${name}.crt`)));
}

beforeAll(async () => {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=weir-test-ca');
  issue('server', 'IP:127.0.0.1,DNS:localhost');
  issue('proxy-a', 'URI:spiffe://weir.test/ns/default/node-a');
  server = await startControlServer({
    batchWindowMs: 0,
    snapshot: new Snapshot([cluster('a')]),
    tls: { certFile: file('server.crt'), keyFile: file('server.key'), clientCaFile: file('ca.crt') },
  });
}, 30_000);

afterAll(async () => {
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('xDS over mTLS', () => {
  it('serves a proxy whose node id is the last segment of its certificate\'s SPIFFE id', async () => {
    const stream = openAds(`127.0.0.1:${server.port}`, clientCredentials('proxy-a'));
    stream.write(sotwRequest({ node: { id: 'node-a', cluster: 'c' } }));
    const response = await stream.nextResponse();
    expect(response.resources).toHaveLength(1);
    stream.close();
  });

  it('refuses a proxy that claims another node id, naming both', async () => {
    const stream = openAds(`127.0.0.1:${server.port}`, clientCredentials('proxy-a'));
    stream.write(sotwRequest({ node: { id: 'node-b', cluster: 'c' } }));
    const status = await stream.status;
    expect(status.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(status.details).toContain('node id "node-b" does not match the client certificate (spiffe://weir.test/ns/default/node-a)');
    stream.close();
  });

  it('gives a client without a certificate no stream', async () => {
    const stream = openAds(`127.0.0.1:${server.port}`, clientCredentials(undefined));
    stream.write(sotwRequest({ node: { id: 'node-a', cluster: 'c' } }));
    const status = await stream.status;
    expect(status.code).toBe(grpc.status.UNAVAILABLE);
    expect(server.status.get('node-a')?.openStreams ?? 0).toBe(0);
    stream.close();
  });

  it('admission accepts an exact SAN match and rejects a suffix that is not a path segment', () => {
    expect(admitNodeMatchingCertificate({ id: 'envoy-1', cluster: '' }, ['envoy-1'])).toBeUndefined();
    expect(admitNodeMatchingCertificate({ id: 'a', cluster: '' }, ['spiffe://weir/ns/x/ba'])).toMatch(/does not match/);
  });
});
