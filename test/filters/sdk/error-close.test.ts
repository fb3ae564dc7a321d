// ERROR closes the connection without losing what was already forwarded. Envoy drops the bytes of
// the callback that calls proxy_close_stream (the test host does the same), so the SDK forwards
// them, lets the replies owed to forwarded requests through, and closes on a later callback or a
// root tick; with nothing to lose it closes at once. Uses test.lineparser (PASS lines expect one
// reply, anything unknown is an ERROR) and test.blockparser (replies framed like requests).
import { beforeAll, describe, expect, it } from 'vitest';
import type { FakeUpstream, UpstreamPeer } from '../../../server/wasm-host/index.ts';
import { accessLog, loadWeirFilter, ensureFiltersBuilt } from '../host-helpers.ts';

// Building can take minutes when the SDK changed; keep it out of the first test's timeout.
beforeAll(() => ensureFiltersBuilt('testparsers/lineparser', 'testparsers/blockparser'), 600_000);

// A server that answers each "\n" line with "ok:<line>\n", now or when the test says so.
function lineServer(options: { answerAtOnce: boolean }): FakeUpstream & { lines: string[]; answerAll(): void } {
  let pending = '';
  let peer: UpstreamPeer | undefined;
  const lines: string[] = [];
  const unanswered: string[] = [];
  return {
    lines,
    onData(bytes, from) {
      peer = from;
      pending += Buffer.from(bytes).toString('latin1');
      for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 1);
        lines.push(line);
        if (options.answerAtOnce) from.send(`ok:${line}\n`);
        else unanswered.push(line);
      }
    },
    answerAll() {
      for (const line of unanswered.splice(0)) peer?.send(`ok:${line}\n`);
    },
  };
}

describe('ERROR and close', () => {
  it('closes in the same callback when nothing was forwarded and no reply is owed', () => {
    const vm = loadWeirFilter('testparsers/lineparser', 'test.lineparser', {});
    const connection = vm.openConnection({ upstream: lineServer({ answerAtOnce: true }) });
    connection.fromClient('BOGUS\n');
    expect(connection.closed?.reason).toBe('wasm_downstream_close');
    expect(connection.upstreamText).toBe('');
    expect(accessLog(vm).at(-1)).toMatchObject({ type: 'Error', fields: { direction: 'request', code: 2 } });
  });

  it('forwards requests passed in the failing callback, delivers their replies, then closes', () => {
    const server = lineServer({ answerAtOnce: false });
    const vm = loadWeirFilter('testparsers/lineparser', 'test.lineparser', {});
    const connection = vm.openConnection({ upstream: server });
    connection.fromClient('PASS a\nPASS b\nBOGUS\nPASS never\n');
    expect(server.lines).toEqual(['PASS a', 'PASS b']);
    expect(connection.isOpen).toBe(true);
    connection.fromClient('more bytes after the error\n');
    expect(connection.upstreamText).toBe('PASS a\nPASS b\n');
    expect(connection.isOpen).toBe(true);
    vm.advanceTime(100); // ticks while replies are owed do not close
    expect(connection.isOpen).toBe(true);
    server.answerAll();
    vm.settle();
    expect(connection.clientText).toBe('ok:PASS a\nok:PASS b\n');
    vm.advanceTime(20); // the next tick closes it
    expect(connection.closed?.reason).toBe('wasm_downstream_close');
    expect(connection.clientText).toBe('ok:PASS a\nok:PASS b\n');
  });

  it('a client byte after the owed replies passed closes the connection in that callback, dropping the byte', () => {
    const vm = loadWeirFilter('testparsers/lineparser', 'test.lineparser', {});
    const connection = vm.openConnection({ upstream: lineServer({ answerAtOnce: true }) });
    connection.fromClient('PASS a\nBOGUS\n');
    expect(connection.clientText).toBe('ok:PASS a\n');
    connection.fromClient('PASS late\n');
    expect(connection.closed?.reason).toBe('wasm_downstream_close');
    expect(connection.upstreamText).toBe('PASS a\n');
  });

  it('gives up waiting for owed replies after 5 s', () => {
    const vm = loadWeirFilter('testparsers/lineparser', 'test.lineparser', {});
    const connection = vm.openConnection({ upstream: lineServer({ answerAtOnce: false }) });
    connection.fromClient('PASS a\nBOGUS\n');
    vm.advanceTime(4900);
    expect(connection.isOpen).toBe(true);
    vm.advanceTime(200);
    expect(connection.closed?.reason).toBe('wasm_downstream_close');
  });

  it('a reply-side ERROR forwards the replies passed before it in the same read, then closes on the next tick', () => {
    const vm = loadWeirFilter('testparsers/blockparser', 'test.blockparser', {});
    const connection = vm.openConnection();
    connection.fromClient('11:PASS abc');
    connection.fromServer('11:PASS xyz2:xx11:PASS not');
    expect(connection.clientText).toBe('11:PASS xyz');
    expect(connection.isOpen).toBe(true);
    vm.advanceTime(20);
    expect(connection.closed?.reason).toBe('wasm_downstream_close');
    expect(accessLog(vm).at(-1)).toMatchObject({ type: 'Error', fields: { direction: 'reply', code: 3 } });
  });

  it('an ERROR with nothing owed but bytes forwarded in the same callback closes on the next tick', () => {
    const vm = loadWeirFilter('testparsers/blockparser', 'test.blockparser', {});
    const connection = vm.openConnection();
    connection.fromClient('11:PASS abc2:xx11:PASS not');
    expect(connection.upstreamText).toBe('11:PASS abc');
    expect(connection.isOpen).toBe(true);
    vm.advanceTime(20);
    expect(connection.closed?.reason).toBe('wasm_downstream_close');
    expect(connection.upstreamText).toBe('11:PASS abc');
  });
});
