// Fan-out bookkeeping of the snapshot cache: a change to one node's snapshot answers that node's
// watches only, a default-snapshot change reaches every node that has no snapshot of its own,
// clearing a node's snapshot falls back to the default, and types whose version did not change
// stay quiet. Several changes within one batching window add up: a type that changed and changed
// back, a node that leaves the default snapshot while the default changes, and a watch armed
// between two changes are all still answered (what any cheaper flush must keep doing). A flush
// over a large fleet answers it a slice of nodes per turn of the event loop: every node is still
// answered, each node's answers in push order, a second flush waits for the first, and closing
// the cache stops the rest.
import { describe, expect, it, vi } from 'vitest';
import { CLUSTER_TYPE_URL } from '../../../server/xds/resources/cluster.ts';
import { buildRedirectListener, LISTENER_TYPE_URL } from '../../../server/xds/resources/listener.ts';
import type { NodeIdentity, SotwSubscriptionView, SotwWatchResponse } from '../../../server/xds/config-watcher.ts';
import { DEFAULT_SNAPSHOT_KEY, SnapshotCache } from '../../../server/xds/snapshot-cache.ts';
import { Snapshot } from '../../../server/xds/snapshot.ts';
import { cluster } from './support/resources.ts';

const nodeA: NodeIdentity = { id: 'node-a', cluster: 'test' };
const nodeB: NodeIdentity = { id: 'node-b', cluster: 'test' };
const nothingDelivered: SotwSubscriptionView = { deliveredVersion: undefined, deliveredNames: new Set<string>(), deliveredHashes: new Map<string, string>() };

function watchClusters(cache: SnapshotCache, node: NodeIdentity, answers: string[], delivered = nothingDelivered): void {
  cache
    .openWatch({ node, typeUrl: CLUSTER_TYPE_URL, wildcard: true, resourceNames: new Set() }, delivered, (response: SotwWatchResponse) =>
      answers.push(`${node.id}:${response.resources.map((resource) => resource.name).join(',')}`),
    )
    .arm();
}

function listenerNamed(name: string) {
  return buildRedirectListener({ name, listen: { address: '127.0.0.1', port: 15000 }, parserFilter: { kind: 'ecds', resourceName: `weir.${name}` }, upstreamCluster: 'a' });
}

function deliveredOf(snapshot: Snapshot): SotwSubscriptionView {
  const ofType = snapshot.forType(CLUSTER_TYPE_URL);
  const hashes = new Map([...ofType.resources].map(([name, resource]) => [name, resource.hash]));
  return { deliveredVersion: ofType.version, deliveredNames: new Set(hashes.keys()), deliveredHashes: hashes };
}

describe('snapshot cache fan-out', () => {
  it('a change to one node snapshot answers that node and leaves the other waiting', () => {
    const cache = new SnapshotCache({ batchWindowMs: 0 });
    const initial = new Snapshot([cluster('a')]);
    cache.setSnapshot(nodeA.id, initial);
    cache.setSnapshot(nodeB.id, initial);
    const answers: string[] = [];
    watchClusters(cache, nodeA, answers, deliveredOf(initial));
    watchClusters(cache, nodeB, answers, deliveredOf(initial));
    cache.setSnapshot(nodeA.id, new Snapshot([cluster('a'), cluster('b')]));
    expect(answers).toEqual(['node-a:a,b']);
    expect(cache.openWatchCount()).toBe(1);
  });

  it('a default snapshot change reaches every node without its own snapshot, not the ones with one', () => {
    const cache = new SnapshotCache({ batchWindowMs: 0 });
    const own = new Snapshot([cluster('mine')]);
    cache.setSnapshot(nodeB.id, own);
    const answers: string[] = [];
    watchClusters(cache, nodeA, answers);
    watchClusters(cache, nodeB, answers, deliveredOf(own));
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, new Snapshot([cluster('shared')]));
    expect(answers).toEqual(['node-a:shared']);
  });

  it('clearing a node snapshot answers its open watch from the default snapshot', async () => {
    const cache = new SnapshotCache({ batchWindowMs: 10 });
    const own = new Snapshot([cluster('mine')]);
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, new Snapshot([cluster('shared')]));
    cache.setSnapshot(nodeA.id, own);
    cache.flush();
    const answers: string[] = [];
    watchClusters(cache, nodeA, answers, deliveredOf(own));
    cache.clearSnapshot(nodeA.id);
    await vi.waitUntil(() => answers.length > 0, { timeout: 10_000 });
    expect(answers).toEqual(['node-a:shared']);
    cache.close();
  });

  it('a new snapshot that changes only another type leaves the cluster watch open and unanswered', () => {
    const cache = new SnapshotCache({ batchWindowMs: 0 });
    const initial = new Snapshot([cluster('a')]);
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, initial);
    const answers: string[] = [];
    watchClusters(cache, nodeA, answers, deliveredOf(initial));
    // The clusters are rebuilt with equal content (an equal version); only a listener is new.
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, new Snapshot([cluster('a'), listenerNamed('l')]));
    expect(answers).toEqual([]);
    expect(cache.openWatchCount()).toBe(1);
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, new Snapshot([cluster('a', 9001), listenerNamed('l')]));
    expect(answers).toEqual(['node-a:a']);
  });

  it('answers a watch armed between two changes in one window when the second change restores the first version', () => {
    const cache = new SnapshotCache({ batchWindowMs: 60_000 });
    const before = new Snapshot([cluster('a')]);
    const between = new Snapshot([cluster('a', 2)]);
    cache.setSnapshot(nodeA.id, before);
    cache.flush();
    cache.setSnapshot(nodeA.id, between);
    const answers: string[] = [];
    // The proxy already has the in-between version (e.g. it was sent on another stream), so arming does not answer.
    watchClusters(cache, nodeA, answers, deliveredOf(between));
    expect(answers).toEqual([]);
    cache.setSnapshot(nodeA.id, new Snapshot([cluster('a')]));
    cache.flush();
    expect(answers).toEqual(['node-a:a']);
    cache.close();
  });

  it('answers a node that gets its own snapshot while the default snapshot changes in the same window', () => {
    const cache = new SnapshotCache({ batchWindowMs: 60_000 });
    const shared = new Snapshot([cluster('shared')]);
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, shared);
    cache.flush();
    const answers: string[] = [];
    watchClusters(cache, nodeA, answers, deliveredOf(shared));
    // The default changes clusters; then node A gets its own snapshot with the new default's clusters.
    const next = new Snapshot([cluster('shared', 2)]);
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, next);
    cache.setSnapshot(nodeA.id, new Snapshot([cluster('shared', 2)]));
    cache.flush();
    expect(answers).toEqual(['node-a:shared']);
    cache.close();
  });

  it('answers the types that differ between a node snapshot and the default when the node snapshot is cleared', () => {
    const cache = new SnapshotCache({ batchWindowMs: 0 });
    const own = new Snapshot([cluster('mine'), listenerNamed('l')]);
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, new Snapshot([cluster('shared'), listenerNamed('l')]));
    cache.setSnapshot(nodeA.id, own);
    const answers: string[] = [];
    watchClusters(cache, nodeA, answers, deliveredOf(own));
    cache.clearSnapshot(nodeA.id);
    expect(answers).toEqual(['node-a:shared']);
  });

  it('answers a watch that waited for its node\'s first snapshot', () => {
    const cache = new SnapshotCache({ batchWindowMs: 0 });
    const answers: string[] = [];
    watchClusters(cache, nodeA, answers);
    cache.setSnapshot(nodeA.id, new Snapshot([cluster('a')]));
    expect(answers).toEqual(['node-a:a']);
  });

  it('a snapshot set from inside a delivery is answered after the delivery in progress', () => {
    const cache = new SnapshotCache({ batchWindowMs: 0 });
    const answers: string[] = [];
    const ownOfB = new Snapshot([cluster('mine')]);
    cache.setSnapshot(nodeB.id, ownOfB);
    watchClusters(cache, nodeB, answers, deliveredOf(ownOfB));
    cache
      .openWatch({ node: nodeA, typeUrl: CLUSTER_TYPE_URL, wildcard: true, resourceNames: new Set() }, nothingDelivered, (response: SotwWatchResponse) => {
        answers.push(`node-a:${response.resources.map((resource) => resource.name).join(',')}`);
        // With no batching window this flushes at once, in the middle of the flush delivering to node A.
        cache.setSnapshot(nodeB.id, new Snapshot([cluster('b')]));
      })
      .arm();
    watchClusters(cache, { id: 'node-c', cluster: 'test' }, answers);
    cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, new Snapshot([cluster('shared')]));
    expect(answers).toEqual(['node-a:shared', 'node-c:shared', 'node-b:b']);
  });

  describe('a fleet larger than one turn of the event loop', () => {
    const FLEET = 1_200;
    const fleet: NodeIdentity[] = Array.from({ length: FLEET }, (_, index) => ({ id: `node-${index}`, cluster: 'test' }));

    // Every node watches listeners, then clusters (the reverse of push order); an answer re-arms the
    // watch as the proxy's ACK would. Records `node:type:resource names` per answer.
    function watchFleet(cache: SnapshotCache, answers: string[]): void {
      for (const node of fleet) {
        for (const typeUrl of [LISTENER_TYPE_URL, CLUSTER_TYPE_URL]) {
          const delivered = { deliveredVersion: undefined as string | undefined, deliveredNames: new Set<string>(), deliveredHashes: new Map<string, string>() };
          const watch = cache.openWatch({ node, typeUrl, wildcard: true, resourceNames: new Set() }, delivered, (response: SotwWatchResponse) => {
            answers.push(`${node.id}:${typeUrl === CLUSTER_TYPE_URL ? 'cds' : 'lds'}:${response.resources.map((resource) => resource.name).join(',')}`);
            delivered.deliveredVersion = response.version;
            delivered.deliveredHashes = new Map(response.hashes);
            delivered.deliveredNames = new Set(response.hashes.keys());
            watch.arm();
          });
          watch.arm();
        }
      }
    }

    const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

    async function untilAnswered(answers: string[], count: number): Promise<void> {
      while (answers.length < count) await nextTurn();
    }

    /** A cache whose whole fleet watches, after a flush of a default snapshot with cluster c1 and listener l1. */
    function flushedFleet(): { cache: SnapshotCache; answers: string[] } {
      const cache = new SnapshotCache({ batchWindowMs: 10_000 });
      const answers: string[] = [];
      watchFleet(cache, answers);
      cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, new Snapshot([cluster('c1'), listenerNamed('l1')]));
      cache.flush();
      return { cache, answers };
    }

    it('answers some nodes before flush returns and every node after, each node clusters before listeners', async () => {
      const { cache, answers } = flushedFleet();
      expect(answers.length).toBeGreaterThan(0);
      expect(answers.length).toBeLessThan(2 * FLEET);
      await untilAnswered(answers, 2 * FLEET);
      for (const node of fleet) {
        expect(answers.filter((answer) => answer.startsWith(`${node.id}:`))).toEqual([`${node.id}:cds:c1`, `${node.id}:lds:l1`]);
      }
      cache.close();
    });

    it('a second change while a flush is still answering: every node ends on the newer snapshot, never an older answer after a newer one', async () => {
      const { cache, answers } = flushedFleet();
      cache.setSnapshot(DEFAULT_SNAPSHOT_KEY, new Snapshot([cluster('c2'), listenerNamed('l2')]));
      cache.flush();
      // Every node's last cluster and listener answers are the newer ones, and none got an older one after a newer.
      await untilAnswered(answers, 2 * FLEET);
      const settled = (): boolean => fleet.every((node) => {
        const own = answers.filter((answer) => answer.startsWith(`${node.id}:`));
        return own.at(-1) === `${node.id}:lds:l2` && own.includes(`${node.id}:cds:c2`);
      });
      while (!settled()) await nextTurn();
      for (const node of fleet) {
        const own = answers.filter((answer) => answer.startsWith(`${node.id}:`));
        const newerFrom = own.findIndex((answer) => answer.endsWith('2'));
        expect(own.slice(newerFrom).every((answer) => answer.endsWith('2'))).toBe(true);
        expect(own.indexOf(`${node.id}:cds:c2`)).toBeLessThan(own.indexOf(`${node.id}:lds:l2`));
      }
      cache.close();
    });

    it('answers no more nodes once closed mid-flush', async () => {
      const { cache, answers } = flushedFleet();
      const answeredBeforeClose = answers.length;
      cache.close();
      // Enough turns for the remaining slices to have run.
      for (let turn = 0; turn < 10; turn += 1) await nextTurn();
      expect(answers.length).toBe(answeredBeforeClose);
      expect(answeredBeforeClose).toBeLessThan(2 * FLEET);
    });
  });
});
