// The config file reader: defaults, every problem reported with file and field path.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseWeirConfig } from '../../../server/config/weir-config.ts';

const origin = { source: 'weir.yaml', baseDir: '/etc/weir' };

function problemsOf(text: string): readonly string[] {
  try {
    parseWeirConfig(text, origin);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('config was accepted');
}

describe('weir.yaml', () => {
  it('reads redirects and fills in defaults, resolving paths against the file\'s directory', () => {
    const config = parseWeirConfig(
      ['redirects:', '  - name: r2d2', '    listen: { address: 127.0.0.1, port: 10000 }', '    parser: r2d2', '    upstream: { address: 127.0.0.1, port: 9000 }'].join('\n'),
      origin,
    );
    expect(config.xds).toEqual({ address: '127.0.0.1', port: 18000, batchWindowMs: 100, filterDelivery: 'ecds', endpointDelivery: 'inline', insecure: false });
    expect(config.pki).toEqual({ dir: '/etc/weir/.weir/pki', trustDomain: 'weir.local', ca: undefined, nodeCertificateLifetimeSeconds: 86_400 });
    expect(config.metrics).toBeUndefined();
    expect(config.filtersDir).toBe('/etc/weir/build/filters');
    expect(config.redirects).toEqual([
      { name: 'r2d2', listen: { address: '127.0.0.1', port: 10000 }, parser: 'r2d2', upstream: { address: '127.0.0.1', port: 9000 } },
    ]);
  });

  it('reports a bad port with the field path', () => {
    const problems = problemsOf(
      ['redirects:', '  - name: r2d2', '    listen: { address: 127.0.0.1, port: 10000 }', '    parser: r2d2', '    upstream: { address: 127.0.0.1, port: 70000 }'].join('\n'),
    );
    expect(problems).toEqual(['redirects[0].upstream.port: must be a port number 1-65535 (found 70000)']);
  });

  it('takes a quoted port as Kubernetes and Cilium write them, and refuses one that is not a number', () => {
    const redirect = (port: string): string =>
      ['redirects:', '  - name: m', `    listen: { address: 127.0.0.1, port: ${port} }`, '    parser: memcache', '    upstream: { address: 127.0.0.1, port: 11211 }'].join('\n');
    expect(parseWeirConfig(redirect('"11411"'), origin).redirects[0]?.listen.port).toBe(11411);
    expect(problemsOf(redirect('"11411x"'))).toEqual(['redirects[0].listen.port: must be a port number 1-65535 (found "11411x")']);
  });

  it('lists the built parsers when a redirect names one that is not built, with the other problems', () => {
    const listModules = (dir: string): readonly string[] | undefined => (dir === '/etc/weir/build/filters' ? ['agent.wasm', 'memcache.wasm', 'r2d2.wasm', 'probe.wasm'] : undefined);
    const text = ['xds: { port: -1 }', 'redirects:', '  - name: m', '    listen: { address: 127.0.0.1, port: 1 }', '    parser: memcached', '    upstream: { address: 127.0.0.1, port: 11211 }'].join('\n');
    try {
      parseWeirConfig(text, { ...origin, listModules });
      throw new Error('accepted');
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      expect(error.problems).toEqual([
        'redirects[0].parser: no parser "memcached" in /etc/weir/build/filters; the parsers there are memcache, r2d2',
        'xds.port: must be a port number 0-65535 (found -1)',
      ]);
    }
    expect(() => parseWeirConfig(text.replace('port: -1', 'port: 0'), { ...origin, listModules: () => undefined })).toThrow(
      'weir.yaml: filters.dir: cannot read /etc/weir/build/filters; build the filters (npm run build:filters)',
    );
  });

  it('reports every problem at once: missing fields, unknown keys, bad names, duplicates', () => {
    const problems = problemsOf(
      [
        'xds: { port: 18000, colour: red }',
        'redirects:',
        '  - name: Bad Name',
        '    listen: { address: 127.0.0.1, port: 10000 }',
        '    parser: r2d2',
        '  - name: dup',
        '    listen: { address: 127.0.0.1, port: 10000 }',
        '    parser: r2d2',
        '    upstream: { address: 127.0.0.1, port: 9000 }',
      ].join('\n'),
    );
    expect(problems).toEqual([
      'xds.colour: unknown field; expected one of address, port, batchWindowMs, filterDelivery, endpointDelivery, insecure',
      'redirects[0].name: "Bad Name" is not valid: use lower-case letters, digits, "-" or "_", starting with a letter or digit',
      'redirects[0].upstream: is required',
      'redirects[0].upstream.address: is required',
      'redirects[0].upstream.port: is required',
      'redirects[1].listen: "127.0.0.1:10000" is already used by redirects[0]',
    ]);
  });

  it('prefixes the message with the file name', () => {
    expect(() => parseWeirConfig('xds: { port: -1 }', origin)).toThrow('weir.yaml: xds.port: must be a port number 0-65535 (found -1)');
  });

  it('rejects a file that is not a mapping', () => {
    expect(problemsOf('- just\n- a list')).toEqual(['the top level must be a mapping with xds, redirects, filters, policies and api']);
  });

  it('defaults the policy store, enforcement mode and API socket next to the config file', () => {
    const config = parseWeirConfig('redirects: []', origin);
    expect(config.policies).toEqual({ dir: '/etc/weir/.weir/policies', enforcementMode: 'default', source: { kind: 'directory' } });
    expect(config.api).toEqual({ socket: '/etc/weir/.weir/weir.sock', tcp: undefined });
  });

  it('reads a redirect\'s endpoint, the policy settings and the TCP API with its token file', () => {
    const config = parseWeirConfig(
      [
        'policies: { dir: /var/lib/weir/policies, enforcementMode: always }',
        'api: { socket: run/weir.sock, tcp: { address: 127.0.0.1, port: 0, tokenFile: token } }',
        'redirects:',
        '  - { name: r2d2, parser: r2d2, endpoint: droid, listen: { address: 127.0.0.1, port: 10000 }, upstream: { address: 127.0.0.1, port: 9000 } }',
      ].join('\n'),
      origin,
    );
    expect(config.redirects[0]?.endpoint).toBe('droid');
    expect(config.policies).toEqual({ dir: '/var/lib/weir/policies', enforcementMode: 'always', source: { kind: 'directory' } });
    expect(config.api).toEqual({ socket: '/etc/weir/run/weir.sock', tcp: { address: '127.0.0.1', port: 0, tokenFile: '/etc/weir/token', tls: undefined } });
  });

  it('reads the security settings: insecure, the PKI (your CA, trust domain, node certificate lifetime), TLS of the TCP API, the metrics endpoint', () => {
    const config = parseWeirConfig(
      [
        'xds: { insecure: true }',
        'pki: { dir: /var/lib/weir/pki, trustDomain: prod.example, ca: { cert: ca.crt, key: ca.key }, nodeCertificateLifetimeSeconds: 3600 }',
        'api: { tcp: { address: 0.0.0.0, port: 8443, tokenFile: token, cert: api.crt, key: api.key } }',
        'metrics: { address: 0.0.0.0, port: 9090 }',
      ].join('\n'),
      origin,
    );
    expect(config.xds.insecure).toBe(true);
    expect(config.pki).toEqual({ dir: '/var/lib/weir/pki', trustDomain: 'prod.example', ca: { cert: '/etc/weir/ca.crt', key: '/etc/weir/ca.key' }, nodeCertificateLifetimeSeconds: 3600 });
    expect(config.api.tcp?.tls).toEqual({ cert: '/etc/weir/api.crt', key: '/etc/weir/api.key' });
    expect(config.metrics).toEqual({ address: '0.0.0.0', port: 9090 });
  });

  it('points the old xds.tls to the pki section, and reports a bad trust domain and a lone api.tcp.cert', () => {
    const problems = problemsOf(['xds: { tls: { cert: a, key: b, clientCa: c } }', 'pki: { trustDomain: "Weir Local" }', 'api: { tcp: { port: 1, tokenFile: t, cert: a.crt } }', 'redirects: []'].join('\n'));
    expect(problems).toEqual([
      'xds.tls: was replaced by the pki section: weir serve runs its own CA (or pki.ca: {cert, key}, yours) and proxies get certificates from weir bootstrap; see docs/security.md',
      'api.tcp.key: is required with api.tcp.cert/key (give both, or neither to use a certificate of the weir CA)',
      'pki.trustDomain: "Weir Local" is not valid: use lower-case letters, digits, ".", "-" or "_" (a SPIFFE trust domain such as weir.local)',
    ]);
  });

  it('reports a bad enforcement mode, a TCP API without token file and an empty endpoint', () => {
    const problems = problemsOf(
      [
        'policies: { enforcementMode: sometimes }',
        'api: { tcp: { port: 8080 } }',
        'redirects:',
        '  - { name: r2d2, parser: r2d2, endpoint: "", listen: { address: 127.0.0.1, port: 10000 }, upstream: { address: 127.0.0.1, port: 9000 } }',
      ].join('\n'),
    );
    expect(problems).toEqual([
      'redirects[0].endpoint: must be a non-empty string',
      'policies.enforcementMode: must be one of default, always, never',
      'api.tcp.tokenFile: is required',
    ]);
  });

  it('fills ${NAME} and ${NAME:-default} from the environment, as docker-compose does', () => {
    const text = 'xds: { address: "${BIND:-0.0.0.0}", port: ${XDS_PORT:-18000} }\napi: { socket: "/run/$${HOME}/${SOCKET_NAME}" }';
    const config = parseWeirConfig(text, origin, { XDS_PORT: '31000', SOCKET_NAME: 'w.sock' });
    expect(config.xds.address).toBe('0.0.0.0');
    expect(config.xds.port).toBe(31000);
    expect(config.api.socket).toBe('/run/${HOME}/w.sock');
    expect(() => parseWeirConfig(text, origin, {})).toThrow('weir.yaml: ${SOCKET_NAME}: the environment variable SOCKET_NAME is not set; set it or write ${SOCKET_NAME:-DEFAULT}');
  });

  it('reads the shared policy sources and the node name, and reports their problems with paths', () => {
    const etcd = parseWeirConfig('node: replica-1\npolicies: { source: etcd, etcd: { endpoints: [http://127.0.0.1:2379, https://etcd-2:2379] } }', origin);
    expect(etcd.node).toBe('replica-1');
    expect(etcd.policies.source).toEqual({ kind: 'etcd', endpoints: ['http://127.0.0.1:2379', 'https://etcd-2:2379'], prefix: '/weir/' });
    const kubernetes = parseWeirConfig('policies: { source: kubernetes, kubernetes: { kubeconfig: kube/config } }', origin);
    expect(kubernetes.policies.source).toEqual({ kind: 'kubernetes', kubeconfig: '/etc/weir/kube/config' });
    expect(parseWeirConfig('policies: { source: kubernetes }', origin).policies.source).toEqual({ kind: 'kubernetes', kubeconfig: undefined });
    expect(problemsOf('node: Node_1\npolicies: { source: etcd, etcd: { endpoints: [127.0.0.1:2379], prefix: weir }, kubernetes: {} }')).toEqual([
      'policies.kubernetes: applies only with source: kubernetes',
      'policies.etcd.endpoints[0]: "127.0.0.1:2379" is not an etcd client URL such as http://127.0.0.1:2379',
      'policies.etcd.prefix: must end with "/"',
      'node: "Node_1" is not valid: use a node name (lower-case letters, digits, "." and "-")',
    ]);
  });
});
