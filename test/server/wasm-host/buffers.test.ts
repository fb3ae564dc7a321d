// Envoy's network buffer semantics as the host reproduces them: Pause keeps bytes in the read buffer
// (next callback sees old+new), proxy_set_buffer_bytes edit rules, the empty stand-in buffer outside
// a direction's callback, and rewriting the reply direction.
import { describe, expect, it } from 'vitest';
import { echoUpstream, loadFilter } from '../../../server/wasm-host/index.ts';
import { watFilter } from './wat-filter.ts';

// Pauses until at least 6 bytes are buffered, then lets everything through.
const pauseUntilSix = watFilter(`
  (func (export "proxy_on_downstream_data") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $size) (i32.const 6)) (then (i32.const 1)) (else (i32.const 0))))
`);

describe('downstream Pause', () => {
  it('keeps the bytes in Envoy read buffer so the next callback sees old and new bytes', () => {
    const filter = loadFilter({ wasm: pauseUntilSix });
    const connection = filter.openConnection();
    connection.fromClient('abc').fromClient('de').fromClient('fgh');
    expect(connection.callsTo('proxy_on_downstream_data').map((call) => call.args[1])).toEqual([3, 5, 8]);
    expect(connection.upstreamChunks.map((bytes) => Buffer.from(bytes).toString())).toEqual(['abcdefgh']);
  });

  it('passes nothing upstream while paused', () => {
    const connection = loadFilter({ wasm: pauseUntilSix }).openConnection();
    connection.fromClient('abcde', { chunking: 'per-byte' });
    expect(connection.upstreamText).toBe('');
    expect(connection.callsTo('proxy_on_downstream_data').map((call) => call.args[1])).toEqual([1, 2, 3, 4, 5]);
  });
});

// Downstream: start 0 size 2 -> replace the first two bytes with "XY"; then try a middle edit (start 1)
// and an append (start >= length). Upstream: append "!" to whatever the server sent.
const editor = watFilter(`
  (data (i32.const 1024) "XY")
  (data (i32.const 1030) "!")
  (data (i32.const 1040) "[end]")
  (func (export "proxy_on_downstream_data") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (drop (call $set_buffer_bytes (i32.const 2) (i32.const 0) (i32.const 2) (i32.const 1024) (i32.const 2)))
    (drop (call $set_buffer_bytes (i32.const 2) (i32.const 1) (i32.const 1) (i32.const 1024) (i32.const 1)))
    (drop (call $set_buffer_bytes (i32.const 2) (local.get $size) (i32.const 0) (i32.const 1040) (i32.const 5)))
    (i32.const 0))
  (func (export "proxy_on_upstream_data") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (drop (call $set_buffer_bytes (i32.const 3) (i32.const 4294967295) (i32.const 0) (i32.const 1030) (i32.const 1)))
    (i32.const 0))
`);

describe('proxy_set_buffer_bytes', () => {
  it('replaces the first N bytes at start 0, appends at or past the end, and refuses middle edits', () => {
    const connection = loadFilter({ wasm: editor }).openConnection();
    connection.fromClient('abcdef');
    expect(connection.upstreamText).toBe('XYcdef[end]');
    const [downstreamCall] = connection.callsTo('proxy_on_downstream_data');
    expect(downstreamCall?.hostCalls.map((call) => call.status)).toEqual([0, 2, 0]);
    expect(connection.hostCallCounts('proxy_on_downstream_data', 'proxy_set_buffer_bytes')).toEqual([3]);
  });

  it('rewrites what the server sends before it reaches the client', () => {
    const connection = loadFilter({ wasm: editor }).openConnection({ upstream: echoUpstream() });
    connection.fromClient('ping');
    expect(connection.clientText).toBe('XYng[end]!');
  });
});

// In the reply callback, reports the DOWNSTREAM_DATA length it can see by appending it (u32 LE) to
// the reply. Pauses downstream when the request starts with "P".
const crossDirection = watFilter(`
  (func (export "proxy_on_downstream_data") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (drop (call $get_buffer_bytes (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8) (i32.const 12)))
    (i32.eq (i32.load8_u (i32.load (i32.const 8))) (i32.const 80)))
  (func (export "proxy_on_upstream_data") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (i32.store (i32.const 16) (i32.const 99))
    (drop (call $get_buffer_status (i32.const 2) (i32.const 16) (i32.const 20)))
    (drop (call $set_buffer_bytes (i32.const 3) (local.get $size) (i32.const 0) (i32.const 16) (i32.const 4)))
    (i32.const 0))
`);

describe('buffers outside their callback', () => {
  it('DOWNSTREAM_DATA is an empty stand-in during the reply callback once the request continued', () => {
    const connection = loadFilter({ wasm: crossDirection }).openConnection();
    connection.fromClient('hello');
    connection.fromServer('ok');
    expect([...connection.clientBytes]).toEqual([111, 107, 0, 0, 0, 0]);
  });

  it('DOWNSTREAM_DATA stays visible from the reply callback while the request is paused', () => {
    const connection = loadFilter({ wasm: crossDirection }).openConnection();
    connection.fromClient('Paused');
    connection.fromServer('ok');
    expect([...connection.clientBytes]).toEqual([111, 107, 6, 0, 0, 0]);
    expect(connection.upstreamText).toBe('');
  });
});
