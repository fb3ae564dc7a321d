// A simulated node of a Weir cluster: its own `weir serve` (in process, policies from Kubernetes or
// etcd, node name set) with one memcache redirect guarding a given endpoint, and an Envoy with the
// Weir agent bootstrapped against it. Test helper for test/kubernetes and test/etcd.
import fs from 'node:fs';
import path from 'node:path';
import { freeLoopbackPort } from '../../demo/servers/loopback-port.ts';
import { runWeirCli } from '../../demo/weir-process.ts';
import { runServe, type RunningServe } from '../../server/cli/serve-command.ts';
import { projectRoot } from '../../demo/servers/project-paths.ts';
import { listenerPort } from '../../demo/servers/envoy/listeners.ts';
import { startEnvoy, type EnvoyProcess } from '../../demo/servers/envoy/process.ts';
import { silentLogger } from '../../server/log/logger.ts';
import { renderBootstrap } from '../../server/xds/bootstrap.ts';
import { requireBuiltFilters } from '../filters/envoy-harness.ts';
import { enrolNode } from './test-pki.ts';

export interface WeirNodeOptions {
  /** The node name (weir.yaml `node`) and the Envoy node id. */
  node: string;
  dir: string;
  /** The `policies:` section of weir.yaml, as YAML flow text. */
  policies: string;
  /** The endpoint the memcache redirect guards, and the port its policies name. */
  endpoint: string;
  endpointPort: number;
  memcachedPort: number;
  /** The `pki:` section of weir.yaml, as YAML flow text; default: the replica's own CA under dir/<node>-pki. */
  pki?: string;
  /** The memcache listener's port; replicas a proxy fails over between must agree on it. Default: a free port. */
  listenPort?: number;
}

export interface WeirNode {
  node: string;
  serve: RunningServe;
  envoy: EnvoyProcess;
  /** The memcache listener of this node's Envoy. */
  proxyPort: number;
  /** `weir policy wait --node <node>` against this node's serve; throws with the Envoy log if it fails. */
  waitEnforced(): Promise<void>;
  stop(): Promise<void>;
}

export async function writeWeirNodeConfig(options: WeirNodeOptions, xdsPort = 0): Promise<string> {
  requireBuiltFilters('memcache.wasm', 'agent.wasm');
  fs.mkdirSync(options.dir, { recursive: true });
  const configFile = path.join(options.dir, `${options.node}.yaml`);
  fs.writeFileSync(configFile, [
    `node: ${options.node}`,
    `xds: { address: 127.0.0.1, port: ${xdsPort}, batchWindowMs: 10 }`,
    `policies: ${options.policies}`,
    `api: { socket: ${options.node}.sock }`,
    `pki: ${options.pki ?? `{ dir: ${JSON.stringify(path.join(options.dir, `${options.node}-pki`))} }`}`,
    'redirects:',
    `  - { name: memcache, parser: memcache, endpoint: ${JSON.stringify(options.endpoint)}, endpointPort: ${options.endpointPort}, listen: { address: 127.0.0.1, port: ${options.listenPort ?? (await freeLoopbackPort())} }, upstream: { address: 127.0.0.1, port: ${options.memcachedPort} } }`,
    `filters: { dir: ${JSON.stringify(path.join(projectRoot, 'build', 'filters'))} }`,
  ].join('\n'));
  return configFile;
}

export async function startWeirNode(options: WeirNodeOptions): Promise<WeirNode> {
  const configFile = await writeWeirNodeConfig(options);
  const serve = await runServe({ configFile, logger: silentLogger() });
  let envoy: EnvoyProcess | undefined;
  try {
    const credentialsDir = enrolNode(serve.authority, options.node, path.join(options.dir, 'nodes', options.node));
    envoy = await startEnvoy({ bootstrapYaml: renderBootstrap({ nodeId: options.node, xdsPort: serve.controlServer.port, adminPort: 0, credentialsDir }) });
    await envoy.waitReady(60_000);
    const proxyPort = await listenerPort(envoy, 'weir-memcache');
    const running = envoy;
    return {
      node: options.node,
      serve,
      envoy: running,
      proxyPort,
      waitEnforced: async () => {
        const waited = await runWeirCli(['policy', 'wait', '--node', options.node, '--timeout', '60'], { socket: serve.api.socket });
        if (waited.code !== 0) throw new Error(`weir policy wait on ${options.node} failed (${waited.code}): ${waited.stderr}\nEnvoy log:\n${running.log().slice(-3000)}`);
      },
      stop: async () => {
        await running.stop();
        await serve.stop();
      },
    };
  } catch (error) {
    await envoy?.stop();
    await serve.stop();
    throw error;
  }
}

/**
 * Enrols `nodeId` with the `weir serve` behind `socket` as an operator does (`weir bootstrap`
 * through its REST API) and returns the credentials directory for renderBootstrap.
 */
export async function enrolThroughApi(socket: string, nodeId: string, credentialsDir: string): Promise<string> {
  const enrolled = await runWeirCli(['bootstrap', '--node-id', nodeId, '--certs', credentialsDir], { socket });
  if (enrolled.code !== 0) throw new Error(`weir bootstrap --node-id ${nodeId} failed (${enrolled.code}): ${enrolled.stderr}`);
  return credentialsDir;
}
