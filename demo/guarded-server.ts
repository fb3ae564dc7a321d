// What the fleet and Empire demos share: `weir serve` (its own process, a config whose one redirect
// guards a named endpoint with a parser), an Envoy from `weir bootstrap` with the Weir agent, the
// wait until that agent enforces the store's policy, and `weir` CLI runs against this server. Every
// port is a free one. Each demo starts its own real backend and passes its port in.
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from './servers/project-paths.ts';
import { listenerPort } from './servers/envoy/listeners.ts';
import { startEnvoy, type EnvoyProcess } from './servers/envoy/process.ts';
import { say } from './outcome-log.ts';
import { freeLoopbackPort } from './servers/loopback-port.ts';
import { runWeirCli, startWeirServe, type CliRun } from './weir-process.ts';

export interface GuardedServerOptions {
  /** Prepared by prepareStateDir: holds weir.yaml, policies/, the API socket and the server log. */
  stateDir: string;
  nodeId: string;
  /** Parser name; the redirect and its listener (`weir-<parser>`) are named after it. */
  parser: string;
  serverEndpoint: string;
  backendPort: number;
  /**
   * The port the guide's policies name (memcached 11211, Cassandra 9042): the redirect's
   * endpointPort, so the guide's policies apply unchanged while the real server listens on a free port.
   */
  guidePort: number;
  /** The redirect's maxBufferBytes (the largest frame the parser buffers); the server's default when absent. */
  maxBufferBytes?: number;
}

/**
 * What a guide demo's script needs of its deployment, whether the demo started the processes
 * (startGuardedServer) or attaches to the services docker-compose runs (demo/compose-services.ts).
 */
export interface DemoDeployment {
  /** Envoy's listener for the parser on 127.0.0.1. */
  proxyPort: number;
  /** The real server, reached directly (past Envoy) to show what it holds. */
  backend: { host: string; port: number };
  apiSocket: string;
  /** Runs `weir ARGS` against this server. */
  weir(args: readonly string[]): Promise<CliRun>;
  stop(): Promise<void>;
}

export interface GuardedServer extends DemoDeployment {
  envoy: EnvoyProcess;
}

/** Wipes and recreates `stateDir` with `endpointsFile` (`kind: Endpoint` documents) as its policy directory. */
export function prepareStateDir(options: { stateDir: string; endpointsFile: string }): void {
  fs.rmSync(options.stateDir, { recursive: true, force: true });
  fs.mkdirSync(path.join(options.stateDir, 'policies'), { recursive: true });
  fs.copyFileSync(options.endpointsFile, path.join(options.stateDir, 'policies', 'endpoints.yaml'));
}

/** Starts weir serve and Envoy; the state directory must have been prepared. */
export async function startGuardedServer(options: GuardedServerOptions): Promise<GuardedServer> {
  const socket = path.join(options.stateDir, 'weir.sock');
  const serverLog = path.join(options.stateDir, 'weir-serve.log');
  const weir = (args: readonly string[]): Promise<CliRun> => runWeirCli(args, { socket });
  const stops: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    for (const stopOne of stops.reverse()) await stopOne().catch(() => undefined);
  };
  try {
    const xdsPort = await freeLoopbackPort();
    const configFile = writeServeConfig(options, { xdsPort, proxyPort: await freeLoopbackPort() });
    const server = await startWeirServe({ configFile, xdsPort, logFile: serverLog });
    stops.push(() => server.stop(5_000));
    say(`weir serve        pid ${server.pid}, xDS 127.0.0.1:${xdsPort}, API ${socket} (log ${path.relative(projectRoot, serverLog)})`);

    const certs = path.join(options.stateDir, 'nodes', options.nodeId);
    const bootstrap = await weir(['bootstrap', '--node-id', options.nodeId, '--xds', `127.0.0.1:${xdsPort}`, '--admin-port', '0', '--certs', certs]);
    if (bootstrap.code !== 0) throw new Error(`weir bootstrap failed (${bootstrap.code}): ${bootstrap.stderr}`);
    const envoy = await startEnvoy({ bootstrapYaml: bootstrap.stdout });
    stops.push(() => envoy.stop());
    await envoy.waitReady();
    const proxyPort = await listenerPort(envoy, `weir-${options.parser}`);
    say(`envoy             pid ${envoy.pid}, admin ${envoy.adminUrl}, ${options.parser} listener 127.0.0.1:${proxyPort}, mTLS to weir serve as spiffe://weir.local/node/${options.nodeId}`);
    await waitForAgent(weir, options.nodeId, serverLog);
    return {
      envoy,
      proxyPort,
      backend: { host: '127.0.0.1', port: options.backendPort },
      apiSocket: socket,
      weir,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function writeServeConfig(options: GuardedServerOptions, ports: { xdsPort: number; proxyPort: number }): string {
  const configFile = path.join(options.stateDir, 'weir.yaml');
  fs.writeFileSync(configFile, [
    `xds: { address: 127.0.0.1, port: ${ports.xdsPort}, batchWindowMs: 20 }`,
    'policies: { dir: policies, enforcementMode: default }',
    'api: { socket: weir.sock }',
    'redirects:',
    `  - { name: ${options.parser}, parser: ${options.parser}, endpoint: ${options.serverEndpoint}, endpointPort: ${options.guidePort}, listen: { address: 127.0.0.1, port: ${ports.proxyPort} }, upstream: { address: 127.0.0.1, port: ${options.backendPort} }${options.maxBufferBytes === undefined ? '' : `, maxBufferBytes: ${options.maxBufferBytes}`} }`,
    `filters: { dir: ${JSON.stringify(path.join(projectRoot, 'build', 'filters'))} }`,
    '',
  ].join('\n'));
  return configFile;
}

/** Waits until the Envoy's agent has connected and ACKed the current revision. */
export async function waitForAgent(weir: (args: readonly string[]) => Promise<CliRun>, nodeId: string, serverLog: string, timeoutSeconds = 20): Promise<void> {
  const waited = await weir(['policy', 'wait', '--node', nodeId, '--timeout', String(timeoutSeconds)]);
  if (waited.code !== 0) throw new Error(`the Weir agent of ${nodeId} did not enforce the store's policy within ${timeoutSeconds} s: ${waited.stdout}${waited.stderr}; see ${serverLog}`);
}
