// The Kafka demo (`npm run demo -- kafka [--check]`): Cilium's Kafka getting-started guide on a
// real Kafka 4.4 broker behind a real Envoy with Weir. Before any policy an outpost can read and
// even write the Death Star plans; with the guide's `secure-empire-kafka` policy empire-hq may
// only produce to deathstar-plans and empire-announce, outposts may only consume empire-announce,
// and empire-backup may only consume deathstar-plans. Everything else fails with Kafka's own
// TopicAuthorizationException (the console tools, Produce v13 and Fetch v18 by topic id) and
// TOPIC_AUTHORIZATION_FAILED (kafkajs). Last, a policy change reaches a consumer mid-stream: the
// outpost's running kafkajs consumer gets the authorization error on its next fetch.
import fs from 'node:fs';
import path from 'node:path';
import { runMonitor } from '../../server/cli/monitor-command.ts';
import { projectRoot } from '../servers/project-paths.ts';
import { OutcomeLog, heading, importAndWait, indent, say } from '../outcome-log.ts';
import type { RunningR2d2Demo } from '../r2d2/scenario.ts';
import { KAFKA_DEMO, deployKafka, type KafkaDeployment } from './deployment.ts';
import { StreamingConsumer, consoleConsume, consoleProduce, kafkajsProduce, type Member } from './members.ts';
import { Kafka, logLevel } from 'kafkajs';

const ENDPOINTS = path.join(projectRoot, 'demo', 'kafka', 'endpoints.yaml');
const EMPIRE_POLICY = path.join(projectRoot, 'examples', 'policies', 'kafka-empire.yaml');
const HQ: Member = { name: 'empire-hq', sourceAddress: '127.0.0.51' };
const OUTPOST: Member = { name: 'empire-outpost', sourceAddress: '127.0.0.52' };
const BACKUP: Member = { name: 'empire-backup', sourceAddress: '127.0.0.53' };
const TOPICS = ['deathstar-plans', 'empire-announce'];
/** What Kafka's Java clients raise for the filter's TOPIC_AUTHORIZATION_FAILED. */
const NOT_AUTHORIZED = (topic: string): string => `org.apache.kafka.common.errors.TopicAuthorizationException: Not authorized to access topics: [${topic}]`;

export async function runKafkaDemo(): Promise<RunningR2d2Demo> {
  const deployment = await deployKafka({ endpointsFile: ENDPOINTS });
  try {
    await createTopics(deployment);
    say(`created topics    ${TOPICS.join(', ')}, directly on the broker`);
    const log = new OutcomeLog();
    await beforePolicy(deployment, log);
    await secureEmpire(deployment, log);
    await policyChangeMidStream(deployment, log);
    await visibility(deployment, log);
    const hint = `The demo keeps running: Kafka clients reach the broker through Envoy at 127.0.0.1:${deployment.stage.port} as ${OUTPOST.name} (the last member on stage); \`WEIR_SOCKET=${path.relative(projectRoot, deployment.apiSocket)} node bin/weir.js monitor\` shows the verdicts.`;
    return { outcomes: log.outcomes, hint, stop: () => deployment.stop() };
  } catch (error) {
    await deployment.stop();
    throw error;
  }
}

async function createTopics(deployment: KafkaDeployment): Promise<void> {
  const admin = new Kafka({ clientId: 'setup', brokers: [deployment.broker.bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: TOPICS.map((topic) => ({ topic, numPartitions: 1 })), waitForLeaders: true });
  await admin.disconnect();
}

async function beforePolicy(deployment: KafkaDeployment, log: OutcomeLog): Promise<void> {
  heading('Before any policy: any client may read and write every topic');
  const { stage } = deployment;
  await log.step('no policy: empire-hq announces', producePrompt(HQ, 'empire-announce', 'Happy 40th Birthday to General Tagge'), () => consoleProduce(stage, HQ, 'empire-announce', ['Happy 40th Birthday to General Tagge']), '');
  await log.step('no policy: empire-hq stores the plans', producePrompt(HQ, 'deathstar-plans', 'deathstar reactor design v3'), () => consoleProduce(stage, HQ, 'deathstar-plans', ['deathstar reactor design v3']), '');
  await log.step('no policy: an outpost reads the Death Star plans', consumePrompt(OUTPOST, 'deathstar-plans', 1), () => consoleConsume(stage, OUTPOST, 'deathstar-plans', 1), 'deathstar reactor design v3');
}

async function secureEmpire(deployment: KafkaDeployment, log: OutcomeLog): Promise<void> {
  heading('Step 1: the guide\'s secure-empire-kafka policy');
  await importAndWait(deployment, log, [EMPIRE_POLICY], 'secure-empire-kafka');
  const { stage } = deployment;
  say('\nempire-hq with Kafka\'s console producer (Produce v13, topics by id):');
  await log.step('policy: empire-hq announces', producePrompt(HQ, 'empire-announce', 'Enough sabacc, back to work'), () => consoleProduce(stage, HQ, 'empire-announce', ['Enough sabacc, back to work']), '');
  await log.step('policy: empire-hq stores the plans', producePrompt(HQ, 'deathstar-plans', 'exhaust port: 2 meters'), () => consoleProduce(stage, HQ, 'deathstar-plans', ['exhaust port: 2 meters']), '');
  say('\nAn outpost with Kafka\'s console consumer (Fetch v18, topics by id):');
  await log.step('policy: an outpost reads the announcements', consumePrompt(OUTPOST, 'empire-announce', 2), () => consoleConsume(stage, OUTPOST, 'empire-announce', 2), 'Happy 40th Birthday to General Tagge\nEnough sabacc, back to work');
  await log.step('policy: an outpost may not read the Death Star plans', consumePrompt(OUTPOST, 'deathstar-plans', 1), () => consoleConsume(stage, OUTPOST, 'deathstar-plans', 1), NOT_AUTHORIZED('deathstar-plans'));
  await log.step('policy: an outpost may not write the Death Star plans', producePrompt(OUTPOST, 'deathstar-plans', 'build a bigger exhaust port'), () => consoleProduce(stage, OUTPOST, 'deathstar-plans', ['build a bigger exhaust port']), NOT_AUTHORIZED('deathstar-plans'));
  // The console producer is idempotent (Kafka 3.0+): it asks for a producer id first, which the
  // consume role does not allow, and Kafka's client reports that as a cluster authorization error.
  await log.step(
    'policy: an outpost may not announce (its idempotent producer gets no producer id)',
    producePrompt(OUTPOST, 'empire-announce', 'Vader is my favourite'),
    () => consoleProduce(stage, OUTPOST, 'empire-announce', ['Vader is my favourite']),
    'org.apache.kafka.common.errors.ClusterAuthorizationException: Cluster authorization failed.',
  );
  say('\nThe same with kafkajs (Produce v7, Metadata v6):');
  await log.step('policy: kafkajs as an outpost may not write the Death Star plans', kafkajsPrompt(OUTPOST, 'deathstar-plans'), () => kafkajsProduce(stage, OUTPOST, 'deathstar-plans', 'rebel sabotage'), 'TOPIC_AUTHORIZATION_FAILED');
  await log.step('policy: kafkajs as empire-hq announces', kafkajsPrompt(HQ, 'empire-announce'), () => kafkajsProduce(stage, HQ, 'empire-announce', 'The Emperor arrives tomorrow'), 'acknowledged');
  say('\nempire-backup:');
  await log.step('policy: empire-backup reads the Death Star plans', consumePrompt(BACKUP, 'deathstar-plans', 2), () => consoleConsume(stage, BACKUP, 'deathstar-plans', 2), 'deathstar reactor design v3\nexhaust port: 2 meters');
  await log.step('policy: empire-backup may not read the announcements', consumePrompt(BACKUP, 'empire-announce', 1), () => consoleConsume(stage, BACKUP, 'empire-announce', 1), NOT_AUTHORIZED('empire-announce'));
}

// The outposts' rule moved to another topic: the running consumer's next fetch of empire-announce
// is denied (its group heartbeats stay allowed: they name no topic).
async function policyChangeMidStream(deployment: KafkaDeployment, log: OutcomeLog): Promise<void> {
  heading('Step 2: a policy change reaches a consumer that is already reading');
  const { stage } = deployment;
  const consumer = new StreamingConsumer(stage, OUTPOST, 'outpost-stream');
  try {
    say(`${OUTPOST.name} > consumer.run()  // kafkajs, subscribed to empire-announce, keeps fetching`);
    await consumer.start('empire-announce');
    await consumer.until(3, 30_000);
    log.record('mid-stream: the outpost\'s consumer reads the three announcements', '3', String(consumer.values.length));
    const revoked = path.join(KAFKA_DEMO.stateDir, 'kafka-empire.outpost-revoked.yaml');
    const policy = fs.readFileSync(EMPIRE_POLICY, 'utf8');
    fs.writeFileSync(revoked, policy.replace(/(app: empire-outpost\n[\s\S]*?topic: )empire-announce/, '$1empire-archive'));
    say('\nThe outposts lose empire-announce (their rule now names empire-archive):');
    await importAndWait(deployment, log, [revoked, '--name', path.basename(EMPIRE_POLICY)], 'the policy without empire-announce for outposts');
    await consumer.until(Number.MAX_SAFE_INTEGER, 30_000);
    say(`${OUTPOST.name} > consumer crashed: ${consumer.crash ?? '(no error within 30 s)'}`);
    log.record('mid-stream: the running consumer gets TOPIC_AUTHORIZATION_FAILED, not a hang', 'TOPIC_AUTHORIZATION_FAILED', consumer.crash ?? 'no error within 30 s');
  } finally {
    await consumer.stop().catch(() => undefined);
  }
}

/** The guide's `cilium monitor -t l7`: the verdicts the Envoy's parser logged, read from the server. */
async function visibility(deployment: KafkaDeployment, log: OutcomeLog): Promise<void> {
  heading('Visibility: what the proxy decided');
  say('$ weir monitor --type l7 --proto kafka --verdict denied --last 100');
  const lines: string[] = [];
  await runMonitor({ api: { kind: 'socket', socket: deployment.apiSocket }, filter: { protocols: ['kafka'], verdicts: ['denied'] }, last: 100, noFollow: true, writeLine: (line) => lines.push(line) });
  say(indent(lines.join('\n')));
  const denied = (member: string, apiKey: string, topic: string): boolean => lines.some((line) => line.includes(`app=${member}`) && line.includes('verdict Denied') && line.includes(`apiKey:${apiKey}`) && line.includes(topic));
  log.record('monitor: the outpost\'s fetch of deathstar-plans logged Denied', 'true', String(denied('empire-outpost', 'metadata', 'deathstar-plans') || denied('empire-outpost', 'fetch', 'deathstar-plans')));
  log.record('monitor: the outpost\'s produce to deathstar-plans logged Denied', 'true', String(denied('empire-outpost', 'metadata', 'deathstar-plans') || denied('empire-outpost', 'produce', 'deathstar-plans')));
  log.record('monitor: empire-hq was never denied', 'false', String(lines.some((line) => line.includes('app=empire-hq'))));
}

function producePrompt(member: Member, topic: string, value: string): string {
  return `${member.name} $ echo "${value}" | kafka-console-producer.sh --bootstrap-server kafka-service:9092 --topic ${topic}`;
}

function consumePrompt(member: Member, topic: string, max: number): string {
  return `${member.name} $ kafka-console-consumer.sh --bootstrap-server kafka-service:9092 --topic ${topic} --from-beginning --max-messages ${max}`;
}

function kafkajsPrompt(member: Member, topic: string): string {
  return `${member.name} > await producer.send({ topic: '${topic}', messages: [...] })  // kafkajs`;
}
