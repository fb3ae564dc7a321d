// Sandboxing in a real Envoy 1.40: a parser that traps (test.trapper, on the bytes WEIR-TRAP-NOW)
// takes down its own VM only. Two listeners, each with its own vm_id: the trapping filter and r2d2,
// both in front of the demo r2d2 backend. Measures the blast radius that docs/sandboxing.md states:
// which connections die and when, that Envoy and the other VM keep serving, how soon FAIL_RELOAD
// gives new connections a fresh VM, what is logged, and the wasm.<plugin>.vm_reload_* counters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startR2d2Backend, type R2d2Backend } from '../../../demo/backends/r2d2-backend.ts';
import { buildFilters, filterWasm, startWasmEnvoyListeners, waitFor, type MultiWasmEnvoy } from '../envoy-harness.ts';
import { connectLineClient, type LineClient } from '../line-client.ts';

const MAGIC = 'WEIR-TRAP-NOW';

describe('a trapping parser in Envoy', () => {
  let backend: R2d2Backend;
  let envoy: MultiWasmEnvoy;
  let trappingPort: number;
  let healthyPort: number;

  beforeAll(async () => {
    buildFilters('testparsers/trapper', 'r2d2');
    backend = await startR2d2Backend();
    envoy = await startWasmEnvoyListeners({
      listeners: [
        { name: 'trapping', wasmFile: filterWasm('testparsers/trapper'), rootId: 'test.trapper', vmId: 'weir-trapper', pluginName: 'trapper', configuration: '{}', backendPort: backend.port },
        { name: 'healthy', wasmFile: filterWasm('r2d2'), rootId: 'r2d2', vmId: 'weir-r2d2', pluginName: 'r2d2', configuration: '{}', backendPort: backend.port },
      ],
    });
    trappingPort = envoy.listenerPorts.trapping ?? 0;
    healthyPort = envoy.listenerPorts.healthy ?? 0;
  }, 600_000);

  afterAll(async () => {
    await envoy?.stop();
    await backend?.close();
  });

  async function answeredClient(port: number, request: string): Promise<LineClient> {
    const client = await connectLineClient(port);
    await client.send(`${request}\r\n`);
    await client.waitForLines(1);
    return client;
  }

  it('kills the connections of the trapping VM only, logs why, and a fresh VM serves new connections after the reload backoff', async () => {
    const victim = await answeredClient(trappingPort, 'READ victim');
    const neighbour = await answeredClient(trappingPort, 'READ neighbour');
    const other = await answeredClient(healthyPort, 'READ other');

    await victim.send(`READ ${MAGIC}\r\n`);
    await victim.waitForClose(2000);

    // The log: the abort handler's critical line and Denied entry, then Envoy's own trap report.
    await envoy.waitForLog(/Function: proxy_on_downstream_data failed: Uncaught RuntimeError: unreachable/);
    expect(envoy.log()).toMatch(/\[critical\]\[wasm\].*weir: filter trapped: test\.trapper received WEIR-TRAP-NOW/);
    const denied = envoy.accessLogEntries().filter((entry) => entry.type === 'Denied' && entry.proto === 'test.trapper');
    expect(denied).toHaveLength(1);
    expect(denied[0]?.reason).toContain('filter trapped: test.trapper received WEIR-TRAP-NOW');

    // An idle connection of the failed VM stays open; its next bytes are not forwarded and close it.
    expect(neighbour.closed()).toBe(false);
    await neighbour.send('READ neighbour-again\r\n');
    await neighbour.waitForClose(2000);
    expect(neighbour.lines()).toEqual(['OK neighbour written 0 times']);

    // The other VM and Envoy itself are untouched.
    await other.send('READ other-again\r\n');
    expect(await other.waitForLines(2)).toEqual(['OK other written 0 times', 'OK other-again written 0 times']);
    expect(other.closed()).toBe(false);
    expect(envoy.running()).toBe(true);

    // FAIL_RELOAD: connections within the reload backoff are closed, then a fresh VM answers.
    await waitFor(
      async () => {
        const fresh = await connectLineClient(trappingPort);
        await fresh.send('READ fresh\r\n');
        await waitFor(() => fresh.lines().length > 0 || fresh.closed(), 1000, 'an answer or a close').catch(() => undefined);
        const answered = fresh.lines().length > 0;
        fresh.close();
        return answered;
      },
      20_000,
      'a fresh trapper VM to answer',
    );

    expect(backend.received.some((line) => line.includes(MAGIC))).toBe(false);
    expect(backend.received).not.toContain('READ neighbour-again');
    const stats = await envoy.stats('wasm.');
    expect(stats['wasm.trapper.vm_reload_success']).toBe(1);
    expect(stats['wasm.trapper.vm_reload_failure']).toBe(0);
    expect(stats['wasm.r2d2.vm_reload_success']).toBe(0);
    expect(stats['wasm.r2d2.vm_reload_backoff']).toBe(0);
    other.close();
  }, 30000);
});
