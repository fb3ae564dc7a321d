// `npm run demo [-- SCENARIO] [-- --check|--stay]`: runs a demo scenario's script, prints each
// outcome, stops everything it started and exits 0 only if every outcome matched. With --stay the
// demo keeps running afterwards (until Ctrl-C) so that a person can try it by hand; --check prints
// one summary line at the end, for scripts.
import { runR2d2Demo, type RunningR2d2Demo } from './r2d2/scenario.ts';
import { runFleetDemo } from './fleet/scenario.ts';
import { runEmpireDemo } from './empire/scenario.ts';
import { runKafkaDemo } from './kafka/scenario.ts';

const SCENARIOS: Record<string, () => Promise<RunningR2d2Demo>> = { r2d2: runR2d2Demo, fleet: runFleetDemo, empire: runEmpireDemo, kafka: runKafkaDemo };

const args = process.argv.slice(2);
const check = args.includes('--check');
const stay = args.includes('--stay');
const unknownFlags = args.filter((arg) => arg.startsWith('-') && arg !== '--check' && arg !== '--stay');
const names = args.filter((arg) => !arg.startsWith('-'));
const name = names[0] ?? 'r2d2';
const scenario = SCENARIOS[name];
if (unknownFlags.length > 0 || names.length > 1 || scenario === undefined || (check && stay)) {
  console.error(`usage: npm run demo [-- SCENARIO] [-- --check | --stay]; scenarios: ${Object.keys(SCENARIOS).join(', ')}`);
  process.exit(2);
}

const demo = await scenario().catch((error: unknown) => {
  console.error(`demo ${name} failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
console.log('');
for (const outcome of demo.outcomes) {
  console.log(`${outcome.ok ? 'ok  ' : 'FAIL'}  ${outcome.step}${outcome.ok ? '' : ` (expected ${outcome.expected}, got ${outcome.actual})`}`);
}
const failed = demo.outcomes.filter((outcome) => !outcome.ok).length;
if (!stay) {
  await demo.stop();
  if (check) console.log(failed === 0 ? `demo ${name}: every outcome matched` : `demo ${name}: ${failed} outcome(s) did not match`);
  else console.log(`\nThe demo stopped everything it started. To keep it running and try it yourself: npm run demo -- ${name} --stay`);
  process.exit(failed === 0 ? 0 : 1);
}
console.log(`\n${demo.hint ?? 'The demo keeps running.'} Ctrl-C stops it.`);
const shutdown = (): void => {
  void demo.stop().then(() => process.exit(failed === 0 ? 0 : 1));
};
process.once('SIGINT', shutdown);
process.once('SIGTERM', shutdown);
