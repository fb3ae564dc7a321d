// Host services a root context uses: shared data with CAS across VMs of one vm_id, shared queues with
// proxy_on_queue_ready delivered to the registering VM, ticks driven by the manual clock, metrics,
// and the scriptable gRPC stream fake.
import { describe, expect, it } from 'vitest';
import { HostProcess, loadFilter } from '../../../server/wasm-host/index.ts';
import { watFilter } from './wat-filter.ts';

const serviceImports = `
  (import "env" "proxy_get_shared_data" (func $get_shared (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_set_shared_data" (func $set_shared (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_register_shared_queue" (func $register_queue (param i32 i32 i32) (result i32)))
  (import "env" "proxy_resolve_shared_queue" (func $resolve_queue (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_enqueue_shared_queue" (func $enqueue (param i32 i32 i32) (result i32)))
  (import "env" "proxy_dequeue_shared_queue" (func $dequeue (param i32 i32 i32) (result i32)))
  (import "env" "proxy_set_tick_period_milliseconds" (func $set_tick (param i32) (result i32)))
  (import "env" "proxy_define_metric" (func $define_metric (param i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_increment_metric" (func $increment_metric (param i32 i64) (result i32)))
  (import "env" "proxy_grpc_stream" (func $grpc_stream (param i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_grpc_send" (func $grpc_send (param i32 i32 i32 i32) (result i32)))
`;

// The "agent": registers queue "logs", dequeues on queue ready and logs each entry; ticks every
// 100 ms counting in a metric; writes shared data "policy"="v1"; opens a gRPC stream and logs every
// message it receives.
const agent = watFilter(
  `
  (data (i32.const 1024) "logs")
  (data (i32.const 1032) "policy")
  (data (i32.const 1040) "v1")
  (data (i32.const 1048) "ticks")
  (data (i32.const 1056) "weir-server")
  (data (i32.const 1072) "weir.Agent")
  (data (i32.const 1088) "Stream")
  (data (i32.const 1096) "hello")
  (global $queue (mut i32) (i32.const 0))
  (global $ticks (mut i32) (i32.const 0))
  (global $stream (mut i32) (i32.const 0))
  (func (export "proxy_on_vm_start") (param i32 i32) (result i32)
    (drop (call $register_queue (i32.const 1024) (i32.const 4) (i32.const 16)))
    (global.set $queue (i32.load (i32.const 16)))
    (drop (call $set_shared (i32.const 1032) (i32.const 6) (i32.const 1040) (i32.const 2) (i32.const 0)))
    (drop (call $define_metric (i32.const 0) (i32.const 1048) (i32.const 5) (i32.const 20)))
    (global.set $ticks (i32.load (i32.const 20)))
    (drop (call $set_tick (i32.const 100)))
    (drop (call $grpc_stream (i32.const 1056) (i32.const 11) (i32.const 1072) (i32.const 10) (i32.const 1088) (i32.const 6) (i32.const 0) (i32.const 0) (i32.const 24)))
    (global.set $stream (i32.load (i32.const 24)))
    (drop (call $grpc_send (global.get $stream) (i32.const 1096) (i32.const 5) (i32.const 0)))
    (i32.const 1))
  (func (export "proxy_on_queue_ready") (param $root i32) (param $token i32)
    (block $done (loop $next
      (br_if $done (call $dequeue (local.get $token) (i32.const 8) (i32.const 12)))
      (call $log_str (i32.const 2) (i32.load (i32.const 8)) (i32.load (i32.const 12)))
      (br $next))))
  (func (export "proxy_on_tick") (param $root i32)
    (drop (call $increment_metric (global.get $ticks) (i64.const 1))))
  (func (export "proxy_on_grpc_receive") (param $root i32) (param $token i32) (param $size i32)
    (call $log_buffer (i32.const 5) (local.get $size)))
`,
  serviceImports,
);

// The "parser": on each request, reads shared data "policy" and enqueues the request bytes to the
// agent's queue "logs" (resolved in vm_id "agent").
const parser = watFilter(
  `
  (data (i32.const 1024) "logs")
  (data (i32.const 1032) "policy")
  (data (i32.const 1040) "agent")
  (func (export "proxy_on_downstream_data") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (drop (call $get_buffer_bytes (i32.const 2) (i32.const 0) (local.get $size) (i32.const 8) (i32.const 12)))
    (drop (call $resolve_queue (i32.const 1040) (i32.const 5) (i32.const 1024) (i32.const 4) (i32.const 16)))
    (drop (call $enqueue (i32.load (i32.const 16)) (i32.load (i32.const 8)) (i32.load (i32.const 12))))
    (if (i32.eqz (call $get_shared (i32.const 1032) (i32.const 6) (i32.const 8) (i32.const 12) (i32.const 20)))
      (then (call $log_str (i32.const 2) (i32.load (i32.const 8)) (i32.load (i32.const 12)))))
    (i32.const 0))
`,
  serviceImports,
);

describe('shared data and shared queues across VMs of one process', () => {
  it('delivers enqueued entries to the registering VM and shares data within a vm_id', () => {
    const process = new HostProcess();
    const agentFilter = loadFilter({ wasm: agent, vmId: 'agent', process });
    const parserFilter = loadFilter({ wasm: parser, vmId: 'agent', process });
    const connection = parserFilter.openConnection();
    connection.fromClient('GET a').fromClient('GET b');
    expect(connection.logs.map((log) => log.message)).toEqual(['v1', 'v1']);
    const delivered = agentFilter.logs.filter((log) => log.callback === 'proxy_on_queue_ready').map((log) => log.message);
    expect(delivered).toEqual(['GET a', 'GET b']);
  });

  it('keeps shared data per vm_id and enforces CAS', () => {
    const process = new HostProcess();
    loadFilter({ wasm: agent, vmId: 'agent', process });
    const first = process.sharedData.get('agent', 'policy');
    expect(new TextDecoder().decode(first?.value)).toBe('v1');
    expect(process.sharedData.get('other', 'policy')).toBeUndefined();
    expect(process.sharedData.set('agent', 'policy', new Uint8Array([1]), (first?.cas ?? 0) + 1)).toBe(8);
    expect(process.sharedData.set('agent', 'policy', new Uint8Array([1]), first?.cas ?? 0)).toBe(0);
  });
});

describe('ticks and metrics', () => {
  it('fires proxy_on_tick every period as the manual clock advances, and counts in a metric', () => {
    const filter = loadFilter({ wasm: agent, vmId: 'agent' });
    filter.advanceTime(99);
    expect(filter.metrics.get('ticks')?.value).toBe(0n);
    filter.advanceTime(1);
    expect(filter.metrics.get('ticks')?.value).toBe(1n);
    filter.advanceTime(350);
    expect(filter.metrics.get('ticks')?.value).toBe(4n);
  });
});

describe('gRPC fake', () => {
  it('records the stream the filter opened and what it sent, and delivers scripted server messages', () => {
    const filter = loadFilter({
      wasm: agent,
      vmId: 'agent',
      grpc: { onOpen: (_exchange, server) => server.sendMessage(new TextEncoder().encode('welcome')) },
    });
    filter.settle();
    const [stream] = filter.grpc.exchanges;
    expect(stream).toMatchObject({ kind: 'stream', cluster: 'weir-server', service: 'weir.Agent', method: 'Stream', token: 2 });
    expect(stream?.sent.map((message) => new TextDecoder().decode(message))).toEqual(['hello']);
    filter.grpc.serverSide(2).sendMessage(new TextEncoder().encode('policy v2'));
    filter.settle();
    const received = filter.logs.filter((log) => log.callback === 'proxy_on_grpc_receive').map((log) => log.message);
    expect(received).toEqual(['welcome', 'policy v2']);
  });

  it('refuses a cluster outside knownClusters as Envoy refuses an unknown cluster', () => {
    const filter = loadFilter({ wasm: agent, vmId: 'agent', grpc: { knownClusters: ['other'] } });
    expect(filter.grpc.exchanges).toEqual([]);
    const start = filter.callbacks.find((record) => record.callback === 'proxy_on_vm_start');
    expect(start?.hostCalls.find((call) => call.name === 'proxy_grpc_stream')?.status).toBe(4);
  });
});
