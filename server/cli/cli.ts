// The `weir` command line: parses arguments into each command's typed options object and runs it.
// Commands: serve, bootstrap, node list|revoke|renew, policy import|get|delete|wait, endpoint
// list, identity list, proxy list. Exit codes (docs/cli.md): 0 ok, 1 the command failed, 2 bad usage, 3 a proxy rejected the
// policy, 4 waiting timed out.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/weir-config.ts';
import { createLogger } from '../log/logger.ts';
import type { BootstrapOptions } from '../xds/bootstrap.ts';
import { API_TARGET_FLAGS, apiTargetFrom, type ApiTarget } from './api-client.ts';
import { bootstrapCommand, DEFAULT_NODES_DIR, type BootstrapCommandOptions } from './bootstrap-command.ts';
import { nodeList, nodeRenew, nodeRevoke, nodeToken } from './node-command.ts';
import { CommandFailure, EXIT_CODES } from './command-failure.ts';
import { endpointList } from './endpoint-command.ts';
import { identityList } from './identity-command.ts';
import { policyDelete, policyGet, policyImport, policyTrace, policyWait, type OutputFormat } from './policy-command.ts';
import { proxyList } from './proxy-command.ts';
import { runParserCommand } from './parser-command.ts';
import { runSidecarCommand, SidecarUsageError } from './sidecar-command.ts';
import { runNodeIptablesCommand } from './node-iptables-command.ts';
import { SIDECAR_PORTS } from '../xds/sidecar-snapshot.ts';
import { INTERCEPTION_METADATA_KEY } from '../interception/intercepting-proxies.ts';
import { metricsCli, monitorCli, ObservabilityUsageError, statusCli } from './observability-cli.ts';
import { helpFor, wantsHelp } from './usage.ts';
import { DEFAULT_FILTERS_DIR, istioImage, istioManifests } from './istio-command.ts';
import { ISTIO_DEFAULT_TRUST_DOMAIN, ISTIO_SIDECAR_MOUNTS } from '../istio/istio-manifests.ts';

export class UsageError extends Error {}

const API_FLAGS = { ...API_TARGET_FLAGS, json: { type: 'boolean' } } as const;

export async function runCli(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'help' || wantsHelp(argv)) {
    process.stdout.write(`${helpFor(command === 'help' ? rest : argv)}\n`);
    return 0;
  }
  try {
    switch (command) {
      case 'serve':
        return await serveUntilSignalled(rest);
      case 'bootstrap':
        process.stdout.write(await bootstrapCommand(bootstrapCommandFrom(rest)));
        return 0;
      case 'node':
        return print(await nodeSubcommand(rest));
      case 'policy':
        return print(await policySubcommand(rest));
      case 'endpoint':
        return print(await listSubcommand('endpoint', rest, (target, output) => endpointList({ target, output })));
      case 'identity':
        return print(await listSubcommand('identity', rest, (target, output) => identityList({ target, output })));
      case 'proxy':
        return print(await listSubcommand('proxy', rest, (target, output) => proxyList({ target, output })));
      case 'monitor':
        return await monitorCli(rest);
      case 'metrics':
        return await metricsCli(rest);
      case 'status':
        return await statusCli(rest);
      case 'parser':
        return await runParserCommand(rest);
      case 'sidecar':
        process.stdout.write(runSidecarCommand(rest));
        return 0;
      case 'istio':
        return print(await istioSubcommand(rest));
      case undefined:
        process.stderr.write(`${helpFor([])}\n`);
        return EXIT_CODES.usage;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError || error instanceof ObservabilityUsageError || error instanceof SidecarUsageError) {
      process.stderr.write(`weir: ${error.message}\n${helpFor(argv)}\n`);
      return EXIT_CODES.usage;
    }
    const label = ['policy', 'endpoint', 'identity', 'proxy', 'node', 'istio'].includes(command ?? '') && rest[0] !== undefined ? `${command} ${rest[0]}` : command;
    process.stderr.write(`weir ${label}: ${error instanceof ConfigError || error instanceof Error ? error.message : String(error)}\n`);
    return error instanceof CommandFailure ? error.exitCode : EXIT_CODES.failed;
  }
}

function print(output: string): number {
  process.stdout.write(`${output}\n`);
  return 0;
}

async function serveUntilSignalled(args: readonly string[]): Promise<number> {
  const { values } = parseStrict(args, { config: { type: 'string' }, insecure: { type: 'boolean' } });
  const logger = createLogger();
  // Loaded here, not at the top: the server (xDS, gRPC, the Kubernetes client) is most of the CLI's
  // start-up (about 4 s of CPU against 1 s for the other commands, which the demos run many times).
  const { runServe } = await import('./serve-command.ts');
  const running = await runServe({ logger, insecure: values.insecure === true, ...(values.config !== undefined ? { configFile: values.config } : {}) });
  const reload = (): void => {
    try {
      running.reload();
    } catch (error) {
      logger.error({ error: error instanceof Error ? error.message : String(error) }, 'config reload failed; the previous config stays in force');
    }
  };
  process.on('SIGHUP', reload);
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'stopping weir serve');
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.off('SIGHUP', reload);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await running.stop();
  return 0;
}

/** `weir bootstrap` arguments: what to render, where the credentials go, how to get them, and the API to enrol with. */
export function bootstrapCommandFrom(args: readonly string[], warn: (message: string) => void = (message) => process.stderr.write(`${message}\n`)): BootstrapCommandOptions {
  const { values, target } = apiArguments(args, BOOTSTRAP_FLAGS);
  const flags = values as { certs?: string; 'no-enrol'?: boolean; insecure?: boolean; 'join-token'?: string };
  const modes = [flags['no-enrol'] === true && '--no-enrol', flags.insecure === true && '--insecure', flags['join-token'] !== undefined && '--join-token'].filter((mode) => mode !== false);
  if (modes.length > 1) throw new UsageError(`weir bootstrap: ${modes.join(' and ')} exclude each other`);
  return {
    render: renderOptionsFrom(values as RenderFlagValues),
    credentials: flags.insecure === true ? 'insecure' : flags['no-enrol'] === true ? 'existing' : flags['join-token'] !== undefined ? 'join' : 'enrol',
    target,
    warn,
    ...(flags.certs !== undefined ? { credentialsDir: flags.certs } : {}),
    ...(flags['join-token'] !== undefined ? { joinToken: flags['join-token'] } : {}),
  };
}

const BOOTSTRAP_FLAGS = {
  'node-id': { type: 'string' },
  cluster: { type: 'string' },
  xds: { type: 'string' },
  'admin-port': { type: 'string' },
  delta: { type: 'boolean' },
  'agent-wasm': { type: 'string' },
  'endpoint-name': { type: 'string' },
  'endpoint-ip': { type: 'string', multiple: true },
  label: { type: 'string', multiple: true },
  namespace: { type: 'string' },
  'service-account': { type: 'string' },
  certs: { type: 'string' },
  'no-enrol': { type: 'boolean' },
  insecure: { type: 'boolean' },
  'join-token': { type: 'string' },
  mode: { type: 'string' },
  'interception-mode': { type: 'string' },
  'listener-port': { type: 'string' },
} as const;

interface RenderFlagValues {
  'node-id'?: string;
  cluster?: string;
  xds?: string;
  'admin-port'?: string;
  delta?: boolean;
  'agent-wasm'?: string;
  'endpoint-name'?: string;
  'endpoint-ip'?: string[];
  label?: string[];
  namespace?: string;
  'service-account'?: string;
  mode?: string;
  'interception-mode'?: string;
  'listener-port'?: string;
}

function renderOptionsFrom(values: RenderFlagValues): BootstrapOptions {
  const options: BootstrapOptions = {};
  const mode = values.mode;
  if (mode !== undefined && mode !== 'sidecar' && mode !== 'node') throw new UsageError(`--mode ${mode}: expected sidecar or node`);
  const interceptionMode = values['interception-mode'] ?? (mode === 'node' ? 'TPROXY' : 'REDIRECT');
  if (interceptionMode !== 'REDIRECT' && interceptionMode !== 'TPROXY') throw new UsageError(`--interception-mode ${interceptionMode}: expected REDIRECT or TPROXY`);
  if (mode === undefined && (values['interception-mode'] !== undefined || values['listener-port'] !== undefined)) throw new UsageError('--interception-mode and --listener-port need --mode sidecar or --mode node');
  if (values['node-id'] !== undefined) options.nodeId = values['node-id'];
  if (values.cluster !== undefined) options.cluster = values.cluster;
  if (values.xds !== undefined) {
    const { host, port } = hostAndPort(values.xds, '--xds');
    options.xdsAddress = host;
    options.xdsPort = port;
  }
  if (values['admin-port'] !== undefined) options.adminPort = integerArgument(values['admin-port'], '--admin-port');
  else if (mode !== undefined) options.adminPort = SIDECAR_PORTS.admin;
  if (values.delta) options.variant = 'delta';
  if (values['agent-wasm'] !== undefined) options.agentWasmFile = values['agent-wasm'];
  const endpointFlagGiven = [values['endpoint-ip'], values.label, values.namespace, values['service-account']].some((value) => value !== undefined);
  if (values['endpoint-name'] !== undefined || endpointFlagGiven) {
    const name = values['endpoint-name'] ?? options.nodeId;
    if (name === undefined) throw new UsageError('weir bootstrap: the endpoint flags need --endpoint-name NAME (or --node-id, used as the name)');
    options.sidecarEndpoint = {
      name,
      ips: listArgument(values['endpoint-ip']),
      ...(values.label === undefined ? {} : { labels: labelArguments(listArgument(values.label)) }),
      ...(values.namespace === undefined ? {} : { namespace: values.namespace }),
      ...(values['service-account'] === undefined ? {} : { serviceAccount: values['service-account'] }),
    };
  }
  if (mode === 'sidecar') {
    const endpoint = options.sidecarEndpoint;
    if (endpoint === undefined || endpoint === null || endpoint.ips.length === 0) throw new UsageError('--mode sidecar needs the workload\'s endpoint: --endpoint-name NAME --endpoint-ip IP (and its --label, --namespace, --service-account)');
    // Unique like Istio's `sidecar~IP~POD.NS~NS.svc.cluster.local`, but certifiable: a SPIFFE ID
    // path segment takes letters, digits, '.', '-' and '_' only.
    const namespace = endpoint.namespace ?? 'default';
    if (values['node-id'] === undefined) options.nodeId = `sidecar.${endpoint.name}.${namespace}`;
  }
  if (mode !== undefined) {
    const listenerPort = values['listener-port'] === undefined ? undefined : integerArgument(values['listener-port'], '--listener-port');
    if (mode === 'node' && listenerPort === undefined) throw new UsageError('--mode node needs --listener-port N: the port its TPROXY rules send captured connections to (weir node iptables --port)');
    options.nodeMetadata = {
      [INTERCEPTION_METADATA_KEY]: { layout: mode, interceptionMode, adminPort: options.adminPort ?? SIDECAR_PORTS.admin, tproxyMark: 1337, ...(listenerPort === undefined ? {} : { listenerPort }) },
    };
  }
  return options;
}

function listArgument(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : typeof value === 'string' ? [value] : value;
}

/** `--label app=x --label k8s:tier=db` as a label map. */
function labelArguments(labels: readonly string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const label of labels) {
    const equals = label.indexOf('=');
    if (equals <= 0) throw new UsageError(`--label ${label}: expected KEY=VALUE, e.g. --label app=web`);
    map[label.slice(0, equals)] = label.slice(equals + 1);
  }
  return map;
}

async function policySubcommand(args: readonly string[]): Promise<string> {
  const [subcommand, ...rest] = args;
  switch (subcommand) {
    case 'import': {
      const { values, positionals, target, output } = apiArguments(rest, { name: { type: 'string' } });
      const [source] = positionals;
      if (source === undefined || positionals.length > 1) throw new UsageError('weir policy import takes one FILE (or - for standard input)');
      return policyImport({ target, source, output, ...(values.name !== undefined ? { name: values.name } : {}) });
    }
    case 'get': {
      const { positionals, target, output } = apiArguments(rest, {});
      if (positionals.length > 1) throw new UsageError('weir policy get takes at most one NAME');
      return policyGet({ target, output, ...(positionals[0] !== undefined ? { name: positionals[0] } : {}) });
    }
    case 'delete': {
      const { positionals, target, output } = apiArguments(rest, {});
      const [name] = positionals;
      if (name === undefined || positionals.length > 1) throw new UsageError('weir policy delete takes one NAME (a policy or file name; see weir policy get)');
      return policyDelete({ target, name, output });
    }
    case 'wait': {
      const { values, positionals, target, output } = apiArguments(rest, { timeout: { type: 'string' }, node: { type: 'string', multiple: true }, 'policy-only': { type: 'boolean' } });
      if (positionals.length > 1) throw new UsageError('weir policy wait takes at most one REVISION');
      const timeout = values.timeout === undefined ? undefined : Number(values.timeout);
      if (timeout !== undefined && (!Number.isFinite(timeout) || timeout < 0)) throw new UsageError(`--timeout ${values.timeout}: expected seconds, e.g. 30`);
      return policyWait({ target, output, nodeIds: values.node ?? [], policyOnly: values['policy-only'] === true, ...(positionals[0] !== undefined ? { revision: positionals[0] } : {}), ...(timeout !== undefined ? { timeoutSeconds: timeout } : {}) });
    }
    case 'trace': {
      const { values, positionals, target, output } = apiArguments(rest, {
        src: { type: 'string' },
        dst: { type: 'string' },
        dport: { type: 'string' },
        l7: { type: 'string' },
        direction: { type: 'string' },
      });
      if (positionals.length > 0) throw new UsageError('weir policy trace takes flags only: --src, --dst, --dport and optionally --l7');
      if (values.src === undefined || values.dst === undefined || values.dport === undefined) throw new UsageError('weir policy trace needs --src, --dst and --dport');
      const direction = values.direction;
      if (direction !== undefined && direction !== 'ingress' && direction !== 'egress') throw new UsageError(`--direction ${direction}: use ingress or egress`);
      return policyTrace({
        target,
        output,
        source: values.src,
        destination: values.dst,
        port: integerArgument(values.dport, '--dport'),
        ...(direction !== undefined ? { direction } : {}),
        ...(values.l7 !== undefined ? { l7: values.l7 } : {}),
      });
    }
    default:
      throw new UsageError(`unknown policy subcommand "${subcommand ?? ''}"; use import, get, delete, wait or trace`);
  }
}

async function istioSubcommand(args: readonly string[]): Promise<string> {
  const [subcommand, ...rest] = args;
  switch (subcommand) {
    case 'manifests': {
      const { values, positionals, target } = apiArguments(rest, {
        workload: { type: 'string' },
        namespace: { type: 'string' },
        label: { type: 'string', multiple: true },
        'service-account': { type: 'string' },
        'module-url': { type: 'string' },
        'weir-xds': { type: 'string' },
        api: { type: 'string' },
        'fail-strategy': { type: 'string' },
        'filters-dir': { type: 'string' },
        'bootstrap-mount': { type: 'string' },
        'credentials-mount': { type: 'string' },
        insecure: { type: 'boolean' },
        'trust-domain': { type: 'string', multiple: true },
        'no-spiffe': { type: 'boolean' },
      });
      if (positionals.length > 0) throw new UsageError('weir istio manifests takes flags only');
      if (values.workload === undefined || values.label === undefined) throw new UsageError('weir istio manifests needs --workload NAME and --label K=V (the pods\' labels, repeatable)');
      if (values['module-url'] === undefined) throw new UsageError('weir istio manifests needs --module-url URL, e.g. oci://registry.example.com/weir/{parser}:v1 ({parser} is replaced)');
      if (values['weir-xds'] === undefined) throw new UsageError('weir istio manifests needs --weir-xds HOST:PORT: weir serve\'s xDS address as the sidecars reach it');
      const api = values.api ?? 'WasmPlugin';
      if (api !== 'WasmPlugin' && api !== 'TrafficExtension') throw new UsageError(`--api ${api}: use WasmPlugin or TrafficExtension`);
      const failStrategy = values['fail-strategy'] ?? 'FAIL_CLOSE';
      if (failStrategy !== 'FAIL_CLOSE' && failStrategy !== 'FAIL_RELOAD') throw new UsageError(`--fail-strategy ${failStrategy}: use FAIL_CLOSE or FAIL_RELOAD (FAIL_OPEN would let traffic bypass policy)`);
      const { host, port } = hostAndPort(values['weir-xds'], '--weir-xds');
      const trustDomains = values['no-spiffe'] === true ? [] : (values['trust-domain'] ?? [ISTIO_DEFAULT_TRUST_DOMAIN]);
      if (values['no-spiffe'] === true && values['trust-domain'] !== undefined) throw new UsageError('--no-spiffe and --trust-domain contradict each other; give one');
      for (const domain of trustDomains) {
        if (!/^[a-z0-9._-]+$/.test(domain)) throw new UsageError(`--trust-domain ${domain}: a SPIFFE trust domain has lowercase letters, digits, ".", "-" and "_" only (Istio's default is ${ISTIO_DEFAULT_TRUST_DOMAIN})`);
      }
      return istioManifests({
        target,
        workload: {
          name: values.workload,
          namespace: values.namespace ?? 'default',
          labels: labelArguments(values.label),
          ...(values['service-account'] === undefined ? {} : { serviceAccount: values['service-account'] }),
        },
        moduleUrl: values['module-url'],
        weirServe: { address: host, port },
        api,
        failStrategy,
        filtersDir: values['filters-dir'] ?? DEFAULT_FILTERS_DIR,
        mounts: { bootstrap: values['bootstrap-mount'] ?? ISTIO_SIDECAR_MOUNTS.bootstrap, credentials: values['credentials-mount'] ?? ISTIO_SIDECAR_MOUNTS.credentials },
        insecure: values.insecure === true,
        trustDomains,
      });
    }
    case 'image': {
      const { values } = parseStrict(rest, { parser: { type: 'string' }, out: { type: 'string' }, tag: { type: 'string' }, 'filters-dir': { type: 'string' } });
      if (values.parser === undefined || values.out === undefined) throw new UsageError('weir istio image needs --parser NAME and --out DIR');
      return istioImage({ parser: values.parser, outDir: values.out, tag: values.tag ?? 'latest', filtersDir: values['filters-dir'] ?? DEFAULT_FILTERS_DIR });
    }
    default:
      throw new UsageError(`unknown istio subcommand "${subcommand ?? ''}"; use manifests or image`);
  }
}

async function nodeSubcommand(args: readonly string[]): Promise<string> {
  const [subcommand, ...rest] = args;
  switch (subcommand) {
    case 'list': {
      const { positionals, target, output } = apiArguments(rest, {});
      if (positionals.length > 0) throw new UsageError('weir node list takes no arguments');
      return nodeList({ target, output });
    }
    case 'token': {
      const { values, positionals, target, output } = apiArguments(rest, { ttl: { type: 'string' } });
      const [nodeId] = positionals;
      if (nodeId === undefined || positionals.length > 1) throw new UsageError('weir node token takes one node ID');
      return nodeToken({ target, nodeId, output, ...(values.ttl !== undefined ? { ttlSeconds: integerArgument(values.ttl, '--ttl') } : {}) });
    }
    case 'revoke': {
      const { positionals, target, output } = apiArguments(rest, {});
      const [nodeId] = positionals;
      if (nodeId === undefined || positionals.length > 1) throw new UsageError('weir node revoke takes one node ID');
      return nodeRevoke({ target, nodeId, output });
    }
    case 'renew': {
      const { values } = parseStrict(rest, { certs: { type: 'string' }, 'node-id': { type: 'string' }, xds: { type: 'string' }, watch: { type: 'boolean' } });
      const dir = values.certs ?? (values['node-id'] !== undefined ? path.join(DEFAULT_NODES_DIR, values['node-id']) : undefined);
      if (dir === undefined) throw new UsageError('weir node renew needs --certs DIR (or --node-id ID for .weir/nodes/ID)');
      if (values.xds !== undefined) hostAndPort(values.xds, '--xds');
      const abort = new AbortController();
      const stop = (): void => abort.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        return await nodeRenew({ dir, watch: values.watch === true, logger: createLogger(), signal: abort.signal, ...(values.xds !== undefined ? { xdsAddress: values.xds } : {}) });
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
      }
    }
    case 'iptables':
      // Trailing newline included by the command; print() adds one more.
      return runNodeIptablesCommand(rest).replace(/\n$/, '');
    default:
      throw new UsageError(`unknown node subcommand "${subcommand ?? ''}"; use list, token, revoke, renew or iptables`);
  }
}

async function listSubcommand(
  noun: string,
  args: readonly string[],
  run: (target: ApiTarget, output: OutputFormat) => Promise<string>,
): Promise<string> {
  const [subcommand, ...rest] = args;
  if (subcommand !== 'list') throw new UsageError(`unknown ${noun} subcommand "${subcommand ?? ''}"; use "weir ${noun} list"`);
  const { positionals, target, output } = apiArguments(rest, {});
  if (positionals.length > 0) throw new UsageError(`weir ${noun} list takes no arguments`);
  return run(target, output);
}

type OptionSpec = Record<string, { type: 'string'; short?: string; multiple?: boolean } | { type: 'boolean'; short?: string }>;

function apiArguments<T extends OptionSpec>(args: readonly string[], extra: T) {
  let parsed;
  try {
    parsed = parseArgs({ args: [...args], options: { ...API_FLAGS, ...extra }, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  const flags = values as Record<string, string | boolean | undefined>;
  const outputFlag = flags['json'] === true ? 'json' : flags['output'];
  if (outputFlag !== undefined && outputFlag !== 'table' && outputFlag !== 'json') throw new UsageError(`-o ${String(outputFlag)}: use table or json`);
  const stringFlag = (name: string): string | undefined => (typeof flags[name] === 'string' ? flags[name] : undefined);
  const target = apiTargetFrom({ socket: stringFlag('socket'), server: stringFlag('server'), tokenFile: stringFlag('token-file'), caFile: stringFlag('ca-file') });
  return { values: values as { [K in keyof T]?: T[K] extends { type: 'boolean' } ? boolean : T[K] extends { multiple: true } ? string[] : string }, positionals, target, output: (outputFlag ?? 'table') as OutputFormat };
}

function parseStrict<T extends OptionSpec>(args: readonly string[], options: T) {
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: false });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function hostAndPort(value: string, flag: string): { host: string; port: number } {
  const separator = value.lastIndexOf(':');
  if (separator <= 0) throw new UsageError(`${flag} ${value}: expected HOST:PORT, e.g. 127.0.0.1:18000`);
  const host = value.slice(0, separator).replace(/^\[(.*)\]$/, '$1');
  return { host, port: integerArgument(value.slice(separator + 1), flag) };
}

function integerArgument(value: string, flag: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) throw new UsageError(`${flag} ${value}: expected a port number 0-65535`);
  return parsed;
}
