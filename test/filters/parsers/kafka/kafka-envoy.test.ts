// The Kafka filter in real Envoy 1.40 in front of a real Kafka 4.4 broker (KRaft, loopback), with
// kafkajs (older protocol versions: Produce v7, Fetch v11, Metadata v6) and Kafka's own Java
// console producer and consumer (the current versions: Produce v13 and Fetch v18 by topic id).
// Each client identity has its own Envoy listener and its own broker listener, whose advertised
// address is that Envoy, so every connection a client opens goes through its policy: the Cilium
// Kafka guide's empire-hq (produce deathstar-plans and empire-announce) and outpost (consume
// empire-announce).
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
});
