// etcd mode without Kubernetes: three `weir serve` replicas (child processes, killed by pid) share
// policies, endpoints, identities and node enrolments through a real etcd, and one CA (pki.ca, the
// same files for each; each replica has its own PKI directory as on its own host); one Envoy,
// enrolled through one replica's REST API (weir bootstrap), lists all three in its mTLS
// weir-xds cluster. Policies are imported through one replica and enforced by whichever one the
// proxy is connected to; when that replica is killed under traffic the proxy keeps enforcing and
// fails over to another; when etcd is down enforcement is unchanged, imports fail with a message
// naming etcd, and everything resumes when it is back.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEtcd, startMemcached, type RunningEtcd, type RunningMemcached } from '../../demo/servers/index.ts';
import { freeLoopbackPort } from '../../demo/servers/loopback-port.ts';
import { signalPid, type ServerProcess } from '../../demo/servers/server-process.ts';
import { runWeirCli, startWeirServe } from '../../demo/weir-process.ts';
import * as grpc from '@grpc/grpc-js';
import { callApi } from '../../server/cli/api-client.ts';
import { CertificateAuthority } from '../../server/pki/certificate-authority.ts';
import { DEFAULT_TRUST_DOMAIN } from '../../server/pki/spiffe-id.ts';
import { listenerPort } from '../../demo/servers/envoy/listeners.ts';
import { startEnvoy, type EnvoyProcess } from '../../demo/servers/envoy/process.ts';
import { renderBootstrap } from '../../server/xds/bootstrap.ts';
import { temporaryDirectory } from '../support/kube-cluster.ts';
import { memcachedOnce, openMemcachedSession } from '../support/memcached-session.ts';
import { grpcCredentialsOf } from '../support/test-pki.ts';
import { enrolThroughApi, writeWeirNodeConfig } from '../support/weir-node.ts';
import { openAds } from '../server/xds/support/grpc-client.ts';
import { sotwRequest } from '../server/xds/support/resources.ts';

/** Each step waits on a loaded 2-core machine for real processes (Envoy, etcd, kube-apiserver). */
const TEST_TIMEOUT_MS = 300_000;
const MAINTENANCE_IP = '127.0.0.34';
const MONITORING_IP = '127.0.0.35';
const DENIED = 'CLIENT_ERROR access denied';
const PROXY = 'etcd-proxy';

const ENDPOINTS = `apiVersion: weir.dev/v1
kind: Endpoint
metadata: { name: memcd-server }
spec: { labels: { app: memcached }, ips: [127.0.0.41] }
---
apiVersion: weir.dev/v1
kind: Endpoint
metadata: { name: maintenance }
spec: { labels: { function: fleet-maintanence }, ips: [${MAINTENANCE_IP}] }
---
apiVersion: weir.dev/v1
kind: Endpoint
metadata: { name: monitoring }
spec: { labels: { function: fleet-monitoring }, ips: [${MONITORING_IP}] }
`;

/** Maintenance may write and read under alliance/fleet/; monitoring may read, or (writable) write too. */
function fleetPolicy(monitoringWrites: boolean): string {
  const monitoringRules = monitoringWrites ? '[{ command: writeGroup, keyPrefix: alliance/fleet/ }, { command: get, keyPrefix: alliance/fleet/ }]' : '[{ command: get, keyPrefix: alliance/fleet/ }]';
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: fleet }
spec:
  endpointSelector: { matchLabels: { app: memcached } }
  ingress:
    - fromEndpoints: [{ matchLabels: { function: fleet-maintanence } }]
      toPorts: [{ ports: [{ port: "11211", protocol: TCP }], rules: { l7proto: memcache, l7: [{ command: writeGroup, keyPrefix: alliance/fleet/ }, { command: get, keyPrefix: alliance/fleet/ }] } }]
    - fromEndpoints: [{ matchLabels: { function: fleet-monitoring } }]
      toPorts: [{ ports: [{ port: "11211", protocol: TCP }], rules: { l7proto: memcache, l7: ${monitoringRules} } }]
`;
}

interface Replica {
  name: string;
  configFile: string;
  xdsPort: number;
  socket: string;
  logFile: string;
  process: ServerProcess | undefined;
}

describe('etcd mode: three replicas share state, proxies fail over', () => {
  let etcd: RunningEtcd;
  let memcached: RunningMemcached;
  let scratch: { dir: string; remove(): void };
  let envoy: EnvoyProcess;
  let proxyPort: number;
  const replicas: Replica[] = [];

  const start = async (replica: Replica): Promise<void> => {
    replica.process = await startWeirServe({ configFile: replica.configFile, xdsPort: replica.xdsPort, logFile: replica.logFile, startTimeoutMs: 120_000 });
  };
  const weir = (replica: Replica, args: string[], stdin?: string) => runWeirCli(args, { socket: replica.socket, ...(stdin === undefined ? {} : { stdin }) });
  const importPolicy = async (replica: Replica, name: string, text: string): Promise<void> => {
    const file = path.join(scratch.dir, name);
    fs.writeFileSync(file, text);
    const imported = await weir(replica, ['policy', 'import', file]);
    if (imported.code !== 0) throw new Error(`weir policy import via ${replica.name} failed: ${imported.stderr}\n${replica.name} log:\n${fs.readFileSync(replica.logFile, 'utf8').slice(-4000)}`);
  };
  const running = (): Replica[] => replicas.filter((replica) => replica.process !== undefined && replica.process.exitStatus() === undefined);
  /**
   * `weir policy wait --node` asked of any running replica answers for the fleet: it resolves once
   * the replica the proxy is connected to enforces the revision there; returns that replica.
   */
  const enforcedOnSomeReplica = async (): Promise<Replica> => {
    const asked = running()[0] as Replica;
    const waited = await weir(asked, ['policy', 'wait', '--node', PROXY, '--timeout', '120', '-o', 'json']);
    if (waited.code !== 0) {
      const fleet = await weir(asked, ['proxy', 'list']);
      throw new Error(`weir policy wait --node ${PROXY} via ${asked.name} failed (${waited.code}): ${waited.stderr}\nweir proxy list:\n${fleet.stdout}${fleet.stderr}\nEnvoy log:\n${envoy.log().slice(-3000)}`);
    }
    const body = JSON.parse(waited.stdout) as { proxies: Array<{ nodeId: string; replica?: string }> };
    const serving = replicas.find((replica) => replica.name === body.proxies.find((proxy) => proxy.nodeId === PROXY)?.replica);
    if (serving === undefined) throw new Error(`weir policy wait did not say which replica serves ${PROXY}: ${waited.stdout}`);
    return serving;
  };

  /** Resolves once `replica` honours node `nodeId` as enrolled (its record came through etcd). */
  const knowsNode = async (replica: Replica, nodeId: string, revoked: boolean): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      const reply = await callApi({ kind: 'socket', socket: replica.socket }, { method: 'GET', path: '/v1/nodes' });
      const node = (JSON.parse(reply.text) as { nodes: Array<{ nodeId: string; revokedAt?: string }> }).nodes.find((entry) => entry.nodeId === nodeId);
      if (node !== undefined && (node.revokedAt !== undefined) === revoked) return;
      if (attempt === 300) throw new Error(`${replica.name} does not list node ${nodeId}${revoked ? ' as revoked' : ''}: ${reply.text}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  beforeAll(async () => {
    scratch = temporaryDirectory('weir-etcd-');
    etcd = await startEtcd();
    memcached = await startMemcached();
    // One CA for the fleet, as an operator hands the same files to every replica.
    const ca = CertificateAuthority.open({ dir: path.join(scratch.dir, 'fleet-ca'), trustDomain: DEFAULT_TRUST_DOMAIN });
    const caKey = path.join(scratch.dir, 'fleet-ca', 'ca.key');
    // One weir.yaml for the fleet in effect: the same listener wherever the proxy is connected.
    const listenPort = await freeLoopbackPort();
    for (const name of ['replica-1', 'replica-2', 'replica-3']) {
      const xdsPort = await freeLoopbackPort();
      const configFile = await writeWeirNodeConfig(
        {
          node: name,
          dir: scratch.dir,
          policies: `{ source: etcd, etcd: { endpoints: [${etcd.clientUrl}] } }`,
          pki: `{ dir: ${JSON.stringify(path.join(scratch.dir, `${name}-pki`))}, ca: { cert: ${JSON.stringify(ca.certificateFile)}, key: ${JSON.stringify(caKey)} } }`,
          endpoint: 'memcd-server',
          endpointPort: 11211,
          memcachedPort: memcached.port,
          listenPort,
        },
        xdsPort,
      );
      replicas.push({ name, configFile, xdsPort, socket: path.join(scratch.dir, `${name}.sock`), logFile: path.join(scratch.dir, `${name}.log`), process: undefined });
    }
    await Promise.all(replicas.map(start));
    await importPolicy(replicas[0] as Replica, 'endpoints.yaml', ENDPOINTS);
    await importPolicy(replicas[0] as Replica, 'fleet.yaml', fleetPolicy(false));
    // Enrolled at replica-1 only: the other replicas honour it through etcd when it fails over.
    const credentialsDir = await enrolThroughApi((replicas[0] as Replica).socket, PROXY, path.join(scratch.dir, 'nodes', PROXY));
    const [first, ...others] = replicas.map((replica) => ({ address: '127.0.0.1', port: replica.xdsPort }));
    envoy = await startEnvoy({ bootstrapYaml: renderBootstrap({ nodeId: PROXY, xdsPort: first?.port ?? 0, xdsFailover: others, adminPort: 0, credentialsDir }) });
    await envoy.waitReady(60_000);
    proxyPort = await listenerPort(envoy, 'weir-memcache', 60_000);
    await enforcedOnSomeReplica();
  }, 600_000);

  afterAll(async () => {
    await envoy?.stop();
    for (const replica of replicas) await replica.process?.stop(5_000);
    await memcached?.stop();
    await etcd?.destroy();
    scratch?.remove();
  }, TEST_TIMEOUT_MS);

  it('every replica has the policy imported through one, with the same revision and identities', async () => {
    const views = await Promise.all(
      replicas.map(async (replica) => {
        const target = { kind: 'socket' as const, socket: replica.socket };
        const revision = JSON.parse((await callApi(target, { method: 'GET', path: '/v1/policies/revision' })).text) as { revision: string };
        const identities = JSON.parse((await callApi(target, { method: 'GET', path: '/v1/identities' })).text) as unknown;
        return { revision: revision.revision, identities };
      }),
    );
    expect(new Set(views.map((view) => view.revision)).size).toBe(1);
    expect(views[1]?.identities).toEqual(views[0]?.identities);
    expect(views[2]?.identities).toEqual(views[0]?.identities);
  }, TEST_TIMEOUT_MS);

  it('a node enrolled at one replica streams from another, and its revocation at a third ends that stream', async () => {
    const [one, two, three] = replicas as [Replica, Replica, Replica];
    const nodeId = 'etcd-raw-node';
    const credentialsDir = await enrolThroughApi(one.socket, nodeId, path.join(scratch.dir, 'nodes', nodeId));
    await knowsNode(two, nodeId, false);
    const credentials = (): grpc.ChannelCredentials => grpcCredentialsOf(credentialsDir, { caPem: fs.readFileSync(path.join(scratch.dir, 'fleet-ca', 'ca.crt'), 'utf8') });
    const stream = openAds(`127.0.0.1:${two.xdsPort}`, credentials());
    try {
      stream.write(sotwRequest({ node: { id: nodeId, cluster: 'etcd-test' } }));
      await stream.nextResponse(60_000);
      const revoked = await weir(three, ['node', 'revoke', nodeId]);
      expect(revoked.code, revoked.stderr).toBe(0);
      const ended = await stream.status;
      expect(ended.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(ended.details).toMatch(new RegExp(`node "${nodeId}" was revoked at`));
      // Refused by every replica now, also the one it was enrolled at.
      await knowsNode(one, nodeId, true);
      const again = openAds(`127.0.0.1:${one.xdsPort}`, credentials());
      again.write(sotwRequest({ node: { id: nodeId, cluster: 'etcd-test' } }));
      expect((await again.status).code).toBe(grpc.status.PERMISSION_DENIED);
      again.close();
    } finally {
      stream.close();
    }
  }, TEST_TIMEOUT_MS);

  it('a killed replica: the proxy keeps enforcing, fails over to another replica, and follows changes made there', async () => {
    const serving = await enforcedOnSomeReplica();
    const writer = await openMemcachedSession(proxyPort, MAINTENANCE_IP);
    const reader = await openMemcachedSession(proxyPort, MONITORING_IP);
    try {
      expect(await writer.command('set alliance/fleet/a 0 0 1\r\n1\r\n')).toBe('STORED');
      expect(await reader.command('set alliance/fleet/a 0 0 1\r\n2\r\n')).toBe(DENIED);
      // SIGKILL: no goodbye to the proxy.
      signalPid(serving.process?.pid ?? 0, 'SIGKILL');
      await serving.process?.exited;
      // Nothing is wrongly allowed meanwhile, on open and on new connections.
      expect(await reader.command('set alliance/fleet/a 0 0 1\r\n3\r\n')).toBe(DENIED);
      expect(await memcachedOnce(proxyPort, MONITORING_IP, 'set alliance/fleet/a 0 0 1\r\n4\r\n')).toBe(DENIED);
      expect(await writer.command('set alliance/fleet/a 0 0 1\r\n5\r\n')).toBe('STORED');
      const next = await enforcedOnSomeReplica();
      expect(next.name).not.toBe(serving.name);
      await importPolicy(next, 'fleet.yaml', fleetPolicy(true));
      await enforcedOnSomeReplica();
      expect(await reader.command('set alliance/fleet/a 0 0 1\r\n6\r\n')).toBe('STORED');
    } finally {
      writer.close();
      reader.close();
    }
    await start(serving);
  }, TEST_TIMEOUT_MS);

  it('etcd down: enforcement unchanged, imports fail naming etcd, and everything resumes when it is back', async () => {
    const serving = await enforcedOnSomeReplica();
    await importPolicy(serving, 'fleet.yaml', fleetPolicy(false));
    await enforcedOnSomeReplica();
    await etcd.stop();
    expect(await memcachedOnce(proxyPort, MONITORING_IP, 'set alliance/fleet/b 0 0 1\r\n1\r\n')).toBe(DENIED);
    expect(await memcachedOnce(proxyPort, MAINTENANCE_IP, 'set alliance/fleet/b 0 0 1\r\n2\r\n')).toBe('STORED');
    const file = path.join(scratch.dir, 'fleet.yaml');
    fs.writeFileSync(file, fleetPolicy(true));
    const refused = await weir(serving, ['policy', 'import', file]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('etcd');
    await etcd.restart();
    // As a user would: the first imports after etcd is back may still be refused while the etcd
    // client's circuit breaker is open (the refusal says to try again); the import that resumes is
    // the event waited for.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const again = await weir(serving, ['policy', 'import', file]);
      if (again.code === 0) break;
      expect(again.stderr, 'an import after etcd came back failed for another reason').toContain('etcd');
      if (Date.now() > deadline) throw new Error(`imports still refused 60 s after etcd came back: ${again.stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    await enforcedOnSomeReplica();
    expect(await memcachedOnce(proxyPort, MONITORING_IP, 'set alliance/fleet/b 0 0 1\r\n3\r\n')).toBe('STORED');
  }, TEST_TIMEOUT_MS);
});
