// Access-log entries logged while no Weir agent has registered the queue are counted, never lost
// silently: the parser VM adds them to the shared-data counter `weir/accesslog/dropped`, which the
// agent reports. Entries of data callbacks are sent on the next root tick (20 ms), so they are
// counted then, also after the connection closed. Checked on the Proxy-Wasm test host with the
// r2d2 parser.
import { beforeAll, describe, expect, it } from 'vitest';
import { HostProcess, lineResponder, type FilterVm } from '../../../server/wasm-host/index.ts';
import { ensureFiltersBuilt, loadWeirFilter, sharedCounter } from '../host-helpers.ts';

beforeAll(() => ensureFiltersBuilt('r2d2'), 600_000);

const droppedCount = (process: HostProcess): bigint => sharedCounter(process, 'weir/accesslog/dropped');

function r2d2Without(process: HostProcess): FilterVm {
  return loadWeirFilter('r2d2', 'r2d2', { parser: 'r2d2', rules: [{ cmd: 'READ' }] }, () => lineResponder(() => 'OK done\r\n'), process);
}

describe('access-log entries without an agent', () => {
  it('are counted in weir/accesslog/dropped when the root tick sends them, also after the connection closed', () => {
    const process = new HostProcess();
    process.advanceTime(10_000);
    const vm = r2d2Without(process);
    const connection = vm.openConnection();
    // each READ is a Request entry and a Response entry; HALT is one Denied entry
    connection.fromClient('READ a\r\nHALT\r\n');
    connection.fromClient('READ b\r\n');
    expect(droppedCount(process)).toBe(0n); // collected, waiting for the tick
    // the data callbacks themselves make no queue or shared-data calls
    for (const callback of ['proxy_on_downstream_data', 'proxy_on_upstream_data'] as const) {
      for (const call of ['proxy_resolve_shared_queue', 'proxy_enqueue_shared_queue', 'proxy_get_shared_data', 'proxy_set_shared_data']) {
        const counts = connection.hostCallCounts(callback, call);
        expect(counts.length, `${callback} ran`).toBeGreaterThan(0);
        expect(counts.every((count) => count === 0), `${call} in ${callback}`).toBe(true);
      }
    }
    process.advanceTime(20);
    expect(droppedCount(process)).toBe(5n);
    connection.fromClient('READ c\r\n');
    connection.closeFromClient();
    expect(droppedCount(process)).toBe(5n);
    process.advanceTime(20);
    expect(droppedCount(process)).toBe(7n);
  });
});
