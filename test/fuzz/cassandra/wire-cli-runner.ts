// `npm run fuzz:wire -- cassandra`: deploys Cassandra 5 (audit log on) behind one Envoy per
// client (wire-fuzz.ts), then sends session after session, each from the case's own seed: grammar
// sessions, recordings of cassandra-driver and cqlsh, and recordings with one delivery mutated,
// through a randomly chosen client. Every 100 sessions and at the end it waits for the audit
// log to settle and runs the oracle; each violation is printed with the seeds of the sessions
// run since the last check (each replayable alone with --session-seed).
import type { WireFuzzer } from '../wire-cli.ts';
import { Prng, caseSeed } from '../framework/prng.ts';
import { describeViolations } from '../../support/cassandra-oracle.ts';
import { cassandraRecordings } from './cassandra-fuzz.ts';
import { CQL_DICTIONARY, generateSession, type CqlSession } from './cql-grammar.ts';
import { mutatedRecordedSession, recordedSession } from './recorded-sessions.ts';
import { auditLogSettled, deployCassandraWire, runWireSession, type CassandraWireDeployment } from './wire-fuzz.ts';

const CHECK_EVERY = 100;

export interface WireRunOptions {
  seed: number;
  /** Run exactly these sessions (a replay) instead of the seed's. */
  sessionSeeds?: readonly number[];
  /** Stop after this many sessions ... */
  sessions?: number;
  /** ... or this much time. */
  milliseconds?: number;
  deployment?: CassandraWireDeployment;
  log?: (line: string) => void;
}

export interface WireRunResult {
  sessions: number;
  deliveries: number;
  violations: string[];
}

/** Runs sessions from `seed` and returns the oracle's violations (empty when none). */
export async function runCassandraWireFuzz(options: WireRunOptions): Promise<WireRunResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const deployment = options.deployment ?? (await deployCassandraWire());
  const started = Date.now();
  const deadline = options.milliseconds === undefined ? Infinity : started + options.milliseconds;
  const limit = options.sessionSeeds?.length ?? options.sessions ?? Infinity;
  const result: WireRunResult = { sessions: 0, deliveries: 0, violations: [] };
  let sinceCheck: string[] = [];
  try {
    for (let index = 0; index < limit && Date.now() < deadline; index++) {
      const sessionSeed = options.sessionSeeds?.[index] ?? caseSeed(options.seed, index);
      const prng = new Prng(sessionSeed);
      const client = prng.pick(deployment.clients);
      const session = sessionFor(prng);
      sinceCheck.push(`session seed ${sessionSeed} (${client.name}, ${session.steps.length} steps)`);
      await runWireSession(deployment, client, session, prng);
      result.sessions++;
      result.deliveries += session.steps.length;
      if (result.sessions % CHECK_EVERY === 0 || index + 1 >= limit || Date.now() >= deadline) {
        await auditLogSettled(deployment);
        const violations = deployment.violations();
        log(`  ${result.sessions} sessions in ${((Date.now() - started) / 1000).toFixed(0)} s, ${violations.length} oracle violations`);
        if (violations.length > 0) {
          result.violations.push(`${describeViolations(violations)}\n  in one of these sessions (replay one with npm run fuzz:wire -- cassandra --session-seed S): ${sinceCheck.join(', ')}`);
          break;
        }
        sinceCheck = [];
      }
    }
  } finally {
    if (options.deployment === undefined) await deployment.stop();
  }
  return result;
}

function sessionFor(prng: Prng): CqlSession {
  const recordings = cassandraRecordings();
  const source = prng.weighted<'grammar' | 'recording' | 'mutated'>([
    [6, 'grammar'],
    [1, 'recording'],
    [3, 'mutated'],
  ]);
  if (source === 'grammar') return generateSession(prng);
  const recording = prng.pick(recordings);
  return source === 'recording' ? recordedSession(recording) : mutatedRecordedSession(recording, prng, CQL_DICTIONARY, recordings);
}

export const cassandraWireFuzzer: WireFuzzer = async ({ seed, minutes, sessionSeed }) => {
  console.log(`fuzz:wire cassandra: ${minutes} min, seed ${seed} (rerun with --seed ${seed})`);
  const replay = sessionSeed === undefined ? {} : { sessionSeeds: [sessionSeed] };
  const result = await runCassandraWireFuzz({ seed, ...replay, milliseconds: minutes * 60_000 });
  for (const violation of result.violations) console.log(`FAIL ${violation}`);
  console.log(`fuzz:wire cassandra: ${result.sessions} sessions, ${result.deliveries} deliveries, ${result.violations.length === 0 ? 0 : 1} failing checks (seed ${seed})`);
  return result.violations.length;
};
