// The host fuzzer's loop: derives case after case from one run seed (grammar sessions, mutated
// recordings of real clients, mutated grammar sessions, cut at random split points), runs each on
// the Wasm test host (host-check.ts), counts frames, and reports every failing case with the
// seed that replays it alone and its bytes. Used by `npm run fuzz` (cli.ts) and the CI slice.
import type { Chunking } from '../../../server/wasm-host/index.ts';
import { describeCase, type FuzzFailure } from './failure.ts';
import { HostVms, runHostCase, type HostCase } from './host-check.ts';
import { concat, mutate } from './mutate.ts';
import { Prng, caseSeed } from './prng.ts';
import type { FuzzProtocol } from './protocol.ts';

export interface HostFuzzOptions {
  readonly protocol: FuzzProtocol;
  readonly seed: number;
  /** Stop after this many cases ... */
  readonly cases?: number;
  /** ... or after this much time (whichever comes first). */
  readonly milliseconds?: number;
  /** Stop at the first failing case (CI); otherwise collect up to 20. */
  readonly stopAtFirstFailure?: boolean;
  /** Called every `progressEvery` cases with the counts so far. */
  readonly onProgress?: (stats: HostFuzzStats) => void;
}

export interface HostFuzzStats {
  cases: number;
  frames: number;
  /** Cases in which the filter closed the connection. */
  closes: number;
  bytes: number;
  elapsedMs: number;
  failures: FuzzFailure[];
}

const MAX_FAILURES = 20;
const MAX_SESSION_BYTES = 64 * 1024;

export function runHostFuzz(options: HostFuzzOptions): HostFuzzStats {
  const vms = new HostVms();
  const stats: HostFuzzStats = { cases: 0, frames: 0, closes: 0, bytes: 0, elapsedMs: 0, failures: [] };
  const started = performance.now();
  const deadline = options.milliseconds === undefined ? Infinity : started + options.milliseconds;
  const limit = options.cases ?? Infinity;
  for (let index = 0; index < limit && performance.now() < deadline; index++) {
    const seedOfCase = caseSeed(options.seed, index);
    const testCase = makeHostCase(options.protocol, seedOfCase);
    const result = runHostCase(vms, testCase);
    stats.cases++;
    stats.frames += result.frames;
    stats.bytes += testCase.bytes.length;
    if (result.filterClosed) stats.closes++;
    if (result.violations.length > 0) {
      stats.failures.push({ runSeed: options.seed, caseIndex: index, caseSeed: seedOfCase, description: describeCase(testCase), violations: [...result.violations], bytes: testCase.bytes });
      if (options.stopAtFirstFailure === true || stats.failures.length >= MAX_FAILURES) break;
    }
    if (options.onProgress !== undefined && stats.cases % 2000 === 0) {
      stats.elapsedMs = performance.now() - started;
      options.onProgress(stats);
    }
  }
  stats.elapsedMs = performance.now() - started;
  return stats;
}

/** The case a seed stands for: which policy and client, which bytes, how they are cut. */
export function makeHostCase(protocol: FuzzProtocol, seed: number): HostCase {
  const prng = new Prng(seed);
  const policy = prng.pick(protocol.policies);
  const client = prng.pick(policy.clients);
  const { bytes, boundaries } = sessionBytes(protocol, prng);
  return { protocol, policy, client, bytes, chunking: chunkingFor(bytes, boundaries, prng), clientFin: prng.chance(0.3) };
}

// The session and, for grammar sessions of protocols with deliveries, where deliveries end.
function sessionBytes(protocol: FuzzProtocol, prng: Prng): { bytes: Uint8Array; boundaries: number[] } {
  const recordings = protocol.recordings();
  const source = prng.weighted<'grammar' | 'recording' | 'mutated-recording' | 'mutated-grammar'>([
    [5, 'grammar'],
    [1, 'recording'],
    [3, 'mutated-recording'],
    [3, 'mutated-grammar'],
  ]);
  const mutation = { dictionary: protocol.dictionary, corpus: recordings, maxLength: MAX_SESSION_BYTES };
  if ((source === 'grammar' || recordings.length === 0) && protocol.generateDeliveries !== undefined) return deliveredSession(protocol.generateDeliveries(prng));
  if (source === 'grammar' || recordings.length === 0) return { bytes: protocol.generate(prng), boundaries: [] };
  if (source === 'recording') return { bytes: prng.pick(recordings), boundaries: [] };
  if (source === 'mutated-recording') return { bytes: mutate(prng.pick(recordings), prng, mutation), boundaries: [] };
  return { bytes: mutate(protocol.generate(prng), prng, mutation), boundaries: [] };
}

function deliveredSession(deliveries: readonly Uint8Array[]): { bytes: Uint8Array; boundaries: number[] } {
  const boundaries: number[] = [];
  let length = 0;
  for (const delivery of deliveries) boundaries.push((length += delivery.length));
  return { bytes: concat(deliveries), boundaries: boundaries.slice(0, -1) };
}

function chunkingFor(bytes: Uint8Array, boundaries: readonly number[], prng: Prng): Chunking {
  const how = prng.weighted<'whole' | 'split' | 'per-byte'>([
    [5, 'whole'],
    [4, 'split'],
    [bytes.length <= 512 ? 1 : 0, 'per-byte'],
  ]);
  if (how === 'per-byte') return 'per-byte';
  if (how === 'whole' && boundaries.length === 0) return 'whole';
  const splits = how === 'split' ? prng.splitPoints(bytes.length, prng.between(1, 8)) : [];
  return { splitAt: [...new Set([...boundaries, ...splits])].sort((a, b) => a - b) };
}
