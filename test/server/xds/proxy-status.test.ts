// The per-proxy applied-state record and the programmatic wait built on it.
import { describe, expect, it } from 'vitest';
import { ProxyStatusRegistry } from '../../../server/xds/proxy-status.ts';

const TYPE = 'type.googleapis.com/weir.Test';

describe('ProxyStatusRegistry', () => {
  it('records sent, ACKed and NACKed versions with Envoy\'s message and the time', () => {
    const times = [new Date('2030-01-01T00:00:00Z'), new Date('2030-01-01T00:00:01Z'), new Date('2030-01-01T00:00:02Z')];
    const registry = new ProxyStatusRegistry({ now: () => times.shift() ?? new Date(0) });
    registry.recordSent('p1', TYPE, 'v1');
    registry.recordAck('p1', TYPE, 'v1');
    registry.recordNack('p1', TYPE, 'v2', 'bad listener');
    const [state] = registry.get('p1')?.types ?? [];
    expect(state).toMatchObject({ sentVersion: 'v1', ackedVersion: 'v1', ackedAt: new Date('2030-01-01T00:00:01Z') });
    expect(state?.lastNack).toEqual({ version: 'v2', message: 'bad listener', at: new Date('2030-01-01T00:00:02Z') });
  });

  it('forgets proxies disconnected longer than the retention, keeps connected and recent ones', () => {
    let now = 0;
    const registry = new ProxyStatusRegistry({ now: () => new Date(now) });
    registry.streamOpened({ id: 'old', cluster: 'c' }, { variant: 'sotw', peer: 'p' });
    registry.streamOpened({ id: 'recent', cluster: 'c' }, { variant: 'sotw', peer: 'p' });
    registry.streamOpened({ id: 'live', cluster: 'c' }, { variant: 'delta', peer: 'p' });
    registry.streamClosed({ id: 'old', cluster: 'c' });
    now = 5000;
    registry.streamClosed({ id: 'recent', cluster: 'c' });
    now = 6000;
    expect(registry.forgetDisconnected(3000)).toEqual(['old']);
    expect(registry.list().map((proxy) => proxy.nodeId)).toEqual(['live', 'recent']);
  });

  it('waitForApplied resolves once every proxy ACKed the version', async () => {
    const registry = new ProxyStatusRegistry();
    const wait = registry.waitForApplied({ nodeIds: ['p1', 'p2'], typeUrl: TYPE, isApplied: (state) => state.ackedVersion === 'v2', timeoutMs: 1000 });
    registry.recordAck('p1', TYPE, 'v2');
    registry.recordAck('p2', TYPE, 'v2');
    await expect(wait).resolves.toBeUndefined();
  });

  it('waitForApplied rejects with the proxy and message on a NACK', async () => {
    const registry = new ProxyStatusRegistry();
    const wait = registry.waitForApplied({ nodeIds: ['p1'], typeUrl: TYPE, isApplied: (state) => state.ackedVersion === 'v2', timeoutMs: 1000 });
    registry.recordNack('p1', TYPE, 'v2', 'regex too large');
    await expect(wait).rejects.toThrow(/proxy p1 rejected .* version v2: regex too large/);
  });

  it('waitForApplied rejects on timeout naming the proxies still behind', async () => {
    const registry = new ProxyStatusRegistry();
    registry.recordAck('p1', TYPE, 'v2');
    const wait = registry.waitForApplied({ nodeIds: ['p1', 'p2'], typeUrl: TYPE, isApplied: (state) => state.ackedVersion === 'v2', timeoutMs: 30 });
    await expect(wait).rejects.toThrow(/timed out after 30 ms .* on p2$/);
  });
});
