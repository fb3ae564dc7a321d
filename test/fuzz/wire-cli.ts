// `npm run fuzz:wire -- PROTOCOL --minutes N [--seed S]` (or `--session-seed C` to replay the one
// session a violation names): sessions through real Envoy, the Weir
// filter and the real server, checked against the server's own record of what it executed. The
// protocols with a wire oracle are listed in WIRE_FUZZERS.
import { parseArgs } from 'node:util';
import { seedFrom } from './framework/seed.ts';

const USAGE = 'usage: npm run fuzz:wire -- PROTOCOL --minutes N [--seed S]';

/** A wire fuzzer: runs for `minutes`, prints its progress and failures, resolves to the failure count. */
export type WireFuzzer = (options: { seed: number; minutes: number; sessionSeed?: number }) => Promise<number>;

const WIRE_FUZZERS: Readonly<Record<string, () => Promise<WireFuzzer>>> = {
  cassandra: async () => (await import('./cassandra/wire-cli-runner.ts')).cassandraWireFuzzer,
  memcache: async () => (await import('./memcache/wire-cli-runner.ts')).memcacheWireFuzzer,
};

const { values, positionals } = parseArgs({ allowPositionals: true, options: { minutes: { type: 'string' }, seed: { type: 'string' }, 'session-seed': { type: 'string' } } });
const name = positionals[0];
const load = name === undefined ? undefined : WIRE_FUZZERS[name];
if (load === undefined) {
  console.error(`${USAGE}\nprotocols with a wire oracle: ${Object.keys(WIRE_FUZZERS).join(', ') || '(none yet)'}`);
  process.exit(2);
}
const minutes = Number(values.minutes ?? '1');
if (!(minutes > 0)) {
  console.error(`--minutes must be a positive number\n${USAGE}`);
  process.exit(2);
}
const sessionSeed = values['session-seed'] === undefined ? undefined : seedFrom(values['session-seed']);
const failures = await (await load())({ seed: seedFrom(values.seed), minutes, ...(sessionSeed === undefined ? {} : { sessionSeed }) });
process.exit(failures === 0 ? 0 : 1);
