// The xDS streams' own gRPC call handling (grpc-stream.ts) as a grpc-js client sees it over mTLS:
// a half-close ends the call with OK after its answer, a compressed request ends it with
// UNIMPLEMENTED and says why.
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startControlServer } from '../../../server/xds/control-server.ts';
import type { DiscoveryRequest } from '../../../server/xds/discovery-messages.ts';
import { envoyMessageType } from '../../../server/xds/envoy-protos.ts';
import { Snapshot } from '../../../server/xds/snapshot.ts';
import { cluster, NODE, sotwRequest } from './support/resources.ts';
import { createTestPki, grpcCredentialsOf } from '../../support/test-pki.ts';

const ADS_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const pki = createTestPki();
const nodeCredentials = grpcCredentialsOf(pki.enrol(NODE.id), { caPem: pki.authority.ca.certificatePem });
afterAll(() => pki.remove());

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function adsCall(options: grpc.ChannelOptions = {}): Promise<{ call: grpc.ClientDuplexStream<Buffer, Buffer>; status: Promise<grpc.StatusObject>; firstResponse: Promise<Buffer> }> {
  const server = await startControlServer({ security: pki.security, batchWindowMs: 0, snapshot: new Snapshot([cluster('a')]) });
  cleanups.push(() => server.stop());
  const client = new grpc.Client(`127.0.0.1:${server.port}`, nodeCredentials, { 'grpc.ssl_target_name_override': 'weir-serve', ...options });
  cleanups.push(() => client.close());
  const call = client.makeBidiStreamRequest<Buffer, Buffer>(ADS_PATH, (bytes) => bytes, (bytes) => bytes);
  cleanups.push(() => call.cancel());
  call.on('error', () => {});
  return {
    call,
    firstResponse: new Promise((resolve) => call.once('data', resolve)),
    status: new Promise((resolve) => call.on('status', resolve)),
  };
}

function encodeRequest(request: Partial<DiscoveryRequest>): Buffer {
  const type = envoyMessageType('envoy.service.discovery.v3.DiscoveryRequest');
  return Buffer.from(type.encode(type.fromObject(sotwRequest(request))).finish());
}

describe('xDS streams served on HTTP/2 directly', () => {
  it('ends the call with OK when the proxy half-closes, after answering it', async () => {
    const { call, status, firstResponse } = await adsCall();
    call.write(encodeRequest({ node: NODE }));
    expect((await firstResponse).length).toBeGreaterThan(0);
    call.end();
    expect((await status).code).toBe(grpc.status.OK);
  });

  it('ends the call with UNIMPLEMENTED when the client compresses its requests', async () => {
    const { call, status } = await adsCall({ 'grpc.default_compression_algorithm': 2 });
    call.write(encodeRequest({ node: NODE }));
    const ended = await status;
    expect(ended.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(ended.details).toContain('compressed');
  });
});
