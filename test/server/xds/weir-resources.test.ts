// Weir's own resource types travel like Envoy's: served on an ADS stream to a subscriber that names
// them. Their encoding is tested with the agent that decodes them (test/filters/agent).
import { describe, expect, it } from 'vitest';
import { encodeIdentityMap, IDENTITY_MAP_TYPE_URL } from '../../../server/xds/resources/identity-map.ts';
import { encodeNetworkPolicy, NETWORK_POLICY_TYPE_URL } from '../../../server/xds/resources/network-policy.ts';
import { startControlServer } from '../../../server/xds/control-server.ts';
import { Snapshot } from '../../../server/xds/snapshot.ts';
import { openAds } from './support/grpc-client.ts';
import { NODE, sotwRequest } from './support/resources.ts';
import { createTestPki, grpcCredentialsOf } from '../../support/test-pki.ts';

describe('weir.NetworkPolicy and weir.IdentityMap', () => {
  it('are served over ADS to a subscriber that names them', async () => {
    const pki = createTestPki();
    const server = await startControlServer({
      security: pki.security,
      batchWindowMs: 0,
      snapshot: new Snapshot([encodeNetworkPolicy({ endpoint: '42', endpointIps: [], identity: 1, compiled: '{}' }), encodeIdentityMap({ revision: '1', entries: [] })]),
    });
    const stream = openAds(`127.0.0.1:${server.port}`, grpcCredentialsOf(pki.enrol(NODE.id), { caPem: pki.authority.ca.certificatePem }));
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
      pki.remove();
    }
  });
});
