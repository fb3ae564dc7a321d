import { describe, expect, it } from 'vitest';
import { createAccessLogPipeline } from '../../../server/accesslog/access-log-pipeline.ts';
import { buildHealthReport } from '../../../server/observability/health-report.ts';
import { formatHealthReport } from '../../../server/cli/status-command.ts';
import { ProxyStatusRegistry } from '../../../server/xds/proxy-status.ts';
import { NETWORK_POLICY_TYPE_URL } from '../../../server/xds/resources/network-policy.ts';

function agentProxy(status: ProxyStatusRegistry, nodeId: string, acked: string): void {
  status.streamOpened({ id: nodeId, cluster: 'c' }, { variant: 'sotw', peer: 'p' });
  status.recordSent(nodeId, NETWORK_POLICY_TYPE_URL, acked);
  status.recordAck(nodeId, NETWORK_POLICY_TYPE_URL, acked);
}

describe('health report', () => {
  it('is healthy with warnings for a proxy behind, an agent without access-log stream, and counted drops', () => {
    const status = new ProxyStatusRegistry();
    agentProxy(status, 'node-a', 'v2');
    agentProxy(status, 'node-b', 'v1');
    const pipeline = createAccessLogPipeline();
    pipeline.sessions.streamOpened('node-a', 'peer');
    pipeline.sessions.acceptBatch({ nodeId: 'node-a', agentRun: '1', firstSequence: 1, entryCount: 10, drops: { queue: 3, buffer: 0, malformed: 0 } });
    const report = buildHealthReport({
      status,
      store: () => ({ revision: 'r2' }),
      enforcedRevision: (proxy) => (proxy.types[0]?.ackedVersion === 'v2' ? 'r2' : 'r1'),
      sessions: pipeline.sessions,
      hub: pipeline.hub,
    });
    expect(report.healthy).toBe(true);
    expect(report.checks).toEqual([
      { name: 'store', status: 'ok', detail: 'revision r2' },
      { name: 'wiring', status: 'ok', detail: 'redirects and policies name the same endpoint ports' },
      { name: 'upstreams', status: 'ok', detail: 'no redirects' },
      { name: 'xds', status: 'ok', detail: '2 proxies connected, 0 disconnected' },
      { name: 'policy', status: 'warning', detail: 'revision r2 not yet enforced on node-b (r1)' },
      { name: 'agents', status: 'warning', detail: 'no access-log stream from node-b' },
      { name: 'accesslog', status: 'warning', detail: '10 records received, 3 lost before the server, 0 not delivered to slow viewers' },
    ]);
    expect(formatHealthReport(report)).toContain('  node-a: 10 received, lost 3 (queue 3, buffer 0, malformed 0, rejected 0), 0 duplicates, 0 sequence gaps');
  });

  it('fails on a NACK from a connected proxy and on entries missing that no agent reported', () => {
    const status = new ProxyStatusRegistry();
    agentProxy(status, 'node-a', 'v1');
    status.recordSent('node-a', NETWORK_POLICY_TYPE_URL, 'v2');
    status.recordNack('node-a', NETWORK_POLICY_TYPE_URL, 'v2', 'DFA table too short');
    const pipeline = createAccessLogPipeline();
    pipeline.sessions.acceptBatch({ nodeId: 'node-a', agentRun: '1', firstSequence: 1, entryCount: 1, drops: { queue: 0, buffer: 0, malformed: 0 } });
    pipeline.sessions.acceptBatch({ nodeId: 'node-a', agentRun: '1', firstSequence: 5, entryCount: 1, drops: { queue: 0, buffer: 1, malformed: 0 } });
    const report = buildHealthReport({ status, sessions: pipeline.sessions, hub: pipeline.hub });
    expect(report.healthy).toBe(false);
    expect(report.checks.find((check) => check.name === 'xds')).toEqual({
      name: 'xds',
      status: 'failing',
      detail: '1 proxies connected, 0 disconnected; node-a rejected NetworkPolicy v2: DFA table too short',
    });
    expect(report.checks.find((check) => check.name === 'accesslog')).toEqual({
      name: 'accesslog',
      status: 'failing',
      detail: 'entries missing that no agent reported: node-a: 3 missing, 1 reported dropped',
    });
    expect(formatHealthReport(report).split('\n')[0]).toBe('Weir: UNHEALTHY');
  });

  it('reports how proxies are authenticated: mTLS is ok, --insecure is a warning that names the risk', () => {
    const status = new ProxyStatusRegistry();
    const secure = buildHealthReport({ status, security: () => ({ mode: 'mtls', trustDomain: 'weir.local', enrolledNodes: 3, revokedNodes: 1 }) });
    expect(secure.checks[0]).toEqual({ name: 'security', status: 'ok', detail: 'mTLS, trust domain weir.local; 3 nodes enrolled, 1 revoked' });
    const insecure = buildHealthReport({ status, security: () => ({ mode: 'insecure', trustDomain: 'weir.local' }) });
    expect(insecure.healthy).toBe(true);
    expect(insecure.checks[0]?.status).toBe('warning');
    expect(formatHealthReport(insecure)).toContain('security   warning  INSECURE: the xDS port is plaintext (weir serve --insecure, or xds.insecure: true)');
    expect(insecure.security).toEqual({ mode: 'insecure', trustDomain: 'weir.local' });
  });

  it('is not green when nothing can work: no endpoints, no policies, miswired ports, an upstream that refuses', () => {
    const status = new ProxyStatusRegistry();
    const upstream = { redirect: 'memcache', address: '127.0.0.1', port: 11211, listener: '127.0.0.1:10000', since: 0 };
    const noEndpoints = buildHealthReport({ status, store: () => ({ revision: 'r1', policies: 1, endpoints: 0 }) });
    expect(noEndpoints.checks[0]).toEqual({
      name: 'store',
      status: 'warning',
      detail: 'revision r1 (1 policy, 0 endpoints): no endpoints, so every redirect that guards an endpoint denies everything; import Endpoint documents (docs/identity.md)',
    });
    const noPolicies = buildHealthReport({ status, store: () => ({ revision: 'r1', policies: 0, endpoints: 2, enforcementMode: 'default' }) });
    expect(noPolicies.checks[0]?.detail).toBe(
      'revision r1 (0 policies, 2 endpoints): no policies, so nothing is enforced: every endpoint accepts all traffic (enforcementMode default); import one with weir policy import',
    );
    const broken = buildHealthReport({
      status,
      wiring: () => ['redirect memcache: guards endpoint "memcd-server" port 11211, but no ingress rule names that port'],
      upstreams: () => [{ ...upstream, reachable: false, error: 'ECONNREFUSED' }],
    });
    expect(broken.healthy).toBe(false);
    expect(broken.checks.find((check) => check.name === 'wiring')).toMatchObject({ status: 'warning', detail: expect.stringContaining('no ingress rule names that port') });
    expect(broken.checks.find((check) => check.name === 'upstreams')).toEqual({
      name: 'upstreams',
      status: 'failing',
      detail: 'refusing connections, so clients of those listeners see their connection closed: redirect memcache: 127.0.0.1:11211 (ECONNREFUSED); start the servers or fix redirects[].upstream',
    });
  });
});
