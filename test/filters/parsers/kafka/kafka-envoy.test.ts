// The Kafka filter in real Envoy 1.40 in front of a real Kafka 4.4 broker (KRaft, loopback), with
// kafkajs (older protocol versions: Produce v7, Fetch v11, Metadata v6) and Kafka's own Java
// console producer and consumer (the current versions: Produce v13 and Fetch v18 by topic id).
// Each client identity has its own Envoy listener and its own broker listener, whose advertised
// address is that Envoy, so every connection a client opens goes through its policy: the Cilium
// Kafka guide's empire-hq (produce deathstar-plans and empire-announce) and outpost (consume
// empire-announce).
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runConsoleConsumer, runConsoleProducer } from '../../../../demo/servers/kafka/console-tools.ts';
import { installKafka } from '../../../../demo/servers/kafka/install.ts';
import { startKafka, type RunningKafka } from '../../../../demo/servers/kafka/runner.ts';
import { freeLoopbackPort } from '../../../../demo/servers/loopback-port.ts';
import { filterWasm, startWasmEnvoyListeners, type MultiWasmEnvoy } from '../../envoy-harness.ts';
import { ensureFiltersBuilt } from '../../host-helpers.ts';
import { EMPIRE_HQ_RULES, OUTPOST_RULES, kafkaConfig } from './kafka-rules.ts';

const TOPICS = ['deathstar-plans', 'empire-announce', 'empire-secrets'];
const MAX_BUFFER_BYTES = 8 * 1024 * 1024;

function kafkaClient(port: number, clientId: string): Kafka {
  return new Kafka({ clientId, brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 100 } });
}

// The records a console consumer printed (log4j's error lines start with a bracketed timestamp).
function records(stdout: string): string[] {
  return stdout.split('\n').filter((line) => line !== '' && !line.startsWith('[') && !/Exception|ERROR/.test(line));
}

describe('Kafka filter in Envoy with Kafka 4.4 (Cilium Kafka guide)', () => {
  let broker: RunningKafka;
  let envoy: MultiWasmEnvoy;
  let ports: { hq: number; outpost: number };

  beforeAll(async () => {
    ensureFiltersBuilt('kafka');
    installKafka({ say: () => undefined });
    ports = { hq: await freeLoopbackPort(), outpost: await freeLoopbackPort() };
    broker = await startKafka({ proxiedListeners: [{ name: 'HQ', advertisedPort: ports.hq }, { name: 'OUTPOST', advertisedPort: ports.outpost }] });
    const admin: Admin = kafkaClient(broker.port, 'setup').admin();
    await admin.connect();
    await admin.createTopics({ topics: TOPICS.map((topic) => ({ topic, numPartitions: 1 })), waitForLeaders: true });
    await admin.disconnect();
    const listener = (name: string, listenerPort: number, backendPort: number, rules: typeof EMPIRE_HQ_RULES) => ({
      name,
      listenerPort,
      wasmFile: filterWasm('kafka'),
      rootId: 'kafka',
      vmId: 'weir-kafka',
      configuration: kafkaConfig(rules, { maxBufferBytes: MAX_BUFFER_BYTES }),
      backendPort,
    });
    envoy = await startWasmEnvoyListeners({
      listeners: [listener('hq', ports.hq, broker.listenerPorts['HQ']!, EMPIRE_HQ_RULES), listener('outpost', ports.outpost, broker.listenerPorts['OUTPOST']!, OUTPOST_RULES)],
    });
  }, 300_000);

  afterAll(async () => {
    await envoy?.stop();
    await broker?.stop();
  });

  it('kafkajs: empire-hq produces to deathstar-plans and is refused empire-secrets with TOPIC_AUTHORIZATION_FAILED', async () => {
    const producer = kafkaClient(ports.hq, 'empire-hq').producer();
    await producer.connect();
    try {
      const sent = await producer.send({ topic: 'deathstar-plans', messages: [{ value: 'exhaust port: 2 meters' }] });
      expect(sent[0]?.errorCode).toBe(0);
      const refused = await producer.send({ topic: 'empire-secrets', messages: [{ value: 'nope' }] }).then(
        () => null,
        (error: unknown) => error as { type?: string; cause?: { type?: string } },
      );
      expect(refused?.type ?? refused?.cause?.type).toBe('TOPIC_AUTHORIZATION_FAILED');
    } finally {
      await producer.disconnect();
    }
    const entries = envoy.accessLogEntries();
    expect(entries.some((e) => e.type === 'Request' && e.fields['apiKey'] === 'produce' && e.fields['topic'] === 'deathstar-plans')).toBe(true);
    // kafkajs asks Metadata for the topic first: the filter takes empire-secrets out of that request
    // and answers it with TOPIC_AUTHORIZATION_FAILED, so no Produce for it is ever sent.
    expect(entries.some((e) => e.type === 'Denied' && e.fields['apiKey'] === 'metadata' && e.fields['topic'] === 'empire-secrets')).toBe(true);
  });

  it('Java console producer (Produce v13 by topic id, idempotent): empire-hq produces to empire-announce, and is refused empire-secrets', async () => {
    const hq = `127.0.0.1:${ports.hq}`;
    const allowed = await runConsoleProducer({ bootstrap: hq, topic: 'empire-announce', lines: ['Death Star operational', 'All hail'], properties: { 'client.id': 'empire-hq-java' } });
    expect(allowed.stderr).not.toMatch(/Exception/);
    expect(allowed.code).toBe(0);
    const refused = await runConsoleProducer({ bootstrap: hq, topic: 'empire-secrets', lines: ['nope'], properties: { 'client.id': 'empire-hq-java', 'max.block.ms': '20000' } });
    expect(refused.stdout + refused.stderr).toMatch(/TopicAuthorizationException: Not authorized to access topics: \[empire-secrets\]/);
    const produced = envoy.accessLogEntries().filter((e) => e.fields['clientID'] === 'empire-hq-java' && e.fields['apiKey'] === 'produce');
    expect(produced.length).toBeGreaterThan(0);
    expect(produced.every((e) => e.type === 'Request' && e.fields['topic'] === 'empire-announce')).toBe(true);
    expect(Math.max(...produced.map((e) => Number(e.fields['apiVersion'])))).toBeGreaterThanOrEqual(13);
  }, 120_000);

  it.each([
    ['classic', {}],
    ['consumer (KIP-848)', { 'group.protocol': 'consumer' }],
  ])('Java console consumer, %s group protocol: the outpost reads empire-announce and is refused deathstar-plans', async (_name, protocol) => {
    const outpost = `127.0.0.1:${ports.outpost}`;
    const group = `outpost-${Object.keys(protocol).length}`;
    const read = await runConsoleConsumer({ bootstrap: outpost, topic: 'empire-announce', group, maxMessages: 2, idleTimeoutMs: 30_000, properties: { 'client.id': 'outpost-java', ...protocol } });
    expect(records(read.stdout)).toEqual(['Death Star operational', 'All hail']);
    const refused = await runConsoleConsumer({ bootstrap: outpost, topic: 'deathstar-plans', group, maxMessages: 1, idleTimeoutMs: 20_000, properties: { 'client.id': 'outpost-java', ...protocol } });
    expect(records(refused.stdout)).toEqual([]);
    // Which refusal the consumer meets first is a race (Metadata, or with KIP-848 the group
    // heartbeat naming its subscription): its wording differs, the topic and the exception do not.
    const said = refused.stdout + refused.stderr;
    expect(said).toMatch(/TopicAuthorizationException: (Not authorized to access topics: \[deathstar-plans\]|Topic authorization failed)/);
    expect(said).toMatch(/(Not authorized to access topics: |Topic authorization failed for topics )\[deathstar-plans\]/);
  }, 120_000);

  it('kafkajs: the outpost consumes empire-announce and cannot produce to it', async () => {
    const kafka = kafkaClient(ports.outpost, 'outpost');
    const consumer = kafka.consumer({ groupId: 'outpost-kafkajs' });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: 'empire-announce', fromBeginning: true });
      const values: string[] = [];
      await new Promise<void>((resolve, reject) => {
        consumer.on(consumer.events.CRASH, (event) => reject(new Error(String(event.payload.error))));
        void consumer.run({
          eachMessage: async ({ message }) => {
            values.push(message.value?.toString() ?? '');
            if (values.length >= 2) resolve();
          },
        });
      });
      expect(values.slice(0, 2)).toEqual(['Death Star operational', 'All hail']);
    } finally {
      await consumer.disconnect();
    }
    const producer = kafka.producer();
    await producer.connect();
    const refused = await producer.send({ topic: 'empire-announce', messages: [{ value: 'rebel spam' }] }).then(
      () => null,
      (error: unknown) => error as { type?: string; cause?: { type?: string } },
    );
    await producer.disconnect();
    expect(refused?.type ?? refused?.cause?.type).toBe('TOPIC_AUTHORIZATION_FAILED');
  }, 120_000);
});
