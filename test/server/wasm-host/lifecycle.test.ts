// Loading a filter as Envoy does: the start sequence and its order, the plugin configuration passed
// raw to proxy_on_configure, a false return reported as a configure failure, and the modules Envoy
// refuses (unknown imports named, wrong signatures, no ABI marker, no allocator).
import { describe, expect, it } from 'vitest';
import { FilterLoadError, loadFilter } from '../../../server/wasm-host/index.ts';
import { watFilter, watModule } from './wat-filter.ts';

// Accepts the plugin configuration only when its first byte is "o"; logs VM and plugin configuration.
const configChecker = watFilter(`
  (func (export "_initialize"))
  (func (export "proxy_on_context_create") (param i32 i32))
  (func (export "proxy_on_vm_start") (param $root i32) (param $size i32) (result i32)
    (call $log_buffer (i32.const 6) (local.get $size))
    (i32.const 1))
  (func (export "proxy_on_configure") (param $root i32) (param $size i32) (result i32)
    (call $log_buffer (i32.const 7) (local.get $size))
    (drop (call $get_buffer_bytes (i32.const 7) (i32.const 0) (i32.const 1) (i32.const 8) (i32.const 12)))
    (i32.eq (i32.load8_u (i32.load (i32.const 8))) (i32.const 111)))
  (func (export "proxy_on_new_connection") (param $ctx i32) (result i32)
    (call $log_buffer (i32.const 7) (i32.const 100))
    (i32.const 0))
`);

function loadError(run: () => unknown): FilterLoadError {
  try {
    run();
  } catch (error) {
    if (error instanceof FilterLoadError) return error;
    throw error;
  }
  throw new Error('expected loadFilter to fail');
}

describe('VM start and configure', () => {
  it('runs _initialize, creates the root context, starts the VM, then configures, in that order', () => {
    const filter = loadFilter({ wasm: configChecker, vmConfig: 'vm-conf', pluginConfig: 'ok {"x":1}' });
    expect(filter.callbacks.map((record) => [record.callback, record.args])).toEqual([
      ['_initialize', []],
      ['proxy_on_context_create', [1, 0]],
      ['proxy_on_vm_start', [1, 7]],
      ['proxy_on_configure', [1, 10]],
    ]);
    expect(filter.logs.map((log) => log.message)).toEqual(['vm-conf', 'ok {"x":1}']);
  });

  it('reports a false proxy_on_configure as a configure failure', () => {
    const error = loadError(() => loadFilter({ wasm: configChecker, pluginConfig: 'no' }));
    expect(error.stage).toBe('configure');
    expect(error.message).toContain('proxy_on_configure returned false');
  });

  it('shows PLUGIN_CONFIGURATION only during proxy_on_configure', () => {
    const filter = loadFilter({ wasm: configChecker, pluginConfig: 'ok' });
    const connection = filter.openConnection();
    expect(connection.logs.map((log) => log.message)).toEqual(['<empty>']);
    expect(connection.callsTo('proxy_on_new_connection')[0]?.hostCalls[0]).toMatchObject({ name: 'proxy_get_buffer_bytes', status: 1 });
  });

  it('creates the connection context with the root as parent before proxy_on_new_connection', () => {
    const connection = loadFilter({ wasm: configChecker, pluginConfig: 'ok' }).openConnection();
    expect(connection.callbacks.slice(0, 2).map((record) => [record.callback, record.args])).toEqual([
      ['proxy_on_context_create', [2, 1]],
      ['proxy_on_new_connection', [2]],
    ]);
  });
});

const minimalExports = `
  (memory (export "memory") 1)
  (func (export "proxy_abi_version_0_2_1"))
  (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 0))
`;

describe('modules Envoy refuses', () => {
  it('names every import the host does not provide', () => {
    const wasm = watModule(`(module
      (import "env" "abort" (func (param i32 i32 i32 i32)))
      (import "env" "seed" (func (result f64)))
      ${minimalExports})`);
    const error = loadError(() => loadFilter({ wasm }));
    expect(error.stage).toBe('link');
    expect(error.message).toContain('env.abort');
    expect(error.message).toContain('env.seed');
  });

  it('refuses a host function imported with the wrong signature', () => {
    const wasm = watModule(`(module
      (import "env" "proxy_grpc_stream" (func (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
      ${minimalExports})`);
    expect(loadError(() => loadFilter({ wasm })).message).toMatch(/import type mismatch for env\.proxy_grpc_stream/);
  });

  it('refuses a callback exported with the wrong signature', () => {
    const wasm = watModule(`(module ${minimalExports}
      (func (export "proxy_on_downstream_data") (param i32 i32) (result i32) (i32.const 0)))`);
    expect(loadError(() => loadFilter({ wasm })).message).toContain('Bad function signature for: proxy_on_downstream_data');
  });

  it('refuses a module without an ABI version marker or an allocator', () => {
    const noAbi = watModule(`(module (memory (export "memory") 1)
      (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 0)))`);
    expect(loadError(() => loadFilter({ wasm: noAbi })).message).toContain('Missing or unknown Proxy-Wasm ABI version');
    const noMalloc = watModule(`(module (memory (export "memory") 1) (func (export "proxy_abi_version_0_2_1")))`);
    expect(loadError(() => loadFilter({ wasm: noMalloc })).message).toContain('missing malloc function');
  });

  it('accepts the WASI imports cpp-host provides, and proc_exit returns', () => {
    const wasm = watFilter(
      `(func (export "proxy_on_vm_start") (param i32 i32) (result i32)
         (call $proc_exit (i32.const 3))
         (i32.const 1))`,
      `(import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))`,
    );
    const filter = loadFilter({ wasm });
    expect(filter.logs).toContainEqual(expect.objectContaining({ source: 'host', message: 'wasi_unstable proc_exit' }));
  });
});
