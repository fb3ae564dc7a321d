// `npm run fuzz:wire -- memcache`: the memcached wire oracle for a time budget, with progress and
// every violation printed (each names its session seed, client and bytes).
import type { WireFuzzer } from '../wire-cli.ts';
import { runMemcacheWireFuzz, type WireStats } from './wire-oracle.ts';

export const memcacheWireFuzzer: WireFuzzer = async ({ seed, minutes, sessionSeed }) => {
  console.log(`fuzz:wire memcache: real Envoy + Weir + memcached 1.6.18 for ${minutes} min, seed ${seed} (rerun with --seed ${seed})`);
  const started = performance.now();
  const replay = sessionSeed === undefined ? {} : { sessionSeeds: [sessionSeed] };
  const stats = await runMemcacheWireFuzz({ seed, ...replay, milliseconds: minutes * 60_000, onProgress: (progress, elapsedMs) => console.log(`  ${summary(progress)} in ${(elapsedMs / 1000).toFixed(0)} s`) });
  for (const violation of stats.violations) console.log(`VIOLATION ${violation}\n    replay: npm run fuzz:wire -- memcache --session-seed ${/seed (\d+)/.exec(violation)?.[1] ?? '?'}`);
  console.log(`fuzz:wire memcache: ${summary(stats)} in ${((performance.now() - started) / 1000).toFixed(0)} s, ${stats.violations.length} oracle violations (seed ${seed})`);
  return stats.violations.length;
};

function summary(stats: WireStats): string {
  return `${stats.sessions} sessions, ${stats.events} memcached events checked, ${stats.allowedRequests} allowed and ${stats.deniedRequests} denied requests, ${stats.inconclusive} inconclusive, ${stats.skipped} not sent (would crash memcached 1.6.18 under watch)`;
}
