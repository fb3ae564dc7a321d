// How parser VMs hand entries to the Weir agent, on the Proxy-Wasm test host: the entries of data
// callbacks are collected and travel as one shared-queue message (newline-separated JSON objects)
// on the next root tick, and the agent splits each message into entries again, numbering and
// shipping every one as its own record, in order.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { HostProcess, type FilterVm } from '../../../server/wasm-host/index.ts';
import { accessLogServicePackage, type AccessLogBatchMessage } from '../../../server/accesslog/access-log-service.ts';
import { ensureFiltersBuilt, loadWeirFilter, startWeirAgent } from '../../filters/host-helpers.ts';

beforeAll(() => ensureFiltersBuilt('agent', 'r2d2'), 600_000);

function decodeBatches(agent: FilterVm): AccessLogBatchMessage[] {
  const method = accessLogServicePackage()['weir.AccessLogService'];
  if (method === undefined || 'format' in method) throw new Error('weir.AccessLogService missing from protos/weir/accesslog.proto');
  const deserialize = method['StreamAccessLogs']?.requestDeserialize;
  if (deserialize === undefined) throw new Error('StreamAccessLogs missing from weir.AccessLogService');
  return agent.grpc.exchanges
    .filter((exchange) => exchange.method === 'StreamAccessLogs')
    .flatMap((exchange) => exchange.sent.map((message) => deserialize(Buffer.from(message)) as AccessLogBatchMessage));
}

describe('access-log queue messages', () => {
  it('the entries of several reads are one message on the next tick; the agent ships every entry on its own, in order', () => {
    const process = new HostProcess();
    const agent = startWeirAgent(process);
    const enqueue = vi.spyOn(process.sharedQueues, 'enqueue');
    const r2d2 = loadWeirFilter('r2d2', 'r2d2', { parser: 'r2d2', rules: [{ cmd: 'READ' }] }, undefined, process);
    const connection = r2d2.openConnection();
    connection.fromClient('READ a\r\nREAD b\r\nHALT\r\nREAD c\r\n');
    connection.fromServer('OK a\r\nOK b\r\nOK c\r\n');
    expect(connection.clientText).toBe('OK a\r\nOK b\r\nERROR\r\nOK c\r\n');
    expect(enqueue).not.toHaveBeenCalled(); // collected until the root tick
    process.advanceTime(20);
    agent.settle();

    const messages = enqueue.mock.calls.map(([, value]) => Buffer.from(value).toString('utf8'));
    const kinds = messages.map((message) => message.split('\n').map((entry) => (JSON.parse(entry) as { type: string }).type));
    // the requests' read (three Request entries and a Denied one) and the replies' read (three
    // Response entries) in one message
    expect(kinds).toEqual([['Request', 'Request', 'Denied', 'Request', 'Response', 'Response', 'Response']]);

    const batches = decodeBatches(agent).filter((batch) => (batch.entries ?? []).length > 0);
    const entries = batches.flatMap((batch) => batch.entries ?? []);
    const shipped = entries.map((entry) => JSON.parse(Buffer.from(entry.parser_json ?? new Uint8Array()).toString('utf8')) as { type: string; fields: Record<string, string> });
    expect(shipped.map((entry) => entry.type)).toEqual(['Request', 'Request', 'Denied', 'Request', 'Response', 'Response', 'Response']);
    expect(shipped.slice(0, 4).map((entry) => entry.fields['file'] ?? entry.fields['cmd'])).toEqual(['a', 'b', 'HALT', 'c']);
    // numbered from 1 without gaps across batches
    let next = 1;
    for (const batch of batches) {
      expect(Number(batch.first_sequence)).toBe(next);
      next += (batch.entries ?? []).length;
    }
  });
});
