// Deny replies: when replies are outstanding the denied request's reply is queued behind them and
// the server never sees it; when none is, the SDK sends the parser's probe instead and rewrites
// the probe's answer into the deny reply. Uses test.lineparser (DENY lines, probe "PROBE\n").
import { beforeAll, describe, expect, it } from 'vitest';
import type { FakeUpstream } from '../../../server/wasm-host/index.ts';
import { accessLog, loadWeirFilter, ensureFiltersBuilt } from '../host-helpers.ts';

// Building can take minutes when the SDK changed; keep it out of the first test's timeout.
beforeAll(() => ensureFiltersBuilt('testparsers/lineparser'), 600_000);

// Answers each "\n" line with "ok:<line>\n".
function newlineResponder(): FakeUpstream & { lines: string[] } {
  let pending = '';
  const lines: string[] = [];
  return {
    lines,
    onData(bytes, peer) {
      pending += Buffer.from(bytes).toString('latin1');
      for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 1);
        lines.push(line);
        peer.send(`ok:${line}\n`);
      }
    },
  };
}

describe('denials through the reply queue', () => {
  it('with nothing outstanding, the denied request becomes a probe whose answer turns into the deny reply', () => {
    const server = newlineResponder();
    const vm = loadWeirFilter('testparsers/lineparser', 'test.lineparser', {});
    const connection = vm.openConnection({ upstream: server });
    connection.fromClient('DENY secret\n');
    expect(server.lines).toEqual(['PROBE']);
    expect(connection.clientText).toBe('DENIED\n');
    connection.fromClient('PASS next\n');
    expect(connection.clientText).toBe('DENIED\nok:PASS next\n');
    expect(accessLog(vm).find((entry) => entry.type === 'Denied')?.fields).toEqual({ line: 'DENY secret' });
  });

  it('with replies outstanding, the deny reply waits for them and the server sees no probe', () => {
    const vm = loadWeirFilter('testparsers/lineparser', 'test.lineparser', {});
    const connection = vm.openConnection();
    connection.fromClient('PASS a\nDENY b\nPASS c\nDENY d\n');
    expect(connection.upstreamText).toBe('PASS a\nPASS c\n');
    expect(connection.clientText).toBe('');
    connection.fromServer('reply-a\n', { chunking: 'per-byte' });
    expect(connection.clientText).toBe('reply-a\nDENIED\n');
    connection.fromServer('reply-c\n');
    expect(connection.clientText).toBe('reply-a\nDENIED\nreply-c\nDENIED\n');
  });
});
