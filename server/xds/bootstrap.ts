// Renders the small Envoy bootstrap that points a proxy at the Weir xDS server: node identity,
// admin on loopback, the `weir-xds` HTTP/2 cluster (mTLS with the node's credentials directory,
// read through SDS files so renewed certificates load without a restart; plaintext only when
// asked for), ADS for listeners and clusters (state of the world or delta), and the Weir agent as
// a singleton Wasm service (docs/agent.md) that fetches policy and ships access logs over the same
// cluster, so the same TLS covers its streams. A sidecar's bootstrap also carries its endpoint in node metadata
// (`weir.endpoint`, docs/identity.md). Everything else arrives over xDS.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import type { EndpointSpec } from '../identity/endpoints.ts';
import { SIDECAR_ENDPOINT_METADATA_KEY } from '../identity/sidecar-endpoints.ts';
import { NODE_CERTIFICATE_SECRET, NODE_TRUST_SECRET, sdsFiles } from '../pki/node-credentials.ts';
import { discoveryFor } from './resources/cluster.ts';

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
   * xdsAddress:xdsPort: `weir-xds` puts each in its own priority, so all of the proxy's streams
   * (Envoy's ADS and the Weir agent's) go to the first replica, and when a connection to it fails
   * that replica is set aside for a while and the streams reconnect to the next one.
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
  /**
   * The node's credentials directory (server/pki/node-credentials.ts, written by `weir bootstrap`
   * or `weir node renew`), as Envoy will find it. Required unless `insecure`.
   */
  credentialsDir?: string | null;
  /** Plaintext to a `weir serve --insecure` (development only). Default false. */
  insecure?: boolean;
  /** More node.metadata keys, e.g. `weir.interception` (docs/sidecar.md). Default: none. */
  nodeMetadata?: Readonly<Record<string, unknown>>;
}

/** How the `weir-xds` cluster reaches the server: mTLS with a credentials directory, or plaintext. */
export type XdsTransport = { credentialsDir: string } | 'insecure';

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
  credentialsDir: null,
  insecure: false,
  nodeMetadata: {},
};

export const XDS_CLUSTER_NAME = 'weir-xds';
/** The agent's vm_id: parser VMs that enforce its policy use the same one (shared-data namespace). */
export const AGENT_VM_ID = 'weir';
export const AGENT_ROOT_ID = 'agent';

export function renderBootstrap(options: BootstrapOptions = {}): string {
  const settings = { ...BOOTSTRAP_DEFAULTS, ...definedOnly(options) };
  checkPort('xdsPort', settings.xdsPort);
  checkPort('adminPort', settings.adminPort, { allowZero: true });
  const transport = xdsTransportOf(settings);
  const adsSource = { ads: {}, resource_api_version: 'V3' };
  const agent = settings.agentWasmFile === null ? {} : { bootstrap_extensions: [agentBootstrapExtension(settings.agentWasmFile)] };
  const metadata = { ...settings.nodeMetadata, ...(settings.sidecarEndpoint === null ? {} : { [SIDECAR_ENDPOINT_METADATA_KEY]: settings.sidecarEndpoint }) };
  const bootstrap = {
    node: {
      id: settings.nodeId,
      cluster: settings.cluster,
      ...(Object.keys(metadata).length === 0 ? {} : { metadata }),
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
      clusters: [xdsCluster(settings.xdsAddress, settings.xdsPort, transport, settings.xdsFailover)],
    },
    ...agent,
  };
  return stringify(bootstrap, { aliasDuplicateObjects: false });
}

/**
 * The `weir-xds` cluster: the control server at `address`:`port` (and its `failover` replicas),
 * spoken to over HTTP/2 (gRPC), mTLS unless insecure.
 */
export function xdsCluster(address: string, port: number, transport: XdsTransport, failover: ReadonlyArray<{ address: string; port: number }> = []): object {
  const servers = [{ address, port }, ...failover];
  for (const server of failover) checkPort('xdsFailover port', server.port);
  // One priority per replica: Envoy sends every stream to the highest priority with a usable host,
  // so a proxy's streams (Envoy's ADS and the agent's) stay together on one replica; round-robin
  // would split them. A replica is set aside when a connection to it fails (outlier detection on
  // local-origin errors), not by active health checks: a check that times out on a loaded machine
  // would move the next stream, and only that one, to another replica.
  const failoverSettings =
    failover.length === 0
      ? {}
      : {
          outlier_detection: {
            split_external_local_origin_errors: true,
            consecutive_local_origin_failure: 1,
            consecutive_5xx: 1000,
            interval: '1s',
            base_ejection_time: '2s',
            max_ejection_time: '10s',
            max_ejection_percent: 100,
          },
        };
  return {
    name: XDS_CLUSTER_NAME,
    ...discoveryFor(servers),
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
    ...(transport === 'insecure' ? {} : { transport_socket: mtlsTransportSocket(transport.credentialsDir) }),
  };
}

/**
 * Client certificate and trust bundle from the SDS files of the credentials directory (both watch
 * the directory, so a renewal is picked up without a restart); the server must present the weir
 * SPIFFE ID (checked in the trust file); ALPN h2 because the server is gRPC over TLS.
 */
function mtlsTransportSocket(credentialsDir: string): object {
  if (!path.isAbsolute(credentialsDir)) throw new Error(`bootstrap credentialsDir: "${credentialsDir}" is not an absolute path; Envoy resolves relative paths against its working directory`);
  const files = sdsFiles(credentialsDir);
  const fileSource = (file: string): object => ({ path_config_source: { path: file }, resource_api_version: 'V3' });
  return {
    name: 'envoy.transport_sockets.tls',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
      common_tls_context: {
        alpn_protocols: ['h2'],
        tls_certificate_sds_secret_configs: [{ name: NODE_CERTIFICATE_SECRET, sds_config: fileSource(files.certificate) }],
        validation_context_sds_secret_config: { name: NODE_TRUST_SECRET, sds_config: fileSource(files.trust) },
      },
    },
  };
}

function xdsTransportOf(settings: { credentialsDir: string | null; insecure: boolean }): XdsTransport {
  if (settings.insecure) {
    if (settings.credentialsDir !== null) throw new Error('bootstrap: give credentialsDir (mTLS) or insecure, not both');
    return 'insecure';
  }
  if (settings.credentialsDir === null) {
    throw new Error('bootstrap: the weir-xds cluster needs the node\'s credentials (credentialsDir, written by weir bootstrap or weir node renew); pass insecure only for a weir serve --insecure');
  }
  return { credentialsDir: settings.credentialsDir };
}

/** What differs for the agent inside an Istio sidecar (server/istio/). */
export interface AgentPlacement {
  /** The shared-data namespace of the parsers it serves. Default AGENT_VM_ID. */
  vmId?: string;
  /** Its configuration (filters/agent/agent-config.ts). Default `{xdsCluster: weir-xds}`. */
  configuration?: { xdsCluster: string; nodeId?: string; forwardNodeMetadata?: boolean };
}

/** The Weir agent: one VM on Envoy's main thread (singleton WasmService), loaded from a file; it talks to `weir-xds`. */
export function agentBootstrapExtension(wasmFile: string, placement: AgentPlacement = {}): object {
  if (!path.isAbsolute(wasmFile)) throw new Error(`bootstrap agentWasmFile: "${wasmFile}" is not an absolute path; Envoy resolves relative paths against its working directory`);
  return {
    name: 'envoy.bootstrap.wasm',
    typed_config: {
      '@type': 'type.googleapis.com/envoy.extensions.wasm.v3.WasmService',
      singleton: true,
      config: {
        name: 'weir-agent',
        root_id: AGENT_ROOT_ID,
        vm_config: { vm_id: placement.vmId ?? AGENT_VM_ID, runtime: 'envoy.wasm.runtime.v8', code: { local: { filename: wasmFile } } },
        configuration: {
          '@type': 'type.googleapis.com/google.protobuf.StringValue',
          value: JSON.stringify(placement.configuration ?? { xdsCluster: XDS_CLUSTER_NAME }),
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
