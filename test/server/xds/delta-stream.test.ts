// Scripted-proxy tests of the delta stream: per-resource versions, removals, reconnect with
// initial_resource_versions, subscribe/unsubscribe (honoured on stale nonces), NACK without resend.
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../server/log/logger.ts';
import { serveDeltaStream } from '../../../server/xds/delta-stream.ts';
import type { DeltaDiscoveryRequest, DeltaDiscoveryResponse } from '../../../server/xds/discovery-messages.ts';
import { ProxyStatusRegistry } from '../../../server/xds/proxy-status.ts';
import { ENDPOINT_TYPE_URL } from '../../../server/xds/resources/endpoint.ts';
import { CLUSTER_TYPE_URL } from '../../../server/xds/resources/cluster.ts';
import { DEFAULT_SNAPSHOT_KEY, SnapshotCache } from '../../../server/xds/snapshot-cache.ts';
import { Snapshot } from '../../../server/xds/snapshot.ts';
import { insecureAuthenticator } from '../../../server/pki/peer-authenticator.ts';
import { FakeTransport } from './support/fake-transport.ts';
import { cluster, deltaRequest, loadAssignment, NODE } from './support/resources.ts';

type DeltaTransport = FakeTransport<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

function setup(initial: Snapshot) {
  const cache = new SnapshotCache({ batchWindowMs: 0 });
  cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, initial);
  const status = new ProxyStatusRegistry();
  const open = (): DeltaTransport => {
    const transport: DeltaTransport = new FakeTransport();
    serveDeltaStream(transport, { watcher: cache, status, logger: silentLogger(), controlPlane: { identifier: 'weir-test' }, authenticator: insecureAuthenticator });
    return transport;
  };
  const update = (snapshot: Snapshot): void => cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, snapshot);
  return { open, update, status };
}

const sentNames = (response: DeltaDiscoveryResponse): string[] => response.resources.map((resource) => resource.name).sort();
const ack = (response: DeltaDiscoveryResponse, fields: Partial<DeltaDiscoveryRequest> = {}): DeltaDiscoveryRequest =>
  deltaRequest({ response_nonce: response.nonce, type_url: response.type_url, ...fields });

describe('delta stream', () => {
  it('sends every resource to a wildcard subscriber with its content hash as version', () => {
    const a = cluster('a');
    const { open } = setup(new Snapshot([a, cluster('b')]));
    const proxy = open();
    proxy.request(deltaRequest({ node: NODE }));
    const response = proxy.lastResponse();
    expect(sentNames(response)).toEqual(['a', 'b']);
    expect(response.resources.find((resource) => resource.name === 'a')?.version).toBe(a.hash);
    expect(response.removed_resources).toEqual([]);
    expect(response.nonce).not.toBe('');
  });

  it('after a change sends only the changed resource, and removals in removed_resources; ACKs record what the proxy runs', () => {
    const { open, update, status } = setup(new Snapshot([cluster('a'), cluster('b'), cluster('c')]));
    const proxy = open();
    proxy.request(deltaRequest({ node: NODE }));
    proxy.request(ack(proxy.lastResponse()));
    update(new Snapshot([cluster('a', 1), cluster('b')]));
    expect(proxy.responses).toHaveLength(2);
    expect(sentNames(proxy.lastResponse())).toEqual(['a']);
    expect(proxy.lastResponse().removed_resources).toEqual(['c']);
    expect(status.appliedResourceHash(NODE.id, CLUSTER_TYPE_URL, 'a')).toBe(cluster('a').hash);
    proxy.request(ack(proxy.lastResponse()));
    expect(status.appliedResourceHash(NODE.id, CLUSTER_TYPE_URL, 'a')).toBe(cluster('a', 1).hash);
    expect(status.appliedResourceHash(NODE.id, CLUSTER_TYPE_URL, 'c')).toBeUndefined();
    expect(status.appliedResourceHash(NODE.id, CLUSTER_TYPE_URL, 'b')).toBe(cluster('b').hash);
  });

  it('on reconnect pushes only what differs from initial_resource_versions and removes what is gone', () => {
    const a = cluster('a');
    const { open } = setup(new Snapshot([a, cluster('b', 2)]));
    const proxy = open();
    proxy.request(deltaRequest({ node: NODE, initial_resource_versions: { a: a.hash, b: 'old', gone: 'old' } }));
    const response = proxy.lastResponse();
    expect(sentNames(response)).toEqual(['b']);
    expect(response.removed_resources).toEqual(['gone']);
  });

  it('sends nothing to a reconnecting proxy that already has everything', () => {
    const a = cluster('a');
    const b = cluster('b');
    const { open } = setup(new Snapshot([a, b]));
    const proxy = open();
    proxy.request(deltaRequest({ node: NODE, initial_resource_versions: { a: a.hash, b: b.hash } }));
    expect(proxy.responses).toHaveLength(0);
  });

  it('sends subscribed names only, resends a name subscribed again, and sends a late name when it appears', () => {
    const { open, update } = setup(new Snapshot([loadAssignment('a'), loadAssignment('b')]));
    const proxy = open();
    proxy.request(deltaRequest({ node: NODE, type_url: ENDPOINT_TYPE_URL, resource_names_subscribe: ['a', 'later'] }));
    expect(sentNames(proxy.lastResponse())).toEqual(['a']);
    proxy.request(ack(proxy.lastResponse(), { resource_names_subscribe: ['a'] }));
    expect(sentNames(proxy.lastResponse())).toEqual(['a']);
    expect(proxy.responses).toHaveLength(2);
    proxy.request(ack(proxy.lastResponse()));
    update(new Snapshot([loadAssignment('a'), loadAssignment('b'), loadAssignment('later')]));
    expect(proxy.responses).toHaveLength(3);
    expect(sentNames(proxy.lastResponse())).toEqual(['later']);
  });

  it('stops sending an unsubscribed name', () => {
    const { open, update } = setup(new Snapshot([loadAssignment('a'), loadAssignment('b')]));
    const proxy = open();
    proxy.request(deltaRequest({ node: NODE, type_url: ENDPOINT_TYPE_URL, resource_names_subscribe: ['a', 'b'] }));
    proxy.request(ack(proxy.lastResponse(), { resource_names_unsubscribe: ['b'] }));
    update(new Snapshot([loadAssignment('a'), loadAssignment('b', 7)]));
    expect(proxy.responses).toHaveLength(1);
  });

  it('honours a subscription change that carries a stale nonce, once the in-flight response is answered', () => {
    const { open, update } = setup(new Snapshot([loadAssignment('a'), loadAssignment('b')]));
    const proxy = open();
    proxy.request(deltaRequest({ node: NODE, type_url: ENDPOINT_TYPE_URL, resource_names_subscribe: ['a'] }));
    const first = proxy.lastResponse();
    proxy.request(ack(first));
    update(new Snapshot([loadAssignment('a', 1), loadAssignment('b')]));
    const second = proxy.lastResponse();
    proxy.request(ack(first, { resource_names_subscribe: ['b'] }));
    expect(proxy.responses).toHaveLength(2);
    proxy.request(ack(second));
    expect(proxy.responses).toHaveLength(3);
    expect(sentNames(proxy.lastResponse())).toEqual(['b']);
  });

  it('records a NACK and does not resend the rejected resources unchanged', () => {
    const { open, update, status } = setup(new Snapshot([cluster('a')]));
    const proxy = open();
    proxy.request(deltaRequest({ node: NODE }));
    proxy.request(ack(proxy.lastResponse()));
    update(new Snapshot([cluster('a', 1)]));
    const rejected = proxy.lastResponse();
    proxy.request(ack(rejected, { error_detail: { code: 13, message: 'cluster a: bad endpoint' } }));
    expect(proxy.responses).toHaveLength(2);
    expect(status.get(NODE.id)?.types[0]?.lastNack).toMatchObject({ version: rejected.system_version_info, message: 'cluster a: bad endpoint' });
    update(new Snapshot([cluster('a', 2)]));
    expect(proxy.responses).toHaveLength(3);
  });

  it('keeps one response in flight for a proxy that never ACKs', () => {
    const { open, update } = setup(new Snapshot([cluster('a')]));
    const proxy = open();
    proxy.request(deltaRequest({ node: NODE }));
    update(new Snapshot([cluster('a', 1)]));
    update(new Snapshot([cluster('a', 2)]));
    expect(proxy.responses).toHaveLength(1);
  });
});
