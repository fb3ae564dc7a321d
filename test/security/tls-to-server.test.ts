// What Weir refuses because it cannot see inside (docs/security.md, "Threat model"): a client that
// speaks TLS to the server through a Weir parser. Its ClientHello is no request of the protocol, so
// no byte of it may reach the server, whatever the policy allows. The binary protocols close at
// once (no valid frame header); the line protocols hold the bytes as an unfinished line, as
// memcached itself does, and close at the buffer limit. Run on the real built parsers in the Wasm test host with their most
// permissive policies; the Envoy tests of each parser show that the host's verdicts are Envoy's.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { silentUpstream } from '../../server/wasm-host/index.ts';
import { loadWeirFilter } from '../filters/host-helpers.ts';
import { rule } from '../filters/parsers/memcache/memcache-rules.ts';
import { tableRegex } from '../filters/parsers/cassandra/test-rules.ts';
import { kafkaConfig } from '../filters/parsers/kafka/kafka-rules.ts';

// A TLS 1.2/1.3 ClientHello record as a client sends it first (record header, handshake header,
// client version, random, a session id, cipher suites, compression, an SNI extension).
function clientHello(): Buffer {
  const sni = Buffer.from('memcached.internal');
  const serverName = Buffer.concat([Buffer.from([0x00]), u16(sni.length), sni]);
  const sniExtension = Buffer.concat([u16(0x0000), u16(serverName.length + 2), u16(serverName.length), serverName]);
  const body = Buffer.concat([
    Buffer.from([0x03, 0x03]), randomBytes(32), Buffer.from([32]), randomBytes(32),
    u16(4), Buffer.from([0x13, 0x01, 0xc0, 0x2f]), Buffer.from([1, 0]),
    u16(sniExtension.length), sniExtension,
  ]);
  const handshake = Buffer.concat([Buffer.from([0x01, 0, body.length >> 8, body.length & 0xff]), body]);
  return Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), u16(handshake.length), handshake]);
}

function u16(value: number): Buffer {
  return Buffer.from([value >> 8, value & 0xff]);
}

const PARSERS = [
  { name: 'memcache', closes: false, config: { parser: 'memcache', rules: [rule('get', { keyPrefix: '' }), rule('storage', { keyPrefix: '' })] } },
  { name: 'cassandra', closes: true, config: { parser: 'cassandra', rules: [{ query_action: 'select', query_table: tableRegex('.*') }] } },
  { name: 'kafka', closes: true, config: kafkaConfig([{ role: 'consume', topic: 'empire-announce' }]) },
  { name: 'r2d2', closes: false, config: { parser: 'r2d2', rules: [{ cmd: 'READ' }] } },
] as const;

describe('a client speaking TLS to the server through a Weir parser', () => {
  for (const parser of PARSERS) {
    it(`${parser.name}: no byte of the ClientHello reaches the server${parser.closes ? ' and the connection closes' : ''}`, () => {
      const filter = loadWeirFilter(parser.name, parser.name, parser.config, () => silentUpstream());
      for (let attempt = 0; attempt < 10; attempt += 1) {
        const connection = filter.openConnection({});
        connection.fromClient(clientHello());
        expect(connection.upstreamBytes.length, `${parser.name} passed ClientHello bytes to the server`).toBe(0);
        if (parser.closes) expect(connection.isOpen, `${parser.name} kept a TLS connection open`).toBe(false);
      }
      expect(filter.traps).toEqual([]);
    }, 180_000);
  }
});
