// Renders the small Envoy bootstrap that points a proxy at the Weir xDS server: node identity,
// admin on loopback, the `weir-xds` HTTP/2 cluster, and ADS for listeners and clusters (state of
// the world or delta). Everything else arrives over xDS.
import { stringify } from 'yaml';
import { discoveryTypeFor } from './resources/cluster.ts';

export type XdsVariant = 'sotw' | 'delta';

export interface BootstrapOptions {
  /** Envoy node.id; the server keys per-proxy state on it. Default 'weir-node'. */
  nodeId?: string;
  /** Envoy node.cluster. Default 'weir'. */
  cluster?: string;
  /** Where the xDS server listens. Default 127.0.0.1:18000. */
  xdsAddress?: string;
  xdsPort?: number;
  /** Admin interface port on 127.0.0.1. Default 9901. */
  adminPort?: number;
  /** 'sotw' (ads_config api_type GRPC) or 'delta' (DELTA_GRPC). Default 'sotw'. */
  variant?: XdsVariant;
}

export const BOOTSTRAP_DEFAULTS: Required<BootstrapOptions> = {
  nodeId: 'weir-node',
  cluster: 'weir',
  xdsAddress: '127.0.0.1',
  xdsPort: 18000,
  adminPort: 9901,
  variant: 'sotw',
};

export const XDS_CLUSTER_NAME = 'weir-xds';

export function renderBootstrap(options: BootstrapOptions = {}): string {
  const settings = { ...BOOTSTRAP_DEFAULTS, ...definedOnly(options) };
  checkPort('xdsPort', settings.xdsPort);
  checkPort('adminPort', settings.adminPort, { allowZero: true });
  const adsSource = { ads: {}, resource_api_version: 'V3' };
  const bootstrap = {
    node: { id: settings.nodeId, cluster: settings.cluster },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: settings.adminPort } } },
    dynamic_resources: {
      ads_config: {
        api_type: settings.variant === 'delta' ? 'DELTA_GRPC' : 'GRPC',
        transport_api_version: 'V3',
        set_node_on_first_message_only: true,
        grpc_services: [{ envoy_grpc: { cluster_name: XDS_CLUSTER_NAME } }],
      },
      lds_config: adsSource,
      cds_config: adsSource,
    },
    static_resources: {
      clusters: [
        {
          name: XDS_CLUSTER_NAME,
          type: discoveryTypeFor([{ address: settings.xdsAddress, port: settings.xdsPort }]),
          connect_timeout: '1s',
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: {
            cluster_name: XDS_CLUSTER_NAME,
            endpoints: [
              {
                lb_endpoints: [
                  { endpoint: { address: { socket_address: { address: settings.xdsAddress, port_value: settings.xdsPort } } } },
                ],
              },
            ],
          },
        },
      ],
    },
  };
  return stringify(bootstrap, { aliasDuplicateObjects: false });
}

function checkPort(option: string, port: number, rules: { allowZero?: boolean } = {}): void {
  const lowest = rules.allowZero ? 0 : 1;
  if (!Number.isInteger(port) || port < lowest || port > 65535) {
    throw new Error(`bootstrap ${option}: ${port} is not a port (${lowest}-65535)`);
  }
}

function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as Partial<T>;
}
