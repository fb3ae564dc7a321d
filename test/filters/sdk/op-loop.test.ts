// The SDK's op loop, driven through its toy parsers on the Proxy-Wasm test host: bytes forwarded
// whatever the TCP chunking, PASS/DROP ahead of the buffered data, INJECT, reply-side injection,
// ERROR closing the connection with the reason logged, and the buffer cap.
import { beforeAll, describe, expect, it } from 'vitest';
import { everySplit, lineResponder, echoUpstream, describeChunking } from '../../../server/wasm-host/index.ts';
import { accessLog, loadWeirFilter, ensureFiltersBuilt } from '../host-helpers.ts';

// Building can take minutes when the SDK changed; keep it out of the first test's timeout.
beforeAll(() => ensureFiltersBuilt('testparsers/passer', 'testparsers/lineparser', 'testparsers/blockparser'), 600_000);

describe('test.passer', () => {
  it('forwards every byte unchanged in both directions without rewriting Envoy\'s buffers', () => {
    const vm = loadWeirFilter('testparsers/passer', 'test.passer', {}, echoUpstream);
    const connection = vm.openConnection();
    connection.fromClient('hello\r\nworld\x00\xff', { chunking: 'per-byte' });
    expect(connection.upstreamText).toBe('hello\r\nworld\x00\xff');
    expect(connection.clientText).toBe('hello\r\nworld\x00\xff');
    // what passes as it arrived is left in Envoy's buffer: no proxy_set_buffer_bytes at all
    expect(connection.hostCallCounts('proxy_on_downstream_data', 'proxy_set_buffer_bytes')).toHaveLength(14); // one callback per byte
    expect(connection.hostCallCounts('proxy_on_downstream_data', 'proxy_set_buffer_bytes').every((count) => count === 0)).toBe(true);
    const upstreamCounts = connection.hostCallCounts('proxy_on_upstream_data', 'proxy_set_buffer_bytes');
    expect(upstreamCounts.length).toBeGreaterThan(0);
    expect(upstreamCounts.every((count) => count === 0)).toBe(true);
    expect(connection.isOpen).toBe(true);
  });
});

describe('test.lineparser', () => {
  const script = 'PASS one\nDROP two\nINSERT three\nPASS four\n';

  it.each(everySplit(script).map((chunking) => [describeChunking(chunking), chunking] as const))(
    'frames lines the same way when TCP splits the script (%s)',
    (_name, chunking) => {
      const vm = loadWeirFilter('testparsers/lineparser', 'test.lineparser', {});
      const connection = vm.openConnection();
      connection.fromClient(script, { chunking });
      expect(connection.upstreamText).toBe('PASS one\nINSERT three\nPASS four\n');
    },
  );

  it('INSERT injects the line before itself and drops the original', () => {
    const vm = loadWeirFilter('testparsers/lineparser', 'test.lineparser', {});
    const connection = vm.openConnection();
    connection.fromClient('INSERT x\nPASS y\n');
    expect(connection.upstreamText).toBe('INSERT x\nPASS y\n');
  });

  it('REPLY lines reach the client at their position among replies, with the next server bytes', () => {
    const upstream = () => lineResponder((line) => `re:${line}\n`);
    const vm = loadWeirFilter('testparsers/lineparser', 'test.lineparser', {}, upstream);
    const connection = vm.openConnection();
    // The responder answers lines ending in \r\n; these end in \n, so answer by hand.
    connection.fromClient('PASS a\nREPLY b\nPASS c\n');
    expect(connection.upstreamText).toBe('PASS a\nPASS c\n');
    connection.fromServer('reply-a\nreply-c\n');
    expect(connection.clientText).toBe('reply-a\nREPLY b\nreply-c\n');
  });

  it('an unknown verdict is an ERROR: the connection is closed, nothing after it forwarded, the reason logged', () => {
    const vm = loadWeirFilter('testparsers/lineparser', 'test.lineparser', {});
    const connection = vm.openConnection();
    connection.fromClient('PASS ok\n');
    connection.fromClient('BOGUS\nPASS never\n');
    expect(connection.upstreamText).toBe('PASS ok\n');
    // The silent server still owes the reply to "PASS ok": the close waits for it, at most 5 s.
    expect(connection.isOpen).toBe(true);
    vm.advanceTime(5000);
    expect(connection.closed?.reason).toBe('wasm_downstream_close');
    const errors = accessLog(vm).filter((entry) => entry.type === 'Error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.reason).toContain('malformed request frame: line starts with no known verdict');
  });

  it('a line longer than maxBufferBytes is an ERROR and none of it is forwarded', () => {
    const vm = loadWeirFilter('testparsers/lineparser', 'test.lineparser', { maxBufferBytes: 64 });
    const connection = vm.openConnection();
    connection.fromClient('PASS short\n' + 'x'.repeat(40), { chunking: { sizes: [11, 20, 20] } });
    expect(connection.isOpen).toBe(true);
    connection.fromClient('y'.repeat(40));
    expect(connection.upstreamText).toBe('PASS short\n');
    vm.advanceTime(5000); // the reply owed to "PASS short" never comes
    expect(connection.isOpen).toBe(false);
    expect(accessLog(vm).at(-1)?.reason).toContain('exceeds maxBufferBytes (64 bytes)');
  });
});

describe('test.blockparser', () => {
  const script = '11:PASS abc14:DROP abcdef12:keep 123\n';

  it.each(everySplit(script).map((chunking) => [describeChunking(chunking), chunking] as const))(
    'carries PASS/DROP beyond the buffered bytes over to later reads (%s)',
    (_name, chunking) => {
      const vm = loadWeirFilter('testparsers/blockparser', 'test.blockparser', {});
      const connection = vm.openConnection();
      connection.fromClient(script, { chunking });
      expect(connection.upstreamText).toBe('11:PASS abc12:keep 123\n');
      expect(connection.isOpen).toBe(true);
    },
  );

  it('passes a large block byte by byte while calling the parser only for its header', () => {
    const vm = loadWeirFilter('testparsers/blockparser', 'test.blockparser', {});
    const connection = vm.openConnection();
    const block = '1000:PASS' + 'z'.repeat(991);
    connection.fromClient(block, { chunking: { sizes: [9, 500, 491] } });
    expect(connection.upstreamText).toBe(block);
  });

  it('a block length not larger than its header is an ERROR', () => {
    const vm = loadWeirFilter('testparsers/blockparser', 'test.blockparser', {});
    const connection = vm.openConnection();
    connection.fromClient('2:xx');
    expect(connection.isOpen).toBe(false);
    expect(accessLog(vm).at(-1)).toMatchObject({ type: 'Error', proto: 'test.blockparser' });
  });
});

// What a PASS or DROP beyond the bytes the parser read costs: the SDK copies Envoy's bytes into
// Wasm memory only as far as the parser looks (a few KiB for the header), and forwards the rest as
// Envoy holds them. The bytes reach the server unchanged and framing holds wherever TCP splits.
describe('bytes the parser does not read stay in Envoy\'s buffer', () => {
  const MIB = 1024 * 1024;
  // A block of `length` bytes in the blockparser's format, with a payload no two blocks share.
  const block = (length: number, verb: 'PASS' | 'DROP' | 'keep', fill: string): string => {
    const header = `${length}:${verb}`;
    return header + fill.repeat(length - header.length);
  };
  // Bytes the filter copied out of Envoy's downstream buffers (proxy_get_buffer_bytes sizes).
  const copiedFromClient = (connection: ReturnType<ReturnType<typeof loadWeirFilter>['openConnection']>): number =>
    connection.callsTo('proxy_on_downstream_data')
      .flatMap((record) => record.hostCalls)
      .filter((call) => call.name === 'proxy_get_buffer_bytes')
      .reduce((sum, call) => sum + Number(call.args[2]), 0);

  it('a 1 MiB PASS block in one read is forwarded unchanged with only its first KiBs read and the buffer left alone', () => {
    const vm = loadWeirFilter('testparsers/blockparser', 'test.blockparser', { maxBufferBytes: 64 * 1024 });
    const connection = vm.openConnection();
    const big = block(MIB, 'PASS', 'p');
    connection.fromClient(big);
    expect(connection.upstreamText).toBe(big);
    expect(copiedFromClient(connection)).toBeLessThanOrEqual(4096);
    expect(connection.hostCallCounts('proxy_on_downstream_data', 'proxy_set_buffer_bytes')).toEqual([0]);
    expect(connection.isOpen).toBe(true);
  });

  it('a 1 MiB DROP block is discarded without being read, and the frames around it still pass', () => {
    const vm = loadWeirFilter('testparsers/blockparser', 'test.blockparser', { maxBufferBytes: 64 * 1024 });
    const connection = vm.openConnection();
    connection.fromClient('11:keep abc' + block(MIB, 'DROP', 'd') + '11:keep xyz');
    expect(connection.upstreamText).toBe('11:keep abc11:keep xyz');
    expect(copiedFromClient(connection)).toBeLessThan(3 * 4096);
  });

  it('a PASS whose header was held from the previous read forwards the held bytes, then Envoy\'s in place', () => {
    const vm = loadWeirFilter('testparsers/blockparser', 'test.blockparser', { maxBufferBytes: 64 * 1024 });
    const connection = vm.openConnection();
    const big = block(MIB, 'PASS', 'q');
    connection.fromClient(big, { chunking: { splitAt: [5] } });
    expect(connection.upstreamText).toBe(big);
    expect(copiedFromClient(connection)).toBeLessThanOrEqual(5 + 4096);
  });

  // Blocks larger and smaller than the SDK's first copy (4 KiB), passed, dropped and held, with
  // the large blocks decided from their header; every two-read split of the script.
  const script = [
    block(4500, 'PASS', 'a'),
    block(12, 'keep', 'b'),
    block(900, 'DROP', 'c'),
    block(1500, 'keep', 'd'),
    block(20, 'PASS', 'e'),
    block(300, 'PASS', 'f'),
    block(13, 'keep', 'g'),
  ].join('');
  const expected = script.replace(/900:DROPc+/, '');

  it('frames and forwards the same bytes whatever the split (every two-read split of a 7 KiB script)', { timeout: 600_000 }, () => {
    const vm = loadWeirFilter('testparsers/blockparser', 'test.blockparser', {});
    const wrong: string[] = [];
    for (const chunking of everySplit(script)) {
      const connection = vm.openConnection();
      connection.fromClient(script, { chunking });
      if (connection.upstreamText !== expected || !connection.isOpen) wrong.push(describeChunking(chunking));
      connection.closeFromClient();
    }
    expect(wrong).toEqual([]);
  });

  it('frames and forwards the same bytes in reads of every size from 1 to 64 bytes and around 4 KiB', { timeout: 300_000 }, () => {
    const vm = loadWeirFilter('testparsers/blockparser', 'test.blockparser', {});
    const sizes = [...Array.from({ length: 64 }, (_, index) => index + 1), 4095, 4096, 4097, 8191, 8193];
    const wrong: number[] = [];
    for (const size of sizes) {
      const connection = vm.openConnection();
      connection.fromClient(script, { chunking: { sizes: Array.from({ length: Math.ceil(script.length / size) }, () => size) } });
      if (connection.upstreamText !== expected || !connection.isOpen) wrong.push(size);
      connection.closeFromClient();
    }
    expect(wrong).toEqual([]);
  });
});
