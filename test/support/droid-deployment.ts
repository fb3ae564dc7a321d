// The droid scenario the policy, CLI, access-log and end-to-end tests share: droid-server
// (127.0.0.1) runs an r2d2 backend, droid-client (127.0.0.2) may only READ from it, and `weir serve`
// redirects one listener to that backend with the r2d2 parser. Test helper.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startR2d2Backend, type R2d2Backend } from '../../demo/backends/r2d2-backend.ts';
import { freeLoopbackPort } from '../../demo/servers/loopback-port.ts';
import { runServe, type RunningServe } from '../../server/cli/serve-command.ts';
import { projectRoot } from '../../demo/servers/project-paths.ts';
import { listenerPort } from '../../demo/servers/envoy/listeners.ts';
import { startEnvoy, type EnvoyProcess } from '../../demo/servers/envoy/process.ts';
import { silentLogger } from '../../server/log/logger.ts';
import { renderBootstrap } from '../../server/xds/bootstrap.ts';
import { requireBuiltFilters } from '../filters/envoy-harness.ts';
import { enrolNode } from './test-pki.ts';

export const DROID_SERVER_IP = '127.0.0.1';
export const DROID_CLIENT_IP = '127.0.0.2';

export const CLIENT_ENDPOINT_YAML = `apiVersion: weir.dev/v1
kind: Endpoint
metadata: { name: droid-client }
spec: { labels: { app: droid-client }, ips: [${DROID_CLIENT_IP}] }
`;

/** Endpoint documents for droid-server and droid-client. */
export const ENDPOINTS_YAML = `apiVersion: weir.dev/v1
kind: Endpoint
metadata: { name: droid-server }
spec: { labels: { app: droid-server }, ips: [${DROID_SERVER_IP}] }
---
${CLIENT_ENDPOINT_YAML}`;

export interface ReadOnlyPolicyOptions {
  /** The r2d2 port the rule names (a number, or a placeholder such as "BACKEND_PORT"); default 9000. */
  port?: number | string;
  /** The `app` label of the endpoint the policy selects; default droid-server. */
  serverApp?: string;
}

/** A CiliumNetworkPolicy: droid-client may send r2d2 `cmd` to the selected endpoint, nothing else. */
export function readOnlyPolicy(name = 'droid-readonly', cmd = 'READ', options: ReadOnlyPolicyOptions = {}): string {
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: ${name} }
spec:
  endpointSelector: { matchLabels: { app: ${options.serverApp ?? 'droid-server'} } }
  ingress:
    - fromEndpoints: [{ matchLabels: { app: droid-client } }]
      toPorts:
        - ports: [{ port: "${options.port ?? 9000}", protocol: TCP }]
          rules: { l7proto: r2d2, l7: [{ cmd: ${cmd} }] }
`;
}

/** A policy directory where droid-client may only READ from droid-server's r2d2 backend. */
export const DROID_READ_ONLY_POLICIES: Record<string, string> = {
  'droids.yaml': `${ENDPOINTS_YAML}---\n${readOnlyPolicy('droid-readonly', 'READ', { port: 'BACKEND_PORT' })}`,
};

export interface DroidServeConfig {
  backendPort: number;
  /** The xDS port; 0 (default) lets the server pick. */
  xdsPort?: number;
  enforcementMode?: 'default' | 'always';
  /** Files of the policy directory; "BACKEND_PORT" in them becomes the backend's port. */
  policies: Record<string, string>;
}

/**
 * Writes the policy directory and `weir.yaml` (one r2d2 redirect to the backend, endpoint
 * droid-server, on a free listener port) into `dir` and returns the configuration file. Fails
 * early when the filters `weir serve` loads are not built.
 */
export async function writeDroidServeConfig(dir: string, config: DroidServeConfig): Promise<string> {
  requireBuiltFilters('r2d2.wasm', 'agent.wasm');
  fs.mkdirSync(path.join(dir, 'policies'));
  for (const [name, text] of Object.entries(config.policies)) {
    fs.writeFileSync(path.join(dir, 'policies', name), text.replaceAll('BACKEND_PORT', String(config.backendPort)));
  }
  const configFile = path.join(dir, 'weir.yaml');
  fs.writeFileSync(configFile, [
    `xds: { address: 127.0.0.1, port: ${config.xdsPort ?? 0}, batchWindowMs: 10 }`,
    `policies: { dir: policies, enforcementMode: ${config.enforcementMode ?? 'default'} }`,
    'api: { socket: weir.sock }',
    'redirects:',
    `  - { name: r2d2, parser: r2d2, endpoint: droid-server, listen: { address: 127.0.0.1, port: ${await freeLoopbackPort()} }, upstream: { address: ${DROID_SERVER_IP}, port: ${config.backendPort} } }`,
    `filters: { dir: ${JSON.stringify(path.join(projectRoot, 'build', 'filters'))} }`,
  ].join('\n'));
  return configFile;
}

export interface DroidDeployment {
  dir: string;
  backend: R2d2Backend;
  serve: RunningServe;
  envoy: EnvoyProcess;
  nodeId: string;
  /** The r2d2 listener Envoy opened for the redirect. */
  proxyPort: number;
  stop(): Promise<void>;
}

/**
 * The r2d2 backend, `weir serve` (in process) with `policies`, and an Envoy with the Weir agent as
 * node `nodeId` (enrolled with the server: mTLS), all on fresh ports. Returns once Envoy's listener is up: its agent may not
 * enforce the policy yet (test/support/agent-enforcement.ts, or `weir policy wait --node`).
 */
export async function deployDroids(options: { policies: Record<string, string>; nodeId: string; enforcementMode?: DroidServeConfig['enforcementMode'] }): Promise<DroidDeployment> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-droids-'));
  const backend = await startR2d2Backend();
  const configFile = await writeDroidServeConfig(dir, { backendPort: backend.port, policies: options.policies, ...(options.enforcementMode === undefined ? {} : { enforcementMode: options.enforcementMode }) });
  const serve = await runServe({ configFile, logger: silentLogger() });
  const credentialsDir = enrolNode(serve.authority, options.nodeId, path.join(dir, 'nodes', options.nodeId));
  const envoy = await startEnvoy({ bootstrapYaml: renderBootstrap({ nodeId: options.nodeId, xdsPort: serve.controlServer.port, adminPort: 0, credentialsDir }) });
  await envoy.waitReady();
  const proxyPort = await listenerPort(envoy, 'weir-r2d2');
  return {
    dir,
    backend,
    serve,
    envoy,
    nodeId: options.nodeId,
    proxyPort,
    stop: async () => {
      await envoy.stop();
      await serve.stop();
      await backend.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
