// How parser VMs hand entries to the Weir agent, on the Proxy-Wasm test host: the entries of data
// callbacks are collected and travel as one shared-queue message (each entry a weir.AccessLogEntry
// after its u32 length) on the next root tick, and the agent splits each message into entries again, numbering and
// shipping every one as its own record, in order.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { HostProcess, loadFilter, type FilterVm } from '../../../server/wasm-host/index.ts';
import { accessLogServicePackage, type AccessLogBatchMessage } from '../../../server/accesslog/access-log-service.ts';
import { recordFromMessage, type AccessLogEntryMessage, type AccessLogRecord } from '../../../server/accesslog/access-log-record.ts';
import { accessLog, ensureFiltersBuilt, loadWeirFilter, startWeirAgent } from '../../filters/host-helpers.ts';
import { filterWasm } from '../../filters/envoy-harness.ts';
import { pluginConfigReportOf } from '../../../server/accesslog/plugin-config-reports.ts';
import { AGENT_ROOT_ID, AGENT_VM_ID } from '../../../server/xds/bootstrap.ts';

beforeAll(() => ensureFiltersBuilt('agent', 'r2d2'), 600_000);

function batchDeserializer(): (bytes: Buffer) => AccessLogBatchMessage {
  const method = accessLogServicePackage()['weir.AccessLogService'];
  if (method === undefined || 'format' in method) throw new Error('weir.AccessLogService missing from protos/weir/accesslog.proto');
  const deserialize = method['StreamAccessLogs']?.requestDeserialize;
  if (deserialize === undefined) throw new Error('StreamAccessLogs missing from weir.AccessLogService');
  return (bytes) => deserialize(bytes) as AccessLogBatchMessage;
}

function decodeBatches(agent: FilterVm): AccessLogBatchMessage[] {
  const deserialize = batchDeserializer();
  return agent.grpc.exchanges.filter((exchange) => exchange.method === 'StreamAccessLogs').flatMap((exchange) => exchange.sent.map((message) => deserialize(Buffer.from(message))));
}

function recordOf(entry: AccessLogEntryMessage): AccessLogRecord {
  const record = recordFromMessage(entry, { batchNodeId: 'node' });
  if ('problem' in record) throw new Error(record.problem);
  return record;
}

/** The entries of one queue message: [u32 length][weir.AccessLogEntry], read as the server would. */
function queueMessageRecords(message: Buffer): AccessLogRecord[] {
  const deserialize = batchDeserializer();
  const records: AccessLogRecord[] = [];
  for (let at = 0; at < message.length; ) {
    const length = message.readUInt32LE(at);
    const entry = message.subarray(at + 4, at + 4 + length);
    // AccessLogBatch.entries (field 4, length-delimited) holding this one entry
    const batch = deserialize(Buffer.concat([Buffer.from([0x22]), varint(length), entry]));
    records.push(recordOf((batch.entries ?? [])[0] ?? {}));
    at += 4 + length;
  }
  return records;
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  for (let rest = value; ; rest >>>= 7) {
    if (rest < 0x80) return Buffer.from([...bytes, rest]);
    bytes.push((rest & 0x7f) | 0x80);
  }
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

    const messages = enqueue.mock.calls.map(([, value]) => Buffer.from(value));
    const kinds = messages.map((message) => queueMessageRecords(message).map((entry) => entry.type));
    // the requests' read (three Request entries and a Denied one) and the replies' read (three
    // Response entries) in one message
    expect(kinds).toEqual([['Request', 'Request', 'Denied', 'Request', 'Response', 'Response', 'Response']]);

    const batches = decodeBatches(agent).filter((batch) => (batch.entries ?? []).length > 0);
    const entries = batches.flatMap((batch) => batch.entries ?? []);
    const shipped = entries.map(recordOf);
    expect(shipped.map((entry) => entry.type)).toEqual(['Request', 'Request', 'Denied', 'Request', 'Response', 'Response', 'Response']);
    expect(shipped.slice(0, 4).map((entry) => entry.fields['file'] ?? entry.fields['cmd'])).toEqual(['a', 'b', 'HALT', 'c']);
    // numbered from 1 without gaps across batches
    let next = 1;
    for (const batch of batches) {
      expect(Number(batch.first_sequence)).toBe(next);
      next += (batch.entries ?? []).length;
    }
  });

  it('bytes outside ASCII reach the server as the characters of their values, as the weir-accesslog line shows them', () => {
    const process = new HostProcess();
    const agent = startWeirAgent(process);
    const r2d2 = loadWeirFilter('r2d2', 'r2d2', { parser: 'r2d2', rules: [{ cmd: 'READ' }] }, undefined, process);
    const connection = r2d2.openConnection();
    connection.fromClient(Buffer.concat([Buffer.from('READ caf'), Buffer.from([0xe9, 0x01, 0x22]), Buffer.from('\r\n')]));
    process.advanceTime(20);
    agent.settle();
    const shipped = decodeBatches(agent).flatMap((batch) => batch.entries ?? []).map(recordOf);
    expect(shipped.map((record) => [record.type, record.fields['file']])).toEqual([['Request', 'caf\u00e9\u0001"']]);
    expect(accessLog(connection).map((entry) => entry.fields['file'])).toEqual(['caf\u00e9\u0001"']);
  });

  it("a parser that refuses its plugin configuration inside Istio (empty vm_id) tells the server, which reads it as a report, not a record", () => {
    ensureFiltersBuilt('agent', 'r2d2');
    const process = new HostProcess();
    const agent = loadFilter({ wasm: filterWasm('agent'), rootId: AGENT_ROOT_ID, vmId: '', pluginConfig: '', node: { id: 'node-a', cluster: 'edge' }, process });
    agent.advanceTime(100);
    expect(() => loadFilter({ wasm: filterWasm('r2d2'), rootId: 'r2d2', vmId: '', pluginConfig: '{"parser":"r2d2","maxBufferBytes":"many"}', process })).toThrow();
    agent.settle();
    const entries = decodeBatches(agent).flatMap((batch) => batch.entries ?? []);
    expect(entries.map((entry) => pluginConfigReportOf(entry))).toEqual([{ plugin: 'weir-test', state: 'rejected', reason: 'byte 34: expected a number', timeUnixNano: expect.stringMatching(/^[1-9]\d*$/) }]);
  });

  it('a message the agent cannot frame (JSON lines from a module built with an older SDK) is counted as malformed, with one warning', () => {
    const process = new HostProcess();
    const agent = startWeirAgent(process);
    const token = process.sharedQueues.resolve(AGENT_VM_ID, 'weir/accesslog');
    if (token === undefined) throw new Error('the agent registered no access-log queue');
    process.sharedQueues.enqueue(token, Buffer.from('{"time":1,"type":"Request","proto":"r2d2","fields":{}}\n{"time":2,"type":"Request"}'));
    process.sharedQueues.enqueue(token, Buffer.from('{"time":3,"type":"Request"}'));
    agent.settle();
    process.advanceTime(100);
    agent.settle();
    const batches = decodeBatches(agent);
    expect(batches.flatMap((batch) => batch.entries ?? [])).toEqual([]);
    expect(Number(batches.at(-1)?.drops?.malformed)).toBe(2);
    expect(agent.logs.filter((record) => record.message.includes('cannot read')).map((record) => record.message)).toEqual([expect.stringContaining('Rebuild the module with this Weir')]);
  });
});
