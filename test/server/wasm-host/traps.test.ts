// A trap fails the whole VM as in Envoy: the trapping connection closes, other connections on the VM
// close at their next callback without reaching Wasm, new connections fail closed, FAIL_OPEN skips the
// filter, and FAIL_RELOAD builds a fresh VM for new connections once the backoff has passed.
import { describe, expect, it } from 'vitest';
import { echoUpstream, loadFilter } from '../../../server/wasm-host/index.ts';
import { watFilter } from './wat-filter.ts';

// Traps on a request that starts with "!", else passes bytes through.
const trapOnBang = watFilter(`
  (func (export "proxy_on_downstream_data") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (drop (call $get_buffer_bytes (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8) (i32.const 12)))
    (if (i32.eq (i32.load8_u (i32.load (i32.const 8))) (i32.const 33)) (then (unreachable)))
    (i32.const 0))
  (func (export "proxy_on_downstream_connection_close") (param i32 i32))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
`);

describe('a trap', () => {
  it('closes the trapping connection, records the trap and logs it as Envoy does', () => {
    const filter = loadFilter({ wasm: trapOnBang });
    const connection = filter.openConnection({ upstream: echoUpstream() });
    connection.fromClient('fine').fromClient('!boom');
    expect(connection.upstreamText).toBe('fine');
    expect(connection.closed?.reason).toBe('wasm_vm_failed');
    expect(filter.traps).toHaveLength(1);
    expect(filter.traps[0]).toMatchObject({ callback: 'proxy_on_downstream_data', contextId: connection.contextId, message: 'unreachable' });
    expect(filter.logs.some((log) => log.source === 'host' && log.level === 'error' && log.message.includes('unreachable'))).toBe(true);
    // The VM failed: no close, done, log or delete callbacks reach Wasm.
    expect(connection.callsTo('proxy_on_downstream_connection_close')).toHaveLength(0);
  });

  it('closes other connections of the VM at their next callback, without calling into Wasm', () => {
    const filter = loadFilter({ wasm: trapOnBang });
    const bystander = filter.openConnection();
    bystander.fromClient('one');
    filter.openConnection().fromClient('!');
    expect(bystander.isOpen).toBe(true);
    const callsBefore = bystander.callbacks.length;
    bystander.fromClient('two');
    expect(bystander.closed?.reason).toBe('wasm_vm_failed');
    expect(bystander.callbacks.length).toBe(callsBefore);
    expect(bystander.upstreamText).toBe('one');
  });

  it('FAIL_CLOSED: a new connection on the failed VM is closed at once', () => {
    const filter = loadFilter({ wasm: trapOnBang, failurePolicy: 'FAIL_CLOSED' });
    filter.openConnection().fromClient('!');
    const late = filter.openConnection();
    expect(late.closed?.reason).toBe('wasm_vm_failed');
    late.fromClient('anything');
    expect(late.upstreamText).toBe('');
  });

  it('FAIL_OPEN: a new connection skips the filter entirely', () => {
    const filter = loadFilter({ wasm: trapOnBang, failurePolicy: 'FAIL_OPEN' });
    filter.openConnection().fromClient('!');
    const late = filter.openConnection();
    late.fromClient('!unfiltered');
    expect(late.upstreamText).toBe('!unfiltered');
    expect(late.callbacks).toHaveLength(0);
  });

  it('FAIL_RELOAD: new connections stay failed during the backoff, then get a fresh VM', () => {
    const filter = loadFilter({ wasm: trapOnBang, failurePolicy: 'FAIL_RELOAD', reloadBackoffMs: 1000 });
    const victim = filter.openConnection();
    victim.fromClient('!');
    const tooEarly = filter.openConnection();
    expect(tooEarly.closed?.reason).toBe('wasm_vm_failed');
    expect(filter.reloadStats.vmReloadBackoff).toBe(1);

    filter.advanceTime(1000);
    const fresh = filter.openConnection();
    fresh.fromClient('works again');
    expect(fresh.isOpen).toBe(true);
    expect(fresh.upstreamText).toBe('works again');
    expect(fresh.vm?.generation).toBe(2);
    expect(filter.reloadStats.vmReloadSuccess).toBe(1);
    // Connections bound to the failed VM stay failed.
    expect(victim.isOpen).toBe(false);
  });
});
