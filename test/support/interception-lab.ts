// The parts of an interception deployment, run inside the namespaces of a netns lab
// (netns-lab.ts): `weir serve` in the node namespace (its REST API on a unix socket the test
// reaches from the host namespace), Envoy as uid 1337 in a workload's namespace (a sidecar) or in
// the node's, memcached in a server namespace, and the unmodified clients (memjs, the `memcached`
// npm client, nc) in a client namespace. Everything started here is stopped by pid through the
// lab or the returned handles.
import { type ChildProcess } from 'node:child_process';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { startEnvoy, type EnvoyProcess } from '../../demo/servers/envoy/process.ts';
import { startCassandra, type RunningCassandra } from '../../demo/servers/index.ts';
import { projectRoot } from '../../demo/servers/project-paths.ts';
import { bootstrapCommandFrom } from '../../server/cli/cli.ts';
import { bootstrapCommand } from '../../server/cli/bootstrap-command.ts';
import { apiTargetFrom, callApi, type ApiReply } from '../../server/cli/api-client.ts';
import type { Lab, Workload } from './netns-lab.ts';
import type { ClientReply, ClientRequest } from './namespace-memcache-client.ts';
import type { CqlOutcome } from './namespace-cql-client.ts';

export const ENVOY_UID = 1337;
const WEIR_BIN = path.join(projectRoot, 'bin', 'weir.js');
const TSX_BIN = path.join(projectRoot, 'node_modules', '.bin', 'tsx');
const FILTERS_DIR = path.join(projectRoot, 'build', 'filters');

export interface NamespacedServe {
  xdsPort: number;
  socket: string;
  policiesDir: string;
  log(): string;
  /** One REST API call over the socket (what the weir CLI sends; the CLI itself is tested elsewhere). */
  api(method: 'GET' | 'POST' | 'DELETE', pathAndQuery: string, body?: string): Promise<ApiReply>;
  /** Imports a store file, as `weir policy import - --name NAME`; throws with the server's problems. */
  importFile(name: string, text: string): Promise<void>;
  /**
   * Waits until the agent of `nodeId` enforces the current revision, as `weir policy wait --node`
   * (`policyOnly`: `--policy-only`, for proxies whose listeners and clusters come from istiod).
   */
  waitEnforcing(nodeId: string, options?: { policyOnly?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `weir serve` in `ns` with xDS on 0.0.0.0 (a free port) and `policies` in its store. */
export async function startServeIn(lab: Lab, ns: string, dir: string, policies: Record<string, string>): Promise<NamespacedServe> {
  const policiesDir = path.join(dir, 'policies');
  fs.mkdirSync(policiesDir, { recursive: true });
  for (const [name, text] of Object.entries(policies)) fs.writeFileSync(path.join(policiesDir, name), text);
  const socket = path.join(dir, 'weir.sock');
  const configFile = path.join(dir, 'weir.yaml');
  fs.writeFileSync(configFile, [
    'xds: { address: 0.0.0.0, port: 0, batchWindowMs: 10 }',
    'policies: { dir: policies }',
    'api: { socket: weir.sock }',
    `filters: { dir: ${JSON.stringify(FILTERS_DIR)} }`,
  ].join('\n'));
  const target = apiTargetFrom({ socket });
  const api = (method: 'GET' | 'POST' | 'DELETE', pathAndQuery: string, body?: string): Promise<ApiReply> => callApi(target, { method, path: pathAndQuery, ...(body === undefined ? {} : { body }) });
  const child = lab.spawn(ns, process.execPath, [WEIR_BIN, 'serve', '--config', configFile]);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const xdsPort = await new Promise<number>((resolve, reject) => {
    const check = (): void => {
      const ready = /"xdsPort":(\d+)[^\n]*"msg":"weir serve ready"/.exec(output);
      if (ready !== null) {
        done();
        resolve(Number(ready[1]));
      }
    };
    const exited = (): void => {
      done();
      reject(new Error(`weir serve exited during start-up:\n${output}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`weir serve did not get ready in 90 s:\n${output}`));
    }, 90_000);
    const done = (): void => {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.off('exit', exited);
    };
    child.stdout?.on('data', check);
    child.once('exit', exited);
  });
  return {
    xdsPort,
    socket,
    policiesDir,
    log: () => output,
    api,
    importFile: async (name, text) => {
      const reply = await api('POST', `/v1/policies?file=${encodeURIComponent(name)}`, text);
      if (reply.status !== 200) throw new Error(`importing ${name}: ${reply.status} ${reply.text}`);
    },
    waitEnforcing: async (nodeId, options = {}) => {
      const reply = await api('GET', `/v1/policies/wait?node=${encodeURIComponent(nodeId)}&timeout=60${options.policyOnly === true ? '&policyOnly=true' : ''}`);
      if (reply.status !== 200) throw new Error(`waiting for ${nodeId} to enforce: ${reply.status} ${reply.text}\nweir serve:\n${output.slice(-4000)}`);
    },
    stop: () => stopChild(child),
  };
}

export interface ProxyDeployment {
  envoy: EnvoyProcess;
  nodeId: string;
  bootstrapArgs: string[];
}

/**
 * Starts Envoy as uid 1337 in `ns` from `weir bootstrap ARGS --xds ADDRESS:PORT` (the agent's
 * Wasm is the repository's build). Resolves once it runs; readiness is the caller's to check (from
 * inside the namespace, where its admin and 15021 listen).
 */
export async function startNamespacedEnvoy(
  lab: Lab,
  ns: string,
  serve: Pick<NamespacedServe, 'socket'>,
  bootstrapArgs: string[],
  options: { transparent?: boolean; concurrency?: number; logLevel?: 'info' | 'warning' } = {},
): Promise<ProxyDeployment> {
  // As a user runs it: `weir bootstrap` enrols the node with weir serve (mTLS) and writes its
  // credentials into the serve directory's nodes/ (removed with it), owned by Envoy's uid 1337.
  const serveDir = path.dirname(serve.socket);
  fs.chmodSync(serveDir, 0o711);
  const command = bootstrapCommandFrom([...bootstrapArgs, '--socket', serve.socket, '--agent-wasm', path.join(FILTERS_DIR, 'agent.wasm')], () => undefined);
  const certs = path.join(serveDir, 'nodes', command.render.nodeId ?? 'weir-node');
  const bootstrapYaml = await bootstrapCommand({ ...command, credentialsDir: certs });
  fs.chmodSync(path.dirname(certs), 0o711);
  const owned = spawnSync('chown', ['-R', `${ENVOY_UID}:${ENVOY_UID}`, certs]);
  if (owned.status !== 0) throw new Error(`chown -R ${ENVOY_UID} ${certs} failed: ${owned.stderr.toString()}`);
  // A per-node proxy binds transparent sockets (IP_TRANSPARENT): uid 1337 keeps CAP_NET_ADMIN for that.
  const capabilities = options.transparent === true ? ['--inh-caps=+net_admin', '--ambient-caps=+net_admin'] : [];
  const envoy = await startEnvoy({
    bootstrapYaml,
    launcher: [...lab.launcher(ns, ENVOY_UID), ...capabilities],
    workDirOwner: { uid: ENVOY_UID, gid: ENVOY_UID },
    componentLogLevel: options.logLevel === 'warning' ? 'wasm:warning,config:warning' : 'wasm:info,config:warning',
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
  });
  return { envoy, nodeId: command.render.nodeId ?? 'weir-node', bootstrapArgs };
}

/** An HTTP GET from inside `ns` (curl); status 0 when nothing answered. */
export function curlIn(lab: Lab, ns: string, url: string): { status: number; body: string } {
  const result = lab.exec(ns, 'curl', ['-s', '-m', '5', '-w', '\n%{http_code}', url]);
  const lines = result.stdout.split('\n');
  const status = Number(lines.pop() ?? '0');
  return { status, body: lines.join('\n') };
}

/** Starts memcached on `workload.ip`:11211 inside its namespace and waits until it answers. */
export async function startMemcachedIn(lab: Lab, workload: Workload): Promise<ChildProcess> {
  const child = lab.spawn(workload.ns, '/usr/bin/memcached', ['-l', workload.ip, '-p', '11211', '-U', '0', '-m', '16', '-t', '1', '-u', 'root']);
  for (let attempt = 0; attempt < 100; attempt++) {
    if (ncIn(lab, workload.ns, workload.ip, 11211, 'version\r\n').startsWith('VERSION')) return child;
    if (child.exitCode !== null) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`memcached did not answer on ${workload.ip}:11211 in ${workload.ns}`);
}

/** The guide's `printf REQUESTS | nc HOST PORT`, run in `ns`: what came back (empty when refused). */
export function ncIn(lab: Lab, ns: string, host: string, port: number, requests: string, options: { uid?: number } = {}): string {
  return lab.exec(ns, 'nc', ['-q', '1', '-w', '3', host, String(port)], { input: requests, ...options }).stdout;
}

/** Files of a TLS client identity: its certificate, its key and the root it trusts. */
export interface TlsClientFiles {
  certificate: string;
  key: string;
  ca: string;
}

/**
 * `requests` sent from `ns` (namespace-line-client.ts), with `tls` over mTLS as an Istio sidecar's
 * outbound side sends them (ALPN `istio`): what came back once it matches `until` (or the server
 * closed, or 10 s passed), and whether the TLS handshake failed. Unlike ncIn it waits for the
 * reply, not a fixed second, so a slow machine does not turn a late reply into an empty one.
 */
export function lineClientIn(lab: Lab, ns: string, host: string, port: number, requests: string, options: { until: RegExp; tls?: TlsClientFiles }): { reply: string; handshakeFailed: boolean; stderr: string } {
  const script = path.join(projectRoot, 'test', 'support', 'namespace-line-client.ts');
  const tls = options.tls === undefined ? [] : ['--tls', options.tls.certificate, options.tls.key, options.tls.ca];
  const run = lab.exec(ns, TSX_BIN, [script, host, String(port), ...tls, '--until', options.until.source], { input: requests, timeoutMs: 60_000 });
  return { reply: run.stdout, handshakeFailed: run.status === 2, stderr: run.stderr };
}

/** memcached's own counters (`stats`), read inside the server's namespace, where nothing captures loopback-to-self traffic. */
export function memcachedStats(lab: Lab, server: Workload): Record<string, number> {
  const stats: Record<string, number> = {};
  for (const line of ncIn(lab, server.ns, server.ip, 11211, 'stats\r\n').split('\r\n')) {
    const [tag, name, value] = line.split(' ');
    if (tag === 'STAT' && name !== undefined && value !== undefined && /^\d+$/.test(value)) stats[name] = Number(value);
  }
  return stats;
}

/** What memcached holds under `key`, read inside the server's namespace (undefined: nothing). */
export function memcachedValue(lab: Lab, server: Workload, key: string): string | undefined {
  const reply = ncIn(lab, server.ns, server.ip, 11211, `get ${key}\r\n`);
  const match = /^VALUE \S+ \d+ \d+\r\n(.*)\r\nEND\r\n$/s.exec(reply);
  return match?.[1];
}

export interface NamespacedClients {
  call(request: Omit<ClientRequest, 'id'>): Promise<ClientReply>;
  stop(): Promise<void>;
}

/** memjs and the memcached npm client in `ns`, talking to HOST:PORT over connections they keep open. */
export function memcacheClientsIn(lab: Lab, ns: string, host: string, port: number): NamespacedClients {
  const child = lab.spawn(ns, TSX_BIN, [path.join(projectRoot, 'test', 'support', 'namespace-memcache-client.ts'), host, String(port)]);
  const pending = new Map<number, (reply: ClientReply) => void>();
  let nextId = 1;
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    const reply = JSON.parse(line) as ClientReply;
    pending.get(reply.id)?.(reply);
    pending.delete(reply.id);
  });
  return {
    call: (request) =>
      new Promise((resolve, reject) => {
        if (child.exitCode !== null) {
          reject(new Error(`the client process in ${ns} exited: ${stderr}`));
          return;
        }
        const id = nextId++;
        pending.set(id, resolve);
        child.stdin?.write(`${JSON.stringify({ ...request, id })}\n`);
      }),
    stop: async () => {
      child.stdin?.end();
      await stopChild(child);
    },
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

/** A `weir.dev/v1` Endpoint store document; with `account`, in that namespace under that service account. */
export function endpointDoc(name: string, ip: string, labels: Record<string, string>, account?: { namespace: string; serviceAccount: string }): string {
  const labelLines = Object.entries(labels).map(([key, value]) => `    ${key}: ${value}`).join('\n');
  const metadata = account === undefined ? `{ name: ${name} }` : `{ name: ${name}, namespace: ${account.namespace} }`;
  const serviceAccount = account === undefined ? '' : `  serviceAccount: ${account.serviceAccount}\n`;
  return `apiVersion: weir.dev/v1\nkind: Endpoint\nmetadata: ${metadata}\nspec:\n  ips: [${ip}]\n${serviceAccount}  labels:\n${labelLines}\n`;
}

/** An example policy of examples/policies, as text. */
export function examplePolicy(file: 'memcached-secure-fleet.yaml' | 'memcached-rebel-alliance.yaml'): string {
  return fs.readFileSync(path.join(projectRoot, 'examples', 'policies', file), 'utf8');
}

/** Runs CQL statements with cassandra-driver inside `ns`, one connection to HOST:PORT; one outcome per statement. */
export function cqlIn(lab: Lab, ns: string, host: string, port: number, statements: readonly string[]): CqlOutcome[] {
  const run = lab.exec(ns, TSX_BIN, [path.join(projectRoot, 'test', 'support', 'namespace-cql-client.ts'), host, String(port)], { input: JSON.stringify(statements), timeoutMs: 120_000 });
  const outcomes = run.stdout.split('\n').filter((line) => line !== '').map((line) => JSON.parse(line) as CqlOutcome);
  if (outcomes.length === 0) throw new Error(`cassandra-driver in ${ns} printed nothing: ${run.stderr}`);
  return outcomes;
}

/** Whether a CQL native port in `ns` answers OPTIONS with SUPPORTED (a raw v4 frame through nc). */
export function cqlAnswersIn(lab: Lab, ns: string, host: string, port: number): boolean {
  const reply = lab.exec(ns, 'nc', ['-q', '1', '-w', '2', host, String(port)], { input: '\u0004\u0000\u0000\u0000\u0005\u0000\u0000\u0000\u0000' }).stdout;
  // Header: version 0x84 (one replacement character once decoded), flags, stream (2), opcode SUPPORTED (6).
  return reply.length > 4 && reply.charCodeAt(4) === 0x06;
}

/** A real Cassandra on `workload`'s address in its namespace, ready once its native port answers there. */
export function startCassandraIn(lab: Lab, workload: Workload): Promise<RunningCassandra> {
  return startCassandra({
    host: workload.ip,
    launcher: lab.launcher(workload.ns),
    // The JVM starts slowly on a busy 2-core machine; the default 90 s is for a quiet one.
    readyTimeoutMs: 180_000,
    probe: async (host, port) => {
      if (!cqlAnswersIn(lab, workload.ns, host, port)) throw new Error('no SUPPORTED yet');
      return { supported: {} };
    },
  });
}

/** Starts `nc -l IP PORT` in `ns` (with -k: keeps accepting) and resolves once it listens. */
export async function ncListenIn(lab: Lab, ns: string, ip: string, port: number, options: { keep?: boolean } = {}): Promise<ChildProcess> {
  const listener = lab.spawn(ns, 'nc', ['-l', ...(options.keep === true ? ['-k'] : []), ip, String(port)]);
  for (let attempt = 0; !lab.exec(ns, 'ss', ['-Hltn', `sport = :${port}`]).stdout.includes(`:${port}`); attempt++) {
    if (attempt > 200 || listener.exitCode !== null) throw new Error(`nc did not listen on ${ip}:${port} in ${ns}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return listener;
}
