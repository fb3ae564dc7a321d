// weir-istiod (main.go) in a network namespace of a netns lab, and the Envoy bootstrap pilot-agent
// would write for a sidecar: the parts of an Istio mesh the Istio tests (test/istio) run, with
// istiod's real Kubernetes config path and no cluster. Objects go through its apply endpoint, which
// validates them against Istio's CRDs and istiod's webhook as a cluster would (install.ts builds
// the binary and copies the CRDs). Everything started here stops by pid through the lab.
import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import type { Lab } from '../netns-lab.ts';
import { ISTIO_CRDS_FILE, WEIR_ISTIOD_BINARY } from './install.ts';

/** istiod's plaintext xDS port, as in a cluster (fixed: the lab's node namespace is this test's own). */
export const ISTIOD_GRPC_PORT = 15010;
const ISTIOD_HTTP_PORT = 8080;
const ISTIOD_MONITORING_PORT = 15014;
const APPLY_PORT = 15080;

export interface RunningIstiod {
  /** Applies a YAML stream (kubectl apply); throws with istiod's admission messages if any object is refused. */
  apply(yaml: string): void;
  /** Like apply, but returns the refusal instead of throwing (exit status and message). */
  tryApply(yaml: string): { ok: boolean; message: string };
  /** istiod's /debug/syncz: per proxy, per type, what was sent, ACKed and NACKed. */
  syncz(): SyncStatus[];
  /** weir-istiod validate: every object against the CRDs and the webhook, without a server. */
  validate(manifestFile: string): { ok: boolean; output: string };
  log(): string;
}

/** One proxy's sync state, from istiod's /debug/syncz (pilot/pkg/xds/debug.go's SyncStatus). */
export interface SyncStatus {
  proxy: string;
  /** type URL -> what istiod's syncstatus says (SYNCED, STALE, NOT_SENT, ERROR) and a NACK's message. */
  types: Record<string, { status: string; error?: string }>;
}

/**
 * Starts weir-istiod in `ns`, applies Istio's CRDs, and resolves once istiod serves xDS. With
 * `meshConfigFile`, istiod reads its MeshConfig from there (as from the `istio` ConfigMap).
 */
export async function startIstiodIn(lab: Lab, ns: string, options: { meshConfigFile?: string } = {}): Promise<RunningIstiod> {
  const child = lab.spawn(ns, WEIR_ISTIOD_BINARY, [
    'serve',
    '--grpc-addr', `0.0.0.0:${ISTIOD_GRPC_PORT}`,
    '--http-addr', `127.0.0.1:${ISTIOD_HTTP_PORT}`,
    '--monitoring-addr', `127.0.0.1:${ISTIOD_MONITORING_PORT}`,
    '--apply-addr', `127.0.0.1:${APPLY_PORT}`,
    ...(options.meshConfigFile === undefined ? [] : ['--mesh-config', options.meshConfigFile]),
  ]);
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (output.includes('weir-istiod: istiod serving xDS')) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code, signal) => reject(new Error(`weir-istiod exited during start-up (${code ?? signal}):\n${output.slice(-4000)}`)));
  });
  await ready;
  const post = (route: string, yaml: string): { ok: boolean; message: string } => {
    const result = lab.exec(ns, 'curl', ['-s', '-m', '60', '-w', '\n%{http_code}', '--data-binary', '@-', `http://127.0.0.1:${APPLY_PORT}${route}`], { input: yaml, timeoutMs: 90_000 });
    const lines = result.stdout.split('\n');
    const status = Number(lines.pop() ?? '0');
    return { ok: status === 200, message: lines.join('\n') };
  };
  const istiod: RunningIstiod = {
    tryApply: (yaml) => post('/apply', yaml),
    apply: (yaml) => {
      const outcome = post('/apply', yaml);
      if (!outcome.ok) throw new Error(`weir-istiod refused the objects: ${outcome.message}`);
    },
    syncz: () => {
      const result = lab.exec(ns, 'curl', ['-s', '-m', '10', `http://127.0.0.1:${ISTIOD_HTTP_PORT}/debug/syncz`]);
      return syncStatusOf(result.stdout);
    },
    validate: (manifestFile) => {
      const result = lab.exec(ns, WEIR_ISTIOD_BINARY, ['validate', '--crds', ISTIO_CRDS_FILE, manifestFile], { timeoutMs: 120_000 });
      return { ok: result.status === 0, output: result.stdout + result.stderr };
    },
    log: () => output,
  };
  istiod.apply(fs.readFileSync(ISTIO_CRDS_FILE, 'utf8'));
  return istiod;
}

interface SynczEntry {
  proxy?: string;
  resources?: Record<string, { sent?: string; acked?: string; lastError?: string }>;
}

/** Reads /debug/syncz with istiod's own status rules (statusgen.go's debugSyncStatus). */
function syncStatusOf(body: string): SyncStatus[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  return (parsed as SynczEntry[]).map((entry) => ({
    proxy: entry.proxy ?? '',
    types: Object.fromEntries(
      Object.entries(entry.resources ?? {}).map(([typeUrl, state]) => {
        const error = state.lastError === undefined || state.lastError === '' ? undefined : state.lastError;
        const status = error !== undefined ? 'ERROR' : (state.sent ?? '') === '' ? 'NOT_SENT' : state.sent === state.acked ? 'SYNCED' : 'STALE';
        return [typeUrl, { status, ...(error === undefined ? {} : { error }) }];
      }),
    ),
  }));
}

export interface IstioSidecarIdentity {
  /** Pod name, namespace, its IP, the workload (Deployment) name, its labels. */
  pod: string;
  namespace: string;
  ip: string;
  workload: string;
  labels: Record<string, string>;
  serviceAccount: string;
}

/**
 * The bootstrap pilot-agent writes for a sidecar, reduced to what istiod and Envoy need without
 * Istio's agent: the `sidecar~IP~POD.NS~NS.svc.cluster.local` node with Istio's metadata keys, ADS
 * to istiod's plaintext port over the `xds-grpc` cluster, the admin on 127.0.0.1:15000, and
 * readiness on 15021 (pilot-agent proxies it; here Envoy serves it, as Weir's own sidecar does).
 * With `sdsSocket`, the `sds-grpc` cluster istiod's TLS contexts fetch the workload certificate
 * and the root from (pilot-agent's points at ./var/run/secrets/workload-spiffe-uds/socket, where
 * istio-agent serves them; workload-sds.ts stands in). istiod sends everything else
 * (virtualInbound, virtualOutbound, ECDS for WasmPlugins).
 */
export function pilotAgentBootstrap(identity: IstioSidecarIdentity, istiodAddress: string, options: { sdsSocket?: string } = {}): string {
  const bootstrap = {
    node: {
      id: `sidecar~${identity.ip}~${identity.pod}.${identity.namespace}~${identity.namespace}.svc.cluster.local`,
      cluster: `${identity.workload}.${identity.namespace}`,
      metadata: {
        NAMESPACE: identity.namespace,
        NAME: identity.pod,
        LABELS: identity.labels,
        INSTANCE_IPS: identity.ip,
        WORKLOAD_NAME: identity.workload,
        SERVICE_ACCOUNT: identity.serviceAccount,
        CLUSTER_ID: 'Kubernetes',
        ISTIO_VERSION: '1.31.0',
        INTERCEPTION_MODE: 'REDIRECT',
        MESH_ID: 'cluster.local',
      },
    },
    admin: { address: { socket_address: { address: '127.0.0.1', port_value: 15000 } } },
    dynamic_resources: {
      lds_config: { ads: {}, initial_fetch_timeout: '0s', resource_api_version: 'V3' },
      cds_config: { ads: {}, initial_fetch_timeout: '0s', resource_api_version: 'V3' },
      ads_config: { api_type: 'GRPC', set_node_on_first_message_only: true, transport_api_version: 'V3', grpc_services: [{ envoy_grpc: { cluster_name: 'xds-grpc' } }] },
    },
    static_resources: {
      clusters: [
        {
          name: 'xds-grpc',
          type: 'STATIC',
          connect_timeout: '1s',
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
              '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: { cluster_name: 'xds-grpc', endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { address: istiodAddress, port_value: ISTIOD_GRPC_PORT } } } }] }] },
        },
        ...(options.sdsSocket === undefined ? [] : [sdsCluster(options.sdsSocket)]),
      ],
      listeners: [readinessListener()],
    },
  };
  return stringify(bootstrap);
}

function sdsCluster(socketPath: string): object {
  return {
    name: 'sds-grpc',
    type: 'STATIC',
    connect_timeout: '1s',
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
    load_assignment: { cluster_name: 'sds-grpc', endpoints: [{ lb_endpoints: [{ endpoint: { address: { pipe: { path: socketPath } } } }] }] },
  };
}

function readinessListener(): object {
  return {
    name: 'readiness',
    address: { socket_address: { address: '0.0.0.0', port_value: 15021 } },
    filter_chains: [{
      filters: [{
        name: 'envoy.filters.network.http_connection_manager',
        typed_config: {
          '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
          stat_prefix: 'readiness',
          route_config: { virtual_hosts: [{ name: 'readiness', domains: ['*'], routes: [{ match: { prefix: '/healthz/ready' }, direct_response: { status: 200, body: { inline_string: 'ready' } } }] }] },
          http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
        },
      }],
    }],
  };
}

/** Writes `text` into `dir/name` and returns the path (for weir-istiod validate). */
export function writeManifest(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}
