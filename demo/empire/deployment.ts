// The processes of the Empire demo, started the way a user would start them: a Cassandra 5 node
// (Maven Central jars on the machine's Java), `weir serve` (its own process, a config whose
// redirect guards the `cass-server` endpoint with the cassandra parser) and an Envoy from
// `weir bootstrap` with the Weir agent. Every port is a free one. Also runs `weir` CLI commands
// against this server. The guide's tables live in empire-data.ts, the scripted steps in scenario.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { projectRoot } from '../../server/envoy/binary.ts';
import { listenerPort } from '../../server/envoy/listeners.ts';
import { startEnvoy, type EnvoyProcess } from '../../server/envoy/process.ts';
import { installCassandra } from '../servers/cassandra/install.ts';
import { installCqlsh } from '../servers/cassandra/cqlsh.ts';
import { startCassandra, type RunningCassandra } from '../servers/cassandra/runner.ts';
import { freeLoopbackPort } from '../servers/free-port.ts';

export const EMPIRE_DEMO = {
  stateDir: path.join(projectRoot, '.weir', 'demo-empire'),
  nodeId: 'weir-empire',
  serverEndpoint: 'cass-server',
  listenerName: 'weir-cassandra',
  /** The port the guide's policy names; the demo rewrites it to Cassandra's actual native port. */
  guidePort: 9042,
} as const;

export interface CliRun {
  command: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface EmpireDeployment {
  cassandra: RunningCassandra;
  envoy: EnvoyProcess;
  /** Envoy's cassandra listener on 127.0.0.1. */
  proxyPort: number;
  /** The REST API socket of this demo's `weir serve`. */
  apiSocket: string;
  /** Runs `weir ARGS` against this demo's server. */
  weir(args: readonly string[]): Promise<CliRun>;
  /** A copy of `file` under the state directory with the guide's port 9042 replaced by Cassandra's native port. */
  withCassandraPort(file: string): string;
  stop(): Promise<void>;
}

const say = (message: string): void => console.log(message);
const quiet = (): void => undefined;

export async function deployEmpire(options: { endpointsFile: string }): Promise<EmpireDeployment> {
  const stops: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    for (const stopOne of stops.reverse()) await stopOne().catch(() => undefined);
  };
  try {
    fs.rmSync(EMPIRE_DEMO.stateDir, { recursive: true, force: true });
    fs.mkdirSync(path.join(EMPIRE_DEMO.stateDir, 'policies'), { recursive: true });
    fs.copyFileSync(options.endpointsFile, path.join(EMPIRE_DEMO.stateDir, 'policies', 'endpoints.yaml'));

    const installation = installCassandra({ say: quiet });
    installCqlsh({ say: quiet });
    const cassandra = await startCassandra({ libDir: installation.libDir });
    stops.push(() => cassandra.stop());
    say(`cassandra ${installation.version}   pid ${cassandra.pid}, 127.0.0.1:${cassandra.nativePort} (the guide's cass-server:${EMPIRE_DEMO.guidePort}), up in ${(cassandra.startupMs / 1000).toFixed(1)} s`);

    const xdsPort = await freeLoopbackPort();
    const configFile = writeServeConfig({ xdsPort, proxyPort: await freeLoopbackPort(), cassandraPort: cassandra.nativePort });
    const server = await startWeirServe(configFile, xdsPort);
    stops.push(() => stopChild(server));
    say(`weir serve        pid ${server.pid}, xDS 127.0.0.1:${xdsPort}, API ${socketPath()} (log ${path.relative(projectRoot, serverLogPath())})`);

    const bootstrap = await runWeir(['bootstrap', '--node-id', EMPIRE_DEMO.nodeId, '--xds', `127.0.0.1:${xdsPort}`, '--admin-port', '0']);
    if (bootstrap.code !== 0) throw new Error(`weir bootstrap failed (${bootstrap.code}): ${bootstrap.stderr}`);
    const envoy = await startEnvoy({ bootstrapYaml: bootstrap.stdout });
    stops.push(() => envoy.stop());
    await envoy.waitReady();
    const proxyPort = await listenerPort(envoy, EMPIRE_DEMO.listenerName);
    say(`envoy             pid ${envoy.pid}, admin ${envoy.adminUrl}, cassandra listener 127.0.0.1:${proxyPort}`);
    await waitForAgent();
    return {
      cassandra,
      envoy,
      proxyPort,
      apiSocket: socketPath(),
      weir: runWeir,
      withCassandraPort: (file) => withPort(file, cassandra.nativePort),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

function socketPath(): string {
  return path.join(EMPIRE_DEMO.stateDir, 'weir.sock');
}

function serverLogPath(): string {
  return path.join(EMPIRE_DEMO.stateDir, 'weir-serve.log');
}

function writeServeConfig(ports: { xdsPort: number; proxyPort: number; cassandraPort: number }): string {
  const configFile = path.join(EMPIRE_DEMO.stateDir, 'weir.yaml');
  fs.writeFileSync(configFile, [
    `xds: { address: 127.0.0.1, port: ${ports.xdsPort}, batchWindowMs: 20 }`,
    'policies: { dir: policies, enforcementMode: default }',
    'api: { socket: weir.sock }',
    'redirects:',
    `  - { name: cassandra, parser: cassandra, endpoint: ${EMPIRE_DEMO.serverEndpoint}, listen: { address: 127.0.0.1, port: ${ports.proxyPort} }, upstream: { address: 127.0.0.1, port: ${ports.cassandraPort} } }`,
    `filters: { dir: ${JSON.stringify(path.join(projectRoot, 'build', 'filters'))} }`,
    '',
  ].join('\n'));
  return configFile;
}

async function startWeirServe(configFile: string, xdsPort: number): Promise<ChildProcess> {
  const log = fs.openSync(serverLogPath(), 'w');
  const child = spawn(process.execPath, [path.join(projectRoot, 'bin', 'weir.js'), 'serve', '--config', configFile], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const deadline = Date.now() + 15_000;
  while (!(await portOpen(xdsPort))) {
    if (child.exitCode !== null) throw new Error(`weir serve exited with ${child.exitCode}; see ${serverLogPath()}`);
    if (Date.now() > deadline) throw new Error(`weir serve did not listen on 127.0.0.1:${xdsPort} within 15 s; see ${serverLogPath()}`);
    await sleep(100);
  }
  return child;
}

/** Waits until the Envoy's agent has subscribed to policy and ACKed the current revision. */
async function waitForAgent(): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const waited = await runWeir(['policy', 'wait', '--timeout', '5']);
    if (waited.code === 0 && waited.stdout.includes(EMPIRE_DEMO.nodeId)) return;
    if (Date.now() > deadline) throw new Error(`the Weir agent of ${EMPIRE_DEMO.nodeId} did not enforce the store's policy within 20 s: ${waited.stdout}${waited.stderr}; see ${serverLogPath()}`);
    await sleep(200);
  }
}

function runWeir(args: readonly string[]): Promise<CliRun> {
  const child = spawn(process.execPath, [path.join(projectRoot, 'bin', 'weir.js'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WEIR_SOCKET: socketPath() },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ command: `weir ${args.join(' ')}`, code, stdout, stderr })));
}

function withPort(file: string, port: number): string {
  const text = fs.readFileSync(file, 'utf8').replace(new RegExp(`port: (['"]?)${EMPIRE_DEMO.guidePort}\\1`, 'g'), `port: '${port}'`);
  const copy = path.join(EMPIRE_DEMO.stateDir, path.basename(file));
  fs.writeFileSync(copy, text);
  return copy;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
