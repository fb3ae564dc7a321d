// Scripted-proxy tests of the state-of-the-world stream: ACK/NACK, stale nonces, one response in
// flight, wildcard and named subscriptions, reconnects, node admission.
import { describe, expect, it } from 'vitest';
import { envoyMessageType } from '../../../server/xds/envoy-protos.ts';
import { silentLogger } from '../../../server/log/logger.ts';
import type { DiscoveryRequest, DiscoveryResponse } from '../../../server/xds/discovery-messages.ts';
import { StreamStatus } from '../../../server/xds/discovery-messages.ts';
import { ProxyStatusRegistry } from '../../../server/xds/proxy-status.ts';
import { CLUSTER_TYPE_URL } from '../../../server/xds/resources/cluster.ts';
import { ENDPOINT_TYPE_URL } from '../../../server/xds/resources/endpoint.ts';
import { DEFAULT_SNAPSHOT_KEY, SnapshotCache } from '../../../server/xds/snapshot-cache.ts';
import { Snapshot } from '../../../server/xds/snapshot.ts';
import { serveSotwStream } from '../../../server/xds/sotw-stream.ts';
import type { StreamContext } from '../../../server/xds/stream-context.ts';
import { insecureAuthenticator } from '../../../server/pki/peer-authenticator.ts';
import { capturingLogger } from '../../support/capturing-logger.ts';
import { FakeTransport } from './support/fake-transport.ts';
import { cluster, loadAssignment, NODE, sotwRequest } from './support/resources.ts';

type SotwTransport = FakeTransport<DiscoveryRequest, DiscoveryResponse>;

function setup(initial = new Snapshot([cluster('a'), cluster('b')])) {
  const cache = new SnapshotCache({ batchWindowMs: 0 });
  cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, initial);
  const status = new ProxyStatusRegistry();
  const context: StreamContext = { watcher: cache, status, logger: silentLogger(), controlPlane: { identifier: 'weir-test' }, authenticator: insecureAuthenticator };
  const open = (): SotwTransport => {
    const transport: SotwTransport = new FakeTransport();
    serveSotwStream(transport, context);
    return transport;
  };
  return { cache, status, open, context };
}

function names(response: DiscoveryResponse): string[] {
  const clusterType = envoyMessageType('envoy.config.cluster.v3.Cluster');
  return response.resources.map((resource) => String(clusterType.toObject(clusterType.decode(resource.value)).name));
}

describe('SotW stream', () => {
  it('answers a wildcard request with every resource, a version, a nonce and the control plane id', () => {
    const { open } = setup();
    const proxy = open();
    proxy.request(sotwRequest({ node: NODE }));
    expect(proxy.responses).toHaveLength(1);
    const response = proxy.lastResponse();
    expect(response.type_url).toBe(CLUSTER_TYPE_URL);
    expect(response.version_info).toMatch(/^[0-9a-f]{16}$/);
    expect(response.nonce).toBe('1');
    expect(response.control_plane.identifier).toBe('weir-test');
    expect(response.resources.map((resource) => resource.type_url)).toEqual([CLUSTER_TYPE_URL, CLUSTER_TYPE_URL]);
    expect(names(response).sort()).toEqual(['a', 'b']);
  });

  it('records an ACK (echoed nonce, no error_detail) as the applied version', () => {
    const { open, status } = setup();
    const proxy = open();
    proxy.request(sotwRequest({ node: NODE }));
    const sent = proxy.lastResponse();
    proxy.request(sotwRequest({ version_info: sent.version_info, response_nonce: sent.nonce }));
    const state = status.get(NODE.id)?.types.find((type) => type.typeUrl === CLUSTER_TYPE_URL);
    expect(state?.ackedVersion).toBe(sent.version_info);
    expect(state?.awaitingReply).toBe(false);
    expect(proxy.responses).toHaveLength(1);
    expect(status.appliedResourceHash(NODE.id, CLUSTER_TYPE_URL, 'a')).toBe(cluster('a').hash);
  });

  it('records a NACK with Envoy\'s message and never resends the rejected version unchanged', () => {
    const { open, status, cache } = setup();
    const proxy = open();
    proxy.request(sotwRequest({ node: NODE }));
    const first = proxy.lastResponse();
    proxy.request(sotwRequest({ version_info: first.version_info, response_nonce: first.nonce }));
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, new Snapshot([cluster('a', 1)]));
    const rejected = proxy.lastResponse();
    expect(rejected.version_info).not.toBe(first.version_info);
    proxy.request(
      sotwRequest({ version_info: first.version_info, response_nonce: rejected.nonce, error_detail: { code: 13, message: 'bad cluster a' } }),
    );
    expect(proxy.responses).toHaveLength(2);
    const state = status.get(NODE.id)?.types.find((type) => type.typeUrl === CLUSTER_TYPE_URL);
    expect(state?.lastNack).toMatchObject({ version: rejected.version_info, message: 'bad cluster a' });
    expect(state?.ackedVersion).toBe(first.version_info);
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, new Snapshot([cluster('a', 2)]));
    expect(proxy.responses).toHaveLength(3);
    expect(proxy.lastResponse().version_info).not.toBe(rejected.version_info);
  });

  it('keeps one response in flight per type: changes wait for the ACK, and the latest wins', () => {
    const { open, cache } = setup();
    const proxy = open();
    proxy.request(sotwRequest({ node: NODE }));
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, new Snapshot([cluster('a', 1)]));
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, new Snapshot([cluster('a', 2)]));
    expect(proxy.responses).toHaveLength(1);
    const first = proxy.lastResponse();
    proxy.request(sotwRequest({ version_info: first.version_info, response_nonce: first.nonce }));
    expect(proxy.responses).toHaveLength(2);
    expect(proxy.lastResponse().version_info).toBe(new Snapshot([cluster('a', 2)]).forType(CLUSTER_TYPE_URL).version);
  });

  it('ignores a request that echoes a stale nonce, even one that changes the subscription', () => {
    const { open, cache, status } = setup(new Snapshot([loadAssignment('a'), loadAssignment('b')]));
    const proxy = open();
    proxy.request(sotwRequest({ node: NODE, type_url: ENDPOINT_TYPE_URL, resource_names: ['a'] }));
    const first = proxy.lastResponse();
    proxy.request(sotwRequest({ type_url: ENDPOINT_TYPE_URL, resource_names: ['a'], version_info: first.version_info, response_nonce: first.nonce }));
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, new Snapshot([loadAssignment('a', 1), loadAssignment('b')]));
    const second = proxy.lastResponse();
    expect(second.nonce).not.toBe(first.nonce);
    proxy.request(sotwRequest({ type_url: ENDPOINT_TYPE_URL, resource_names: ['a', 'b'], version_info: 'x', response_nonce: first.nonce, error_detail: { code: 3, message: 'late' } }));
    expect(proxy.responses).toHaveLength(2);
    const state = status.get(NODE.id)?.types.find((type) => type.typeUrl === ENDPOINT_TYPE_URL);
    expect(state?.lastNack).toBeUndefined();
    expect(state?.awaitingReply).toBe(true);
    expect(state?.sentVersion).toBe(second.version_info);
  });

  it('sends named resources only, waits for names that do not exist yet, and sends them when they appear', () => {
    const { open, cache } = setup(new Snapshot([loadAssignment('a'), loadAssignment('b')]));
    const proxy = open();
    proxy.request(sotwRequest({ node: NODE, type_url: ENDPOINT_TYPE_URL, resource_names: ['a', 'missing'] }));
    const first = proxy.lastResponse();
    expect(first.resources).toHaveLength(1);
    proxy.request(sotwRequest({ type_url: ENDPOINT_TYPE_URL, resource_names: ['a', 'missing'], version_info: first.version_info, response_nonce: first.nonce }));
    expect(proxy.responses).toHaveLength(1);
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, new Snapshot([loadAssignment('a'), loadAssignment('b'), loadAssignment('missing')]));
    expect(proxy.responses).toHaveLength(2);
    expect(proxy.lastResponse().resources).toHaveLength(2);
  });

  it('resends when the proxy subscribes to another name, even if nothing changed', () => {
    const { open } = setup(new Snapshot([loadAssignment('a'), loadAssignment('b')]));
    const proxy = open();
    proxy.request(sotwRequest({ node: NODE, type_url: ENDPOINT_TYPE_URL, resource_names: ['a'] }));
    const first = proxy.lastResponse();
    proxy.request(sotwRequest({ type_url: ENDPOINT_TYPE_URL, resource_names: ['a', 'b'], version_info: first.version_info, response_nonce: first.nonce }));
    expect(proxy.responses).toHaveLength(2);
    expect(proxy.lastResponse().resources).toHaveLength(2);
    expect(proxy.lastResponse().version_info).toBe(first.version_info);
  });

  it('treats an empty name list after named ones as "nothing", not as wildcard', () => {
    const { open } = setup(new Snapshot([loadAssignment('a'), loadAssignment('b')]));
    const proxy = open();
    proxy.request(sotwRequest({ node: NODE, type_url: ENDPOINT_TYPE_URL, resource_names: ['a'] }));
    const first = proxy.lastResponse();
    proxy.request(sotwRequest({ type_url: ENDPOINT_TYPE_URL, resource_names: [], version_info: first.version_info, response_nonce: first.nonce }));
    expect(proxy.responses).toHaveLength(1);
  });

  it('does not resend to a reconnecting proxy that reports the current version', () => {
    const { open } = setup();
    const before = open();
    before.request(sotwRequest({ node: NODE }));
    const version = before.lastResponse().version_info;
    before.disconnect();
    const after = open();
    after.request(sotwRequest({ node: NODE, version_info: version }));
    expect(after.responses).toHaveLength(0);
    const stale = open();
    stale.request(sotwRequest({ node: NODE, version_info: 'from-another-server' }));
    expect(stale.responses).toHaveLength(1);
  });

  it('serves two streams of one node independently and counts both as open', () => {
    const { open, status } = setup();
    const first = open();
    const second = open();
    first.request(sotwRequest({ node: NODE }));
    second.request(sotwRequest({ node: NODE }));
    expect(first.responses).toHaveLength(1);
    expect(second.responses).toHaveLength(1);
    expect(status.get(NODE.id)?.openStreams).toBe(2);
    first.disconnect();
    expect(status.get(NODE.id)?.connected).toBe(true);
    second.disconnect();
    expect(status.get(NODE.id)?.connected).toBe(false);
  });

  it('refuses a stream whose first request has no node', () => {
    const { open } = setup();
    const proxy = open();
    proxy.request(sotwRequest());
    expect(proxy.failure?.status).toBe(StreamStatus.InvalidArgument);
    expect(proxy.failure?.message).toContain('node.id');
    expect(proxy.responses).toHaveLength(0);
  });

  it('logs "proxy connected" and "proxy disconnected" once per proxy, not per stream', () => {
    const { context } = setup();
    const { logger, entries } = capturingLogger();
    const open = (): SotwTransport => {
      const transport: SotwTransport = new FakeTransport();
      serveSotwStream(transport, { ...context, logger });
      transport.request(sotwRequest({ node: NODE }));
      return transport;
    };
    const envoyStream = open();
    const agentStream = open(); // an Envoy's own ADS stream and its Weir agent's
    const messages = (): unknown[] => entries.map((entry) => entry['msg']).filter((msg) => msg === 'proxy connected' || msg === 'proxy disconnected');
    expect(messages()).toEqual(['proxy connected']);
    agentStream.disconnect();
    expect(messages()).toEqual(['proxy connected']);
    envoyStream.disconnect();
    expect(messages()).toEqual(['proxy connected', 'proxy disconnected']);
  });

  it('refuses a node the authenticator rejects, with its reason, and records no proxy', () => {
    const { context, status } = setup();
    const proxy: SotwTransport = new FakeTransport('peer', { uris: ['spiffe://weir.local/node/other'], serial: '01', notAfter: new Date(Date.now() + 60_000) });
    const refusing = { mode: 'mtls' as const, authenticate: () => ({ refusal: 'node id "node-a" does not match the client certificate' }) };
    serveSotwStream(proxy, { ...context, authenticator: refusing });
    proxy.request(sotwRequest({ node: NODE }));
    expect(proxy.failure).toEqual({ status: StreamStatus.PermissionDenied, message: 'xDS stream refused: node id "node-a" does not match the client certificate' });
    expect(proxy.responses).toHaveLength(0);
    expect(status.get(NODE.id)).toBeUndefined();
  });

  it('ends the stream with UNAUTHENTICATED when its authentication ends (expired certificate, revoked node)', () => {
    const { context } = setup();
    const proxy: SotwTransport = new FakeTransport();
    let endSession: (reason: string) => void = () => undefined;
    const ending = {
      mode: 'mtls' as const,
      authenticate: (nodeId: string) => ({
        session: { nodeId, method: 'mtls' as const, onEnd: (listener: (reason: string) => void) => (endSession = listener), close: () => undefined },
      }),
    };
    serveSotwStream(proxy, { ...context, authenticator: ending });
    proxy.request(sotwRequest({ node: NODE }));
    expect(proxy.failure).toBeUndefined();
    endSession('node "node-a" was revoked');
    expect(proxy.failure).toEqual({ status: StreamStatus.Unauthenticated, message: 'node "node-a" was revoked' });
  });

  it('gives a proxy with a snapshot of its own only that snapshot', () => {
    const { open, cache } = setup();
    cache.setSnapshot(NODE.id, new Snapshot([cluster('own')]));
    const mine = open();
    mine.request(sotwRequest({ node: NODE }));
    expect(names(mine.lastResponse())).toEqual(['own']);
    const other = open();
    other.request(sotwRequest({ node: { id: 'node-b', cluster: 'test' } }));
    expect(names(other.lastResponse()).sort()).toEqual(['a', 'b']);
  });
});
