// Closing: proxy_close_stream is deferred until the callback returns and closes with FlushWrite (bytes
// forwarded by earlier callbacks arrive, the current callback's buffer does not pass); close events
// follow Envoy's order; client FIN and reset give the peer types Envoy reports.
import { describe, expect, it } from 'vitest';
import { echoUpstream, loadFilter } from '../../../server/wasm-host/index.ts';
import { watFilter } from './wat-filter.ts';

const lifecycleExports = `
  (func (export "proxy_on_downstream_connection_close") (param i32 i32))
  (func (export "proxy_on_upstream_connection_close") (param i32 i32))
  (func (export "proxy_on_done") (param i32) (result i32) (i32.const 1))
  (func (export "proxy_on_log") (param i32))
  (func (export "proxy_on_delete") (param i32))
`;

// Closes the connection (DOWNSTREAM) when a request starts with "Q", logging a warning first.
const closeOnQ = watFilter(`
  (data (i32.const 1024) "closing on Q")
  (func (export "proxy_on_downstream_data") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (drop (call $get_buffer_bytes (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8) (i32.const 12)))
    (if (i32.eq (i32.load8_u (i32.load (i32.const 8))) (i32.const 81))
      (then
        (call $log_str (i32.const 3) (i32.const 1024) (i32.const 12))
        (drop (call $close_stream (i32.const 2)))))
    (i32.const 0))
  ${lifecycleExports}
`);

const callbackNames = (connection: { callbacks: Array<{ callback: string }> }): string[] =>
  connection.callbacks.map((record) => record.callback);

describe('proxy_close_stream', () => {
  it('closes after the callback returns: earlier bytes reached the server, the closing callback bytes did not', () => {
    const connection = loadFilter({ wasm: closeOnQ }).openConnection({ upstream: echoUpstream() });
    connection.fromClient('hello').fromClient('Quit now').fromClient('late');
    expect(connection.upstreamText).toBe('hello');
    expect(connection.clientText).toBe('hello');
    expect(connection.closed).toEqual({ reason: 'wasm_downstream_close', peer: 'local', details: 'wasm_downstream_close' });
    expect(connection.logs.map((log) => [log.level, log.message])).toEqual([['warn', 'closing on Q']]);
    expect(connection.upstreamClosed).toBe(true);
  });

  it('raises close events in Envoy order: downstream close (local) -> done -> log -> delete', () => {
    const connection = loadFilter({ wasm: closeOnQ }).openConnection();
    connection.fromClient('Q');
    expect(callbackNames(connection)).toEqual([
      'proxy_on_downstream_data',
      'proxy_on_downstream_connection_close',
      'proxy_on_done',
      'proxy_on_log',
      'proxy_on_delete',
    ]);
    expect(connection.callsTo('proxy_on_downstream_connection_close')[0]?.args).toEqual([connection.contextId, 1]);
  });
});

describe('connection end from the peers', () => {
  const passThrough = watFilter(lifecycleExports);

  it('client FIN: the server sees the end, answers with its FIN, Envoy closes locally after both halves', () => {
    const connection = loadFilter({ wasm: passThrough }).openConnection();
    connection.fromClient('bye').closeFromClient();
    expect(connection.upstreamGotEnd).toBe(true);
    expect(connection.clientGotEnd).toBe(true);
    expect(connection.closed?.reason).toBe('half_close_complete');
    expect(callbackNames(connection)).toEqual([
      'proxy_on_upstream_connection_close',
      'proxy_on_downstream_connection_close',
      'proxy_on_done',
      'proxy_on_log',
      'proxy_on_delete',
    ]);
    expect(connection.callsTo('proxy_on_upstream_connection_close')[0]?.args).toEqual([connection.contextId, 0]);
    expect(connection.callsTo('proxy_on_downstream_connection_close')[0]?.args).toEqual([connection.contextId, 1]);
  });

  it('client reset: one remote close event, then done, log, delete', () => {
    const connection = loadFilter({ wasm: passThrough }).openConnection();
    connection.resetFromClient();
    expect(connection.callsTo('proxy_on_downstream_connection_close')[0]?.args).toEqual([connection.contextId, 2]);
    expect(callbackNames(connection).slice(-3)).toEqual(['proxy_on_done', 'proxy_on_log', 'proxy_on_delete']);
    expect(connection.isOpen).toBe(false);
  });

  it('ignores bytes after the connection closed', () => {
    const connection = loadFilter({ wasm: passThrough }).openConnection();
    connection.resetFromClient().fromClient('too late');
    expect(connection.upstreamText).toBe('');
  });
});

// Reports end_of_stream through what reaches the server: appends "<eos>" when the flag is set.
const eosMarker = watFilter(`
  (data (i32.const 1024) "<eos>")
  (func (export "proxy_on_downstream_data") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (if (local.get $eos)
      (then (drop (call $set_buffer_bytes (i32.const 2) (local.get $size) (i32.const 0) (i32.const 1024) (i32.const 5)))))
    (i32.const 0))
`);

describe('end of stream', () => {
  it('calls proxy_on_downstream_data with end_of_stream=1 on client FIN, even with no new bytes', () => {
    const connection = loadFilter({ wasm: eosMarker }).openConnection();
    connection.fromClient('data').closeFromClient();
    expect(connection.upstreamText).toBe('data<eos>');
    expect(connection.callsTo('proxy_on_downstream_data').map((call) => call.args.slice(1))).toEqual([
      [4, 0],
      [0, 1],
    ]);
  });
});
