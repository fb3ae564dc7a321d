// weir.NetworkPolicy and weir.IdentityMap per the policy delivery contract: compiled JSON inside a
// small protobuf, encoded by server/xds/resources and decodable by anyone with protos/weir.
import { describe, expect, it } from 'vitest';
import { decodeIdentityMap, encodeIdentityMap, identityMapJson, IDENTITY_MAP_RESOURCE_NAME } from '../../../server/xds/resources/identity-map.ts';
import { contentRevision, decodeNetworkPolicy, encodeNetworkPolicy } from '../../../server/xds/resources/network-policy.ts';
import { serializeEndpointPolicy, serializePolicySet } from '../../../server/policy/serialize.ts';
import { ENDPOINTS, R2D2_DB_POLICY, compileResources } from './policy-resources.ts';

describe('weir.NetworkPolicy', () => {
  it('carries the endpoint, its addresses and identity, and the compiled JSON with its revision', () => {
    const compiled = '{"endpoint":"db","format":"weir.policy/v1"}';
    const resource = encodeNetworkPolicy({ endpoint: 'db', endpointIps: ['127.0.0.10'], identity: 1001, compiled });
    expect(resource.name).toBe('db');
    expect(resource.typeUrl).toBe('type.googleapis.com/weir.NetworkPolicy');
    const decoded = decodeNetworkPolicy(resource.value);
    expect({ ...decoded, compiled: new TextDecoder().decode(decoded.compiled) }).toEqual({
      endpoint: 'db',
      endpointIps: ['127.0.0.10'],
      identity: 1001,
      revision: contentRevision(compiled),
      compiled,
    });
  });

  it('holds exactly what serializeEndpointPolicy produced', () => {
    const resources = compileResources([R2D2_DB_POLICY], ENDPOINTS);
    const db = resources.policies.find((policy) => policy.name === 'db');
    const decoded = decodeNetworkPolicy(db?.value ?? new Uint8Array());
    const json = JSON.parse(new TextDecoder().decode(decoded.compiled)) as { endpoint: string; ingress: { enforcement: string } };
    expect(json.endpoint).toBe('db');
    expect(json.ingress.enforcement).toBe('default-deny');
    const endpoint = resources.policySet.endpoints.find((policy) => policy.endpoint === 'db');
    expect(new TextDecoder().decode(decoded.compiled)).toBe(endpoint && serializeEndpointPolicy(endpoint).json);
    expect(decoded.revision).toBe(serializePolicySet(resources.policySet).revision); // the store revision, as weir serve sends it
  });

  it('refuses a policy without an endpoint', () => {
    expect(() => encodeNetworkPolicy({ endpoint: '', endpointIps: [], identity: 1, compiled: '{}' })).toThrow('endpoint is empty');
  });
});

describe('weir.IdentityMap', () => {
  it('is one resource named default holding {"entries":[...]} as JSON', () => {
    const entries = [{ cidr: '127.0.0.2/32', identity: 1234 }, { cidr: 'fd00::/64', identity: 16777217 }];
    const resource = encodeIdentityMap({ entries });
    expect(resource.name).toBe(IDENTITY_MAP_RESOURCE_NAME);
    expect(identityMapJson(entries)).toBe('{"entries":[{"cidr":"127.0.0.2/32","identity":1234},{"cidr":"fd00::/64","identity":16777217}]}');
    expect(decodeIdentityMap(resource.value)).toEqual({ revision: contentRevision(identityMapJson(entries)), entries });
  });

  it('refuses an identity that is not a 32-bit unsigned integer', () => {
    expect(() => encodeIdentityMap({ entries: [{ cidr: '10.0.0.0/8', identity: -1 }] })).toThrow('entries[0].identity -1');
  });
});
