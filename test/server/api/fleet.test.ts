// The fleet's `policy wait` when one proxy's two streams reconnected to different replicas: its
// agent (policy) at one, its Envoy's own xDS (listeners, clusters) at another. The agent's replica
// is asked for the policy only, and the Envoy's config is checked where that stream is.
import { describe, expect, it } from 'vitest';
import type { ProxyTypeView, ProxyView } from '../../../server/api/api-types.ts';
import { fleetWait, type FleetMember } from '../../../server/api/fleet.ts';
import { CLUSTER_TYPE_URL } from '../../../server/xds/resources/cluster.ts';
import { LISTENER_TYPE_URL } from '../../../server/xds/resources/listener.ts';
import { NETWORK_POLICY_TYPE_URL } from '../../../server/xds/resources/network-policy.ts';

const REVISION = 'rev-1';

function typeView(typeUrl: string, held: boolean): ProxyTypeView {
  return { typeUrl, variant: 'sotw', sentVersion: 'v2', sentAt: undefined, awaitingReply: !held, ackedVersion: held ? 'v2' : 'v1', ackedAt: undefined, lastNack: undefined };
}

function proxyView(nodeId: string, policyAgent: boolean, types: ProxyTypeView[]): ProxyView {
  return { nodeId, cluster: 'c', connected: true, openStreams: 1, variant: 'sotw', peer: undefined, connectedAt: undefined, disconnectedAt: undefined, policyAgent, enforcedRevision: policyAgent ? REVISION : undefined, types };
}

/** Replica `agents` holds the proxy's agent stream; it confirms the named proxy only for a policy-only wait, as a real replica without its Envoy's ACKs does. */
function members(envoyHoldsConfig: boolean): FleetMember[] {
  const agents: FleetMember = {
    name: 'agents',
    get: async (pathAndQuery) => {
      if (pathAndQuery.startsWith('/v1/proxies')) return { status: 200, body: { proxies: [proxyView('edge', true, [typeView(NETWORK_POLICY_TYPE_URL, true)])] } };
      const query = new URL(pathAndQuery, 'http://x').searchParams;
      if (query.getAll('node').includes('edge') && query.get('policyOnly') !== 'true') return { status: 504, body: { error: 'edge: its Envoy has not ACKed its listeners and clusters from this server' } };
      return { status: 200, body: { revision: REVISION, proxies: [{ nodeId: 'edge', enforcedRevision: REVISION }] } };
    },
  };
  const envoys: FleetMember = {
    name: 'envoys',
    get: async (pathAndQuery) =>
      pathAndQuery.startsWith('/v1/proxies')
        ? { status: 200, body: { proxies: [proxyView('edge', false, [typeView(LISTENER_TYPE_URL, envoyHoldsConfig), typeView(CLUSTER_TYPE_URL, true)])] } }
        : { status: 200, body: { revision: REVISION, proxies: [] } },
  };
  return [agents, envoys];
}

describe('fleet policy wait', () => {
  it('confirms a proxy whose agent and Envoy streams are at different replicas, once both hold what they were sent', async () => {
    const fleet = members(true);
    const answer = await fleetWait({ members: async () => fleet }, { revision: REVISION, timeoutMs: 30_000, nodeIds: ['edge'], policyOnly: false });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ revision: REVISION, proxies: [{ nodeId: 'edge', enforcedRevision: REVISION, replica: 'agents' }] });
  });

  it('waits out a replica that died and is still listed (its lease not expired yet) instead of failing', async () => {
    const dead: FleetMember = { name: 'dead', get: async () => Promise.reject(new Error('ECONNREFUSED')) };
    const lists = [[...members(true), dead], members(true)];
    const answer = await fleetWait({ members: async () => (lists.length > 1 ? (lists.shift() ?? []) : (lists[0] ?? [])) }, { revision: REVISION, timeoutMs: 30_000, nodeIds: ['edge'], policyOnly: false });
    expect(answer.status).toBe(200);
  });

  it('does not confirm it while its Envoy has not ACKed the listeners the other replica sent, and says where', async () => {
    const fleet = members(false);
    const answer = await fleetWait({ members: async () => fleet }, { revision: REVISION, timeoutMs: 500, nodeIds: ['edge'], policyOnly: false });
    expect(answer.status).toBe(504);
    expect(JSON.stringify(answer.body)).toContain('edge: its Envoy has not ACKed its listeners and clusters from envoys');
  });
});
