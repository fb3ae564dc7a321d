// A sidecar registers its own endpoint through node metadata: a real Envoy started from
// `weir bootstrap --endpoint-name droid-server --label app=x --endpoint-ip 127.0.0.5`, with no
// Endpoint document for droid-server in the store. The policy selecting app=x must then be
// enforced by that Envoy's r2d2 parser (without the registration the parser would deny everything
// as an unknown endpoint), and `weir endpoint list` must show the endpoint as sidecar:<node id>.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startR2d2Backend, type R2d2Backend } from '../../demo/backends/r2d2-backend.ts';
import { runServe, type RunningServe } from '../../server/cli/serve-command.ts';
import { listenerPort } from '../../demo/servers/envoy/listeners.ts';
import { startEnvoy, type EnvoyProcess } from '../../demo/servers/envoy/process.ts';
import { silentLogger } from '../../server/log/logger.ts';
import { runWeirCli, type CliRun } from '../../demo/weir-process.ts';
import { waitFor } from '../filters/envoy-harness.ts';
import { CLIENT_ENDPOINT_YAML, DROID_CLIENT_IP, readOnlyPolicy, writeDroidServeConfig } from '../support/droid-deployment.ts';

const NODE_ID = 'sidecar-droid-server';
const SIDECAR_IP = '127.0.0.5';
const STRANGER_IP = '127.0.0.3';

// droid-client is in the store; droid-server (labels app=x) comes only from the sidecar's bootstrap.
const STORE_FILES = {
  'client.yaml': CLIENT_ENDPOINT_YAML,
  'x-readonly.yaml': readOnlyPolicy('x-readonly', 'READ', { port: 'BACKEND_PORT', serverApp: 'x' }),
};

function weir(args: string[], socket?: string): Promise<CliRun> {
  return runWeirCli(args, { socket });
}

/** One r2d2 request line on a fresh connection from `localAddress`; the reply line, or 'closed'. */
function requestOnce(port: number, localAddress: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    let buffered = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply to ${JSON.stringify(line)} from ${localAddress} within 3 s`));
    }, 3000);
    const finish = (reply: string): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reply);
    };
    socket.on('connect', () => socket.write(`${line}\r\n`));
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      const end = buffered.indexOf('\r\n');
      if (end >= 0) finish(buffered.slice(0, end));
    });
    socket.on('close', () => finish('closed'));
    socket.on('error', () => undefined);
  });
}

interface EndpointListing {
  endpoints: Array<{ name: string; source: string; ips: string[]; labels: string[]; ingress: string | undefined }>;
}

describe('sidecar endpoint from node metadata (real Envoy)', () => {
  let dir = '';
  let backend: R2d2Backend | undefined;
  let serve: RunningServe | undefined;
  let envoy: EnvoyProcess | undefined;
  let proxyPort = 0;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weir-sidecar-'));
    backend = await startR2d2Backend();
    const configFile = await writeDroidServeConfig(dir, { backendPort: backend.port, policies: STORE_FILES });
    serve = await runServe({ configFile, logger: silentLogger() });
    const bootstrap = await weir([
      'bootstrap', '--node-id', NODE_ID, '--xds', `127.0.0.1:${serve.controlServer.port}`, '--admin-port', '0', '--socket', serve.api.socket, '--certs', path.join(dir, 'node'),
      '--endpoint-name', 'droid-server', '--label', 'app=x', '--endpoint-ip', SIDECAR_IP, '--namespace', 'droids', '--service-account', 'droid',
    ]);
    expect(bootstrap.code, bootstrap.stderr).toBe(0);
    envoy = await startEnvoy({ bootstrapYaml: bootstrap.stdout });
    await envoy.waitReady();
    proxyPort = await listenerPort(envoy, 'weir-r2d2');
  }, 60_000);

  afterAll(async () => {
    await envoy?.stop();
    await serve?.stop();
    await backend?.close();
    if (dir !== '') fs.rmSync(dir, { recursive: true, force: true });
  });

  it('weir endpoint list shows the sidecar endpoint with source sidecar:<node id>', async () => {
    const socket = serve?.api.socket;
    const listing = await waitFor(
      async () => {
        const run = await weir(['endpoint', 'list', '-o', 'json'], socket);
        expect(run.code, run.stderr).toBe(0);
        const parsed = JSON.parse(run.stdout) as EndpointListing;
        return parsed.endpoints.some((e) => e.name === 'droid-server') && parsed;
      },
      5_000,
      'droid-server in weir endpoint list',
    );
    expect(listing.endpoints.find((e) => e.name === 'droid-server')).toMatchObject({
      source: `sidecar:${NODE_ID}`,
      ips: [SIDECAR_IP],
      ingress: 'default-deny',
      labels: expect.arrayContaining(['k8s:app=x', 'k8s:io.kubernetes.pod.namespace=droids', 'k8s:io.cilium.k8s.policy.serviceaccount=droid']),
    });
    expect(listing.endpoints.find((e) => e.name === 'droid-client')?.source).toBe('store');
    const table = await weir(['endpoint', 'list'], socket);
    expect(table.stdout).toMatch(new RegExp(`^droid-server\\s.*\\s${SIDECAR_IP}\\s.*\\ssidecar:${NODE_ID}$`, 'm'));
  });

  it("the sidecar's Envoy enforces the policy that selects its own endpoint", async () => {
    const waited = await weir(['policy', 'wait', '--node', NODE_ID, '--timeout', '20'], serve?.api.socket);
    expect(waited.code, `${waited.stderr}\n${envoy?.log().slice(-3000) ?? ''}`).toBe(0);
    expect(waited.stdout).toContain(`enforced by 1 proxy: ${NODE_ID}`);
    expect(await requestOnce(proxyPort, DROID_CLIENT_IP, 'READ allowed-client')).toMatch(/^OK /);
    expect(await requestOnce(proxyPort, DROID_CLIENT_IP, 'WRITE not-allowed')).toBe('ERROR');
    expect(await requestOnce(proxyPort, STRANGER_IP, 'READ stranger')).toBe('ERROR');
  });
});
