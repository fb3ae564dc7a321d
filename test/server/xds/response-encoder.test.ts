// The hand-written response serializer must produce what proto-loader (Envoy's decoder stand-in)
// reads back as the same DiscoveryResponse / DeltaDiscoveryResponse, for small and large resources.
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import type { DeltaDiscoveryResponse, DiscoveryResponse } from '../../../server/xds/discovery-messages.ts';
import { xdsServicePackage } from '../../../server/xds/envoy-protos.ts';
import { encodeDeltaDiscoveryResponse, encodeDiscoveryResponse } from '../../../server/xds/response-encoder.ts';
import { CLUSTER_TYPE_URL } from '../../../server/xds/resources/cluster.ts';
import { EXTENSION_CONFIG_TYPE_URL } from '../../../server/xds/resources/extension-config.ts';
import { cluster } from './support/resources.ts';

const ADS = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

function method<Response>(name: string): MethodDefinition<unknown, Response> {
  const definition = xdsServicePackage()[ADS] as ServiceDefinition;
  const found = definition[name] as MethodDefinition<unknown, Response> | undefined;
  if (!found) throw new Error(`no ${ADS}/${name}`);
  return found;
}

function bytesOf(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let index = 0; index < size; index += 1) bytes[index] = (index * 31 + seed) & 0xff;
  return bytes;
}

function sameBytes(left: readonly Uint8Array[], right: readonly Uint8Array[]): boolean {
  return left.length === right.length && left.every((bytes, index) => Buffer.from(bytes).equals(Buffer.from(right[index] ?? [])));
}

const CONTROL_PLANE = { identifier: 'weir@test-host' };

describe('response encoder', () => {
  it('a SotW response decodes to the same version, resources, type URL, nonce and control plane', () => {
    const big = bytesOf(3 * 1024 * 1024, 7); // 3 MiB: a four-byte length varint
    const response: DiscoveryResponse = {
      version_info: '0123456789abcdef',
      resources: [
        { type_url: CLUSTER_TYPE_URL, value: cluster('a').value },
        { type_url: EXTENSION_CONFIG_TYPE_URL, value: big },
        { type_url: CLUSTER_TYPE_URL, value: new Uint8Array() },
      ],
      type_url: CLUSTER_TYPE_URL,
      nonce: '42',
      control_plane: CONTROL_PLANE,
    };
    const decoded = method<DiscoveryResponse>('StreamAggregatedResources').responseDeserialize(encodeDiscoveryResponse(response));
    expect(decoded.version_info).toBe(response.version_info);
    expect(decoded.type_url).toBe(CLUSTER_TYPE_URL);
    expect(decoded.nonce).toBe('42');
    expect(decoded.control_plane).toEqual(expect.objectContaining(CONTROL_PLANE));
    expect(decoded.resources.map((resource) => resource.type_url)).toEqual(response.resources.map((resource) => resource.type_url));
    expect(sameBytes(decoded.resources.map((resource) => resource.value), response.resources.map((resource) => resource.value))).toBe(true);
  });

  it('is byte-identical to proto-loader for a SotW response without empty fields', () => {
    const response: DiscoveryResponse = {
      version_info: 'v1',
      resources: [{ type_url: CLUSTER_TYPE_URL, value: cluster('b').value }],
      type_url: CLUSTER_TYPE_URL,
      nonce: '1',
      control_plane: CONTROL_PLANE,
    };
    const reference = method<DiscoveryResponse>('StreamAggregatedResources').responseSerialize(response);
    expect(Buffer.compare(encodeDiscoveryResponse(response), reference)).toBe(0);
  });

  it('a delta response keeps names, versions, Any bytes, removals (in order) and the nonce', () => {
    const response: DeltaDiscoveryResponse = {
      system_version_info: 'sys-1',
      resources: [
        { name: 'weir.memcache', version: 'f'.repeat(64), resource: { type_url: EXTENSION_CONFIG_TYPE_URL, value: bytesOf(60 * 1024, 3) } },
        { name: 'endpoint-é', version: 'a'.repeat(64), resource: { type_url: EXTENSION_CONFIG_TYPE_URL, value: bytesOf(10, 1) } },
      ],
      type_url: EXTENSION_CONFIG_TYPE_URL,
      removed_resources: ['gone-1', 'gone-2'],
      nonce: '7',
      control_plane: CONTROL_PLANE,
    };
    const decoded = method<DeltaDiscoveryResponse>('DeltaAggregatedResources').responseDeserialize(encodeDeltaDiscoveryResponse(response));
    expect(decoded.system_version_info).toBe('sys-1');
    expect(decoded.type_url).toBe(EXTENSION_CONFIG_TYPE_URL);
    expect(decoded.nonce).toBe('7');
    expect(decoded.removed_resources).toEqual(['gone-1', 'gone-2']);
    expect(decoded.control_plane).toEqual(expect.objectContaining(CONTROL_PLANE));
    expect(decoded.resources.map((resource) => [resource.name, resource.version, resource.resource.type_url])).toEqual(
      response.resources.map((resource) => [resource.name, resource.version, resource.resource.type_url]),
    );
    expect(sameBytes(decoded.resources.map((resource) => resource.resource.value), response.resources.map((resource) => resource.resource.value))).toBe(true);
  });

  it('a removal-only delta response carries no resources and decodes with empty defaults', () => {
    const response: DeltaDiscoveryResponse = {
      system_version_info: '',
      resources: [],
      type_url: CLUSTER_TYPE_URL,
      removed_resources: ['a'],
      nonce: '3',
      control_plane: CONTROL_PLANE,
    };
    const decoded = method<DeltaDiscoveryResponse>('DeltaAggregatedResources').responseDeserialize(encodeDeltaDiscoveryResponse(response));
    expect(decoded.resources).toEqual([]);
    expect(decoded.system_version_info).toBe('');
    expect(decoded.removed_resources).toEqual(['a']);
    expect(decoded.nonce).toBe('3');
  });
});
