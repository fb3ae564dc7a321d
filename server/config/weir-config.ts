// Reads and checks the server's YAML config file (`weir.yaml`): the xDS listen address and its
// security (mTLS by default, `insecure` to opt out), the PKI (CA, trust domain), the per-node
// redirects (and the endpoint each one guards), where parser modules and policies live, where the
// REST API and the read-only metrics endpoint listen. Defaults live in WEIR_CONFIG_DEFAULTS. Every
// problem is reported at once with the file and the field path, e.g.
// `weir.yaml: redirects[0].upstream.port: must be 1-65535`. Builds no xDS resources.
// `${NAME}` and `${NAME:-default}` in the file are replaced from the environment before parsing
// (as docker-compose does, variables.ts), so one file serves a container whose ports come from variables.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { expandVariables } from './variables.ts';

export interface SocketAddressConfig {
  address: string;
  port: number;
}

export interface RedirectConfig {
  name: string;
  listen: SocketAddressConfig;
  parser: string;
  upstream: SocketAddressConfig;
  /**
   * The store endpoint whose port this redirect proxies: its parser then decides with that endpoint's
   * policy from the Weir agent (ingress, port = endpointPort). Unset: the parser's built-in rules.
   */
  endpoint?: string;
  /**
   * The endpoint's port as its policies name it (`toPorts`); default upstream.port. Set it when the
   * upstream is reached at another port than the service's own, e.g. behind a port-forward.
   */
  endpointPort?: number;
  /** The largest frame the parser buffers (1..268435456 bytes); the parser SDK's default (1 MiB) when unset. */
  maxBufferBytes?: number;
}

export type EnforcementModeConfig = 'default' | 'always' | 'never';

export interface PoliciesConfig {
  /** Absolute directory of the policy store (CiliumNetworkPolicy and Endpoint YAML/JSON files). */
  dir: string;
  enforcementMode: EnforcementModeConfig;
  /** Where policies and endpoints come from: the directory (default), etcd or Kubernetes. */
  source: PolicySourceConfig;
}

export type PolicySourceConfig =
  | { kind: 'directory' }
  /** Several replicas share files, endpoints and identities through etcd (docs/cluster.md). */
  | { kind: 'etcd'; endpoints: string[]; prefix: string }
  /** CiliumNetworkPolicy objects and Pods from the Kubernetes API; kubeconfig unset: in-cluster, else $KUBECONFIG. */
  | { kind: 'kubernetes'; kubeconfig: string | undefined };

export interface ApiTcpConfig extends SocketAddressConfig {
  /** Absolute path of a file holding the bearer token every TCP request must present. */
  tokenFile: string;
  /** The listener's TLS certificate and key (PEM files); default: issued by the weir CA. */
  tls: { cert: string; key: string } | undefined;
}

export interface ApiConfig {
  /** Absolute path of the unix socket the REST API listens on. */
  socket: string;
  /** Optional TCP listener; it always requires the bearer token. */
  tcp: ApiTcpConfig | undefined;
}

export interface PkiConfig {
  /** Absolute directory of the generated CA (`ca.crt`, `ca.key` 0600) and `enrolments.json`. */
  dir: string;
  /** SPIFFE trust domain of node and server certificates. */
  trustDomain: string;
  /** The user's CA (PEM files) instead of a generated one. */
  ca: { cert: string; key: string } | undefined;
  /** Lifetime of node certificates, in seconds. */
  nodeCertificateLifetimeSeconds: number;
}

/** The read-only Prometheus endpoint (GET /metrics only, no token). */
export interface MetricsConfig extends SocketAddressConfig {}

export type FilterDeliveryConfig = 'ecds' | 'inline';
export type EndpointDeliveryConfig = 'inline' | 'eds';

export interface XdsConfig extends SocketAddressConfig {
  /** How parser Wasm filters reach Envoy: 'ecds' (new builds without listener drains) or 'inline'. */
  filterDelivery: FilterDeliveryConfig;
  /** Whether clusters carry their endpoints ('inline') or get them over EDS ('eds'). */
  endpointDelivery: EndpointDeliveryConfig;
  /** Changes inside this window coalesce into one push per proxy. */
  batchWindowMs: number;
  /** Plaintext, unauthenticated proxies (development only). Default false: mTLS. */
  insecure: boolean;
}

export interface StatusConfig extends SocketAddressConfig {}

export interface WeirConfig {
  /** The file it came from, for messages. */
  source: string;
  xds: XdsConfig;
  redirects: RedirectConfig[];
  /** Absolute directory with `<parser>.wasm` files. */
  filtersDir: string;
  /** Obsolete (the REST API replaced the status endpoint); still accepted so old files load. */
  status: StatusConfig;
  policies: PoliciesConfig;
  api: ApiConfig;
  /** This replica's node name (status per node, the pods it serves); default $WEIR_NODE_NAME, else the host name. */
  node: string;
  pki: PkiConfig;
  metrics: MetricsConfig | undefined;
}

export const WEIR_CONFIG_DEFAULTS = {
  file: 'weir.yaml',
  xdsAddress: '127.0.0.1',
  xdsPort: 18000,
  batchWindowMs: 100,
  filterDelivery: 'ecds',
  endpointDelivery: 'inline',
  filtersDir: 'build/filters',
  statusAddress: '127.0.0.1',
  statusPort: 18001,
  policiesDir: '.weir/policies',
  enforcementMode: 'default',
  apiSocket: '.weir/weir.sock',
  pkiDir: '.weir/pki',
  trustDomain: 'weir.local',
  nodeCertificateLifetimeSeconds: 24 * 3600,
} as const;

export class ConfigError extends Error {
  constructor(readonly source: string, readonly problems: readonly string[]) {
    super(problems.map((problem) => `${source}: ${problem}`).join('\n'));
    this.name = 'ConfigError';
  }
}

export function loadWeirConfig(file: string = WEIR_CONFIG_DEFAULTS.file): WeirConfig {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError(file, [`cannot read the config file (${reason}); pass --config FILE`]);
  }
  return parseWeirConfig(text, { source: file, baseDir: path.dirname(path.resolve(file)), listModules: wasmFilesIn });
}

function wasmFilesIn(dir: string): readonly string[] | undefined {
  try {
    return fs.readdirSync(dir).filter((name) => name.endsWith('.wasm'));
  } catch {
    return undefined;
  }
}

/** Where a config text came from; `listModules` (set by loadWeirConfig) lets it check that each redirect's parser is built. */
export interface ConfigOrigin {
  source: string;
  baseDir: string;
  /** The `.wasm` file names in a directory, or undefined when it cannot be read. */
  listModules?: (dir: string) => readonly string[] | undefined;
}

export function parseWeirConfig(text: string, origin: ConfigOrigin, env: NodeJS.ProcessEnv = process.env): WeirConfig {
  const { text: expanded, unset } = expandVariables(text, env);
  if (unset.length > 0) throw new ConfigError(origin.source, unset);
  let document: unknown;
  try {
    document = parse(expanded);
  } catch (error) {
    throw new ConfigError(origin.source, [`not valid YAML: ${error instanceof Error ? error.message : String(error)}`]);
  }
  const problems: string[] = [];
  if (document !== null && document !== undefined && !isRecord(document)) {
    throw new ConfigError(origin.source, ['the top level must be a mapping with xds, redirects, filters, policies and api']);
  }
  const config = readConfig(new FieldReader(document ?? {}, '', problems), origin);
  if (problems.length > 0) throw new ConfigError(origin.source, problems);
  return config;
}

/** Modules in a filters directory that are not parsers. */
const NON_PARSER_MODULES = new Set(['agent', 'probe']);

function readPolicySource(policies: FieldReader, resolve: (file: string) => string): PolicySourceConfig {
  const kind = policies.oneOf('source', ['directory', 'etcd', 'kubernetes'] as const, 'directory');
  for (const other of ['etcd', 'kubernetes'] as const) {
    if (other !== kind && policies.has(other)) policies.problem(other, `applies only with source: ${other}`);
  }
  if (kind === 'etcd') {
    const etcd = policies.child('etcd');
    etcd.expectKeys(['endpoints', 'prefix']);
    const endpoints = etcd.stringList('endpoints');
    endpoints.forEach((url, index) => {
      if (!/^https?:\/\/[^/]+$/.test(url)) etcd.problem(`endpoints[${index}]`, `"${url}" is not an etcd client URL such as http://127.0.0.1:2379`);
    });
    if (endpoints.length === 0) etcd.problem('endpoints', 'needs at least one etcd client URL');
    const prefix = etcd.string('prefix', '/weir/');
    if (!prefix.endsWith('/')) etcd.problem('prefix', 'must end with "/"');
    return { kind, endpoints, prefix };
  }
  if (kind === 'kubernetes') {
    const kubernetes = policies.child('kubernetes', {});
    kubernetes.expectKeys(['kubeconfig']);
    return { kind, kubeconfig: kubernetes.has('kubeconfig') ? resolve(kubernetes.string('kubeconfig')) : undefined };
  }
  return { kind };
}

function defaultNodeName(): string {
  const fromEnvironment = process.env['WEIR_NODE_NAME'];
  return fromEnvironment !== undefined && fromEnvironment !== '' ? fromEnvironment : os.hostname();
}

function readConfig(root: FieldReader, origin: ConfigOrigin): WeirConfig {
  root.expectKeys(['xds', 'redirects', 'filters', 'policies', 'api', 'status', 'node', 'pki', 'metrics']);
  const xds = root.child('xds', {});
  if (xds.has('tls')) xds.problem('tls', 'was replaced by the pki section: weir serve runs its own CA (or pki.ca: {cert, key}, yours) and proxies get certificates from weir bootstrap; see docs/security.md');
  xds.expectKeys(['address', 'port', 'batchWindowMs', 'filterDelivery', 'endpointDelivery', 'insecure'], ['tls']);
  const pkiReader = root.child('pki', {});
  pkiReader.expectKeys(['dir', 'trustDomain', 'ca', 'nodeCertificateLifetimeSeconds']);
  const caReader = pkiReader.has('ca') ? pkiReader.child('ca', {}) : undefined;
  caReader?.expectKeys(['cert', 'key']);
  const metricsReader = root.has('metrics') ? root.child('metrics', {}) : undefined;
  metricsReader?.expectKeys(['address', 'port']);
  const filters = root.child('filters', {});
  filters.expectKeys(['dir']);
  const statusReader = root.child('status', {});
  statusReader.expectKeys(['address', 'port']);
  const policiesReader = root.child('policies', {});
  policiesReader.expectKeys(['dir', 'enforcementMode', 'source', 'etcd', 'kubernetes']);
  const apiReader = root.child('api', {});
  apiReader.expectKeys(['socket', 'tcp']);
  const tcpReader = apiReader.has('tcp') ? apiReader.child('tcp', {}) : undefined;
  tcpReader?.expectKeys(['address', 'port', 'tokenFile', 'cert', 'key']);
  if (tcpReader && tcpReader.has('cert') !== tcpReader.has('key')) tcpReader.problem(tcpReader.has('cert') ? 'key' : 'cert', 'is required with api.tcp.cert/key (give both, or neither to use a certificate of the weir CA)');
  const redirects = root.list('redirects').map((entry) => readRedirect(entry));
  checkUnique(root, redirects.map((redirect) => redirect.name), 'name');
  checkUnique(root, redirects.map((redirect) => `${redirect.listen.address}:${redirect.listen.port}`), 'listen');
  const resolve = (file: string): string => path.resolve(origin.baseDir, file);
  const filtersDir = resolve(filters.string('dir', WEIR_CONFIG_DEFAULTS.filtersDir));
  if (origin.listModules) checkParsersBuilt(root, redirects, filtersDir, origin.listModules(filtersDir));
  return {
    source: origin.source,
    xds: {
      address: xds.string('address', WEIR_CONFIG_DEFAULTS.xdsAddress),
      port: xds.port('port', WEIR_CONFIG_DEFAULTS.xdsPort, { allowZero: true }),
      filterDelivery: xds.oneOf('filterDelivery', ['ecds', 'inline'] as const, WEIR_CONFIG_DEFAULTS.filterDelivery),
      endpointDelivery: xds.oneOf('endpointDelivery', ['inline', 'eds'] as const, WEIR_CONFIG_DEFAULTS.endpointDelivery),
      batchWindowMs: xds.integer('batchWindowMs', WEIR_CONFIG_DEFAULTS.batchWindowMs, { min: 0, max: 60_000 }),
      insecure: xds.boolean('insecure', false),
    },
    pki: {
      dir: resolve(pkiReader.string('dir', WEIR_CONFIG_DEFAULTS.pkiDir)),
      trustDomain: pkiReader.matching('trustDomain', /^[a-z0-9._-]{1,255}$/, 'lower-case letters, digits, ".", "-" or "_" (a SPIFFE trust domain such as weir.local)', WEIR_CONFIG_DEFAULTS.trustDomain),
      ca: caReader ? { cert: resolve(caReader.string('cert')), key: resolve(caReader.string('key')) } : undefined,
      nodeCertificateLifetimeSeconds: pkiReader.integer('nodeCertificateLifetimeSeconds', WEIR_CONFIG_DEFAULTS.nodeCertificateLifetimeSeconds, { min: 60, max: 366 * 24 * 3600 }),
    },
    metrics: metricsReader
      ? { address: metricsReader.string('address', WEIR_CONFIG_DEFAULTS.xdsAddress), port: metricsReader.port('port', undefined, { allowZero: true }) }
      : undefined,
    redirects,
    filtersDir,
    status: {
      address: statusReader.string('address', WEIR_CONFIG_DEFAULTS.statusAddress),
      port: statusReader.port('port', WEIR_CONFIG_DEFAULTS.statusPort, { allowZero: true }),
    },
    policies: {
      dir: resolve(policiesReader.string('dir', WEIR_CONFIG_DEFAULTS.policiesDir)),
      enforcementMode: policiesReader.oneOf('enforcementMode', ['default', 'always', 'never'] as const, WEIR_CONFIG_DEFAULTS.enforcementMode),
      source: readPolicySource(policiesReader, resolve),
    },
    api: {
      socket: resolve(apiReader.string('socket', WEIR_CONFIG_DEFAULTS.apiSocket)),
      tcp: tcpReader
        ? {
            address: tcpReader.string('address', WEIR_CONFIG_DEFAULTS.xdsAddress),
            port: tcpReader.port('port', undefined, { allowZero: true }),
            tokenFile: resolve(tcpReader.string('tokenFile')),
            tls: tcpReader.has('cert') && tcpReader.has('key') ? { cert: resolve(tcpReader.string('cert')), key: resolve(tcpReader.string('key')) } : undefined,
          }
        : undefined,
    },
    node: root.has('node') ? root.matching('node', /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/, 'a node name (lower-case letters, digits, "." and "-")') : defaultNodeName(),
  };
}

const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

function readRedirect(entry: FieldReader): RedirectConfig {
  entry.expectKeys(['name', 'listen', 'parser', 'upstream', 'endpoint', 'endpointPort', 'maxBufferBytes']);
  const redirect: RedirectConfig = {
    name: entry.matching('name', NAME_PATTERN, 'lower-case letters, digits, "-" or "_", starting with a letter or digit'),
    listen: readAddress(entry.child('listen')),
    parser: entry.matching('parser', NAME_PATTERN, 'a parser name such as r2d2 or memcache'),
    upstream: readAddress(entry.child('upstream')),
  };
  if (entry.has('endpoint')) redirect.endpoint = entry.string('endpoint');
  if (entry.has('endpointPort')) {
    if (!entry.has('endpoint')) entry.problem('endpointPort', 'only means something with endpoint: the port of that endpoint its policies name');
    redirect.endpointPort = entry.port('endpointPort');
  }
  if (entry.has('maxBufferBytes')) redirect.maxBufferBytes = entry.integer('maxBufferBytes', undefined, { min: 1, max: 268_435_456 });
  return redirect;
}

function readAddress(reader: FieldReader): SocketAddressConfig {
  reader.expectKeys(['address', 'port']);
  return { address: reader.string('address'), port: reader.port('port') };
}

function checkParsersBuilt(root: FieldReader, redirects: readonly RedirectConfig[], filtersDir: string, modules: readonly string[] | undefined): void {
  if (redirects.length === 0) return;
  if (modules === undefined) {
    root.problem('filters.dir', `cannot read ${filtersDir}; build the filters (npm run build:filters) or point filters.dir at the directory holding <parser>.wasm`);
    return;
  }
  const parsers = modules.map((name) => name.replace(/\.wasm$/, '')).filter((name) => !NON_PARSER_MODULES.has(name)).sort();
  redirects.forEach((redirect, index) => {
    if (redirect.parser === '' || parsers.includes(redirect.parser)) return;
    const known = parsers.length > 0 ? `the parsers there are ${parsers.join(', ')}` : 'it holds no parser modules (npm run build:filters builds them)';
    root.problem(`redirects[${index}].parser`, `no parser "${redirect.parser}" in ${filtersDir}; ${known}`);
  });
}

function checkUnique(root: FieldReader, values: readonly string[], field: string): void {
  const seen = new Map<string, number>();
  values.forEach((value, index) => {
    const first = seen.get(value);
    if (first !== undefined) root.problem(`redirects[${index}].${field}`, `"${value}" is already used by redirects[${first}]`);
    else seen.set(value, index);
  });
}

/** Walks a parsed YAML value, collecting problems with their field path instead of throwing. */
class FieldReader {
  constructor(
    private readonly value: unknown,
    private readonly path: string,
    private readonly problems: string[],
  ) {}

  problem(field: string, message: string): void {
    this.problems.push(`${this.#join(field)}: ${message}`);
  }

  has(field: string): boolean {
    return this.#record()[field] !== undefined;
  }

  /** Reports every key not in `allowed`; `reportedElsewhere` are keys with a problem of their own. */
  expectKeys(allowed: readonly string[], reportedElsewhere: readonly string[] = []): void {
    for (const key of Object.keys(this.#record())) {
      if (!allowed.includes(key) && !reportedElsewhere.includes(key)) this.problem(key, `unknown field; expected one of ${allowed.join(', ')}`);
    }
  }

  child(field: string, fallback?: object): FieldReader {
    const raw = this.#record()[field] ?? fallback;
    if (raw === undefined) this.problem(field, 'is required');
    else if (!isRecord(raw)) this.problem(field, 'must be a mapping');
    return new FieldReader(isRecord(raw) ? raw : {}, this.#join(field), this.problems);
  }

  list(field: string): FieldReader[] {
    const raw = this.#record()[field] ?? [];
    if (!Array.isArray(raw)) {
      this.problem(field, 'must be a list');
      return [];
    }
    return raw.map((item: unknown, index) => {
      const itemPath = `${this.#join(field)}[${index}]`;
      if (!isRecord(item)) this.problems.push(`${itemPath}: must be a mapping`);
      return new FieldReader(isRecord(item) ? item : {}, itemPath, this.problems);
    });
  }

  stringList(field: string): string[] {
    const raw = this.#record()[field] ?? [];
    if (!Array.isArray(raw) || raw.some((item) => typeof item !== 'string' || item === '')) {
      this.problem(field, 'must be a list of non-empty strings');
      return [];
    }
    return raw as string[];
  }

  string(field: string, fallback?: string): string {
    const raw = this.#record()[field] ?? fallback;
    if (typeof raw === 'string' && raw !== '') return raw;
    this.problem(field, raw === undefined ? 'is required' : 'must be a non-empty string');
    return '';
  }

  oneOf<T extends string>(field: string, allowed: readonly T[], fallback: T): T {
    const raw = this.#record()[field] ?? fallback;
    const match = allowed.find((candidate) => candidate === raw);
    if (match !== undefined) return match;
    this.problem(field, `must be one of ${allowed.join(', ')}`);
    return fallback;
  }

  matching(field: string, pattern: RegExp, description: string, fallback?: string): string {
    const raw = this.string(field, fallback);
    if (raw !== '' && !pattern.test(raw)) this.problem(field, `"${raw}" is not valid: use ${description}`);
    return raw;
  }

  boolean(field: string, fallback: boolean): boolean {
    const raw = this.#record()[field] ?? fallback;
    if (typeof raw === 'boolean') return raw;
    this.problem(field, 'must be true or false');
    return fallback;
  }

  integer(field: string, fallback: number | undefined, range: { min: number; max: number }): number {
    const raw = this.#record()[field] ?? fallback;
    if (typeof raw === 'number' && Number.isInteger(raw) && raw >= range.min && raw <= range.max) return raw;
    this.problem(field, raw === undefined ? 'is required' : `must be an integer ${range.min}-${range.max}`);
    return range.min;
  }

  /** A port as a number or, as Kubernetes and Cilium write ports, a string of digits ("11211"). */
  port(field: string, fallback?: number, rules: { allowZero?: boolean } = {}): number {
    const given = this.#record()[field] ?? fallback;
    const raw = typeof given === 'string' && /^[0-9]{1,5}$/.test(given) ? Number(given) : given;
    const lowest = rules.allowZero ? 0 : 1;
    if (typeof raw === 'number' && Number.isInteger(raw) && raw >= lowest && raw <= 65535) return raw;
    this.problem(field, raw === undefined ? 'is required' : `must be a port number ${lowest}-65535 (found ${JSON.stringify(given)})`);
    return 0;
  }

  #record(): Record<string, unknown> {
    return isRecord(this.value) ? this.value : {};
  }

  #join(field: string): string {
    return this.path === '' ? field : `${this.path}.${field}`;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
