// The upstream probe behind `weir status`'s upstreams check: a real listening socket is reachable,
// a closed port is refused, and a change is logged once.
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { UpstreamProbe } from '../../../server/observability/upstream-probe.ts';
import { freeLoopbackPort } from '../../../demo/servers/loopback-port.ts';
import { capturingLogger } from '../../support/capturing-logger.ts';

describe('upstream probe', () => {
  it('tells a listening upstream from one that refuses connections, and logs the change once', async () => {
    const server = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const open = (server.address() as net.AddressInfo).port;
    const closed = await freeLoopbackPort();
    const { logger, entries } = capturingLogger();
    const probe = new UpstreamProbe({
      logger,
      targets: () => [
        { redirect: 'up', address: '127.0.0.1', port: open, listener: '127.0.0.1:1' },
        { redirect: 'down', address: '127.0.0.1', port: closed, listener: '127.0.0.1:2' },
      ],
    });
    try {
      expect(probe.states().map((state) => state.reachable)).toEqual([undefined, undefined]);
      await probe.probeAll();
      await probe.probeAll();
      expect(probe.states().map((state) => [state.redirect, state.reachable, state.error])).toEqual([
        ['up', true, undefined],
        ['down', false, 'ECONNREFUSED'],
      ]);
      const warnings = entries.filter((entry) => String(entry['msg']).startsWith('the upstream of a redirect refuses connections'));
      expect(warnings.map((line) => line['redirect'])).toEqual(['down']);
    } finally {
      probe.stop();
      server.close();
    }
  });
});
