// The CI slice of `npm run fuzz`: a fixed seed per parser on the Wasm test host, a few seconds each,
// and a check that the host checks do catch a filter that frames requests differently from the
// server (a model that ends r2d2 requests at "\n", which the filter does not). Cassandra's own checks
// are checked in cassandra/cassandra-host-check.test.ts.
import { beforeAll, describe, expect, it } from 'vitest';
import { formatFailure } from './framework/failure.ts';
import { runHostFuzz } from './framework/host-fuzz.ts';
import type { FuzzProtocol, ModelFrame } from './framework/protocol.ts';
import { ensureFiltersBuilt } from '../filters/host-helpers.ts';
import { fuzzProtocol } from './protocols.ts';
import { r2d2Fuzz } from './r2d2/r2d2-fuzz.ts';

const SEED = 13;
const CASES: Readonly<Record<string, number>> = { cassandra: 500, memcache: 500, r2d2: 1500 };

beforeAll(() => ensureFiltersBuilt(...Object.keys(CASES)), 600_000);

describe('host fuzzing, seeded CI slice', () => {
  for (const [name, cases] of Object.entries(CASES)) {
    it(`${name}: ${cases} cases of seed ${SEED} find no trap, wrong verdict, wrong framing or over-strict close`, () => {
      const stats = runHostFuzz({ protocol: fuzzProtocol(name), seed: SEED, cases, stopAtFirstFailure: true });
      expect(stats.failures.map((failure) => formatFailure(failure, `npm run fuzz -- ${name}`))).toEqual([]);
      expect(stats.cases).toBe(cases);
      expect(stats.frames).toBeGreaterThan(cases);
    });
  }

  it('reports, with a replayable seed, a filter that frames requests differently from the server', () => {
    const lfModel: FuzzProtocol['model'] = {
      read(stream) {
        const frames: ModelFrame[] = [];
        let start = 0;
        for (let lf = stream.indexOf(0x0a, start); lf >= 0; lf = stream.indexOf(0x0a, start)) {
          frames.push({ start, end: lf + 1, request: { cmd: 'READ' }, label: 'line', filterClose: 'never', serverStops: false, isProbe: false });
          start = lf + 1;
        }
        return { frames, incompleteTail: stream.length - start };
      },
    };
    const protocol: FuzzProtocol = { ...r2d2Fuzz, model: lfModel, generate: () => Buffer.from('HALT\nREAD a\r\n', 'latin1') };
    const stats = runHostFuzz({ protocol, seed: SEED, cases: 20, stopAtFirstFailure: true });
    const [failure] = stats.failures;
    expect(failure?.violations.join('\n')).toMatch(/the filter said|not a request the filter allowed|not decided/);
    expect(failure === undefined ? '' : formatFailure(failure, 'npm run fuzz -- r2d2')).toMatch(/replay: npm run fuzz -- r2d2 --case-seed \d+/);
  });
});
