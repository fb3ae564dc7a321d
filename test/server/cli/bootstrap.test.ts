// `weir bootstrap`: the rendered Envoy bootstrap (an mTLS weir-xds cluster reading the node's
// credentials through SDS files, or plaintext only when asked), the argument parsing that feeds
// it, and enrolment through a running server's REST API (key made here, certificate from the
// server, files written with private modes).
import fs from 'node:fs';
import https from 'node:https';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { bootstrapCommand } from '../../../server/cli/bootstrap-command.ts';
import { bootstrapCommandFrom } from '../../../server/cli/cli.ts';
import { nodeToken } from '../../../server/cli/node-command.ts';
import { renderBootstrap } from '../../../server/xds/bootstrap.ts';
import { createTestPki } from '../../support/test-pki.ts';
import { startTestServer } from '../api/support.ts';

interface BootstrapShape {
  node: { id: string; cluster: string };
  admin: { address: { socket_address: { address: string; port_value: number } } };
  dynamic_resources: { ads_config: { api_type: string }; lds_config: { ads: object }; cds_config: { ads: object } };
  static_resources: {
    clusters: Array<{
      name: string;
      type: string;
      load_assignment: { endpoints: Array<{ lb_endpoints: Array<{ endpoint: { address: { socket_address: { address: string; port_value: number } } } }> }> };
      transport_socket?: { typed_config: { common_tls_context: { alpn_protocols: string[]; tls_certificate_sds_secret_configs: Array<{ name: string; sds_config: { path_config_source: { path: string } } }>; validation_context_sds_secret_config: { name: string; sds_config: { path_config_source: { path: string } } } } } };
    }>;
  };
}

const pki = createTestPki();
afterAll(() => pki.remove());
const noWarnings = (): void => undefined;

function renderFrom(args: string[]): BootstrapShape {
  const command = bootstrapCommandFrom(args, noWarnings);
  return parse(renderBootstrap({ ...command.render, credentialsDir: pki.enrol(command.render.nodeId ?? 'weir-node') })) as BootstrapShape;
}

describe('weir bootstrap', () => {
  it('renders node, loopback admin, the weir-xds HTTP/2 cluster over mTLS and ADS for LDS and CDS', () => {
    const bootstrap = renderFrom(['--node-id', 'edge-1', '--cluster', 'dc1', '--xds', '127.0.0.2:19000', '--admin-port', '9999']);
    expect(bootstrap.node).toEqual({ id: 'edge-1', cluster: 'dc1' });
    expect(bootstrap.admin.address.socket_address).toEqual({ address: '127.0.0.1', port_value: 9999 });
    expect(bootstrap.dynamic_resources.ads_config.api_type).toBe('GRPC');
    expect(bootstrap.dynamic_resources.lds_config.ads).toEqual({});
    expect(bootstrap.dynamic_resources.cds_config.ads).toEqual({});
    const [xdsCluster] = bootstrap.static_resources.clusters;
    expect(xdsCluster?.name).toBe('weir-xds');
    expect(xdsCluster?.load_assignment.endpoints[0]?.lb_endpoints[0]?.endpoint.address.socket_address).toEqual({ address: '127.0.0.2', port_value: 19000 });
    const tls = xdsCluster?.transport_socket?.typed_config.common_tls_context;
    expect(tls?.alpn_protocols).toEqual(['h2']);
    const certificateFile = tls?.tls_certificate_sds_secret_configs[0]?.sds_config.path_config_source.path ?? '';
    expect(fs.readFileSync(certificateFile, 'utf8')).toContain('watched_directory');
    const trustFile = tls?.validation_context_sds_secret_config.sds_config.path_config_source.path ?? '';
    expect(fs.readFileSync(trustFile, 'utf8')).toContain('exact: spiffe://weir.local/weir-serve');
  });

  it('lists failover replicas one priority each, set aside on a failed connection, all over mTLS', () => {
    const credentialsDir = pki.enrol('edge-2');
    const rendered = parse(renderBootstrap({ nodeId: 'edge-2', xdsPort: 19000, xdsFailover: [{ address: '127.0.0.3', port: 19001 }, { address: '127.0.0.4', port: 19002 }], credentialsDir })) as {
      static_resources: { clusters: Array<{ load_assignment: { endpoints: Array<{ priority?: number; lb_endpoints: Array<{ endpoint: { address: { socket_address: object } } }> }> }; outlier_detection?: { consecutive_local_origin_failure: number }; transport_socket?: object; health_checks?: object }> };
    };
    const cluster = rendered.static_resources.clusters[0];
    expect(cluster?.load_assignment.endpoints.map((group) => [group.priority ?? 0, group.lb_endpoints[0]?.endpoint.address.socket_address])).toEqual([
      [0, { address: '127.0.0.1', port_value: 19000 }],
      [1, { address: '127.0.0.3', port_value: 19001 }],
      [2, { address: '127.0.0.4', port_value: 19002 }],
    ]);
    expect(cluster?.outlier_detection?.consecutive_local_origin_failure).toBe(1);
    expect(cluster?.health_checks).toBeUndefined();
    expect(cluster?.transport_socket).toBeDefined();
  });

  it('--delta selects the incremental protocol', () => {
    expect(renderFrom(['--delta']).dynamic_resources.ads_config.api_type).toBe('DELTA_GRPC');
  });

  it('rejects a malformed --xds, an unknown flag, and --no-enrol with --insecure', () => {
    expect(() => bootstrapCommandFrom(['--xds', '18000'], noWarnings)).toThrow('--xds 18000: expected HOST:PORT');
    expect(() => bootstrapCommandFrom(['--nodeid', 'x'], noWarnings)).toThrow(/nodeid/);
    expect(() => bootstrapCommandFrom(['--no-enrol', '--insecure'], noWarnings)).toThrow(/exclude each other/);
  });

  it('refuses to render without credentials unless asked for plaintext', () => {
    expect(() => renderBootstrap({ nodeId: 'edge-1' })).toThrow(/needs the node's credentials/);
    expect(parse(renderBootstrap({ nodeId: 'edge-1', insecure: true })) as BootstrapShape).not.toHaveProperty('static_resources.clusters.0.transport_socket');
  });

  it('enrols the node with the running server: key made here (0600), certificate naming the node, bootstrap using them', async () => {
    const server = await startTestServer();
    try {
      const certs = path.join(server.dir, 'nodes', 'edge-9');
      const warnings: string[] = [];
      const yaml = await bootstrapCommand({ ...bootstrapCommandFrom(['--node-id', 'edge-9', '--certs', certs, '--socket', server.serve.api.socket], (text) => warnings.push(text)) });
      const bootstrap = parse(yaml) as BootstrapShape;
      expect(bootstrap.static_resources.clusters[0]?.transport_socket).toBeDefined();
      expect(fs.statSync(path.join(certs, 'key.pem')).mode & 0o077).toBe(0);
      const certificate = new X509Certificate(fs.readFileSync(path.join(certs, 'cert.pem')));
      expect(certificate.subjectAltName).toBe('URI:spiffe://weir.local/node/edge-9');
      expect(certificate.verify(new X509Certificate(server.serve.authority.ca.certificatePem).publicKey)).toBe(true);
      expect(warnings.join('\n')).toContain('enrolled node edge-9 as spiffe://weir.local/node/edge-9');
      expect(server.serve.authority.enrolments.list().map((node) => node.nodeId)).toEqual(['edge-9']);
      const again = await bootstrapCommand(bootstrapCommandFrom(['--node-id', 'edge-9', '--certs', certs, '--no-enrol'], noWarnings));
      expect(again).toBe(yaml);
    } finally {
      await server.stop();
    }
  });

  it('enrols a node from another machine with a one-time join token over HTTPS, checking the server\'s CA first', async () => {
    const apiToken = 'admin-token-0123456789abcdef';
    const server = await startTestServer({
      apiConfig: 'api: { socket: weir.sock, tcp: { address: 127.0.0.1, port: 0, tokenFile: token.txt } }',
      files: { 'token.txt': `${apiToken}\n` },
    });
    try {
      const url = `https://127.0.0.1:${server.serve.api.tcpPort}`;
      const issued = await nodeToken({ target: { kind: 'socket', socket: server.serve.api.socket }, nodeId: 'remote-1', output: 'json' });
      const token = (JSON.parse(issued) as { token: string }).token;
      const certs = path.join(server.dir, 'remote');
      const join = (joinToken: string) => bootstrapCommand(bootstrapCommandFrom(['--join-token', joinToken, '--server', url, '--certs', certs, '--xds', '127.0.0.1:18000'], noWarnings));
      const yaml = await join(token);
      expect((parse(yaml) as BootstrapShape).node.id).toBe('remote-1');
      expect(new X509Certificate(fs.readFileSync(path.join(certs, 'cert.pem'))).subjectAltName).toBe('URI:spiffe://weir.local/node/remote-1');
      await expect(join(token)).rejects.toThrow(/join token for node "remote-1" is unknown, used or expired/);
      const fresh = (JSON.parse(await nodeToken({ target: { kind: 'socket', socket: server.serve.api.socket }, nodeId: 'remote-2', output: 'json' })) as { token: string }).token;
      const parts = JSON.parse(Buffer.from(fresh.slice('weirjoin1.'.length), 'base64url').toString()) as Record<string, string>;
      const otherCa = Buffer.from(JSON.stringify({ ...parts, caSha256: '0'.repeat(64) })).toString('base64url');
      await expect(join(`weirjoin1.${otherCa}`)).rejects.toThrow(/presents a CA whose SHA-256 is not the one in the join token; refusing to send the token/);
      expect(server.serve.authority.enrolments.list().map((node) => node.nodeId)).toEqual(['remote-1']);
      // Only the CA and token enrolment are open without the admin token.
      const statusOf = (method: string, route: string) =>
        new Promise<number>((resolve, reject) => {
          const request = https.request(`${url}${route}`, { method, ca: server.serve.authority.ca.certificatePem }, (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          });
          request.on('error', reject);
          request.end();
        });
      expect(await statusOf('GET', '/v1/ca')).toBe(200);
      expect(await statusOf('GET', '/v1/nodes')).toBe(401);
      expect(await statusOf('POST', '/v1/nodes/remote-3/join-token')).toBe(401);
      expect(await statusOf('POST', '/v1/nodes/remote-3/enrol')).toBe(401);
    } finally {
      await server.stop();
    }
  });
});
