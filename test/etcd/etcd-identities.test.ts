// Identity allocation through etcd transactions: replicas that see label sets in different orders,
// at the same time, still give every label set the same number, also when the numbers collide
// (a range of four numbers for four label sets forces collisions).
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcd, type RunningEtcd } from '../../demo/servers/index.ts';
import { sharedIdentityTable } from '../../server/identity/identity-table.ts';
import { etcdIdentityClaims } from '../../server/store/etcd-store.ts';

describe('identities claimed in etcd', () => {
  let etcd: RunningEtcd;
  const clients: Etcd3[] = [];

  beforeAll(async () => {
    etcd = await startEtcd();
  }, 120_000);

  afterAll(async () => {
    for (const client of clients) client.close();
    await etcd?.destroy();
  });

  it('resolves collisions the same way on every replica', async () => {
    const range = { first: 300, last: 303 };
    const replica = (): ReturnType<typeof sharedIdentityTable> => {
      const client = new Etcd3({ hosts: [etcd.clientUrl] });
      clients.push(client);
      return sharedIdentityTable(etcdIdentityClaims(client, '/weir-test/'), range);
    };
    const labelSets = ['k8s:app=a', 'k8s:app=b', 'k8s:app=c', 'k8s:app=d'];
    const [one, two, three] = await Promise.all([replica().allocate(labelSets), replica().allocate([...labelSets].reverse()), replica().allocate([labelSets[2] as string, labelSets[0] as string])]);
    expect(two).toEqual(one);
    expect(three.get('k8s:app=c')).toBe(one.get('k8s:app=c'));
    expect(three.get('k8s:app=a')).toBe(one.get('k8s:app=a'));
    expect(new Set(one.values())).toEqual(new Set([300, 301, 302, 303]));
    // A later replica finds them without claiming anything new.
    expect(await replica().allocate(labelSets)).toEqual(one);
    await expect(replica().allocate(['k8s:app=e'])).rejects.toThrow(/exhausted/);
  });
});
