// `npm run fuzz -- PARSER --minutes N [--seed S] [--case-seed C]`: fuzzes one parser on the Wasm
// test host (framework/host-fuzz.ts) and prints frames per hour, closes and every failure with
// the seed that replays it. `--case-seed C` replays one case. Exits 1 on any failure.
import { parseArgs } from 'node:util';
import { describeCase, escapedText, formatFailure } from './framework/failure.ts';
import { HostVms, runHostCase } from './framework/host-check.ts';
import { makeHostCase, runHostFuzz } from './framework/host-fuzz.ts';
import { seedFrom } from './framework/seed.ts';
import { fuzzProtocol } from './protocols.ts';

const USAGE = 'usage: npm run fuzz -- PARSER --minutes N [--seed S] | npm run fuzz -- PARSER --case-seed C';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { minutes: { type: 'string' }, seed: { type: 'string' }, 'case-seed': { type: 'string' } },
});
const name = positionals[0];
if (name === undefined) {
  console.error(USAGE);
  process.exit(2);
}
const protocol = fuzzProtocol(name);

if (values['case-seed'] !== undefined) {
  const testCase = makeHostCase(protocol, Number(values['case-seed']) >>> 0);
  const result = runHostCase(new HostVms(), testCase);
  console.log(`case seed ${values['case-seed']}: ${describeCase(testCase)}`);
  console.log(`bytes: ${escapedText(testCase.bytes)}`);
  console.log(result.violations.length === 0 ? 'no violation' : result.violations.map((violation) => `- ${violation}`).join('\n'));
  process.exit(result.violations.length === 0 ? 0 : 1);
}

const minutes = Number(values.minutes ?? '1');
if (!(minutes > 0)) {
  console.error(`--minutes must be a positive number, got "${values.minutes}"\n${USAGE}`);
  process.exit(2);
}
const seed = seedFrom(values.seed);
console.log(`fuzz ${name} on the Wasm host: ${minutes} min, seed ${seed} (rerun with --seed ${seed})`);
const stats = runHostFuzz({
  protocol,
  seed,
  milliseconds: minutes * 60_000,
  onProgress: (progress) => console.log(`  ${progress.cases} cases, ${progress.frames} frames, ${perHour(progress.frames, progress.elapsedMs)} frames/hour, ${progress.closes} closed, ${progress.failures.length} failing`),
});
for (const failure of stats.failures) console.log(formatFailure(failure, `npm run fuzz -- ${name}`));
console.log(
  `fuzz ${name}: ${stats.cases} cases, ${stats.frames} frames, ${(stats.bytes / 1e6).toFixed(1)} MB in ${(stats.elapsedMs / 1000).toFixed(0)} s ` +
    `(${perHour(stats.frames, stats.elapsedMs)} frames/hour), filter closed ${stats.closes} connections, ${stats.failures.length} failing cases (seed ${seed})`,
);
process.exit(stats.failures.length === 0 ? 0 : 1);

function perHour(frames: number, elapsedMs: number): string {
  return elapsedMs > 0 ? Math.round((frames / elapsedMs) * 3_600_000).toLocaleString('en') : '?';
}
