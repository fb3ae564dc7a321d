// The Weir agent inside a real Envoy 1.40: the bootstrap from renderBootstrap() loads it as a
// singleton Wasm service; it subscribes to weir.NetworkPolicy/IdentityMap on the control server as
// the Envoy's node and the r2d2 parser (listener and filter over xDS, "policy":"agent") decides with
// what it publishes. Shows allow/deny by L7 rule and by source identity, a live policy change on an
// open connection within 1 s, fail-closed before any policy, and a NACKed policy keeping the old one.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startR2d2Backend, type R2d2Backend } from '../../../demo/backends/r2d2-backend.ts';
import { startEnvoy, type EnvoyProcess } from '../../../demo/servers/envoy/process.ts';
import { renderBootstrap } from '../../../server/xds/bootstrap.ts';
import { startControlServer, type ControlServer } from '../../../server/xds/control-server.ts';
import { createTestPki } from '../../support/test-pki.ts';
import type { TypeApplyState } from '../../../server/xds/proxy-status.ts';
import { buildRedirectSnapshot } from '../../../server/snapshot/serve-snapshot.ts';
import type { EncodedResource } from '../../../server/xds/resources/encoded-resource.ts';
import { IDENTITY_MAP_TYPE_URL } from '../../../server/xds/resources/identity-map.ts';
import { encodeNetworkPolicy, NETWORK_POLICY_TYPE_URL } from '../../../server/xds/resources/network-policy.ts';
import type { Snapshot } from '../../../server/xds/snapshot.ts';
import { buildFilters, filterWasm, parseAccessLog, repoRoot, waitFor } from '../envoy-harness.ts';
import { ENDPOINTS, R2D2_DB_POLICY, R2D2_DB_READ_ONLY_POLICY, compileResources } from './policy-resources.ts';
import { connectFrom } from './source-client.ts';
import { acceptsConnections, freeLoopbackPort } from '../../../demo/servers/loopback-port.ts';

const WEB = '127.0.0.2';
const ADMIN = '127.0.0.3';

let backend: R2d2Backend;
let server: ControlServer;
let listenPort: number;
const envoys: EnvoyProcess[] = [];
const pki = createTestPki();

function policiesFor(policyYaml: string): EncodedResource[] {
  const compiled = compileResources([policyYaml.replaceAll('"9000"', `"${backend.port}"`)], ENDPOINTS);
  return [...compiled.policies, compiled.identityMap];
}

function snapshotWith(extraResources: readonly EncodedResource[]): Snapshot {
  return buildRedirectSnapshot({
    redirects: [{ name: 'db', listen: { address: '127.0.0.1', port: listenPort }, parser: 'r2d2', upstream: { address: '127.0.0.1', port: backend.port }, endpoint: 'db' }],
    filtersDir: path.join(repoRoot, 'build', 'filters', 'checked'),
    extraResources,
  });
}

async function startProxy(nodeId: string): Promise<EnvoyProcess> {
  const envoy = await startEnvoy({
    bootstrapYaml: renderBootstrap({ nodeId, xdsPort: server.port, adminPort: 0, agentWasmFile: filterWasm('agent'), credentialsDir: pki.enrol(nodeId) }),
    componentLogLevel: 'wasm:info',
  });
  envoys.push(envoy);
  await envoy.waitForLog(/weir agent: ACK type\.googleapis\.com\/weir\.IdentityMap/, 20_000);
  const acked = (typeUrl: string): boolean => {
    const state = typeState(nodeId, typeUrl);
    return state?.ackedVersion !== undefined && state.ackedVersion === state.sentVersion;
  };
  await waitFor(() => acked(NETWORK_POLICY_TYPE_URL) && acked(IDENTITY_MAP_TYPE_URL), 5000, `the server to record the agent's ACKs for ${nodeId}`);
  await waitFor(async () => await acceptsConnections(listenPort), 20_000, `the weir-db listener on ${listenPort}`, () => envoy.log());
  return envoy;
}

function typeState(nodeId: string, typeUrl: string): TypeApplyState | undefined {
  return server.listProxies().find((proxy) => proxy.nodeId === nodeId)?.types.find((type) => type.typeUrl === typeUrl);
}

beforeAll(async () => {
  buildFilters('agent', 'r2d2');
  backend = await startR2d2Backend();
  listenPort = await freeLoopbackPort();
  server = await startControlServer({ security: pki.security, port: 0 });
}, 600_000);

afterAll(async () => {
  for (const envoy of envoys) await envoy.stop();
  await server?.stop();
  await backend?.close();
  pki.remove();
});

describe('Weir agent in Envoy 1.40', () => {
  it('denies everything while its agent has received no policy (fail closed)', async () => {
    server.setSnapshot(snapshotWith([]), 'node-empty');
    const envoy = await startProxy('node-empty');
    const client = await connectFrom(WEB, listenPort);
    expect(await client.request('READ sloop')).toBe('ERROR');
    client.close();
    expect(backend.received).not.toContain('READ sloop');
    await waitFor(() => parseAccessLog(envoy.log()).some((entry) => entry.type === 'Denied'), 5000, 'a Denied entry', () => envoy.log());
    expect(parseAccessLog(envoy.log()).find((entry) => entry.type === 'Denied')?.reason).toBe('no policy for endpoint db yet; denied until the Weir agent publishes one (fail closed)');
    expect(typeState('node-empty', NETWORK_POLICY_TYPE_URL)?.ackedVersion).toBeDefined();
    await envoy.stop();
  });

  describe('with policy', () => {
    let envoy: EnvoyProcess;

    beforeAll(async () => {
      server.setSnapshot(snapshotWith(policiesFor(R2D2_DB_POLICY)), 'node-a');
      envoy = await startProxy('node-a');
    }, 60_000);

    it('ACKs both Weir types under the Envoy node id, as the server records', () => {
      const policy = typeState('node-a', NETWORK_POLICY_TYPE_URL);
      expect(policy?.ackedVersion).toBe(policy?.sentVersion);
      expect(policy?.ackedResources.has('db')).toBe(true);
      expect(typeState('node-a', IDENTITY_MAP_TYPE_URL)?.ackedVersion).toBeDefined();
      expect(envoy.log()).toContain('weir agent: ADS stream to weir-xds opened as node node-a');
    });

    it('gives different source addresses different identities and verdicts', async () => {
      const web = await connectFrom(WEB, listenPort);
      const admin = await connectFrom(ADMIN, listenPort);
      expect(await web.request('READ sloop')).toMatch(/^OK sloop/);
      expect(await web.request('WRITE logs')).toBe('ERROR');
      expect(await admin.request('WRITE logs')).toBe('OK wrote logs');
      expect(await admin.request('WRITE secrets')).toBe('ERROR');
      web.close();
      admin.close();
      expect(backend.received.filter((line) => line.startsWith('WRITE'))).toEqual(['WRITE logs']);
      const denied = parseAccessLog(envoy.log()).filter((entry) => entry.type === 'Denied');
      expect(denied.map((entry) => entry.reason)).toEqual([
        expect.stringMatching(/^no L7 rule matched \(r2d2 rules for remote identity \d+ on port \d+\)$/),
        expect.stringMatching(/^no L7 rule matched/),
      ]);
      expect(denied[0]?.reason).not.toBe(denied[1]?.reason); // two identities
    });

    it('switches an open connection from allowed to denied once the agent ACKed a new policy', async () => {
      const admin = await connectFrom(ADMIN, listenPort);
      expect(await admin.request('WRITE logs')).toBe('OK wrote logs');
      const previous = typeState('node-a', NETWORK_POLICY_TYPE_URL)?.ackedVersion;
      server.setSnapshot(snapshotWith(policiesFor(R2D2_DB_READ_ONLY_POLICY)), 'node-a');
      await waitFor(() => {
        const state = typeState('node-a', NETWORK_POLICY_TYPE_URL);
        return state?.ackedVersion !== undefined && state.ackedVersion !== previous && state.ackedVersion === state.sentVersion;
      }, 20_000, 'the ACK of the new policy');
      // The agent ACKs what it enforces: the next request on the already open connection is denied.
      expect(await admin.request('WRITE logs')).toBe('ERROR');
      expect(await admin.request('READ public-1')).toMatch(/^OK public-1/);
      admin.close();
    });

    it('NACKs an invalid NetworkPolicy (reported by the server) and keeps enforcing the previous one', async () => {
      const before = typeState('node-a', NETWORK_POLICY_TYPE_URL)?.ackedVersion;
      const broken = encodeNetworkPolicy({ endpoint: 'db', endpointIps: [], identity: 9, compiled: '{"format":"weir.policy/v1","endpoint":"db","ingress":{"enforcement":"sometimes"}}' });
      const compiled = compileResources([R2D2_DB_READ_ONLY_POLICY.replaceAll('"9000"', `"${backend.port}"`)], ENDPOINTS);
      server.setSnapshot(snapshotWith([broken, compiled.identityMap]), 'node-a');
      await waitFor(() => typeState('node-a', NETWORK_POLICY_TYPE_URL)?.lastNack !== undefined, 3000, 'the NACK in the proxy status');
      const state = typeState('node-a', NETWORK_POLICY_TYPE_URL);
      expect(state?.lastNack?.message).toContain('weir.NetworkPolicy "db"');
      expect(state?.lastNack?.message).toContain('unknown enforcement "sometimes"');
      expect(state?.ackedVersion).toBe(before);
      const admin = await connectFrom(ADMIN, listenPort);
      expect(await admin.request('READ public-2')).toMatch(/^OK public-2/);
      expect(await admin.request('WRITE logs')).toBe('ERROR');
      admin.close();
    });

    it('reconnects after the control server restarts and reports the version it enforces', async () => {
      const port = server.port;
      const accepted = typeState('node-a', NETWORK_POLICY_TYPE_URL)?.ackedVersion;
      const opened = (envoy.log().match(/ADS stream to weir-xds opened/g) ?? []).length;
      await server.stop();
      await envoy.waitForLog(/weir agent: ADS stream to weir-xds closed \(grpc-status \d+/, 10_000);
      server = await startControlServer({ security: pki.security, port, snapshot: snapshotWith(policiesFor(R2D2_DB_READ_ONLY_POLICY)) });
      await waitFor(() => (envoy.log().match(/ADS stream to weir-xds opened/g) ?? []).length > opened, 15_000, 'the agent to reopen its stream', () => envoy.log());
      await waitFor(() => typeState('node-a', NETWORK_POLICY_TYPE_URL)?.ackedVersion !== undefined, 5000, 'the new server to learn the version the agent holds');
      expect(typeState('node-a', NETWORK_POLICY_TYPE_URL)?.ackedVersion).toBe(accepted);
      const admin = await connectFrom(ADMIN, listenPort);
      expect(await admin.request('WRITE logs')).toBe('ERROR');
      expect(await admin.request('READ public-3')).toMatch(/^OK public-3/);
      admin.close();
    });
  });
});
