// The control plane admits only authenticated proxies, end to end: `weir serve` with its default
// configuration (mTLS), a real Envoy 1.40 with the Weir agent enrolled as droid-node, the r2d2
// parser enforcing droid-client's read-only policy. The Envoy's three streams (ADS, the agent's
// policy stream, the access-log stream) are all authenticated with its certificate; the
// certificate is renewed and the server restarted while traffic flows, and not one verdict changes.
// Impostors with raw grpc-js clients and Envoy's node id (no certificate, another node's, another
// CA's, an expired one) get no policy and no listeners, their access-log batches never reach
// /v1/flows, and while the real Envoy is stopped nothing they do makes `weir policy wait` say
// "enforced".
import { createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startR2d2Backend, type R2d2Backend } from '../../demo/backends/r2d2-backend.ts';
import { freeLoopbackPort } from '../../demo/servers/loopback-port.ts';
import { runWeirCli } from '../../demo/weir-process.ts';
import { apiGetText } from '../../server/cli/api-client.ts';
import { accessLogServicePackage, type AccessLogAckMessage, type AccessLogBatchMessage } from '../../server/accesslog/access-log-service.ts';
import { runServe, type RunningServe } from '../../server/cli/serve-command.ts';
import { listenerPort } from '../../demo/servers/envoy/listeners.ts';
import { startEnvoy, type EnvoyProcess } from '../../demo/servers/envoy/process.ts';
import { silentLogger } from '../../server/log/logger.ts';
import { generateNodeKey, readNodeCredentials, writeNodeCredentials } from '../../server/pki/node-credentials.ts';
import { renderBootstrap } from '../../server/xds/bootstrap.ts';
import { renewNodeCredentials } from '../../server/xds/node-certificate-client.ts';
import { LISTENER_TYPE_URL } from '../../server/xds/resources/listener.ts';
import { NETWORK_POLICY_TYPE_URL } from '../../server/xds/resources/network-policy.ts';
import { connectFrom, type SourceClient } from '../filters/agent/source-client.ts';
import { waitFor } from '../filters/envoy-harness.ts';
import { openAds } from '../server/xds/support/grpc-client.ts';
import { sotwRequest } from '../server/xds/support/resources.ts';
import { waitForAgentEnforcing } from '../support/agent-enforcement.ts';
import { DROID_CLIENT_IP, DROID_READ_ONLY_POLICIES, readOnlyPolicy, writeDroidServeConfig } from '../support/droid-deployment.ts';
import { createTestPki, enrolNode, grpcCredentialsOf, type TestPki } from '../support/test-pki.ts';

const NODE_ID = 'droid-node';

let dir = '';
let backend: R2d2Backend;
let configFile = '';
let serve: RunningServe;
let envoy: EnvoyProcess | undefined;
let credentialsDir = '';
let proxyPort = 0;
let otherCa: TestPki;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-auth-'));
  backend = await startR2d2Backend();
  configFile = await writeDroidServeConfig(dir, { backendPort: backend.port, xdsPort: await freeLoopbackPort(), policies: DROID_READ_ONLY_POLICIES });
  serve = await runServe({ configFile, logger: silentLogger() });
  credentialsDir = enrolNode(serve.authority, NODE_ID, path.join(dir, 'node'), { xdsAddress: `127.0.0.1:${serve.controlServer.port}` });
  envoy = await startEnvoy({ bootstrapYaml: renderBootstrap({ nodeId: NODE_ID, xdsPort: serve.controlServer.port, adminPort: 0, credentialsDir }) });
  await envoy.waitReady();
  proxyPort = await listenerPort(envoy, 'weir-r2d2');
  await waitForAgentEnforcing(serve, NODE_ID, () => envoy?.log() ?? '');
  otherCa = createTestPki();
}, 120_000);

afterAll(async () => {
  await envoy?.stop();
  await serve?.stop();
  await backend?.close();
  otherCa?.remove();
  if (dir !== '') fs.rmSync(dir, { recursive: true, force: true });
});

const serverCa = (): { caPem: string } => ({ caPem: serve.authority.ca.certificatePem });

/** The impostors: Envoy's node id with every kind of credential but the right one. */
function impostors(): Array<{ kind: string; credentials: grpc.ChannelCredentials }> {
  return [
    { kind: 'no certificate', credentials: grpcCredentialsOf(undefined, serverCa()) },
    { kind: 'another node\'s certificate', credentials: grpcCredentialsOf(enrolNode(serve.authority, 'rogue', path.join(dir, 'rogue')), serverCa()) },
    { kind: 'a certificate of another CA naming droid-node', credentials: grpcCredentialsOf(otherCa.enrol(NODE_ID), serverCa()) },
    { kind: 'an expired certificate', credentials: grpcCredentialsOf(enrolExpired(), serverCa()) },
  ];
}

/** An expired certificate for droid-node from the server's own CA (issued now, so not superseded), without re-enrolling droid-node. */
function enrolExpired(): string {
  const key = generateNodeKey();
  const expired = serve.authority.ca.issueNodeCertificate(NODE_ID, createPublicKey(key.publicKeyPem), -60_000);
  return writeNodeCredentials(path.join(dir, 'expired'), {
    nodeId: NODE_ID,
    trustDomain: serve.authority.trustDomain,
    xdsAddress: undefined,
    privateKeyPem: key.privateKeyPem,
    certificatePem: expired.certificatePem,
    caPem: serve.authority.ca.certificatePem,
  });
}

async function readOnlyVerdicts(client: SourceClient, marker: string): Promise<string[]> {
  return [await client.request(`READ ${marker}`), await client.request(`WRITE ${marker}`)];
}

describe('control plane authentication (real Envoy, default configuration)', () => {
  it('a real Envoy with a valid certificate gets its config and enforces; its three streams are authenticated with that certificate', async () => {
    const client = await connectFrom(DROID_CLIENT_IP, proxyPort);
    expect(await readOnlyVerdicts(client, 'valid')).toEqual([expect.stringMatching(/^OK valid/), 'ERROR']);
    client.close();
    const serial = readNodeCredentials(credentialsDir).certificate.serialNumber;
    // Envoy's ADS, the agent's policy stream and its access-log stream ride the weir-xds cluster's mTLS.
    const sessions = await waitFor(() => {
      const open = serve.authority.sessions(NODE_ID);
      return open.length >= 3 && open;
    }, 10_000, 'three authenticated streams of droid-node');
    expect(new Set(sessions.map((session) => session.serial))).toEqual(new Set([serial]));
    // READ: Request and Response; WRITE: Denied.
    const records = await waitFor(() => {
      const found = serve.observability.pipeline.hub.recent(100).filter((record) => record.fields.file === 'valid' || record.fields.status !== undefined);
      return found.length >= 3 && found;
    }, 10_000, 'the access-log records of the valid requests');
    expect(new Set(records.map((record) => record.nodeId))).toEqual(new Set([NODE_ID]));
  });

  it('renews the certificate while traffic flows; after a server restart the proxy reconnects with the new one and no verdict changes', async () => {
    const persistent = await connectFrom(DROID_CLIENT_IP, proxyPort);
    const verdicts: string[][] = [];
    let flowing = true;
    const traffic = (async () => {
      for (let index = 0; flowing; index += 1) {
        verdicts.push(await readOnlyVerdicts(persistent, `rot-${index}`));
        const fresh = await connectFrom(DROID_CLIENT_IP, proxyPort);
        verdicts.push(await readOnlyVerdicts(fresh, `rot-new-${index}`));
        fresh.close();
      }
    })();
    const renewed = await renewNodeCredentials({ dir: credentialsDir });
    await waitFor(async () => (await envoy?.admin('/certs'))?.body.toLowerCase().includes(renewed.serial.toLowerCase()), 15_000, 'Envoy to load the renewed certificate (SDS directory watch)', () => envoy?.log() ?? '');
    await serve.stop();
    serve = await runServe({ configFile, logger: silentLogger() });
    await waitFor(() => {
      const open = serve.authority.sessions(NODE_ID);
      return open.length >= 3 && open.every((session) => session.serial === renewed.serial);
    }, 20_000, 'droid-node to reconnect all three streams with the renewed certificate', () => envoy?.log() ?? '');
    // The agent tells the new server the policy version it holds (not waitForAgentEnforcing: after a
    // restart the wait also wants Envoy's listeners re-sent, which an unchanged config never is).
    await waitFor(() => serve.controlServer.status.get(NODE_ID)?.types.find((state) => state.typeUrl === NETWORK_POLICY_TYPE_URL)?.ackedVersion, 20_000, 'the agent to report its policy version to the new server');
    flowing = false;
    await traffic;
    persistent.close();
    expect(verdicts.length).toBeGreaterThan(2);
    const unexpected = verdicts.filter(([read = '', write]) => !read.startsWith('OK ') || write !== 'ERROR');
    expect(unexpected).toEqual([]);
  });

  it('gives impostors with droid-node\'s id no policy and no listeners, and records no proxy state for them', async () => {
    for (const { kind, credentials } of impostors()) {
      const stream = openAds(`127.0.0.1:${serve.controlServer.port}`, credentials);
      stream.write(sotwRequest({ node: { id: NODE_ID, cluster: 'weir' }, type_url: NETWORK_POLICY_TYPE_URL }));
      stream.write(sotwRequest({ type_url: LISTENER_TYPE_URL }));
      const status = await stream.status;
      stream.close();
      expect(status.code, kind).not.toBe(grpc.status.OK);
      expect([grpc.status.UNAVAILABLE, grpc.status.PERMISSION_DENIED], kind).toContain(status.code);
      expect(stream.responseCount(), kind).toBe(0);
    }
    // The real proxy is untouched: still three streams, still enforcing.
    expect(serve.authority.sessions(NODE_ID).length).toBeGreaterThanOrEqual(3);
    const client = await connectFrom(DROID_CLIENT_IP, proxyPort);
    expect(await readOnlyVerdicts(client, 'after-impostors')).toEqual([expect.stringMatching(/^OK after-impostors/), 'ERROR']);
    client.close();
  });

  it('refuses impostors\' access-log batches; they never appear in /v1/flows', async () => {
    const loaded = grpc.loadPackageDefinition(accessLogServicePackage()) as unknown as { weir: { AccessLogService: grpc.ServiceClientConstructor } };
    for (const { kind, credentials } of impostors()) {
      const client = new loaded.weir.AccessLogService(`127.0.0.1:${serve.controlServer.port}`, credentials) as unknown as grpc.Client & { StreamAccessLogs(): grpc.ClientDuplexStream<AccessLogBatchMessage, AccessLogAckMessage> };
      const stream = client.StreamAccessLogs();
      const acks: AccessLogAckMessage[] = [];
      stream.on('data', (ack: AccessLogAckMessage) => acks.push(ack));
      const error = new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
      stream.write({ node_id: NODE_ID, agent_run: '1', first_sequence: '1', entries: [{ type: 'ACCESS_LOG_ENTRY_TYPE_REQUEST', protocol: 'r2d2', fields: { cmd: 'READ', file: 'forged-flow' } }] });
      expect([grpc.status.UNAVAILABLE, grpc.status.PERMISSION_DENIED], kind).toContain((await error).code);
      expect(acks, kind).toEqual([]);
      client.close();
    }
    const flows = await apiGetText({ kind: 'socket', socket: serve.api.socket }, '/v1/flows?last=4096&follow=false');
    expect(flows).toContain('event: flow');
    expect(flows).not.toContain('forged-flow');
    expect(serve.observability.pipeline.hub.recent(4096).some((record) => record.fields.file === 'forged-flow')).toBe(false);
  });

  it('while the real Envoy is stopped, impostors cannot make weir policy wait report the new revision enforced', async () => {
    await envoy?.stop();
    envoy = undefined;
    await waitFor(() => serve.controlServer.status.get(NODE_ID)?.connected === false, 10_000, 'droid-node to disconnect');
    const imported = await runWeirCli(['policy', 'import', '-', '--name', 'write.yaml', '-o', 'json', '--socket', serve.api.socket], {
      stdin: readOnlyPolicy('droid-write', 'WRITE', { port: backend.port }),
    });
    expect(imported.code, imported.stderr).toBe(0);
    const revision = (JSON.parse(imported.stdout) as { revision: string }).revision;
    for (const { credentials } of impostors()) {
      const stream = openAds(`127.0.0.1:${serve.controlServer.port}`, credentials);
      // What an agent's ACK of the new revision would look like, on a stream that is never admitted.
      stream.write(sotwRequest({ node: { id: NODE_ID, cluster: 'weir' }, type_url: NETWORK_POLICY_TYPE_URL, version_info: revision, response_nonce: '1' }));
      await stream.status;
      stream.close();
    }
    const waited = await runWeirCli(['policy', 'wait', revision, '--node', NODE_ID, '--timeout', '1', '--socket', serve.api.socket]);
    expect(waited.code).toBe(4);
    expect(waited.stderr).toContain(`${NODE_ID} (its Weir agent is not connected)`);
  });
});
