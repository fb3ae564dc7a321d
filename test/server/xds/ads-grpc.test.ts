// The gRPC binding over the wire (mTLS, as node-a): ADS (SotW and delta) and a per-type service
// answer with resources that decode as Envoy messages; a stream without a node ends with
// INVALID_ARGUMENT. Who may connect is test/server/xds/mtls.test.ts.
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startControlServer, type ControlServer } from '../../../server/xds/control-server.ts';
import type { DiscoveryRequest, DiscoveryResponse } from '../../../server/xds/discovery-messages.ts';
import { envoyMessageType } from '../../../server/xds/envoy-protos.ts';
import { CLUSTER_TYPE_URL } from '../../../server/xds/resources/cluster.ts';
import { Snapshot } from '../../../server/xds/snapshot.ts';
import { openAds, openDeltaAds, openStream } from './support/grpc-client.ts';
import { cluster, deltaRequest, NODE, sotwRequest } from './support/resources.ts';
import { createTestPki, grpcCredentialsOf } from '../../support/test-pki.ts';

const pki = createTestPki();
const nodeCredentials = grpcCredentialsOf(pki.enrol(NODE.id), { caPem: pki.authority.ca.certificatePem });
afterAll(() => pki.remove());

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(): Promise<{ server: ControlServer; target: string }> {
  const server = await startControlServer({ security: pki.security, batchWindowMs: 0, snapshot: new Snapshot([cluster('a'), cluster('b')]) });
  cleanups.push(() => server.stop());
  return { server, target: `127.0.0.1:${server.port}` };
}

function clusterNames(response: { resources: Array<{ value: Uint8Array }> }): string[] {
  const clusterType = envoyMessageType('envoy.config.cluster.v3.Cluster');
  return response.resources.map((resource) => String(clusterType.toObject(clusterType.decode(resource.value)).name)).sort();
}

describe('xDS over gRPC', () => {
  it('ADS state of the world: the response carries the clusters as Any bytes, a version and a nonce; the ACK is recorded', async () => {
    const { server, target } = await serve();
    const stream = openAds(target, nodeCredentials);
    cleanups.push(() => stream.close());
    stream.write(sotwRequest({ node: NODE }));
    const response = await stream.nextResponse();
    expect(response.type_url).toBe(CLUSTER_TYPE_URL);
    expect(response.resources.every((resource) => resource.type_url === CLUSTER_TYPE_URL)).toBe(true);
    expect(clusterNames(response)).toEqual(['a', 'b']);
    stream.write(sotwRequest({ version_info: response.version_info, response_nonce: response.nonce }));
    await expect.poll(() => server.status.ackedVersion(NODE.id, CLUSTER_TYPE_URL)).toBe(response.version_info);
  });

  it('delta ADS: resources carry their names and versions', async () => {
    const { target } = await serve();
    const stream = openDeltaAds(target, nodeCredentials);
    cleanups.push(() => stream.close());
    stream.write(deltaRequest({ node: NODE }));
    const response = await stream.nextResponse();
    expect(response.resources.map((resource) => resource.name).sort()).toEqual(['a', 'b']);
    expect(response.resources[0]?.version).toMatch(/^[0-9a-f]{64}$/);
    expect(clusterNames({ resources: response.resources.map((resource) => resource.resource) })).toEqual(['a', 'b']);
  });

  it('serves the per-type CDS service, filling in the type URL a request leaves empty', async () => {
    const { target } = await serve();
    const stream = openStream<DiscoveryRequest, DiscoveryResponse>(
      target,
      nodeCredentials,
      'envoy.service.cluster.v3.ClusterDiscoveryService',
      'StreamClusters',
    );
    cleanups.push(() => stream.close());
    stream.write(sotwRequest({ node: NODE, type_url: '' }));
    const response = await stream.nextResponse();
    expect(response.type_url).toBe(CLUSTER_TYPE_URL);
    expect(clusterNames(response)).toEqual(['a', 'b']);
  });

  it('ends a stream whose first request has no node with INVALID_ARGUMENT and says why', async () => {
    const { server, target } = await serve();
    const stream = openAds(target, nodeCredentials);
    cleanups.push(() => stream.close());
    stream.write(sotwRequest());
    const status = await stream.status;
    expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(status.details).toContain('must carry node.id');
    expect(server.listProxies()).toEqual([]);
  });

  it('marks a proxy disconnected when its stream goes away', async () => {
    const { server, target } = await serve();
    const stream = openAds(target, nodeCredentials);
    stream.write(sotwRequest({ node: NODE }));
    await stream.nextResponse();
    expect(server.status.get(NODE.id)?.connected).toBe(true);
    stream.close();
    await expect.poll(() => server.status.get(NODE.id)?.connected).toBe(false);
  });
});
