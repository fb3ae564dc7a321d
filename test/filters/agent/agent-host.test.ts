// The Weir agent on the Proxy-Wasm test host: it opens an ADS stream over weir-xds as Envoy's node,
// ACKs valid weir.NetworkPolicy/IdentityMap responses and publishes them in shared data, NACKs an
// invalid one and keeps the previous state, reconnects with backoff; an r2d2 parser VM in the same
// process (vm_id weir) decides with what the agent published.
import { beforeAll, describe, expect, it } from 'vitest';
import { HostProcess, lineResponder, type FilterVm, type GrpcExchange, type GrpcServerSide } from '../../../server/wasm-host/index.ts';
import { encodeIdentityMap, IDENTITY_MAP_TYPE_URL } from '../../../server/xds/resources/identity-map.ts';
import { NETWORK_POLICY_TYPE_URL, encodeNetworkPolicy } from '../../../server/xds/resources/network-policy.ts';
import { accessLog, ensureFiltersBuilt, loadWeirAgent, loadWeirFilter, sharedCounter } from '../host-helpers.ts';
import { ENDPOINTS, R2D2_DB_POLICY, R2D2_DB_READ_ONLY_POLICY, asAny, compileResources, decodeDiscoveryRequest, discoveryResponse, type CompiledResources, type DecodedDiscoveryRequest } from './policy-resources.ts';

const ADS_METHOD = 'StreamAggregatedResources';

interface AgentUnderTest {
  process: HostProcess;
  agent: FilterVm;
  streams(): GrpcExchange[];
  requests(exchange?: GrpcExchange): DecodedDiscoveryRequest[];
  server(exchange?: GrpcExchange): GrpcServerSide;
  shared(key: string): Uint8Array | undefined;
}

function startAgent(configuration = ''): AgentUnderTest {
  const process = new HostProcess();
  const agent = loadWeirAgent(process, configuration);
  // Only the ADS streams: the agent also ships access logs over a stream of its own.
  const streams = (): GrpcExchange[] => agent.grpc.exchanges.filter((exchange) => exchange.kind === 'stream' && exchange.method === ADS_METHOD);
  const latest = (): GrpcExchange => {
    const all = streams();
    const last = all[all.length - 1];
    if (last === undefined) throw new Error('the agent opened no stream');
    return last;
  };
  return {
    process,
    agent,
    streams,
    requests: (exchange) => (exchange ?? latest()).sent.map(decodeDiscoveryRequest),
    server: (exchange) => agent.grpc.serverSide((exchange ?? latest()).token),
    shared: (key) => process.sharedData.get('weir', key)?.value,
  };
}

function loadR2d2(process: HostProcess, endpoint = 'db', direction: 'ingress' | 'egress' = 'ingress'): FilterVm {
  const configuration = { parser: 'r2d2', maxBufferBytes: 1048576, policy: 'agent', endpoint, direction, port: 9000 };
  return loadWeirFilter('r2d2', 'r2d2', configuration, () => lineResponder(() => 'OK\r\n'), process);
}

function push(test: AgentUnderTest, typeUrl: string, versionInfo: string, nonce: string, resources: CompiledResources['policies']): void {
  test.server().sendMessage(discoveryResponse({ versionInfo, typeUrl, nonce, resources: resources.map(asAny) }));
  test.agent.settle();
}

// The verdict entries (Request, Denied) of the access log; other entry types are not under test here.
function verdicts(source: Parameters<typeof accessLog>[0]): ReturnType<typeof accessLog> {
  return accessLog(source).filter((entry) => entry.type === 'Request' || entry.type === 'Denied');
}

function generation(test: AgentUnderTest): bigint {
  return sharedCounter(test.process, 'weir/generation');
}

let compiled: CompiledResources;

beforeAll(() => {
  ensureFiltersBuilt('agent', 'r2d2');
  compiled = compileResources([R2D2_DB_POLICY], ENDPOINTS);
}, 600_000); // compiling two modules takes minutes on a busy 2-core machine

describe('Weir agent on the test host', () => {
  it('opens ADS over weir-xds as the Envoy node and subscribes to both Weir types', () => {
    const test = startAgent();
    expect(test.streams()).toHaveLength(0);
    test.agent.advanceTime(100);
    const [stream] = test.streams();
    expect(stream).toMatchObject({ cluster: 'weir-xds', service: 'envoy.service.discovery.v3.AggregatedDiscoveryService', method: ADS_METHOD });
    expect(test.requests().map((request) => [request.type_url, request.node?.id, request.version_info])).toEqual([
      [NETWORK_POLICY_TYPE_URL, 'node-a', ''],
      [IDENTITY_MAP_TYPE_URL, 'node-a', ''],
    ]);
    expect(test.requests()[0]?.node).toMatchObject({ cluster: 'edge', user_agent_name: 'weir-agent' });
  });

  it('ACKs valid policy, publishes it per endpoint and bumps the generation', () => {
    const test = startAgent();
    test.agent.advanceTime(100);
    push(test, NETWORK_POLICY_TYPE_URL, 'v1', 'n1', compiled.policies);
    push(test, IDENTITY_MAP_TYPE_URL, 'i1', 'n2', [compiled.identityMap]);
    const [, , ackPolicy, ackIdentities] = test.requests();
    expect(ackPolicy).toMatchObject({ type_url: NETWORK_POLICY_TYPE_URL, version_info: 'v1', response_nonce: 'n1' });
    expect(ackPolicy?.error_detail).toBeNull();
    expect(ackIdentities).toMatchObject({ type_url: IDENTITY_MAP_TYPE_URL, version_info: 'i1', response_nonce: 'n2' });
    const published = new TextDecoder().decode(test.shared('weir/policy/db'));
    expect(JSON.parse(published)).toMatchObject({ endpoint: 'db', format: 'weir.policy/v1' });
    expect(new TextDecoder().decode(test.shared('weir/identities'))).toContain('"127.0.0.2/32"');
    expect(generation(test)).toBe(2n);
  });

  it('NACKs an invalid policy with the reason, keeps the previous version and published bytes', () => {
    const test = startAgent();
    test.agent.advanceTime(100);
    push(test, NETWORK_POLICY_TYPE_URL, 'v1', 'n1', compiled.policies);
    const before = test.shared('weir/policy/db');
    const broken = encodeNetworkPolicy({ endpoint: 'db', endpointIps: [], identity: 1, compiled: '{"format":"weir.policy/v1","endpoint":"db","ingress":{"enforcement":"sometimes"}}' });
    push(test, NETWORK_POLICY_TYPE_URL, 'v2', 'n2', [broken]);
    const nack = test.requests().at(-1);
    expect(nack).toMatchObject({ type_url: NETWORK_POLICY_TYPE_URL, version_info: 'v1', response_nonce: 'n2' });
    expect(nack?.error_detail).toMatchObject({ code: 3, message: expect.stringContaining('weir.NetworkPolicy "db"') });
    expect(nack?.error_detail?.message).toContain('unknown enforcement "sometimes"');
    expect(test.shared('weir/policy/db')).toEqual(before);
    expect(generation(test)).toBe(1n);
    expect(test.agent.logs.some((line) => line.message.includes('NACK type.googleapis.com/weir.NetworkPolicy version v2'))).toBe(true);
  });

  it('empties the key of an endpoint that left the policy set', () => {
    const test = startAgent();
    test.agent.advanceTime(100);
    push(test, NETWORK_POLICY_TYPE_URL, 'v1', 'n1', compiled.policies);
    expect(test.shared('weir/policy/web')?.length).toBeGreaterThan(0);
    push(test, NETWORK_POLICY_TYPE_URL, 'v2', 'n2', compiled.policies.filter((policy) => policy.name === 'db'));
    expect(test.shared('weir/policy/web')?.length).toBe(0);
    expect(test.shared('weir/policy/db')?.length).toBeGreaterThan(0);
  });

  it('reconnects with backoff after the stream closes and reports the versions it holds', () => {
    const test = startAgent();
    test.agent.advanceTime(100);
    push(test, NETWORK_POLICY_TYPE_URL, 'v1', 'n1', compiled.policies);
    test.server().close(14, 'server going away');
    test.agent.settle();
    expect(test.agent.logs.some((line) => line.message.includes('closed (grpc-status 14: server going away); reconnecting in 250 ms'))).toBe(true);
    test.agent.advanceTime(200);
    expect(test.streams()).toHaveLength(1);
    test.agent.advanceTime(100);
    expect(test.streams()).toHaveLength(2);
    expect(test.requests().map((request) => [request.type_url, request.version_info])).toEqual([
      [NETWORK_POLICY_TYPE_URL, 'v1'],
      [IDENTITY_MAP_TYPE_URL, ''],
    ]);
  });

  it('takes the node id from the configuration when given', () => {
    const test = startAgent('{"nodeId":"sidecar-7","xdsCluster":"xds-elsewhere"}');
    test.agent.advanceTime(100);
    expect(test.streams()[0]?.cluster).toBe('xds-elsewhere');
    expect(test.requests()[0]?.node?.id).toBe('sidecar-7');
  });
});

describe('parser VM deciding with the agent policy (shared data, vm_id weir)', () => {
  it('denies while the agent has published nothing for the endpoint (fail closed)', () => {
    const test = startAgent();
    const r2d2 = loadR2d2(test.process);
    const connection = r2d2.openConnection({ source: { address: '127.0.0.2', port: 40001 } });
    connection.fromClient('READ sloop\r\n');
    expect(connection.upstreamText).toBe('\r\n'); // the probe, answered and rewritten into ERROR
    expect(connection.clientText).toBe('ERROR\r\n');
    expect(verdicts(connection)).toMatchObject([{ type: 'Denied', reason: 'no policy for endpoint db yet; denied until the Weir agent publishes one (fail closed)' }]);
  });

  it('denies, saying why, while the policy is published but the identity map is not yet; allows once it is', () => {
    const test = startAgent();
    test.agent.advanceTime(100);
    push(test, NETWORK_POLICY_TYPE_URL, 'v1', 'n1', compiled.policies);
    const r2d2 = loadR2d2(test.process);
    const web = r2d2.openConnection({ source: { address: '127.0.0.2', port: 40001 } });
    web.fromClient('READ sloop\r\n');
    expect(web.clientText).toBe('ERROR\r\n');
    expect(verdicts(web).map((entry) => entry.reason)).toEqual(['remote identity 2 not allowed on port 9000 (the Weir agent has published no identity map yet, so every remote counts as world)']);
    push(test, IDENTITY_MAP_TYPE_URL, 'i1', 'n2', [compiled.identityMap]);
    web.fromClient('READ sloop\r\n');
    expect(web.clientText).toBe('ERROR\r\nOK\r\n');
  });

  it('allows and denies by remote identity and L7 rules, and reasons each denial', () => {
    const test = startAgent();
    test.agent.advanceTime(100);
    push(test, NETWORK_POLICY_TYPE_URL, 'v1', 'n1', compiled.policies);
    push(test, IDENTITY_MAP_TYPE_URL, 'i1', 'n2', [compiled.identityMap]);
    const r2d2 = loadR2d2(test.process);
    const web = r2d2.openConnection({ source: { address: '127.0.0.2', port: 40001 } });
    web.fromClient('READ sloop\r\n').fromClient('WRITE logs\r\n');
    expect(web.upstreamText).toBe('READ sloop\r\n\r\n'); // the denied WRITE became the probe
    expect(web.clientText).toBe('OK\r\nERROR\r\n');
    const admin = r2d2.openConnection({ source: { address: '127.0.0.3', port: 40002 } });
    admin.fromClient('WRITE logs\r\n').fromClient('WRITE secrets\r\n');
    expect(admin.upstreamText).toBe('WRITE logs\r\n\r\n');
    const stranger = r2d2.openConnection({ source: { address: '127.0.0.99', port: 40003 } });
    stranger.fromClient('READ sloop\r\n');
    expect(stranger.clientText).toBe('ERROR\r\n');
    const webId = compiled.identityOf('web');
    const adminId = compiled.identityOf('admin');
    expect(verdicts(web).map((entry) => [entry.type, entry.reason])).toEqual([
      ['Request', ''],
      ['Denied', `no L7 rule matched (r2d2 rules for remote identity ${webId} on port 9000)`],
    ]);
    expect(verdicts(admin).map((entry) => entry.reason)).toEqual(['', `no L7 rule matched (r2d2 rules for remote identity ${adminId} on port 9000)`]);
    expect(verdicts(stranger).map((entry) => entry.reason)).toEqual(['remote identity 2 not allowed on port 9000']);
  });

  it('switches an open connection to the new policy on the next request', () => {
    const test = startAgent();
    test.agent.advanceTime(100);
    push(test, NETWORK_POLICY_TYPE_URL, 'v1', 'n1', compiled.policies);
    push(test, IDENTITY_MAP_TYPE_URL, 'i1', 'n2', [compiled.identityMap]);
    const r2d2 = loadR2d2(test.process);
    const admin = r2d2.openConnection({ source: { address: '127.0.0.3', port: 40002 } });
    admin.fromClient('WRITE logs\r\n');
    expect(admin.clientText).toBe('OK\r\n');
    const readOnly = compileResources([R2D2_DB_READ_ONLY_POLICY], ENDPOINTS);
    push(test, NETWORK_POLICY_TYPE_URL, 'v2', 'n3', readOnly.policies);
    admin.fromClient('WRITE logs\r\n').fromClient('READ public-1\r\n');
    expect(admin.clientText).toBe('OK\r\nERROR\r\nOK\r\n');
    expect(admin.upstreamText).toBe('WRITE logs\r\n\r\nREAD public-1\r\n');
  });
});

describe('identities, directions and deny rules in the parser VM', () => {
  function agentWith(resources: CompiledResources['policies'], identityMap: CompiledResources['identityMap']): AgentUnderTest {
    const test = startAgent();
    test.agent.advanceTime(100);
    push(test, NETWORK_POLICY_TYPE_URL, 'v1', 'n1', resources);
    push(test, IDENTITY_MAP_TYPE_URL, 'i1', 'n2', [identityMap]);
    return test;
  }

  it('looks remote identities up by longest prefix, IPv4 and IPv6 alike; unknown is world', () => {
    const webId = compiled.identityOf('web');
    const adminId = compiled.identityOf('admin');
    const map = encodeIdentityMap({ entries: [{ cidr: '127.0.0.0/8', identity: webId }, { cidr: '127.0.0.3/32', identity: adminId }, { cidr: 'fd00::/64', identity: adminId }] });
    const test = agentWith(compiled.policies, map);
    const r2d2 = loadR2d2(test.process);
    const writeFrom = (address: string): string => {
      const connection = r2d2.openConnection({ source: { address, port: 40000 } });
      connection.fromClient('WRITE logs\r\n');
      return connection.clientText;
    };
    expect(writeFrom('127.0.0.3')).toBe('OK\r\n');
    expect(writeFrom('127.0.0.50')).toBe('ERROR\r\n'); // web: READ only
    expect(writeFrom('fd00::7')).toBe('OK\r\n');
    expect(writeFrom('fd00:0:0:1::7')).toBe('ERROR\r\n');
    const denied = verdicts(r2d2).filter((entry) => entry.type === 'Denied').map((entry) => entry.reason);
    expect(denied).toEqual([`no L7 rule matched (r2d2 rules for remote identity ${webId} on port 9000)`, 'remote identity 2 not allowed on port 9000']);
  });

  it('egress decides by the destination address', () => {
    const egress = compileResources([`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: web-egress }
specs:
  - endpointSelector: { matchLabels: { app: web } }
    egress:
      - toEndpoints: [{ matchLabels: { app: db } }]
        toPorts: [{ ports: [{ port: "9000", protocol: TCP }] }]
`], ENDPOINTS);
    const test = agentWith(egress.policies, egress.identityMap);
    const r2d2 = loadR2d2(test.process, 'web', 'egress');
    const toDb = r2d2.openConnection({ source: { address: '127.0.0.2', port: 40000 }, destination: { address: '127.0.0.10', port: 9000 } });
    toDb.fromClient('WRITE anything\r\n');
    expect(toDb.clientText).toBe('OK\r\n');
    const elsewhere = r2d2.openConnection({ source: { address: '127.0.0.2', port: 40001 }, destination: { address: '127.0.0.99', port: 9000 } });
    elsewhere.fromClient('READ x\r\n');
    expect(elsewhere.clientText).toBe('ERROR\r\n');
    expect(verdicts(elsewhere).map((entry) => entry.reason)).toEqual(['remote identity 2 not allowed on port 9000']);
  });

  it('a deny rule wins over an L3/L4 allow and says which rule denied', () => {
    const withDeny = compileResources([`apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: db-open-but-admin }
specs:
  - endpointSelector: { matchLabels: { app: db } }
    ingress:
      - toPorts: [{ ports: [{ port: "9000", protocol: TCP }] }]
    ingressDeny:
      - fromEndpoints: [{ matchLabels: { app: admin } }]
`], ENDPOINTS);
    const test = agentWith(withDeny.policies, withDeny.identityMap);
    const r2d2 = loadR2d2(test.process);
    const web = r2d2.openConnection({ source: { address: '127.0.0.2', port: 40000 } });
    web.fromClient('WRITE logs\r\n');
    expect(web.clientText).toBe('OK\r\n');
    const admin = r2d2.openConnection({ source: { address: '127.0.0.3', port: 40001 } });
    admin.fromClient('READ x\r\n');
    expect(admin.clientText).toBe('ERROR\r\n');
    expect(verdicts(admin)[0]?.reason).toBe(`remote identity ${withDeny.identityOf('admin')} denied on port 9000 by deny rule policies/p0.yaml specs[0].ingressDeny[0]`);
  });
});
