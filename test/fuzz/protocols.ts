// The protocols the fuzzers know, by parser name. A new protocol adds one line here and its own
// folder beside this file (see README.md).
import { cassandraFuzz } from './cassandra/cassandra-fuzz.ts';
import type { FuzzProtocol } from './framework/protocol.ts';
import { memcacheFuzz } from './memcache/memcache-fuzz.ts';
import { r2d2Fuzz } from './r2d2/r2d2-fuzz.ts';

export const FUZZ_PROTOCOLS: Readonly<Record<string, FuzzProtocol>> = {
  cassandra: cassandraFuzz,
  memcache: memcacheFuzz,
  r2d2: r2d2Fuzz,
};

export function fuzzProtocol(name: string): FuzzProtocol {
  const protocol = FUZZ_PROTOCOLS[name];
  if (protocol === undefined) throw new Error(`unknown parser "${name}"; the fuzzers know: ${Object.keys(FUZZ_PROTOCOLS).join(', ')}`);
  return protocol;
}
