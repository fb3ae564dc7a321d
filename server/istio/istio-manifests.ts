// What an Istio user applies so that Weir's parsers run in the sidecars Istio already injects, for
// one workload: a WasmPlugin (type NETWORK) per parser, port and direction, or the equivalent
// TrafficExtension (Istio 1.30+); the ConfigMap that `sidecar.istio.io/bootstrapOverride` merges
// into the sidecar's bootstrap (the Weir agent as a singleton Wasm service with the empty vm_id,
// which WasmPlugin VMs have too, and the `weir-xds` cluster to `weir serve`); and the pod
// annotations that wire them in. Pure: it renders what it is given (workload-layout.ts computes
// which ports; the CLI reads modules and credentials). Why the agent rides the bootstrap rather than
// each plugin's root context: docs/istio.md.
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';
import { agentBootstrapExtension, XDS_CLUSTER_NAME, xdsCluster } from '../xds/bootstrap.ts';
import { DEFAULT_MAX_BUFFER_BYTES, type AgentPolicyPluginConfiguration } from '../xds/resources/wasm-filter.ts';
import { buildWasmImage } from './wasm-image.ts';
import type { IstioWorkload, WorkloadLayout } from './workload-layout.ts';

export type IstioExtensionApi = 'WasmPlugin' | 'TrafficExtension';
export type IstioFailStrategy = 'FAIL_CLOSE' | 'FAIL_RELOAD';

/** Where the sidecar finds a parser module, and the checksum Istio verifies for that URL. */
export interface ModuleReference {
  readonly url: string;
  /** oci://: the image manifest's digest; http(s)://: the module's SHA-256; file://: none (Istio ignores it). */
  readonly sha256?: string;
}

/** Paths inside the istio-proxy container. */
export interface SidecarMounts {
  /** Where Istio's injector mounts the bootstrapOverride ConfigMap. */
  readonly bootstrap: string;
  /**
   * Where the agent reads its node credentials (the Secret `weir-node-<workload>` made from the
   * directory `weir bootstrap` writes for this mount path, mounted through the userVolume annotations).
   */
  readonly credentials: string;
}

export const ISTIO_SIDECAR_MOUNTS: SidecarMounts = { bootstrap: '/etc/istio/custom-bootstrap', credentials: '/etc/weir/credentials' };

/** The file names pilot-agent reads from the override ConfigMap, and the agent's module beside it. */
export const BOOTSTRAP_OVERRIDE_FILE = 'custom_bootstrap.json';
export const AGENT_WASM_FILE = 'agent.wasm';

export interface IstioManifestOptions {
  readonly workload: IstioWorkload;
  readonly layout: WorkloadLayout;
  /** Per parser named in the layout. */
  readonly modules: ReadonlyMap<string, ModuleReference>;
  readonly api: IstioExtensionApi;
  readonly failStrategy: IstioFailStrategy;
  /** `weir serve`'s xDS address as the sidecar reaches it (a Service name, usually). */
  readonly weirServe: { readonly address: string; readonly port: number };
  readonly agentWasm: Uint8Array;
  readonly mounts: SidecarMounts;
  /** Plaintext to a `weir serve --insecure` (development only): no credentials Secret. Default false. */
  readonly insecure?: boolean;
  /**
   * The mesh's trust domain and its aliases: inbound parsers know an mTLS peer by its SPIFFE ID
   * from one of them (Istio's own default is cluster.local); empty: by its address only.
   */
  readonly trustDomains: readonly string[];
}

export interface IstioManifests {
  /** Kubernetes objects, in apply order. */
  readonly objects: readonly object[];
  /** What the workload's pod template must carry. */
  readonly podAnnotations: Readonly<Record<string, string>>;
}

const MANAGED_BY = { 'app.kubernetes.io/managed-by': 'weir' };

/** Istio's trust domain when the mesh configuration names none. */
export const ISTIO_DEFAULT_TRUST_DOMAIN = 'cluster.local';

export function renderIstioManifests(options: IstioManifestOptions): IstioManifests {
  const override = overrideConfigMap(options);
  const extensions = [
    ...options.layout.inbound.map((entry) => extension(options, { ...entry, direction: 'ingress' })),
    ...options.layout.outbound.map((entry) => extension(options, { ...entry, direction: 'egress' })),
  ];
  const credentials: Record<string, string> = options.insecure === true
    ? {}
    : {
        // Istio's injector adds these volumes to the istio-proxy container (JSON maps by name).
        'sidecar.istio.io/userVolume': JSON.stringify({ 'weir-credentials': { secret: { secretName: credentialsSecretName(options.workload) } } }),
        'sidecar.istio.io/userVolumeMount': JSON.stringify({ 'weir-credentials': { mountPath: options.mounts.credentials, readOnly: true } }),
      };
  return {
    objects: [override, ...extensions],
    podAnnotations: { 'sidecar.istio.io/bootstrapOverride': override.metadata.name, ...credentials },
  };
}

/** The Secret that holds the workload's Weir node credentials (docs/istio.md says how to make it). */
export function credentialsSecretName(workload: Pick<IstioWorkload, 'name'>): string {
  return `weir-node-${workload.name}`;
}

/** The manifests as one YAML stream, headed by what to add to the pod template. */
export function istioManifestsYaml(manifests: IstioManifests, options: Pick<IstioManifestOptions, 'workload' | 'layout' | 'mounts' | 'insecure'>): string {
  const annotations = stringify({ annotations: manifests.podAnnotations }).trimEnd().split('\n');
  const header = [
    `# Weir for Istio: workload ${options.workload.namespace}/${options.workload.name}, Weir node and endpoint ${options.layout.endpoint}, policy revision ${options.layout.revision}.`,
    '# Apply these objects, and add to the pod template (spec.template.metadata) of the workload:',
    ...annotations.map((line) => `#   ${line}`),
    ...(options.insecure === true
      ? []
      : [
          `# and create the Secret ${credentialsSecretName(options.workload)} with the node's credentials, written for the sidecar's mount path:`,
          `#   weir bootstrap --node-id ${options.layout.endpoint} --certs ${options.mounts.credentials} > /dev/null   (on a machine where that path is writable)`,
          `#   kubectl -n ${options.workload.namespace} create secret generic ${credentialsSecretName(options.workload)} --from-file=${options.mounts.credentials}/`,
        ]),
    ...(manifests.objects.length === 1 ? ['# No policy names an l7proto for this workload yet: no WasmPlugin (the agent still registers its pods).'] : []),
    ...options.layout.missingModules.map((problem) => `# Warning: ${problem}; that port is guarded by the tcp guard, which denies its L7 rules.`),
  ];
  return `${header.join('\n')}\n${manifests.objects.map((object) => `---\n${stringify(object, { aliasDuplicateObjects: false, lineWidth: 0 })}`).join('')}`;
}

/** The module reference for `parser`: `{parser}` in the URL template replaced, the checksum its scheme needs. */
export function moduleReference(urlTemplate: string, parser: string, module: Uint8Array): ModuleReference {
  const url = urlTemplate.replaceAll('{parser}', parser);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase() ?? 'oci';
  if (scheme === 'file') return { url };
  if (scheme === 'oci') return { url, sha256: buildWasmImage(module).manifestSha256 };
  if (scheme === 'http' || scheme === 'https') return { url, sha256: createHash('sha256').update(module).digest('hex') };
  throw new Error(`module URL ${url}: scheme ${scheme}:// is not one Istio fetches; use oci://, https://, http:// or file://`);
}

interface ExtensionEntry {
  readonly port: number;
  readonly parser: string;
  readonly direction: 'ingress' | 'egress';
}

/** One WasmPlugin (or TrafficExtension): this parser, on this port, in this direction of the workload. */
function extension(options: IstioManifestOptions, entry: ExtensionEntry): object {
  const module = options.modules.get(entry.parser);
  if (module === undefined) throw new Error(`no module reference for parser ${entry.parser}`);
  const pluginConfig: AgentPolicyPluginConfiguration = {
    parser: entry.parser,
    maxBufferBytes: DEFAULT_MAX_BUFFER_BYTES,
    policy: 'agent',
    endpoint: options.layout.endpoint,
    direction: entry.direction,
    port: entry.port,
    ...(entry.direction === 'ingress' && options.trustDomains.length > 0 ? { spiffeTrustDomains: [...options.trustDomains] } : {}),
  };
  const metadata = {
    name: `weir-${options.workload.name}-${entry.parser}-${entry.port}${entry.direction === 'egress' ? '-egress' : ''}`,
    namespace: options.workload.namespace,
    labels: { ...MANAGED_BY, 'weir.dev/workload': options.workload.name },
  };
  // SERVER: the sidecar's inbound chain of the port; CLIENT: its outbound chain to that port.
  const match = [{ mode: entry.direction === 'ingress' ? 'SERVER' : 'CLIENT', ports: [{ number: entry.port }] }];
  const selector = { matchLabels: { ...options.workload.labels } };
  const wasm = {
    url: module.url,
    ...(module.sha256 === undefined ? {} : { sha256: module.sha256 }),
    imagePullPolicy: 'IfNotPresent',
    pluginName: entry.parser,
    pluginConfig,
    failStrategy: options.failStrategy,
    type: 'NETWORK',
  };
  if (options.api === 'TrafficExtension') {
    return { apiVersion: 'extensions.istio.io/v1alpha1', kind: 'TrafficExtension', metadata, spec: { selector, phase: 'AUTHZ', match, wasm } };
  }
  return { apiVersion: 'extensions.istio.io/v1alpha1', kind: 'WasmPlugin', metadata, spec: { selector, phase: 'AUTHZ', match, ...wasm } };
}

interface ConfigMapObject {
  apiVersion: 'v1';
  kind: 'ConfigMap';
  metadata: { name: string; namespace: string; labels: Record<string, string> };
  data: Record<string, string>;
  binaryData: Record<string, string>;
}

/**
 * The bootstrapOverride ConfigMap: pilot-agent hands `custom_bootstrap.json` to Envoy as
 * `--config-yaml`, which Envoy merges into the bootstrap pilot-agent generated (lists append), so
 * the sidecar gains the `weir-xds` cluster and the agent. The agent's module sits in the same
 * ConfigMap, mounted beside the override.
 */
function overrideConfigMap(options: IstioManifestOptions): ConfigMapObject {
  const override = bootstrapOverride(options);
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `weir-agent-${options.workload.name}`, namespace: options.workload.namespace, labels: { ...MANAGED_BY, 'weir.dev/workload': options.workload.name } },
    data: { [BOOTSTRAP_OVERRIDE_FILE]: JSON.stringify(override, null, 2) },
    binaryData: { [AGENT_WASM_FILE]: Buffer.from(options.agentWasm).toString('base64') },
  };
}

/** The bootstrap fragment pilot-agent merges in; exported for the tests' pilot-agent stand-in. */
export function bootstrapOverride(options: Pick<IstioManifestOptions, 'weirServe' | 'mounts' | 'layout' | 'insecure'>): object {
  const agentWasmFile = `${options.mounts.bootstrap}/${AGENT_WASM_FILE}`;
  const transport = options.insecure === true ? 'insecure' : { credentialsDir: options.mounts.credentials };
  return {
    static_resources: { clusters: [xdsCluster(options.weirServe.address, options.weirServe.port, transport)] },
    bootstrap_extensions: [
      agentBootstrapExtension(agentWasmFile, {
        // WasmPlugin VMs have the empty vm_id (Istio sets none): the agent shares their namespace.
        vmId: '',
        configuration: { xdsCluster: XDS_CLUSTER_NAME, nodeId: options.layout.endpoint, forwardNodeMetadata: true },
      }),
    ],
  };
}
