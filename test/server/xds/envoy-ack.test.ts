// The xDS server against a real Envoy 1.40: the initial listener and cluster are applied and ACKed
// (state of the world and delta), traffic flows through the pushed Wasm filter, an invalid listener
// is NACKed with Envoy's message and not resent, and a restarted server does not re-push unchanged
// resources to a delta proxy that kept forwarding meanwhile.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { renderBootstrap, type XdsVariant } from '../../../server/xds/bootstrap.ts';
import { startControlServer, type ControlServer } from '../../../server/xds/control-server.ts';
import { buildRedirectSnapshot, clusterNameOf, listenerNameOf, type RedirectSpec } from '../../../server/snapshot/serve-snapshot.ts';
import type { FilterDelivery } from '../../../server/xds/resources/listener.ts';
import { CLUSTER_TYPE_URL } from '../../../server/xds/resources/cluster.ts';
import { LISTENER_TYPE_URL } from '../../../server/xds/resources/listener.ts';
import { ENDPOINT_TYPE_URL } from '../../../server/xds/resources/endpoint.ts';
import { EXTENSION_CONFIG_TYPE_URL } from '../../../server/xds/resources/extension-config.ts';
import type { TypeApplyState } from '../../../server/xds/proxy-status.ts';
import {
  compileProbeModule,
  exchange,
  openConnection,
  roundTrip,
  startTaggingServer,
  makeWorkDir,
  startEchoServer,
  configDump,
  type ConfigDump,
} from './support/envoy-process.ts';
import { startEnvoy, type EnvoyProcess } from '../../../demo/servers/envoy/process.ts';
import { waitFor } from '../../filters/envoy-harness.ts';
import { freeLoopbackPort } from '../../../demo/servers/loopback-port.ts';
import { createTestPki } from '../../support/test-pki.ts';

const workDir = makeWorkDir();
const pki = createTestPki();
let echo: { port: number; stop(): Promise<void> };
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  await compileProbeModule(workDir);
  echo = await startEchoServer();
}, 60_000);

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await echo.stop();
  fs.rmSync(workDir, { recursive: true, force: true });
  pki.remove();
});

async function redirectTo(listenPort: number): Promise<RedirectSpec> {
  return { name: 'probe', listen: { address: '127.0.0.1', port: listenPort }, parser: 'probe', upstream: { address: '127.0.0.1', port: echo.port } };
}

async function startServer(redirect: RedirectSpec, port = 0, filterDelivery: FilterDelivery = 'ecds'): Promise<ControlServer> {
  const snapshot = buildRedirectSnapshot({ redirects: [redirect], filtersDir: workDir, filterDelivery });
  const server = await startControlServer({ security: pki.security, port, batchWindowMs: 0, snapshot });
  cleanups.push(() => server.stop());
  return server;
}

async function startProxy(server: ControlServer, nodeId: string, variant: XdsVariant): Promise<EnvoyProcess> {
  const envoy = await startEnvoy({ bootstrapYaml: renderBootstrap({ nodeId, xdsPort: server.port, adminPort: 0, variant, credentialsDir: pki.enrol(nodeId) }), logLevel: 'info' });
  cleanups.push(() => envoy.stop());
  return envoy;
}

function typeState(server: ControlServer, nodeId: string, typeUrl: string): TypeApplyState | undefined {
  return server.status.get(nodeId)?.types.find((state) => state.typeUrl === typeUrl);
}

async function waitForAcks(
  server: ControlServer,
  nodeId: string,
  envoy: EnvoyProcess,
  typeUrls: readonly string[] = [CLUSTER_TYPE_URL, LISTENER_TYPE_URL, EXTENSION_CONFIG_TYPE_URL],
): Promise<void> {
  await waitFor(
    () => {
      const acked = (typeUrl: string) => {
        const state = typeState(server, nodeId, typeUrl);
        return state?.ackedVersion !== undefined && state.ackedVersion === state.sentVersion;
      };
      return typeUrls.every(acked);
    },
    15_000,
    `ACKs from ${nodeId}`,
    () => `${envoy.log()}\nproxy status: ${JSON.stringify(server.status.get(nodeId))}`, // status last: waitFor keeps the tail
  );
}

async function pongThrough(port: number): Promise<string> {
  return waitFor(async () => exchange(port, 'ping').catch(() => undefined), 10_000, `an answer through port ${port}`);
}

async function envoyStat(envoy: EnvoyProcess, name: string): Promise<number> {
  const text = (await envoy.admin(`/stats?filter=^${name}$`)).body;
  const match = new RegExp(`${name.replaceAll('.', '\\.')}: (\\d+)`).exec(text);
  return match?.[1] ? Number(match[1]) : Number.NaN;
}

function dynamicNames(dump: ConfigDump): { listeners: string[]; clusters: string[] } {
  const find = (suffix: string): Record<string, unknown> => dump.configs.find((config) => config['@type'].endsWith(suffix)) ?? {};
  const listeners = (find('ListenersConfigDump')['dynamic_listeners'] as Array<{ name: string }> | undefined) ?? [];
  const clusters = (find('ClustersConfigDump')['dynamic_active_clusters'] as Array<{ cluster: { name: string } }> | undefined) ?? [];
  return { listeners: listeners.map((listener) => listener.name), clusters: clusters.map((entry) => entry.cluster.name) };
}

describe('xDS server with a real Envoy', () => {
  it('state of the world: Envoy applies and ACKs the listener and cluster, and traffic passes the Wasm filter', async () => {
    const redirect = await redirectTo(await freeLoopbackPort());
    const server = await startServer(redirect);
    const envoy = await startProxy(server, 'envoy-sotw', 'sotw');
    await waitForAcks(server, 'envoy-sotw', envoy);
    const names = dynamicNames(await configDump(envoy));
    expect(names.listeners).toContain(listenerNameOf('probe'));
    expect(names.clusters).toContain(clusterNameOf('probe'));
    expect(server.status.get('envoy-sotw')).toMatchObject({ connected: true, variant: 'sotw' });
    expect(await pongThrough(redirect.listen.port)).toBe('pong');
  }, 40_000);

  it('inline filter: an invalid listener is NACKed with Envoy\'s message, not resent, and the old listener keeps working', async () => {
    const redirect = await redirectTo(await freeLoopbackPort());
    const server = await startServer(redirect, 0, 'inline');
    const envoy = await startProxy(server, 'envoy-nack', 'sotw');
    await waitForAcks(server, 'envoy-nack', envoy, [CLUSTER_TYPE_URL, LISTENER_TYPE_URL]);
    const goodVersion = typeState(server, 'envoy-nack', LISTENER_TYPE_URL)?.ackedVersion;
    fs.writeFileSync(path.join(workDir, 'broken.wasm'), Buffer.from('this is not wasm'));
    server.setSnapshot(buildRedirectSnapshot({ redirects: [{ ...redirect, parser: 'broken' }], filtersDir: workDir, filterDelivery: 'inline' }));
    const nack = await waitFor(() => typeState(server, 'envoy-nack', LISTENER_TYPE_URL)?.lastNack, 15_000, 'a NACK', () => envoy.log());
    expect(nack.message).toMatch(/wasm/i);
    expect(typeState(server, 'envoy-nack', LISTENER_TYPE_URL)?.ackedVersion).toBe(goodVersion);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await envoyStat(envoy, 'listener_manager.lds.update_rejected')).toBe(1);
    expect(await pongThrough(redirect.listen.port)).toBe('pong');
  }, 40_000);

  it('ECDS: a module that fails to load is NACKed on the extension config, and the running module keeps serving', async () => {
    const redirect = await redirectTo(await freeLoopbackPort());
    const server = await startServer(redirect);
    const envoy = await startProxy(server, 'envoy-ecds-nack', 'sotw');
    await waitForAcks(server, 'envoy-ecds-nack', envoy);
    const listenerVersion = typeState(server, 'envoy-ecds-nack', LISTENER_TYPE_URL)?.ackedVersion;
    fs.writeFileSync(path.join(workDir, 'broken.wasm'), Buffer.from('this is not wasm'));
    server.setSnapshot(buildRedirectSnapshot({ redirects: [{ ...redirect, parser: 'broken' }], filtersDir: workDir }));
    const nack = await waitFor(() => typeState(server, 'envoy-ecds-nack', EXTENSION_CONFIG_TYPE_URL)?.lastNack, 15_000, 'a NACK', () => envoy.log());
    expect(nack.message).toMatch(/wasm/i);
    expect(typeState(server, 'envoy-ecds-nack', LISTENER_TYPE_URL)?.ackedVersion).toBe(listenerVersion);
    expect(await pongThrough(redirect.listen.port)).toBe('pong');
  }, 40_000);

  it('a cluster and a filter update reach new connections while an open connection keeps working', async () => {
    const redirect = await redirectTo(await freeLoopbackPort());
    const server = await startServer(redirect);
    const envoy = await startProxy(server, 'envoy-update', 'sotw');
    await waitForAcks(server, 'envoy-update', envoy);
    await pongThrough(redirect.listen.port);
    const open = await openConnection(redirect.listen.port);
    cleanups.push(async () => {
      open.destroy();
    });
    expect(await roundTrip(open, 'ping')).toBe('pong');
    const tagging = await startTaggingServer('second:');
    cleanups.push(() => tagging.stop());
    const listenerVersion = typeState(server, 'envoy-update', LISTENER_TYPE_URL)?.ackedVersion;
    const moved = { ...redirect, upstream: { address: '127.0.0.1', port: tagging.port }, maxBufferBytes: 65536 };
    server.setSnapshot(buildRedirectSnapshot({ redirects: [moved], filtersDir: workDir }));
    await waitFor(
      () => {
        const cluster = typeState(server, 'envoy-update', CLUSTER_TYPE_URL);
        const filter = typeState(server, 'envoy-update', EXTENSION_CONFIG_TYPE_URL);
        return cluster?.ackedVersion === cluster?.sentVersion && filter?.ackedVersion === filter?.sentVersion && !cluster?.awaitingReply && !filter?.awaitingReply;
      },
      15_000,
      'the update to be ACKed',
      () => envoy.log(),
    );
    expect(typeState(server, 'envoy-update', LISTENER_TYPE_URL)?.sentVersion).toBe(listenerVersion);
    expect(await roundTrip(open, 'ping')).toBe('pong');
    await waitFor(async () => ((await exchange(redirect.listen.port, 'ping').catch(() => '')) === 'second:pong'), 10_000, 'new connections to reach the new cluster');
    expect(await envoyStat(envoy, 'listener_manager.listener_modified')).toBe(0);
  }, 40_000);

  it('EDS: the cluster warms on its ClusterLoadAssignment, all four types are ACKed in delta, traffic flows', async () => {
    const redirect = await redirectTo(await freeLoopbackPort());
    const snapshot = buildRedirectSnapshot({ redirects: [redirect], filtersDir: workDir, endpointDelivery: 'eds' });
    const server = await startControlServer({ security: pki.security, batchWindowMs: 0, snapshot });
    cleanups.push(() => server.stop());
    const envoy = await startProxy(server, 'envoy-eds', 'delta');
    await waitForAcks(server, 'envoy-eds', envoy, [CLUSTER_TYPE_URL, ENDPOINT_TYPE_URL, LISTENER_TYPE_URL, EXTENSION_CONFIG_TYPE_URL]);
    expect(await pongThrough(redirect.listen.port)).toBe('pong');
    const tagging = await startTaggingServer('eds:');
    cleanups.push(() => tagging.stop());
    const moved = { ...redirect, upstream: { address: '127.0.0.1', port: tagging.port } };
    server.setSnapshot(buildRedirectSnapshot({ redirects: [moved], filtersDir: workDir, endpointDelivery: 'eds' }));
    await waitFor(async () => ((await exchange(redirect.listen.port, 'ping').catch(() => '')) === 'eds:pong'), 10_000, 'the endpoint update to apply', () => envoy.log());
    expect(typeState(server, 'envoy-eds', CLUSTER_TYPE_URL)?.sentVersion).toBe(typeState(server, 'envoy-eds', CLUSTER_TYPE_URL)?.ackedVersion);
  }, 40_000);

  it('delta: ACKs, and after a server restart Envoy keeps forwarding and gets nothing unchanged again', async () => {
    const redirect = await redirectTo(await freeLoopbackPort());
    const first = await startServer(redirect);
    const envoy = await startProxy(first, 'envoy-delta', 'delta');
    await waitForAcks(first, 'envoy-delta', envoy);
    expect(typeState(first, 'envoy-delta', LISTENER_TYPE_URL)?.variant).toBe('delta');
    expect(await pongThrough(redirect.listen.port)).toBe('pong');
    const port = first.port;
    await first.stop();
    expect(await pongThrough(redirect.listen.port)).toBe('pong');
    const second = await startServer(redirect, port);
    await waitFor(() => second.status.get('envoy-delta')?.connected === true, 20_000, 'Envoy to reconnect', () => envoy.log());
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(typeState(second, 'envoy-delta', LISTENER_TYPE_URL)?.sentVersion).toBeUndefined();
    expect(typeState(second, 'envoy-delta', CLUSTER_TYPE_URL)?.sentVersion).toBeUndefined();
    expect(await pongThrough(redirect.listen.port)).toBe('pong');
  }, 60_000);
});
