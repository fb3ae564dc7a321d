// Parser-contract edges that the op loop must get right, through test.recorder: a zero count is a
// parser error, the parser is called again with empty data after PASS, DROP and INJECT, it sees
// endStream in each direction, and op tracing (log level trace) shows every op.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadFilter } from '../../../server/wasm-host/index.ts';
import { filterWasm } from '../envoy-harness.ts';
import { accessLog, ensureFiltersBuilt, loadWeirFilter } from '../host-helpers.ts';

beforeAll(() => ensureFiltersBuilt('testparsers/recorder'), 600_000);

const load = () => loadWeirFilter('testparsers/recorder', 'test.recorder', {});

function stats(vm: ReturnType<typeof load>): Record<string, string | number> | undefined {
  return accessLog(vm).filter((entry) => entry.reason === 'stats').at(-1)?.fields;
}

describe('the parser contract', () => {
  it('a zero count (PASS 0) is a parser error: ERROR 1, nothing of the frame forwarded, connection closed', () => {
    const vm = load();
    const connection = vm.openConnection();
    connection.fromClient('ZERO\nPASS never\n');
    expect(connection.upstreamText).toBe('');
    expect(connection.closed?.reason).toBe('wasm_downstream_close');
    const error = accessLog(vm).at(-1);
    expect(error).toMatchObject({ type: 'Error', fields: { direction: 'request', code: 1 } });
    expect(error?.reason).toContain('test.recorder parser bug: op with length 0');
  });

  it.each([
    ['PASS', 'PASS a\n', 'PASS a\n'],
    ['DROP', 'DROP a\n', ''],
    ['INJECT', 'INJECT a\n', 'injected\n'],
  ])('calls the parser again with empty data after %s consumed the whole buffer', (_op, frame, forwarded) => {
    const vm = load();
    const connection = vm.openConnection();
    connection.fromClient(frame);
    expect(connection.upstreamText).toBe(forwarded);
    connection.fromClient('STATS\n');
    expect(stats(vm)).toEqual({ emptyRequestCalls: 1, emptyReplyCalls: 0 });
  });

  it('does not call the parser with empty data while a PASS is still carrying over', () => {
    const vm = load();
    const connection = vm.openConnection();
    connection.fromClient('PASS abc\n', { chunking: { splitAt: [3] } }); // "PAS" is MORE, not empty
    connection.fromClient('STATS\n');
    expect(stats(vm)).toEqual({ emptyRequestCalls: 1, emptyReplyCalls: 0 });
  });

  it('passes endStream on the request direction when the client half-closes', () => {
    const vm = load();
    const connection = vm.openConnection();
    connection.fromClient('PASS a\n');
    connection.closeFromClient();
    const end = accessLog(vm).find((entry) => entry.fields.end === 'request');
    expect(end?.fields).toEqual({ end: 'request', emptyCalls: 1, dataBytes: 0 });
    expect(accessLog(vm).some((entry) => entry.fields.end === 'reply')).toBe(true); // the server answers FIN with FIN
  });

  it('passes endStream on the reply direction when the server half-closes, with its last bytes', () => {
    const vm = load();
    const connection = vm.openConnection();
    connection.fromClient('PASS a\n');
    connection.fromServer('last\n');
    connection.endFromServer();
    expect(connection.clientText).toBe('last\n');
    const end = accessLog(vm).find((entry) => entry.fields.end === 'reply');
    expect(end?.fields).toMatchObject({ end: 'reply' });
    expect(accessLog(vm).some((entry) => entry.fields.end === 'request')).toBe(false);
  });

  it('traces every op as a weir-op line when the host logs at trace level, and stays silent otherwise', () => {
    const traced = loadFilter({ wasm: filterWasm('testparsers/recorder'), rootId: 'test.recorder', logLevel: 'trace' });
    const connection = traced.openConnection();
    connection.fromClient('PAS');
    connection.fromClient('S a\nDROP b\n');
    const ops = traced.logs.map((record) => record.message).filter((message) => message.startsWith('weir-op '));
    const id = connection.connectionId;
    expect(ops).toEqual([`weir-op ${id} request MORE 1 buffered=3`, `weir-op ${id} request PASS 7 buffered=14`, `weir-op ${id} request DROP 7 buffered=7`, `weir-op ${id} request NOP 0 buffered=0`]);
    const quiet = load();
    quiet.openConnection().fromClient('PASS a\n');
    expect(quiet.logs.some((record) => record.message.startsWith('weir-op '))).toBe(false);
  });
});
