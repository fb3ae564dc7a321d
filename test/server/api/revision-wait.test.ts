// `weir policy wait` counts a proxy as enforcing a revision only once its agent ACKed the policy
// and its Envoy ACKed its own listeners and clusters: after a restart of weir serve the agent is
// often back first, and Envoy serves nothing until its ADS stream is.
import { describe, expect, it } from 'vitest';
import { POLICY_TYPE_URLS, RevisionHistory } from '../../../server/api/revision-history.ts';
import { waitForRevision } from '../../../server/api/revision-wait.ts';
import { ProxyStatusRegistry } from '../../../server/xds/proxy-status.ts';
import { CLUSTER_TYPE_URL } from '../../../server/xds/resources/cluster.ts';
import { LISTENER_TYPE_URL } from '../../../server/xds/resources/listener.ts';

function setUp() {
  const status = new ProxyStatusRegistry();
  const history = new RevisionHistory();
  history.record('r1', new Map(POLICY_TYPE_URLS.map((typeUrl) => [typeUrl, 'p1'])));
  status.streamOpened({ id: 'node-1', cluster: 'c' }, { variant: 'sotw', peer: 'agent' });
  for (const typeUrl of POLICY_TYPE_URLS) {
    status.recordSent('node-1', typeUrl, 'p1');
    status.recordAck('node-1', typeUrl, 'p1');
  }
  return { status, history };
}

const settle = (status: ProxyStatusRegistry, typeUrl: string, version: string): void => {
  status.recordSent('node-1', typeUrl, version);
  status.recordAck('node-1', typeUrl, version);
};

describe('policy wait and the proxy\'s own config', () => {
  it('waits for a named proxy\'s listeners and clusters, not only its agent', async () => {
    const { status, history } = setUp();
    const early = await waitForRevision({ revision: 'r1', timeoutMs: 0, nodeIds: ['node-1'], status, history });
    expect(early).toMatchObject({ kind: 'timeout', behind: [{ nodeId: 'node-1', enforcedRevision: 'r1', envoyConfigPending: true }] });
    const waiting = waitForRevision({ revision: 'r1', timeoutMs: 30_000, nodeIds: ['node-1'], status, history, pollMs: 5 });
    settle(status, LISTENER_TYPE_URL, 'l1');
    settle(status, CLUSTER_TYPE_URL, 'c1');
    expect(await waiting).toMatchObject({ kind: 'enforced', proxies: [{ nodeId: 'node-1', enforcedRevision: 'r1' }] });
  });

  it('takes the agent alone for --policy-only proxies (Istio configures their Envoy)', async () => {
    const { status, history } = setUp();
    expect(await waitForRevision({ revision: 'r1', timeoutMs: 0, nodeIds: ['node-1'], policyOnly: true, status, history })).toMatchObject({ kind: 'enforced' });
  });

  it('waits while a sent listener version is not ACKed, and reports its NACK', async () => {
    const { status, history } = setUp();
    settle(status, CLUSTER_TYPE_URL, 'c1');
    settle(status, LISTENER_TYPE_URL, 'l1');
    status.recordSent('node-1', LISTENER_TYPE_URL, 'l2');
    expect(await waitForRevision({ revision: 'r1', timeoutMs: 0, status, history })).toMatchObject({ kind: 'timeout' });
    status.recordNack('node-1', LISTENER_TYPE_URL, 'l2', 'port 80 already in use');
    expect(await waitForRevision({ revision: 'r1', timeoutMs: 1000, status, history })).toEqual({
      kind: 'rejected',
      revision: 'r1',
      nodeId: 'node-1',
      typeUrl: LISTENER_TYPE_URL,
      version: 'l2',
      message: 'port 80 already in use',
    });
  });

  it('counts versions a reconnecting Envoy reported and the server adopted without resending (weir serve restarted)', async () => {
    const { status, history } = setUp();
    status.recordAck('node-1', LISTENER_TYPE_URL, 'l1');
    status.recordAck('node-1', CLUSTER_TYPE_URL, 'c1');
    expect(await waitForRevision({ revision: 'r1', timeoutMs: 0, nodeIds: ['node-1'], status, history })).toMatchObject({ kind: 'enforced' });
  });
});
