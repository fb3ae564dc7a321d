// What control-plane authentication costs (npm run bench:auth): enrolling a node (EC P-256 key
// pair from node:crypto, a certificate from the weir CA, the enrolment record), and connecting an
// xDS stream with mTLS against plaintext in the same run (a new channel per stream: TLS handshake,
// HTTP/2 set-up, the first DiscoveryRequest and its response). Prints one table; the plaintext
// server exists only as this bench's baseline.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { NodeAuthority } from '../server/pki/node-authority.ts';
import { generateNodeKey, readNodeCredentials, writeNodeCredentials } from '../server/pki/node-credentials.ts';
import { startControlServer, type ControlServer } from '../server/xds/control-server.ts';
import { xdsClientCredentials } from '../server/xds/node-certificate-client.ts';
import { buildStaticCluster, CLUSTER_TYPE_URL } from '../server/xds/resources/cluster.ts';
import { Snapshot } from '../server/xds/snapshot.ts';
import { xdsServicePackage } from '../server/xds/envoy-protos.ts';

const { values } = parseArgs({ options: { nodes: { type: 'string', default: '200' }, streams: { type: 'string', default: '200' } } });
const nodeCount = Number(values.nodes);
const streamCount = Number(values.streams);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-bench-auth-'));
try {
  const authority = new NodeAuthority({ dir: path.join(dir, 'pki'), trustDomain: 'weir.local' });
  authority.enrol('warm-up', generateNodeKey().publicKeyPem);
  const enrolMs = timeEach(nodeCount, (index) => {
    const key = generateNodeKey();
    const grant = authority.enrol(`node-${index}`, key.publicKeyPem);
    writeNodeCredentials(path.join(dir, 'nodes', `node-${index}`), { nodeId: grant.nodeId, trustDomain: grant.trustDomain, xdsAddress: undefined, privateKeyPem: key.privateKeyPem, certificatePem: grant.certificatePem, caPem: grant.caPem });
  });
  const snapshot = new Snapshot([buildStaticCluster({ name: 'c', endpoints: [{ address: '127.0.0.1', port: 9000 }] })]);
  const secure = await startControlServer({ security: { mode: 'mtls', authority }, batchWindowMs: 0, snapshot });
  const plain = await startControlServer({ security: { mode: 'insecure' }, batchWindowMs: 0, snapshot });
  const node = readNodeCredentials(path.join(dir, 'nodes', 'node-0'));
  const mtlsCredentials = xdsClientCredentials({ caPem: node.caPem, trustDomain: node.trustDomain, privateKeyPem: node.privateKeyPem, certificatePem: node.certificatePem });
  await firstResponseMs(secure, mtlsCredentials, 'node-0');
  await firstResponseMs(plain, grpc.credentials.createInsecure(), 'node-0');
  const mtlsMs: number[] = [];
  const plainMs: number[] = [];
  for (let index = 0; index < streamCount; index += 1) {
    mtlsMs.push(await firstResponseMs(secure, mtlsCredentials, 'node-0'));
    plainMs.push(await firstResponseMs(plain, grpc.credentials.createInsecure(), 'node-0'));
  }
  await secure.stop();
  await plain.stop();
  const rows = [
    ['enrol a node (key pair, certificate, record, credentials dir)', enrolMs],
    ['new xDS stream to first response, mTLS', mtlsMs],
    ['new xDS stream to first response, plaintext (baseline)', plainMs],
  ] as const;
  console.log(`${'what'.padEnd(64)} ${'p50 ms'.padStart(8)} ${'p90 ms'.padStart(8)} ${'n'.padStart(5)}`);
  for (const [what, samples] of rows) console.log(`${what.padEnd(64)} ${percentile(samples, 0.5).toFixed(2).padStart(8)} ${percentile(samples, 0.9).toFixed(2).padStart(8)} ${String(samples.length).padStart(5)}`);
  console.log(`mTLS / plaintext (p50): ${(percentile(mtlsMs, 0.5) / percentile(plainMs, 0.5)).toFixed(2)}x`);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}

function timeEach(count: number, run: (index: number) => void): number[] {
  const samples: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const started = performance.now();
    run(index);
    samples.push(performance.now() - started);
  }
  return samples;
}

function firstResponseMs(server: ControlServer, credentials: grpc.ChannelCredentials, nodeId: string): Promise<number> {
  const method = (xdsServicePackage()['envoy.service.discovery.v3.AggregatedDiscoveryService'] as grpc.ServiceDefinition)['StreamAggregatedResources'];
  if (!method) throw new Error('ADS missing from the loaded protos');
  const started = performance.now();
  const client = new grpc.Client(`127.0.0.1:${server.port}`, credentials, { 'grpc.ssl_target_name_override': 'weir-serve' });
  const call = client.makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize);
  return new Promise((resolve, reject) => {
    call.once('data', () => {
      const elapsed = performance.now() - started;
      call.cancel();
      client.close();
      resolve(elapsed);
    });
    call.once('error', (error: grpc.ServiceError) => {
      if (error.code !== grpc.status.CANCELLED) reject(error);
    });
    call.write({ node: { id: nodeId, cluster: 'bench' }, type_url: CLUSTER_TYPE_URL, resource_names: [], version_info: '', response_nonce: '' });
  });
}

function percentile(samples: readonly number[], fraction: number): number {
  const sorted = [...samples].sort((left, right) => left - right);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? 0;
}
