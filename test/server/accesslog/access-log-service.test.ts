// The gRPC service on the xDS port (mTLS), driven by a scripted agent (a grpc-js client with node-a's
// certificate), and by impostors: another node's certificate claiming node-a, no certificate,
// entries naming another node. Records always carry the authenticated node.
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createAccessLogPipeline, type AccessLogPipeline } from '../../../server/accesslog/access-log-pipeline.ts';
import { accessLogServicePackage, type AccessLogAckMessage, type AccessLogBatchMessage } from '../../../server/accesslog/access-log-service.ts';
import type { AccessLogEntryMessage } from '../../../server/accesslog/access-log-record.ts';
import { MetricsRegistry } from '../../../server/observability/metrics-registry.ts';
import { createAccessLogCounters, registerAccessLogPipelineMetrics } from '../../../server/observability/weir-metrics.ts';
import { startControlServer, type ControlServer } from '../../../server/xds/control-server.ts';
import { createTestPki, grpcCredentialsOf } from '../../support/test-pki.ts';

const pki = createTestPki();
const trust = { caPem: pki.authority.ca.certificatePem };
const nodeA = grpcCredentialsOf(pki.enrol('node-a'), trust);
afterAll(() => pki.remove());

type AgentStream = grpc.ClientDuplexStream<AccessLogBatchMessage, AccessLogAckMessage>;
interface AccessLogClient extends grpc.Client {
  StreamAccessLogs(): AgentStream;
}

const running: Array<{ server: ControlServer; client: grpc.Client }> = [];

afterEach(async () => {
  for (const { server, client } of running.splice(0)) {
    client.close();
    await server.stop();
  }
});

async function startServerWithPipeline(credentials: grpc.ChannelCredentials = nodeA): Promise<{ pipeline: AccessLogPipeline; registry: MetricsRegistry; client: AccessLogClient }> {
  const registry = new MetricsRegistry();
  const pipeline = createAccessLogPipeline({ ringSize: 100, counters: createAccessLogCounters(registry), labelsOf: (identity) => (identity === 16168 ? ['k8s:app=cass-server'] : undefined) });
  registerAccessLogPipelineMetrics(registry, pipeline);
  const server = await startControlServer({ security: pki.security, port: 0, registerServices: pipeline.registerServices });
  const loaded = grpc.loadPackageDefinition(accessLogServicePackage()) as unknown as { weir: { AccessLogService: grpc.ServiceClientConstructor } };
  const client = new loaded.weir.AccessLogService(`127.0.0.1:${server.port}`, credentials) as unknown as AccessLogClient;
  running.push({ server, client });
  return { pipeline, registry, client };
}

function streamError(stream: AgentStream): Promise<grpc.ServiceError> {
  return new Promise((resolve) => stream.on('error', resolve));
}

function entry(index: number, overrides: Partial<AccessLogEntryMessage> = {}): AccessLogEntryMessage {
  return {
    time_unix_nano: String(1_767_323_045_006_000_000n + BigInt(index)),
    direction: 'TRAFFIC_DIRECTION_INGRESS',
    type: 'ACCESS_LOG_ENTRY_TYPE_REQUEST',
    protocol: 'r2d2',
    source: { address: '127.0.0.2:40000', identity: 12443, labels: ['k8s:app=client'] },
    destination: { address: '127.0.0.1:9000', identity: 16168, labels: [] },
    endpoint: 'server',
    policy_revision: 'rev-1',
    fields: { cmd: 'READ', file: `file-${index}` },
    connection_id: '4',
    ...overrides,
  };
}

function batch(firstSequence: number, entries: AccessLogEntryMessage[], drops: AccessLogBatchMessage['drops'] = {}): AccessLogBatchMessage {
  return { node_id: 'node-a', agent_run: '1000', first_sequence: String(firstSequence), entries, drops };
}

function nextAck(stream: AgentStream): Promise<string> {
  return new Promise((resolve, reject) => {
    stream.once('data', (ack: AccessLogAckMessage) => resolve(ack.acked_sequence));
    stream.once('error', reject);
  });
}

describe('weir.AccessLogService', () => {
  it('turns batches into records with labels, acknowledges the highest sequence and counts metrics', async () => {
    const { pipeline, registry, client } = await startServerWithPipeline();
    const stream = client.StreamAccessLogs();
    stream.write(batch(1, [entry(1), entry(2, { type: 'ACCESS_LOG_ENTRY_TYPE_DENIED', reason: 'no rule allows WRITE' })]));
    expect(await nextAck(stream)).toBe('2');
    const records = pipeline.hub.recent(10);
    expect(records).toHaveLength(2);
    expect(records[0]).toMatchObject({
      nodeId: 'node-a',
      direction: 'ingress',
      type: 'Request',
      protocol: 'r2d2',
      source: { address: '127.0.0.2:40000', identity: 12443, labels: ['k8s:app=client'] },
      destination: { address: '127.0.0.1:9000', identity: 16168, labels: ['k8s:app=cass-server'] },
      fields: { cmd: 'READ', file: 'file-1' },
      time: '2026-01-02T03:04:05.006Z',
    });
    expect(records[1]).toMatchObject({ type: 'Denied', reason: 'no rule allows WRITE' });
    const exposition = registry.exposition();
    expect(exposition).toContain('weir_policy_l7_total{proto="r2d2",verdict="received",source="12443",destination="16168"} 2');
    expect(exposition).toContain('weir_policy_l7_total{proto="r2d2",verdict="denied",source="12443",destination="16168"} 1');
    expect(exposition).toContain('weir_accesslog_agents_connected 1');
    stream.end();
  });

  it('discards entries resent after a reconnect and counts gaps and reported drops exactly', async () => {
    const { pipeline, registry, client } = await startServerWithPipeline();
    const first = client.StreamAccessLogs();
    first.write(batch(1, [entry(1), entry(2), entry(3)]));
    expect(await nextAck(first)).toBe('3');
    first.cancel();
    const second = client.StreamAccessLogs();
    // The agent did not see the ack: it resends 2..3 together with 4, then loses 5..6 in its buffer.
    second.write(batch(2, [entry(2), entry(3), entry(4)], { queue: '7' }));
    expect(await nextAck(second)).toBe('4');
    second.write(batch(7, [entry(7)], { queue: '7', buffer: '2' }));
    expect(await nextAck(second)).toBe('7');
    const agent = pipeline.sessions.get('node-a');
    expect(agent).toMatchObject({ received: 5, duplicates: 2, sequenceGaps: 2, drops: { queue: 7, buffer: 2, malformed: 0 }, lostTotal: 9 });
    expect(pipeline.hub.recent(10).map((record) => record.fields.file)).toEqual(['file-1', 'file-2', 'file-3', 'file-4', 'file-7']);
    const exposition = registry.exposition();
    expect(exposition).toContain('weir_accesslog_dropped_total{node="node-a",stage="agent_queue"} 7');
    expect(exposition).toContain('weir_accesslog_dropped_total{node="node-a",stage="agent_buffer"} 2');
    expect(exposition).toContain('weir_accesslog_sequence_gaps_total{node="node-a"} 2');
    expect(exposition).toContain('weir_accesslog_duplicates_total{node="node-a"} 2');
    second.end();
  });

  it('starts counting afresh for a new agent run', async () => {
    const { pipeline, client } = await startServerWithPipeline();
    const stream = client.StreamAccessLogs();
    stream.write(batch(1, [entry(1), entry(2)], { queue: '3' }));
    await nextAck(stream);
    stream.write({ ...batch(1, [entry(1)], { queue: '1' }), agent_run: '2000' });
    expect(await nextAck(stream)).toBe('1');
    expect(pipeline.sessions.get('node-a')).toMatchObject({ agentRun: '2000', received: 3, duplicates: 0, lostTotal: 4 });
    stream.end();
  });

  it('counts entries it cannot read as rejected instead of failing the batch', async () => {
    const { pipeline, client } = await startServerWithPipeline();
    const stream = client.StreamAccessLogs();
    stream.write(batch(1, [entry(1), entry(2, { type: 9 })]));
    expect(await nextAck(stream)).toBe('2');
    expect(pipeline.hub.recent(10)).toHaveLength(1);
    expect(pipeline.sessions.get('node-a')).toMatchObject({ received: 1, rejected: 1, lostTotal: 1 });
    stream.end();
  });

  it('ends a stream whose batch has no node id with INVALID_ARGUMENT', async () => {
    const { client } = await startServerWithPipeline();
    const stream = client.StreamAccessLogs();
    stream.write({ ...batch(1, [entry(1)]), node_id: '' });
    const error = await streamError(stream);
    expect(error.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(error.details).toMatch(/node_id is empty/);
  });

  it('refuses batches claiming node-a from a stream authenticated as another node; nothing reaches the flows', async () => {
    const { pipeline, client } = await startServerWithPipeline(grpcCredentialsOf(pki.enrol('intruder'), trust));
    const stream = client.StreamAccessLogs();
    stream.write(batch(1, [entry(1)]));
    const error = await streamError(stream);
    expect(error.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(error.details).toContain('access-log stream refused: node id "node-a" does not match the client certificate, which is node "intruder"');
    expect(pipeline.hub.recent(10)).toEqual([]);
    expect(pipeline.sessions.get('node-a')).toBeUndefined();
  });

  it('gives a client without a certificate no stream', async () => {
    const { pipeline, client } = await startServerWithPipeline(grpcCredentialsOf(undefined, trust));
    const stream = client.StreamAccessLogs();
    stream.write(batch(1, [entry(1)]));
    expect((await streamError(stream)).code).toBe(grpc.status.UNAVAILABLE);
    expect(pipeline.hub.recent(10)).toEqual([]);
  });

  it('rejects entries that name another node; the records it keeps carry the authenticated node', async () => {
    const { pipeline, client } = await startServerWithPipeline();
    const stream = client.StreamAccessLogs();
    stream.write(batch(1, [entry(1, { node_id: 'node-b' }), entry(2, { node_id: 'node-a' }), entry(3)]));
    expect(await nextAck(stream)).toBe('3');
    expect(pipeline.hub.recent(10).map((record) => [record.nodeId, record.fields.file])).toEqual([
      ['node-a', 'file-2'],
      ['node-a', 'file-3'],
    ]);
    expect(pipeline.sessions.get('node-a')).toMatchObject({ received: 2, rejected: 1 });
    stream.end();
  });
});
