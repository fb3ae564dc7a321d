// The hand-written response serializer must produce what proto-loader (Envoy's decoder stand-in)
// reads back as the same DiscoveryResponse / DeltaDiscoveryResponse, for small and large resources.
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import type { DeltaDiscoveryResponse, DiscoveryResponse } from '../../../server/xds/discovery-messages.ts';
import { xdsServicePackage } from '../../../server/xds/envoy-protos.ts';
import { encodeDeltaDiscoveryResponse, encodeDiscoveryResponse, frameDiscoveryResponse, releaseFrame } from '../../../server/xds/response-encoder.ts';
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

  it('reuses a slab only after every frame carved from it was released: a frame being written is never overwritten', () => {
    const responseNumbered = (nonce: number): DiscoveryResponse => ({
      version_info: 'v1',
      resources: [{ type_url: CLUSTER_TYPE_URL, value: bytesOf(4000, nonce) }],
      type_url: CLUSTER_TYPE_URL,
      nonce: String(nonce),
      control_plane: CONTROL_PLANE,
    });
    let nonce = 0;
    /** Frames until one lands in another slab than the first; returns them all. */
    const fillSlab = (): Buffer[] => {
      const frames = [frameDiscoveryResponse(responseNumbered(nonce++))];
      const slab = frames[0]?.buffer;
      while (frames[frames.length - 1]?.buffer === slab) frames.push(frameDiscoveryResponse(responseNumbered(nonce++)));
      return frames;
    };
    // The slab in use may hold frames of other tests, never released: start on a fresh one.
    const firstSlabFrames = fillSlab().slice(-1);
    const firstSlab = firstSlabFrames[0]?.buffer;
    const untilSecond = fillSlab();
    firstSlabFrames.push(...untilSecond.slice(0, -1));
    const secondSlabFrames = untilSecond.slice(-1);
    // Every frame of the first slab written: the slab after the second is the first again.
    for (const frame of firstSlabFrames) releaseFrame(frame);
    const untilThird = fillSlab();
    secondSlabFrames.push(...untilThird.slice(0, -1));
    expect(untilThird[untilThird.length - 1]?.buffer === firstSlab).toBe(true);

    // One frame of the second slab still being written: that slab is not handed out again.
    const held = secondSlabFrames[1];
    const heldBytes = Buffer.from(held ?? []);
    for (const frame of [...secondSlabFrames, ...untilThird.slice(-1)]) if (frame !== held) releaseFrame(frame);
    for (let round = 0; round < 3; round += 1) {
      const frames = fillSlab();
      expect(frames.some((frame) => frame.buffer === held?.buffer)).toBe(false);
      for (const frame of frames) releaseFrame(frame);
    }
    expect(Buffer.compare(held ?? Buffer.alloc(0), heldBytes)).toBe(0);
  });
});
