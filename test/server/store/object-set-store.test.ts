// ObjectSetStore, the store behind the etcd and Kubernetes sources: objects stand alone (an invalid
// one is reported and its previous valid content stays in force, while others change), endpoints
// come from the source, and identities from a shared table.
import { describe, expect, it } from 'vitest';
import { sharedIdentityTable, type IdentityClaims } from '../../../server/identity/identity-table.ts';
import { silentLogger } from '../../../server/log/logger.ts';
import { ObjectSetStore } from '../../../server/store/object-set-store.ts';

function policy(name: string, cmd: string): string {
  return JSON.stringify({
    apiVersion: 'cilium.io/v2',
    kind: 'CiliumNetworkPolicy',
    metadata: { name },
    spec: {
      endpointSelector: { matchLabels: { app: 'server' } },
      ingress: [{ fromEndpoints: [{ matchLabels: { app: 'client' } }], toPorts: [{ ports: [{ port: '3333', protocol: 'TCP' }], rules: { l7proto: 'r2d2', l7: [{ cmd }] } }] }],
    },
  });
}

function newStore(claims?: IdentityClaims): ObjectSetStore {
  return new ObjectSetStore({
    enforcementMode: 'default',
    logger: silentLogger(),
    sourceName: 'test source',
    writer: { kind: 'read-only', refusal: 'read-only in this test' },
    ...(claims === undefined ? {} : { identities: sharedIdentityTable(claims) }),
  });
}

const ENDPOINTS = [
  { name: 'ns/server', namespace: 'ns', labels: { app: 'server' }, ips: ['127.0.0.10'] },
  { name: 'ns/client', namespace: 'ns', labels: { app: 'client' }, ips: ['127.0.0.11'] },
];

describe('ObjectSetStore', () => {
  it('keeps an object\'s previous valid content when its new content is invalid, and applies other objects', async () => {
    const store = newStore();
    store.setEndpoints(ENDPOINTS);
    store.setObject('a.json', policy('a', 'READ'), '1');
    store.markSynced();
    await store.load();
    const first = store.current().revision;
    expect(store.objectStatus('a.json')).toEqual({ ok: true, version: '1' });

    const outcomes: string[] = [];
    store.watchOutcomes((name, outcome) => outcomes.push(`${name}:${outcome?.ok === true ? 'ok' : 'invalid'}`));
    store.setObject('a.json', policy('a', 'FLY'), '2');
    store.setObject('b.json', policy('b', 'WRITE'), '1');
    await store.load();
    const status = store.objectStatus('a.json');
    expect(status).toMatchObject({ ok: false, version: '2', enforcedVersion: '1' });
    expect(status?.ok === false && status.problems[0]?.path).toBe('spec.ingress[0].toPorts[0].rules.l7[0].cmd');
    expect(store.enforcedVersions()).toEqual(new Map([['a.json', '1'], ['b.json', '1']]));
    expect(store.current().revision).not.toBe(first);
    expect(outcomes.sort()).toEqual(['a.json:invalid', 'b.json:ok']);
    expect(await store.put('c.json', policy('c', 'READ'))).toMatchObject({ ok: false, problems: [{ message: 'read-only in this test' }] });
    await store.close();
  });

  it('numbers label sets through the shared table: a collision resolves as the table says, not by local order', async () => {
    // A table whose only free number for every label set is the one after 256: the first claim wins 256.
    const claimed = new Map<number, string>();
    const claims: IdentityClaims = {
      lookup: async (key) => [...claimed].find(([, holder]) => holder === key)?.[0],
      claim: async (identity, key) => {
        if (!claimed.has(identity)) claimed.set(identity, key);
        return claimed.get(identity) as string;
      },
    };
    const store = newStore(claims);
    // Another replica claimed the client's number first, at the server's hash slot.
    const server = 'k8s:app=server;k8s:io.kubernetes.pod.namespace=ns';
    const serverIdentity = (await sharedIdentityTable(claims).allocate([server])).get(server) as number;
    claimed.delete(serverIdentity);
    claimed.set(serverIdentity, 'k8s:app=someone-else');
    store.setEndpoints(ENDPOINTS);
    store.markSynced();
    await store.load();
    const identities = new Map(store.current().policySet.ipIdentities.map((entry) => [entry.cidr, entry.identity]));
    expect(identities.get('127.0.0.10/32')).not.toBe(serverIdentity);
    expect(claimed.get(identities.get('127.0.0.10/32') as number)).toBe(server);
    await store.close();
  });
});
