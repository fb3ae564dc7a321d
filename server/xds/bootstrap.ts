// Renders the small Envoy bootstrap that points a proxy at the Weir xDS server: node identity,
// admin on loopback, the `weir-xds` HTTP/2 cluster, ADS for listeners and clusters (state of the
// world or delta), and the Weir agent as a singleton Wasm service (docs/agent.md) that fetches
// policy over the same cluster. A sidecar's bootstrap also carries its endpoint in node metadata
// (`weir.endpoint`, docs/identity.md). Everything else arrives over xDS.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { EndpointSpec } from '../identity/endpoints.ts';
import { SIDECAR_ENDPOINT_METADATA_KEY } from '../identity/sidecar-endpoints.ts';
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
  /**
   * More replicas of the xDS server (etcd mode, docs/cluster.md), in order of preference after
   * xdsAddress:xdsPort: `weir-xds` puts each in its own priority and checks them (TCP connect,
   * every second), so all of the proxy's streams (Envoy's ADS and the Weir agent's) go to the first
   * live replica, and move together to the next one when it dies.
   */
  xdsFailover?: ReadonlyArray<{ address: string; port: number }>;
  /** Admin interface port on 127.0.0.1. Default 9901. */
  adminPort?: number;
  /** 'sotw' (ads_config api_type GRPC) or 'delta' (DELTA_GRPC). Default 'sotw'. */
  variant?: XdsVariant;
  /**
   * The Weir agent module as Envoy will find it (an absolute path on the proxy's file system).
   * Default `<repository>/build/filters/agent.wasm`; null leaves the agent out (no policy reaches
   * the parsers, which then deny: fail closed).
   */
  agentWasmFile?: string | null;
  /**
   * The workload endpoint this sidecar serves, put in node.metadata under `weir.endpoint` (the
   * server checks it: server/identity/sidecar-endpoints.ts). Default: none.
   */
  sidecarEndpoint?: EndpointSpec | null;
}

export const BOOTSTRAP_DEFAULTS: Required<BootstrapOptions> = {
  nodeId: 'weir-node',
  cluster: 'weir',
  xdsAddress: '127.0.0.1',
  xdsPort: 18000,
  xdsFailover: [],
  adminPort: 9901,
  variant: 'sotw',
  agentWasmFile: path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'build', 'filters', 'agent.wasm'),
  sidecarEndpoint: null,
};

export const XDS_CLUSTER_NAME = 'weir-xds';
/** The agent's vm_id: parser VMs that enforce its policy use the same one (shared-data namespace). */
export const AGENT_VM_ID = 'weir';
export const AGENT_ROOT_ID = 'agent';

export function renderBootstrap(options: BootstrapOptions = {}): string {
  const settings = { ...BOOTSTRAP_DEFAULTS, ...definedOnly(options) };
  checkPort('xdsPort', settings.xdsPort);
  checkPort('adminPort', settings.adminPort, { allowZero: true });
  const adsSource = { ads: {}, resource_api_version: 'V3' };
  const agent = settings.agentWasmFile === null ? {} : { bootstrap_extensions: [agentBootstrapExtension(settings.agentWasmFile)] };
  const bootstrap = {
    node: {
      id: settings.nodeId,
      cluster: settings.cluster,
      ...(settings.sidecarEndpoint === null ? {} : { metadata: { [SIDECAR_ENDPOINT_METADATA_KEY]: settings.sidecarEndpoint } }),
    },
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
      clusters: [xdsCluster(settings.xdsAddress, settings.xdsPort, settings.xdsFailover)],
    },
    ...agent,
  };
  return stringify(bootstrap, { aliasDuplicateObjects: false });
}

/** The `weir-xds` cluster: the control server at `address`:`port` (and its `failover` replicas), spoken to over HTTP/2 (gRPC). */
export function xdsCluster(address: string, port: number, failover: ReadonlyArray<{ address: string; port: number }> = []): object {
  const servers = [{ address, port }, ...failover];
  for (const server of failover) checkPort('xdsFailover port', server.port);
  // One priority per replica: Envoy sends every stream to the highest priority with a healthy
  // host, so a proxy's streams stay together on one replica (round-robin would split Envoy's ADS
  // stream and the agent's between replicas).
  const failoverSettings =
    failover.length === 0
      ? {}
      : { health_checks: [{ timeout: '1s', interval: '1s', unhealthy_threshold: 1, healthy_threshold: 1, tcp_health_check: {} }] };
  return {
    name: XDS_CLUSTER_NAME,
    type: discoveryTypeFor(servers),
    ...failoverSettings,
    connect_timeout: '1s',
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
    load_assignment: {
      cluster_name: XDS_CLUSTER_NAME,
      endpoints: servers.map((server, priority) => ({ ...(priority === 0 ? {} : { priority }), lb_endpoints: [{ endpoint: { address: { socket_address: { address: server.address, port_value: server.port } } } }] })),
    },
  };
}

/** The Weir agent: one VM on Envoy's main thread (singleton WasmService), loaded from a file; it talks to `weir-xds`. */
export function agentBootstrapExtension(wasmFile: string): object {
  if (!path.isAbsolute(wasmFile)) throw new Error(`bootstrap agentWasmFile: "${wasmFile}" is not an absolute path; Envoy resolves relative paths against its working directory`);
  return {
    name: 'envoy.bootstrap.wasm',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.wasm.v3.WasmService',
      singleton: true,
      config: {
        name: 'weir-agent',
        root_id: AGENT_ROOT_ID,
        vm_config: { vm_id: AGENT_VM_ID, runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: wasmFile } } },
        configuration: {
          '@type': 'type.googleapis.com/google.protobuf.StringValue',
          value: JSON.stringify({ xdsCluster: XDS_CLUSTER_NAME }),
        },
      },
    },
  };
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
