// `weir bootstrap`: the rendered Envoy bootstrap and the argument parsing that feeds it.
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { bootstrapOptionsFrom } from '../../../server/cli/cli.ts';
import { renderBootstrap } from '../../../server/xds/bootstrap.ts';

interface BootstrapShape {
  node: { id: string; cluster: string };
  admin: { address: { socket_address: { address: string; port_value: number } } };
  dynamic_resources: { ads_config: { api_type: string }; lds_config: { ads: object }; cds_config: { ads: object } };
  static_resources: { clusters: Array<{ name: string; type: string; load_assignment: { endpoints: Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: { address: string; port_value: number } } } }> }> } }> };
}

describe('weir bootstrap', () => {
  it('renders node, loopback admin, the weir-xds HTTP/2 cluster and ADS for LDS and CDS', () => {
    const bootstrap = parse(renderBootstrap(bootstrapOptionsFrom(['--node-id', 'edge-1', '--cluster', 'dc1', '--xds', '127.0.0.2:19000', '--admin-port', '9999']))) as BootstrapShape;
    expect(bootstrap.node).toEqual({ id: 'edge-1', cluster: 'dc1' });
    expect(bootstrap.admin.address.socket_address).toEqual({ address: '127.0.0.1', port_value: 9999 });
    expect(bootstrap.dynamic_resources.ads_config.api_type).toBe('GRPC');
    expect(bootstrap.dynamic_resources.lds_config.ads).toEqual({});
    expect(bootstrap.dynamic_resources.cds_config.ads).toEqual({});
    const [xdsCluster] = bootstrap.static_resources.clusters;
    expect(xdsCluster?.name).toBe('weir-xds');
    expect(xdsCluster?.load_assignment.endpoints[0]?.lb_endpoints[0]?.endpoint.address.socket_address).toEqual({ address: '127.0.0.2', port_value: 19000 });
    expect(renderBootstrap()).toContain('http2_protocol_options');
  });

  it('--delta selects the incremental protocol', () => {
    const bootstrap = parse(renderBootstrap(bootstrapOptionsFrom(['--delta']))) as BootstrapShape;
    expect(bootstrap.dynamic_resources.ads_config.api_type).toBe('DELTA_GRPC');
  });

  it('rejects a malformed --xds and an unknown flag', () => {
    expect(() => bootstrapOptionsFrom(['--xds', '18000'])).toThrow('--xds 18000: expected HOST:PORT');
    expect(() => bootstrapOptionsFrom(['--nodeid', 'x'])).toThrow(/nodeid/);
  });
});
