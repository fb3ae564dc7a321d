// The deployment the memcached wire fuzzer runs against, started the way a user runs Weir: a
// Debian memcached, `weir serve` (in process) guarding it with the memcache parser under the fuzz
// policy (memcache-fuzz.ts) written as a CiliumNetworkPolicy, fuzz clients as store endpoints on
// their own loopback addresses, an Envoy with the Weir agent, and every access-log record the
// server receives. Returns once the agent enforces the policy. Everything it starts it stops.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startMemcached, type RunningMemcached } from '../../../demo/servers/memcached.ts';
import { freeLoopbackPort } from '../../../demo/servers/loopback-port.ts';
import type { AccessLogRecord } from '../../../server/accesslog/access-log-record.ts';
import { runServe, type RunningServe } from '../../../server/cli/serve-command.ts';
import { projectRoot } from '../../../demo/servers/project-paths.ts';
import { listenerPort } from '../../../demo/servers/envoy/listeners.ts';
import { startEnvoy, type EnvoyProcess } from '../../../demo/servers/envoy/process.ts';
import { silentLogger } from '../../../server/log/logger.ts';
import { renderBootstrap } from '../../../server/xds/bootstrap.ts';
import { requireBuiltFilters } from '../../filters/envoy-harness.ts';
import { waitForAgentEnforcing } from '../../support/agent-enforcement.ts';
import { enrolNode } from '../../support/test-pki.ts';
import { FUZZ_PORT, type FuzzClient } from '../framework/reference-policy.ts';
import { MEMCACHE_FLEET_POLICY } from './memcache-fuzz.ts';

/** Loopback addresses of the wire clients, by the fuzz client's app name, and the sentinel's. */
export const WIRE_ADDRESSES: Readonly<Record<string, string>> = {
  'fleet-reader': '127.0.0.2',
  'fleet-writer': '127.0.0.3',
  'fleet-stranger': '127.0.0.4',
  'fleet-admin': '127.0.0.5',
  'oracle-sentinel': '127.0.0.9',
};

export interface WireDeployment {
  memcached: RunningMemcached;
  serve: RunningServe;
  envoy: EnvoyProcess;
  proxyPort: number;
  /** Every access-log record `weir serve` received, in arrival order. */
  records: AccessLogRecord[];
  stop(): Promise<void>;
}

const NODE_ID = 'fuzz-wire';

export async function deployMemcacheWire(): Promise<WireDeployment> {
  requireBuiltFilters('memcache.wasm', 'agent.wasm');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-fuzz-wire-'));
  const stops: Array<() => Promise<void>> = [async () => fs.rmSync(dir, { recursive: true, force: true })];
  const stop = async (): Promise<void> => {
    for (const stopOne of stops.reverse()) await stopOne().catch(() => undefined);
  };
  try {
    const memcached = await startMemcached({ memoryMb: 64 });
    stops.push(() => memcached.stop());
    fs.mkdirSync(path.join(dir, 'policies'));
    fs.writeFileSync(path.join(dir, 'policies', 'fuzz.yaml'), policyYaml(memcached.port));
    const configFile = path.join(dir, 'weir.yaml');
    fs.writeFileSync(configFile, [
      'xds: { address: 127.0.0.1, port: 0, batchWindowMs: 10 }',
      'policies: { dir: policies, enforcementMode: default }',
      'api: { socket: weir.sock }',
      'redirects:',
      `  - { name: memcache, parser: memcache, endpoint: fuzz-server, listen: { address: 127.0.0.1, port: ${await freeLoopbackPort()} }, upstream: { address: 127.0.0.1, port: ${memcached.port} } }`,
      `filters: { dir: ${JSON.stringify(path.join(projectRoot, 'build', 'filters'))} }`,
      '',
    ].join('\n'));
    const serve = await runServe({ configFile, logger: silentLogger() });
    stops.push(() => serve.stop());
    const records: AccessLogRecord[] = [];
    serve.observability.pipeline.hub.watch({ filter: {}, offer: (record) => (records.push(record), 'delivered') });
    const credentialsDir = enrolNode(serve.authority, NODE_ID, path.join(dir, 'nodes', NODE_ID));
    const envoy = await startEnvoy({ bootstrapYaml: renderBootstrap({ nodeId: NODE_ID, xdsPort: serve.controlServer.port, adminPort: 0, credentialsDir }) });
    stops.push(() => envoy.stop());
    await envoy.waitReady();
    const proxyPort = await listenerPort(envoy, 'weir-memcache');
    await waitForAgentEnforcing(serve, NODE_ID, () => `Envoy log:\n${envoy.log()}`);
    return { memcached, serve, envoy, proxyPort, records, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The wire address of a fuzz client. */
export function wireAddress(client: FuzzClient): string {
  const address = WIRE_ADDRESSES[client.app];
  if (address === undefined) throw new Error(`wire fuzz: no loopback address for client ${client.app}`);
  return address;
}

// The fuzz policy (written for port FUZZ_PORT) on memcached's real port, the server and every
// client as store endpoints on their loopback addresses, and the sentinel, which may only ask for
// the version.
function policyYaml(memcachedPort: number): string {
  const endpoints = [['fuzz-server', '127.0.0.1'], ...Object.entries(WIRE_ADDRESSES)].map(
    ([app, ip]) => `apiVersion: weir.dev/v1\nkind: Endpoint\nmetadata: { name: ${app} }\nspec: { labels: { app: ${app} }, ips: [${ip}] }\n`,
  );
  const ingress = `${MEMCACHE_FLEET_POLICY.spec.ingressYaml}    - fromEndpoints: [{ matchLabels: { app: oracle-sentinel } }]
      toPorts: [{ ports: [{ port: "${FUZZ_PORT}", protocol: TCP }], rules: { l7proto: memcache, l7: [{ command: version }] } }]
`.replaceAll(`"${FUZZ_PORT}"`, `"${memcachedPort}"`);
  const policy = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: ${MEMCACHE_FLEET_POLICY.spec.name} }
spec:
  endpointSelector: { matchLabels: { app: fuzz-server } }
  ingress:
${ingress}`;
  return [...endpoints, policy].join('---\n');
}
