// Weir's own resource types travel like Envoy's: encoded from protos/weir, decodable, and served
// on an ADS stream to a subscriber that names them.
import { describe, expect, it } from 'vitest';
import { envoyMessageType } from '../../../server/xds/envoy-protos.ts';
import { encodeIdentityMap, IDENTITY_MAP_TYPE_URL } from '../../../server/xds/resources/identity-map.ts';
import { encodeNetworkPolicy, NETWORK_POLICY_TYPE_URL } from '../../../server/xds/resources/network-policy.ts';
import { startControlServer } from '../../../server/xds/control-server.ts';
import { Snapshot } from '../../../server/xds/snapshot.ts';
import { openAds } from './support/grpc-client.ts';
import { NODE, sotwRequest } from './support/resources.ts';

describe('weir.NetworkPolicy and weir.IdentityMap', () => {
  it('encode from protos/weir and decode back', () => {
    const policy = encodeNetworkPolicy({
      endpoint_id: '42',
      endpoint_ips: ['10.0.0.7'],
      revision: 3,
      ingress: { enforced: true, ports: [{ port: 6379, protocol: 'TRANSPORT_PROTOCOL_TCP', rules: [{ remote_identities: [1001], l7_proto: 'r2d2', l7_rules: [{ exact: { cmd: 'READ' } }] }] }] },
    });
    expect(policy.name).toBe('42');
    const decoded = envoyMessageType('weir.NetworkPolicy').toObject(envoyMessageType('weir.NetworkPolicy').decode(policy.value), { enums: String, longs: Number });
    expect(decoded).toMatchObject({ endpoint_id: '42', revision: 3, ingress: { enforced: true, ports: [{ port: 6379, protocol: 'TRANSPORT_PROTOCOL_TCP', rules: [{ l7_proto: 'r2d2', l7_rules: [{ exact: { cmd: 'READ' } }] }] }] } });
    const map = encodeIdentityMap(7, [{ cidr: '10.0.0.7/32', identity: 1001 }]);
    const decodedMap = envoyMessageType('weir.IdentityMap').toObject(envoyMessageType('weir.IdentityMap').decode(map.value), { longs: Number });
    expect(decodedMap).toEqual({ revision: 7, entries: [{ cidr: '10.0.0.7/32', identity: 1001 }] });
  });

  it('are served over ADS to a subscriber that names them', async () => {
    const server = await startControlServer({
      batchWindowMs: 0,
      snapshot: new Snapshot([encodeNetworkPolicy({ endpoint_id: '42' }), encodeIdentityMap(1, [])]),
    });
    const stream = openAds(`127.0.0.1:${server.port}`);
    try {
      stream.write(sotwRequest({ node: NODE, type_url: NETWORK_POLICY_TYPE_URL, resource_names: ['42'] }));
      const policies = await stream.nextResponse();
      expect(policies.type_url).toBe(NETWORK_POLICY_TYPE_URL);
      expect(policies.resources).toHaveLength(1);
      stream.write(sotwRequest({ type_url: IDENTITY_MAP_TYPE_URL }));
      const maps = await stream.nextResponse();
      expect(maps.type_url).toBe(IDENTITY_MAP_TYPE_URL);
      expect(maps.resources.map((resource) => resource.type_url)).toEqual([IDENTITY_MAP_TYPE_URL]);
    } finally {
      stream.close();
      await server.stop();
    }
  });
});
