import { Prng } from '/tmp/prng.ts';
import { generateSession } from './cql-grammar.ts';
import { deployCassandraWire, runWireSession, auditLogSettled } from './wire-fuzz.ts';
import { describeViolations } from '../../support/cassandra-oracle.ts';
const deployment = await deployCassandraWire();
try {
  const sessions = Number(process.argv[2] ?? 100);
  const started = Date.now();
  for (let i = 0; i < sessions; i++) {
    const prng = new Prng(1000 + i);
    const client = prng.pick(deployment.clients);
    const session = generateSession(prng);
    await runWireSession(deployment, client, session, prng);
    if (i % 50 === 0) console.log(`session ${i} ${Date.now() - started} ms`);
  }
  await auditLogSettled(deployment);
  const v = deployment.violations();
  console.log('violations', v.length);
  console.log(describeViolations(v).slice(0, 5000));
} finally {
  await deployment.stop();
}
