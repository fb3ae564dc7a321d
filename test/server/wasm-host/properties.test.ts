// proxy_get_property and proxy_set_property from a connection: Envoy's attribute encodings
// (addresses as "ip:port", ports as 8-byte little-endian), plugin and node attributes, per-connection
// overrides, and filter state written by the filter. Log lines are captured with their level.
import { describe, expect, it } from 'vitest';
import { loadFilter } from '../../../server/wasm-host/index.ts';
import { watFilter } from './wat-filter.ts';

// On new connection: logs each NUL-separated path listed in the data segment table, then sets
// property "verdict" = "allowed". A missing property logs "<none>".
const paths = ['source\0address', 'source\0port', 'destination\0address', 'plugin_name', 'xds\0node\0metadata\0zone', 'weir\0identity'];
const table = paths.map((path, index) => `(data (i32.const ${2048 + index * 64}) "${path.replaceAll('\0', '\\00')}")`).join('\n');
const lengths = paths.map((path, index) => `(call $log_property (i32.const ${2048 + index * 64}) (i32.const ${path.length}))`).join('\n');

const propertyLogger = watFilter(`
  ${table}
  (data (i32.const 1100) "<none>")
  (data (i32.const 1110) "verdict")
  (data (i32.const 1120) "allowed")
  (func $log_property (param $ptr i32) (param $len i32)
    (if (i32.eqz (call $get_property (local.get $ptr) (local.get $len) (i32.const 8) (i32.const 12)))
      (then (call $log_str (i32.const 2) (i32.load (i32.const 8)) (i32.load (i32.const 12))))
      (else (call $log_str (i32.const 1) (i32.const 1100) (i32.const 6)))))
  (func (export "proxy_on_new_connection") (param $ctx i32) (result i32)
    ${lengths}
    (drop (call $set_property (i32.const 1110) (i32.const 7) (i32.const 1120) (i32.const 7)))
    (call $log_property (i32.const 1110) (i32.const 7))
    (i32.const 0))
`);

describe('connection properties', () => {
  it('answers Envoy attributes with Envoy encodings and reads back filter state', () => {
    const filter = loadFilter({ wasm: propertyLogger, pluginName: 'r2d2-policy', node: { metadata: { zone: 'eu-1' } } });
    const connection = filter.openConnection({
      source: { address: '10.1.2.3', port: 5555 },
      destination: { address: '10.9.9.9', port: 4000 },
      properties: { 'weir.identity': '4242' },
    });
    const messages = connection.logs.map((log) => log.message);
    expect(messages[0]).toBe('10.1.2.3:5555');
    // source.port is an int attribute: 8 bytes little-endian (5555 = 0x15b3).
    expect([...(connection.property('source.port') ?? [])]).toEqual([0xb3, 0x15, 0, 0, 0, 0, 0, 0]);
    expect(messages[1]).toBe('\u00b3\u0015'.replace('\u00b3', '\ufffd') + '\0'.repeat(6));
    expect(messages.slice(2)).toEqual(['10.9.9.9:4000', 'r2d2-policy', 'eu-1', '4242', 'allowed']);
    expect(new TextDecoder().decode(connection.filterState.get('verdict'))).toBe('allowed');
    expect(connection.logs.every((log) => log.level === 'info' && log.contextId === connection.contextId)).toBe(true);
  });

  it('answers NOT_FOUND for attributes that do not exist', () => {
    const connection = loadFilter({ wasm: propertyLogger }).openConnection();
    expect(connection.logs.map((log) => [log.level, log.message]).slice(4, 6)).toEqual([
      ['debug', '<none>'],
      ['debug', '<none>'],
    ]);
  });
});
