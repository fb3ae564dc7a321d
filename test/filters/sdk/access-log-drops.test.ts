// Access-log entries logged while no Weir agent has registered the queue are counted, never lost
// silently: the parser VM adds them to the shared-data counter `weir/accesslog/dropped`, which the
// agent reports. Host calls are dear in Envoy, so a failed queue resolve is retried and the
// counter updated at most once per second of the callback clock, and the counter is brought up to
// date when a connection closes. Checked on the Proxy-Wasm test host with the r2d2 parser.
import { beforeAll, describe, expect, it } from 'vitest';
import { HostProcess, lineResponder, loadFilter, type FilterVm } from '../../../server/wasm-host/index.ts';
import { filterWasm } from '../envoy-harness.ts';
import { ensureFiltersBuilt } from '../host-helpers.ts';

beforeAll(() => ensureFiltersBuilt('r2d2'), 600_000);

function droppedCount(process: HostProcess): bigint {
  const value = process.sharedData.get('weir', 'weir/accesslog/dropped')?.value;
  return value === undefined ? 0n : new DataView(value.buffer, value.byteOffset, value.byteLength).getBigUint64(0, true);
}

function r2d2Without(process: HostProcess): FilterVm {
  return loadFilter({
    wasm: filterWasm('r2d2'),
    rootId: 'r2d2',
    vmId: 'weir',
    process,
    pluginConfig: JSON.stringify({ parser: 'r2d2', rules: [{ cmd: 'READ' }] }),
    upstream: () => lineResponder(() => 'OK done\r\n'),
  });
}

describe('access-log entries without an agent', () => {
  it('are counted in weir/accesslog/dropped: at most once a second while traffic flows, exactly once the connection closes', () => {
    const process = new HostProcess();
    process.advanceTime(10_000);
    const vm = r2d2Without(process);
    const connection = vm.openConnection();
    // each READ is a Request entry (request callback) and a Response entry (reply callback); HALT
    // is one Denied entry
    connection.fromClient('READ a\r\nHALT\r\n');
    expect(droppedCount(process)).toBe(2n); // the request callback's two; the reply's waits
    connection.fromClient('READ b\r\n');
    connection.fromClient('READ c\r\n');
    expect(droppedCount(process)).toBe(2n); // within the second: counted, not yet reported
    expect(connection.hostCallCounts('proxy_on_downstream_data', 'proxy_resolve_shared_queue')).toEqual([1, 0, 0]);
    process.advanceTime(1_000);
    connection.fromClient('READ d\r\n');
    expect(droppedCount(process)).toBe(8n); // everything up to READ d's Request
    expect(connection.hostCallCounts('proxy_on_downstream_data', 'proxy_resolve_shared_queue')).toEqual([1, 0, 0, 1]);
    connection.fromClient('READ e\r\n');
    connection.closeFromClient();
    expect(droppedCount(process)).toBe(11n); // all 11 entries
  });
});
