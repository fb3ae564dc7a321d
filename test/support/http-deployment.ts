// The HTTP scenario the HTTP/gRPC tests share, after Cilium's service-account example: endpoint
// leia (service account leia) runs an HTTP backend (HTTP/1.1 and h2c on one port) and a gRPC
// backend; luke (service account luke, 127.0.0.1, the address a client that cannot choose its
// source gets, like grpc-js) and han (service account han, 127.0.0.2) are clients. `weir serve`
// (in process) redirects one listener to each backend with the HTTP filter guarding leia, and an
// Envoy with the Weir agent enforces what the store holds. Test helper.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startGrpcBackend, type GrpcBackend } from '../../demo/backends/grpc-backend.ts';
import { startHttpBackend, type HttpBackend } from '../../demo/backends/http-backend.ts';
import { freeLoopbackPort } from '../../demo/servers/loopback-port.ts';
import { runServe, type RunningServe } from '../../server/cli/serve-command.ts';
import { projectRoot } from '../../demo/servers/project-paths.ts';
import { listenerPort } from '../../demo/servers/envoy/listeners.ts';
import { startEnvoy, type EnvoyProcess } from '../../demo/servers/envoy/process.ts';
import { silentLogger } from '../../server/log/logger.ts';
import { renderBootstrap } from '../../server/xds/bootstrap.ts';
import { requireBuiltFilters } from '../filters/envoy-harness.ts';
import { waitForAgentEnforcing } from './agent-enforcement.ts';
import { enrolNode } from './test-pki.ts';

export const LUKE_IP = '127.0.0.1';
export const HAN_IP = '127.0.0.2';
const LEIA_IP = '127.0.0.10';

export const REBEL_ENDPOINTS_YAML = `apiVersion: weir.dev/v1
kind: Endpoint
metadata: { name: leia, namespace: default }
spec: { labels: { app: leia }, serviceAccount: leia, ips: [${LEIA_IP}] }
---
apiVersion: weir.dev/v1
kind: Endpoint
metadata: { name: luke, namespace: default }
spec: { labels: { app: luke }, serviceAccount: luke, ips: [${LUKE_IP}] }
---
apiVersion: weir.dev/v1
kind: Endpoint
metadata: { name: han, namespace: default }
spec: { labels: { app: han }, serviceAccount: han, ips: [${HAN_IP}] }
`;

/**
 * A CiliumNetworkPolicy selecting leia by service account, with one ingress rule whose `http`
 * list is `httpRules` (YAML flow text), on the HTTP backend's port (`WEB_PORT`) or, with
 * `port: 'GRPC_PORT'`, the gRPC backend's.
 */
export function leiaPolicy(name: string, from: string, httpRules: string, port: 'WEB_PORT' | 'GRPC_PORT' = 'WEB_PORT'): string {
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: ${name}, namespace: default }
spec:
  endpointSelector: { matchLabels: { io.cilium.k8s.policy.serviceaccount: leia } }
  ingress:
    - fromEndpoints: [${from}]
      toPorts:
        - ports: [{ port: "${port}", protocol: TCP }]
          rules:
            http: ${httpRules}
`;
}

export interface HttpDeployment {
  dir: string;
  web: HttpBackend;
  grpc: GrpcBackend;
  serve: RunningServe;
  envoy: EnvoyProcess;
  nodeId: string;
  /** Envoy's listener in front of the HTTP backend, and the one in front of the gRPC backend. */
  webPort: number;
  grpcPort: number;
  /** Replaces (or adds) a policy file in the store and returns once the agent enforces it. */
  putPolicy(name: string, text: string): Promise<void>;
  stop(): Promise<void>;
}

/** `concurrency`: Envoy's worker threads (default 1), each with its own VM of the HTTP filter. */
export async function deployRebels(options: { nodeId: string; policies: Record<string, string>; concurrency?: number }): Promise<HttpDeployment> {
  requireBuiltFilters('http.wasm', 'agent.wasm');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-rebels-'));
  const stops: Array<() => Promise<void>> = [async () => fs.rmSync(dir, { recursive: true, force: true })];
  const stop = async (): Promise<void> => {
    for (const step of stops.reverse()) await step();
  };
  try {
    const web = await startHttpBackend();
    stops.push(() => web.close());
    const grpc = await startGrpcBackend();
    stops.push(() => grpc.close());
    const ports = (text: string): string => text.replaceAll('WEB_PORT', String(web.port)).replaceAll('GRPC_PORT', String(grpc.port));
    const configFile = await writeServeConfig(dir, web.port, grpc.port, Object.fromEntries(Object.entries(options.policies).map(([name, text]) => [name, ports(text)])));
    const serve = await runServe({ configFile, logger: silentLogger() });
    stops.push(() => serve.stop());
    const credentialsDir = enrolNode(serve.authority, options.nodeId, path.join(dir, 'nodes', options.nodeId));
    const envoy = await startEnvoy({ bootstrapYaml: renderBootstrap({ nodeId: options.nodeId, xdsPort: serve.controlServer.port, adminPort: 0, credentialsDir }), concurrency: options.concurrency ?? 1 });
    stops.push(() => envoy.stop());
    await envoy.waitReady();
    const webPort = await listenerPort(envoy, 'weir-web');
    const grpcPort = await listenerPort(envoy, 'weir-grpc');
    const context = (): string => `Envoy log:\n${envoy.log()}`;
    await waitForAgentEnforcing(serve, options.nodeId, context);
    return {
      dir, web, grpc, serve, envoy, nodeId: options.nodeId, webPort, grpcPort, stop,
      putPolicy: async (name, text) => {
        const result = await serve.store.put(name, ports(text));
        if (!result.ok) throw new Error(`policy ${name} rejected: ${JSON.stringify(result.problems)}`);
        await waitForAgentEnforcing(serve, options.nodeId, context);
      },
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function writeServeConfig(dir: string, webPort: number, grpcPort: number, policies: Record<string, string>): Promise<string> {
  fs.mkdirSync(path.join(dir, 'policies'));
  for (const [name, text] of Object.entries(policies)) fs.writeFileSync(path.join(dir, 'policies', name), text);
  const configFile = path.join(dir, 'weir.yaml');
  fs.writeFileSync(configFile, [
    'xds: { address: 127.0.0.1, port: 0, batchWindowMs: 10 }',
    'policies: { dir: policies, enforcementMode: default }',
    'api: { socket: weir.sock }',
    'redirects:',
    `  - { name: web, parser: http, endpoint: leia, listen: { address: 127.0.0.1, port: ${await freeLoopbackPort()} }, upstream: { address: 127.0.0.1, port: ${webPort} } }`,
    `  - { name: grpc, parser: http, endpoint: leia, listen: { address: 127.0.0.1, port: ${await freeLoopbackPort()} }, upstream: { address: 127.0.0.1, port: ${grpcPort} } }`,
    `filters: { dir: ${JSON.stringify(path.join(projectRoot, 'build', 'filters'))} }`,
  ].join('\n'));
  return configFile;
}
