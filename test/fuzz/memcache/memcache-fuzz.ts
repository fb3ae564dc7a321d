// memcached for the fuzz framework: the model of memcached 1.6.18's reading, the grammar, the
// recordings of memjs and the `memcached` npm client, the policies the cases run under (a
// read-only client, a writer with most command groups on one key prefix, a client with no rule,
// and one allowed at L3/L4 whose requests are all allowed), and the fake server.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FuzzPolicy, FuzzProtocol } from '../framework/protocol.ts';
import { loadRecordings } from '../framework/recordings.ts';
import { buildReferencePolicy, type FuzzClient } from '../framework/reference-policy.ts';
import { fakeMemcachedServer } from './fake-server.ts';
import { binaryRequest } from '../../filters/parsers/memcache/fake-memcached.ts';
import { ALLOWED_PREFIX, generateMemcacheSession } from './memcache-grammar.ts';
import { memcachedModel } from './memcached-model.ts';

const RECORDINGS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'recordings');

export const MEMCACHE_CLIENTS = {
  reader: { app: 'fleet-reader', ip: '10.77.0.2' },
  writer: { app: 'fleet-writer', ip: '10.77.0.3' },
  stranger: { app: 'fleet-stranger', ip: '10.77.0.4' },
  admin: { app: 'fleet-admin', ip: '10.77.0.5' },
} as const satisfies Record<string, FuzzClient>;

const port = '[{ port: "7000", protocol: TCP }]';
const WRITER_GROUPS = ['get', 'writeGroup', 'gat', 'mg', 'ms', 'md', 'ma', 'me', 'delete', 'touch', 'incr', 'decr', 'sasl-auth'];

/** The fleet policy: fleet-reader may only read ok/, fleet-writer may do most things on ok/ (and keyless commands), fleet-admin anything. */
export const MEMCACHE_FLEET_POLICY = buildReferencePolicy({
  name: 'memcache-fleet',
  l7proto: 'memcache',
  clients: Object.values(MEMCACHE_CLIENTS),
  ingressYaml: `    - fromEndpoints: [{ matchLabels: { app: fleet-reader } }]
      toPorts: [{ ports: ${port}, rules: { l7proto: memcache, l7: [{ command: get, keyPrefix: "${ALLOWED_PREFIX}" }, { command: mg, keyPrefix: "${ALLOWED_PREFIX}" }, { command: version }] } }]
    - fromEndpoints: [{ matchLabels: { app: fleet-writer } }]
      toPorts: [{ ports: ${port}, rules: { l7proto: memcache, l7: [${WRITER_GROUPS.map((group) => `{ command: ${group}, keyPrefix: "${ALLOWED_PREFIX}" }`).join(', ')}, { command: version }, { command: noop }, { command: mn }, { command: stats }, { command: verbosity }, { command: quit }, { command: sasl-list-mechs }] } }]
    - fromEndpoints: [{ matchLabels: { app: fleet-admin } }]
      toPorts: [{ ports: ${port} }]
`,
});

const POLICIES: readonly FuzzPolicy[] = [{ reference: MEMCACHE_FLEET_POLICY, clients: Object.values(MEMCACHE_CLIENTS) }];

let recordings: Uint8Array[] | undefined;

/** The recorded sessions of memjs and the `memcached` npm client (recordings/*.json). */
export function memcacheRecordings(): readonly Uint8Array[] {
  recordings ??= loadRecordings(RECORDINGS_DIR);
  return recordings;
}

const WORDS = [
  'get ', 'gets ', 'gat ', 'set ', 'cas ', 'ms ', 'mg ', 'me ', 'md ', 'ma ', 'mn', 'delete ', 'incr ', 'touch ', 'version', 'quit', 'noreply', 'flush_all', ' b', ' q', ' v',
  'ok/a', 'secret', '\r\n', '\n', '\r', ' ', '\t', '\u0000', '0', '-1', '+1', '4294967296', '18446744073709551615', '18446744073709551616', '99999999999999999999', '2147483647', 'HTTP/1.1',
];

const DICTIONARY: readonly Uint8Array[] = [
  ...WORDS.map((word) => new Uint8Array(Buffer.from(word, 'latin1'))),
  binaryRequest(0x04, { key: 'secret', opaque: 1 }),
  binaryRequest(0x0a, { opaque: 2 }),
  binaryRequest(0x10, { value: Buffer.from('x'), opaque: 3 }).subarray(0, 24),
  Uint8Array.from([0x80]),
  Uint8Array.from([0xff, 0xff, 0xff, 0xff]),
];

export const memcacheFuzz: FuzzProtocol = {
  name: 'memcache',
  model: memcachedModel,
  policies: POLICIES,
  generate: generateMemcacheSession,
  recordings: memcacheRecordings,
  dictionary: DICTIONARY,
  fakeServer: fakeMemcachedServer,
};
