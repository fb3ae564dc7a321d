// The remote identity of an mTLS peer from its SPIFFE ID (docs/istio.md), on the Wasm test host:
// the memcache parser enforcing the agent's policy with `spiffeTrustDomains`, connections carrying
// the properties Envoy gives a network filter behind a TLS transport socket
// (`connection.mtls`, `connection.uri_san_peer_certificate`). The same compiled policy and
// identity map `weir serve` would send; the verdict is the access-log entry. Real Envoy and real
// TLS: test/istio/istio-sidecar.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import { FilterLoadError, HostProcess } from '../../../server/wasm-host/index.ts';
import type { EndpointSpec } from '../../../server/identity/endpoints.ts';
import { compileResources } from '../agent/policy-resources.ts';
import { accessLog, agentWithPublishedPolicy, ensureFiltersBuilt, loadWeirFilter } from '../host-helpers.ts';
import { fakeMemcached } from '../parsers/memcache/fake-memcached.ts';

// db takes gets of `web-key` from service account web, of `public` from anyone in namespace
// default, and nothing from app=spy, which shares service account `shared` with app=ok.
const POLICY = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: db }
spec:
  endpointSelector: { matchLabels: { app: db } }
  ingress:
    - fromEndpoints: [{ matchLabels: { io.cilium.k8s.policy.serviceaccount: web } }]
      toPorts: [{ ports: [{ port: "11211", protocol: TCP }], rules: { l7proto: memcache, l7: [{ command: get, keyExact: web-key }] } }]
    - fromEndpoints: [{ matchLabels: { k8s:io.kubernetes.pod.namespace: default } }]
      toPorts: [{ ports: [{ port: "11211", protocol: TCP }], rules: { l7proto: memcache, l7: [{ command: get, keyExact: public }] } }]
  ingressDeny:
    - fromEndpoints: [{ matchLabels: { app: spy } }]
`;

const ENDPOINTS: EndpointSpec[] = [
  { name: 'db', namespace: 'default', serviceAccount: 'db', labels: { app: 'db' }, ips: ['127.0.0.10'] },
  { name: 'web', namespace: 'default', serviceAccount: 'web', labels: { app: 'web' }, ips: ['127.0.0.2'] },
  { name: 'ok', namespace: 'default', serviceAccount: 'shared', labels: { app: 'ok' }, ips: ['127.0.0.3'] },
  { name: 'spy', namespace: 'default', serviceAccount: 'shared', labels: { app: 'spy' }, ips: ['127.0.0.4'] },
];

const WORLD_ADDRESS = '127.0.0.99';
const SPIFFE = (account: string, trustDomain = 'cluster.local'): string => `spiffe://${trustDomain}/ns/default/sa/${account}`;

beforeAll(() => ensureFiltersBuilt('agent', 'memcache'), 600_000);

describe('the remote identity from the peer certificate\'s SPIFFE ID', () => {
  let process: HostProcess;

  beforeAll(() => {
    const compiled = compileResources([POLICY], ENDPOINTS);
    process = agentWithPublishedPolicy(compiled);
  });

  /** One `get KEY` from `address`, with a peer certificate when `certificate` says so; the access-log entry. */
  function getFrom(options: { address: string; key: string; certificate?: { uri?: string }; trustDomains?: string[] }): { type: string; reason: string } {
    const configuration = { parser: 'memcache', policy: 'agent', endpoint: 'db', direction: 'ingress', port: 11211, ...(options.trustDomains === undefined ? {} : { spiffeTrustDomains: options.trustDomains }) };
    const filter = loadWeirFilter('memcache', 'memcache', configuration, () => fakeMemcached({ 'web-key': 'w', public: 'p' }), process);
    const tls = options.certificate === undefined ? {} : { 'connection.mtls': true, ...(options.certificate.uri === undefined ? {} : { 'connection.uri_san_peer_certificate': options.certificate.uri }) };
    const connection = filter.openConnection({ source: { address: options.address, port: 40000 }, destination: { address: '127.0.0.10', port: 11211 }, properties: tls });
    connection.fromClient(`get ${options.key}\r\n`);
    const entry = accessLog(connection).find((candidate) => candidate.type === 'Request' || candidate.type === 'Denied');
    if (entry === undefined) throw new Error(`no Request or Denied entry; the client got ${JSON.stringify(connection.clientText)}`);
    return { type: entry.type, reason: entry.reason };
  }
  const trusted = ['cluster.local'];

  it('takes a service account selector from the SPIFFE ID, whatever the source address', () => {
    expect(getFrom({ address: WORLD_ADDRESS, key: 'web-key', certificate: { uri: SPIFFE('web') }, trustDomains: trusted }).type).toBe('Request');
    // spy's own address is denied outright; web's certificate from there is web.
    expect(getFrom({ address: '127.0.0.4', key: 'web-key', certificate: { uri: SPIFFE('web') }, trustDomains: trusted }).type).toBe('Request');
    expect(getFrom({ address: '127.0.0.4', key: 'web-key', trustDomains: trusted })).toMatchObject({ type: 'Denied' });
  });

  it('proves no pod labels: a deny on a label of any pod under the service account covers the SPIFFE ID', () => {
    // ok, by address, reads `public`; service account `shared` (ok and spy) by certificate does not.
    expect(getFrom({ address: '127.0.0.3', key: 'public', trustDomains: trusted }).type).toBe('Request');
    expect(getFrom({ address: '127.0.0.3', key: 'public', certificate: { uri: SPIFFE('shared') }, trustDomains: trusted })).toMatchObject({ type: 'Denied', reason: expect.stringMatching(/denied .*by deny rule/) });
  });

  it('denies a SPIFFE ID it cannot map: untrusted trust domain, unknown service account, other URI, no URI', () => {
    expect(getFrom({ address: '127.0.0.2', key: 'web-key', certificate: { uri: SPIFFE('web', 'evil.example') }, trustDomains: trusted })).toEqual({
      type: 'Denied',
      reason: 'the peer\'s SPIFFE ID "spiffe://evil.example/ns/default/sa/web" is from trust domain "evil.example", which this plugin does not trust (spiffeTrustDomains: cluster.local); denied (fail closed)',
    });
    expect(getFrom({ address: '127.0.0.2', key: 'public', certificate: { uri: SPIFFE('nobody') }, trustDomains: trusted }).reason).toContain('names service account default/nobody, which no endpoint Weir knows runs under');
    expect(getFrom({ address: '127.0.0.2', key: 'public', certificate: { uri: 'spiffe://cluster.local/ns/default/sa/web/extra' }, trustDomains: trusted }).reason).toContain('does not name a service account');
    expect(getFrom({ address: '127.0.0.2', key: 'public', certificate: { uri: 'https://web.example' }, trustDomains: trusted }).reason).toContain('is not a SPIFFE ID');
    expect(getFrom({ address: '127.0.0.2', key: 'public', certificate: {}, trustDomains: trusted }).reason).toContain('without a URI SAN');
  });

  it('uses the source address without a peer certificate, and ignores certificates unless the plugin trusts a trust domain', () => {
    expect(getFrom({ address: '127.0.0.2', key: 'web-key', trustDomains: trusted }).type).toBe('Request');
    expect(getFrom({ address: WORLD_ADDRESS, key: 'public', trustDomains: trusted }).type).toBe('Denied');
    expect(getFrom({ address: WORLD_ADDRESS, key: 'web-key', certificate: { uri: SPIFFE('web') } }).type).toBe('Denied');
    expect(getFrom({ address: '127.0.0.2', key: 'web-key', certificate: { uri: SPIFFE('web', 'evil.example') } }).type).toBe('Request');
  });

  it('refuses a malformed trust domain and the egress side, and names the trust domains in its start-up line', () => {
    // What the parser logs when Envoy configures it; a refused configuration fails the load (Envoy's NACK).
    const startupLine = (configuration: object): string | undefined => {
      let logs: readonly { message: string }[];
      try {
        logs = loadWeirFilter('memcache', 'memcache', configuration, () => fakeMemcached(), process).logs;
      } catch (error) {
        if (!(error instanceof FilterLoadError)) throw error;
        logs = error.logs;
      }
      return logs.map((record) => record.message).find((message) => message.includes('weir memcache: '));
    };
    const base = { parser: 'memcache', policy: 'agent', endpoint: 'db', port: 11211 };
    expect(startupLine({ ...base, direction: 'ingress', spiffeTrustDomains: ['Cluster.Local'] })).toMatch(/plugin configuration rejected: byte \d+: spiffeTrustDomains: "Cluster.Local" is not a SPIFFE trust domain name/);
    expect(startupLine({ ...base, direction: 'egress', spiffeTrustDomains: ['cluster.local'] })).toContain('plugin configuration rejected: spiffeTrustDomains applies to direction "ingress" only');
    expect(startupLine({ ...base, direction: 'ingress', spiffeTrustDomains: ['cluster.local', 'old.example'] })).toBe(
      'weir memcache: configured, maxBufferBytes=1048576, the agent\'s policy for endpoint db (ingress, port 11211, mTLS peers by SPIFFE ID from cluster.local, old.example)',
    );
  });
});
