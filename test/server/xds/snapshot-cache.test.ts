// The snapshot cache: content-hash versions, batching window, push order across types, what a
// named SotW watch is sent.
import { describe, expect, it } from 'vitest';
import { CLUSTER_TYPE_URL } from '../../../server/xds/resources/cluster.ts';
import { LISTENER_TYPE_URL } from '../../../server/xds/resources/listener.ts';
import { DEFAULT_SNAPSHOT_KEY, SnapshotCache } from '../../../server/xds/snapshot-cache.ts';
import { Snapshot } from '../../../server/xds/snapshot.ts';
import { cluster, NODE } from './support/resources.ts';
import { buildExtensionConfig, EXTENSION_CONFIG_TYPE_URL } from '../../../server/xds/resources/extension-config.ts';
import { packAny } from '../../../server/xds/resources/encoded-resource.ts';

const filterConfig = (name: string) =>
  buildExtensionConfig(name, packAny('type.googleapis.com/google.protobuf.StringValue', { value: name }));

const wildcard = (typeUrl: string) => ({ node: NODE, typeUrl, wildcard: true, resourceNames: new Set<string>() });
const nothingDelivered = { deliveredVersion: undefined, deliveredNames: new Set<string>(), deliveredHashes: new Map<string, string>() };

describe('snapshot versions', () => {
  it('are content hashes: equal content gives the same version in a new process, other content another', () => {
    const first = new Snapshot([cluster('a'), cluster('b')]).forType(CLUSTER_TYPE_URL).version;
    const sameContentOtherOrder = new Snapshot([cluster('b'), cluster('a')]).forType(CLUSTER_TYPE_URL).version;
    const changed = new Snapshot([cluster('a'), cluster('b', 1)]).forType(CLUSTER_TYPE_URL).version;
    expect(sameContentOtherOrder).toBe(first);
    expect(changed).not.toBe(first);
  });

  it('rejects two resources of one type with the same name', () => {
    expect(() => new Snapshot([cluster('a'), cluster('a', 1)])).toThrow(/two .*Cluster resources named "a"/);
  });
});

describe('SnapshotCache', () => {
  it('coalesces changes inside the batching window into one answer', async () => {
    const cache = new SnapshotCache({ batchWindowMs: 40 });
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, new Snapshot([cluster('a')]));
    const versions: string[] = [];
    const delivered = { ...nothingDelivered, deliveredVersion: new Snapshot([cluster('a')]).forType(CLUSTER_TYPE_URL).version };
    const answered = new Promise<void>((resolve) => {
      cache
        .openWatch(wildcard(CLUSTER_TYPE_URL), delivered, (response) => {
          versions.push(response.version);
          resolve();
        })
        .arm();
    });
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, new Snapshot([cluster('a', 1)]));
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, new Snapshot([cluster('a', 2)]));
    expect(versions).toEqual([]);
    await answered;
    // The one answer carries the last change: the first was folded into it, not sent on its own.
    expect(versions).toEqual([new Snapshot([cluster('a', 2)]).forType(CLUSTER_TYPE_URL).version]);
    cache.close();
  });

  it('answers waiting watches in push order: clusters before listeners', () => {
    const cache = new SnapshotCache({ batchWindowMs: 0 });
    const order: string[] = [];
    cache.openWatch(wildcard(LISTENER_TYPE_URL), nothingDelivered, (response) => order.push(response.typeUrl)).arm();
    cache.openWatch(wildcard(CLUSTER_TYPE_URL), nothingDelivered, (response) => order.push(response.typeUrl)).arm();
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, new Snapshot([cluster('a')]));
    expect(order).toEqual([CLUSTER_TYPE_URL, LISTENER_TYPE_URL]);
  });

  it('answers removals last and in reverse push order: extension configs before the clusters', () => {
    const cache = new SnapshotCache({ batchWindowMs: 0 });
    const both = new Snapshot([cluster('a'), cluster('b'), filterConfig('f'), filterConfig('g')]);
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, both);
    const deliveredOf = (typeUrl: string) => {
      const ofType = both.forType(typeUrl);
      const hashes = new Map([...ofType.resources].map(([name, resource]) => [name, resource.hash]));
      return { deliveredVersion: ofType.version, deliveredNames: new Set(hashes.keys()), deliveredHashes: hashes };
    };
    const order: string[] = [];
    cache.openWatch(wildcard(CLUSTER_TYPE_URL), deliveredOf(CLUSTER_TYPE_URL), (response) => order.push(response.typeUrl)).arm();
    cache.openWatch(wildcard(EXTENSION_CONFIG_TYPE_URL), deliveredOf(EXTENSION_CONFIG_TYPE_URL), (response) => order.push(response.typeUrl)).arm();
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, new Snapshot([cluster('a'), filterConfig('f')]));
    expect(order).toEqual([EXTENSION_CONFIG_TYPE_URL, CLUSTER_TYPE_URL]);
  });

  it('answers an armed watch once, again only when armed again, and forgets a cancelled one', () => {
    const cache = new SnapshotCache({ batchWindowMs: 0 });
    let answers = 0;
    const watch = cache.openWatch(wildcard(CLUSTER_TYPE_URL), nothingDelivered, () => answers++);
    watch.arm();
    expect(cache.openWatchCount()).toBe(1);
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, new Snapshot([cluster('a')]));
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, new Snapshot([cluster('a', 1)]));
    expect(answers).toBe(1);
    expect(cache.openWatchCount()).toBe(0);
    // Armed again with nothing delivered: the current snapshot is new to it, answered at once.
    watch.arm();
    expect(answers).toBe(2);

    const cancelled = cache.openWatch(wildcard(CLUSTER_TYPE_URL), { ...nothingDelivered, deliveredVersion: new Snapshot([cluster('a', 1)]).forType(CLUSTER_TYPE_URL).version }, () => answers++);
    cancelled.arm();
    expect(cache.openWatchCount()).toBe(1);
    cancelled.cancel();
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, new Snapshot([cluster('a', 2)]));
    expect(answers).toBe(2);
    expect(cache.openWatchCount()).toBe(0);
  });

  it('sends a named SotW watch the resources it names that exist, with their hashes, whether it names all of the type or some', () => {
    const cache = new SnapshotCache({ batchWindowMs: 0 });
    const snapshot = new Snapshot([cluster('a'), cluster('b'), cluster('c')]);
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, snapshot);
    const sent = (names: string[]): Array<[string, string]> => {
      let answer: Array<[string, string]> = [];
      const request = { node: NODE, typeUrl: CLUSTER_TYPE_URL, wildcard: false, resourceNames: new Set(names) };
      cache.openWatch(request, nothingDelivered, (response) => {
        answer = response.resources.map((resource) => [resource.name, response.hashes.get(resource.name) ?? 'no hash']);
        expect(response.resources).toHaveLength(response.hashes.size);
      }).arm();
      return answer.sort(([left], [right]) => left.localeCompare(right));
    };
    const hashOf = (name: string): string => snapshot.forType(CLUSTER_TYPE_URL).resources.get(name)?.hash ?? 'absent';
    expect(sent(['c', 'a', 'b'])).toEqual([['a', hashOf('a')], ['b', hashOf('b')], ['c', hashOf('c')]]);
    expect(sent(['b', 'a'])).toEqual([['a', hashOf('a')], ['b', hashOf('b')]]);
    expect(sent(['a', 'b', 'gone'])).toEqual([['a', hashOf('a')], ['b', hashOf('b')]]);
  });
});
