// The ACK fast path must read requests exactly as proto-loader does, and hand everything else
// (first requests with a node, NACKs, initial versions, malformed bytes) to proto-loader.
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { describe, expect, it, vi } from 'vitest';
import type { DeltaDiscoveryRequest, DiscoveryRequest } from '../../../server/xds/discovery-messages.ts';
import { xdsServicePackage } from '../../../server/xds/envoy-protos.ts';
import { decodeDeltaDiscoveryRequest, decodeDiscoveryRequest } from '../../../server/xds/request-decoder.ts';
import { CLUSTER_TYPE_URL } from '../../../server/xds/resources/cluster.ts';
import { deltaRequest, NODE, sotwRequest } from './support/resources.ts';

const ADS = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

function method<Request>(name: string): MethodDefinition<Request, unknown> {
  const definition = xdsServicePackage()[ADS] as ServiceDefinition;
  const found = definition[name] as MethodDefinition<Request, unknown> | undefined;
  if (!found) throw new Error(`no ${ADS}/${name}`);
  return found;
}

const sotw = method<DiscoveryRequest>('StreamAggregatedResources');
const delta = method<DeltaDiscoveryRequest>('DeltaAggregatedResources');

function sotwFields(request: DiscoveryRequest): DiscoveryRequest {
  const { version_info, node, resource_names, type_url, response_nonce, error_detail } = request;
  return { version_info, node, resource_names, type_url, response_nonce, error_detail };
}

function deltaFields(request: DeltaDiscoveryRequest): DeltaDiscoveryRequest {
  const { node, type_url, resource_names_subscribe, resource_names_unsubscribe, initial_resource_versions, response_nonce, error_detail } = request;
  return { node, type_url, resource_names_subscribe, resource_names_unsubscribe, initial_resource_versions, response_nonce, error_detail };
}

describe('request decoder', () => {
  it('reads a SotW ACK (version, names, type URL, nonce) as proto-loader does, without calling it', () => {
    const bytes = sotw.requestSerialize(sotwRequest({ version_info: 'v7', resource_names: ['a', 'é'], response_nonce: '12' }));
    const fullDecode = vi.fn(sotw.requestDeserialize);
    const decoded = decodeDiscoveryRequest(bytes, fullDecode);
    expect(fullDecode).not.toHaveBeenCalled();
    expect(decoded).toEqual(sotwFields(sotw.requestDeserialize(bytes)));
    expect(decoded).toEqual(sotwRequest({ version_info: 'v7', resource_names: ['a', 'é'], response_nonce: '12' }));
  });

  it('reads a delta ACK with subscribe and unsubscribe as proto-loader does, without calling it', () => {
    const request = deltaRequest({ resource_names_subscribe: ['x'], resource_names_unsubscribe: ['y', 'z'], response_nonce: '3' });
    const bytes = delta.requestSerialize(request);
    const fullDecode = vi.fn(delta.requestDeserialize);
    const decoded = decodeDeltaDiscoveryRequest(bytes, fullDecode);
    expect(fullDecode).not.toHaveBeenCalled();
    expect(decoded).toEqual(deltaFields(delta.requestDeserialize(bytes)));
    expect(decoded.type_url).toBe(CLUSTER_TYPE_URL);
  });

  it('hands a first request (with a node), a NACK and initial versions to proto-loader', () => {
    const withNode = vi.fn(sotw.requestDeserialize);
    expect(decodeDiscoveryRequest(sotw.requestSerialize(sotwRequest({ node: NODE })), withNode).node?.id).toBe(NODE.id);
    expect(withNode).toHaveBeenCalledOnce();

    const nack = vi.fn(delta.requestDeserialize);
    const nackBytes = delta.requestSerialize(deltaRequest({ response_nonce: '4', error_detail: { code: 13, message: 'bad listener' } }));
    expect(decodeDeltaDiscoveryRequest(nackBytes, nack).error_detail?.message).toBe('bad listener');
    expect(nack).toHaveBeenCalledOnce();

    const reconnect = vi.fn(delta.requestDeserialize);
    const reconnectBytes = delta.requestSerialize(deltaRequest({ initial_resource_versions: { a: 'h1' } }));
    expect(decodeDeltaDiscoveryRequest(reconnectBytes, reconnect).initial_resource_versions).toEqual({ a: 'h1' });
    expect(reconnect).toHaveBeenCalledOnce();
  });

  it('hands truncated bytes to proto-loader and returns what it makes of them', () => {
    const bytes = sotw.requestSerialize(sotwRequest({ response_nonce: '12' }));
    const truncated = bytes.subarray(0, bytes.length - 1);
    const fullDecode = vi.fn(sotw.requestDeserialize);
    expect(decodeDiscoveryRequest(truncated, fullDecode)).toEqual(sotw.requestDeserialize(truncated));
    expect(fullDecode).toHaveBeenCalledOnce();
  });
});
