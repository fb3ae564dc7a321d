// The Kafka filter on the Proxy-Wasm test host. Kafka's own Java serializer writes a request of
// every API key at every version Kafka 4.4 knows: the filter forwards each byte for byte when the
// policy allows it, and answers each with a response Kafka's own Java parser accepts when the
// policy denies it. Topics, mixed allowed and denied topics, Metadata rewriting, topic ids,
// sessionless fetches, acks=0, framing split at every byte and pipelined requests use frames
// built here (kafka-wire.ts); malformed and oversized frames close the connection before any byte
// reaches the broker.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { everySplit, silentUpstream, type Chunking } from '../../../../server/wasm-host/index.ts';
import { installKafka } from '../../../../demo/servers/kafka/install.ts';
import { oracleParseResponses, oracleRequests, type OracleRequest } from '../../../support/kafka-oracle/oracle.ts';
import { accessLog, ensureFiltersBuilt, loadWeirFilter } from '../../host-helpers.ts';
import { fakeBroker, fetch, metadata, produce, readFrames, request, type BrokerTopic } from './kafka-wire.ts';
import { kafkaConfig, type KafkaRuleMap } from './kafka-rules.ts';

const PLANS: BrokerTopic = { name: 'deathstar-plans', id: Buffer.from('0123456789abcdef0123456789abcdef', 'hex') };
const ANNOUNCE: BrokerTopic = { name: 'empire-announce', id: Buffer.from('fedcba9876543210fedcba9876543210', 'hex') };
const HQ: KafkaRuleMap[] = [{ role: 'produce', topic: 'empire-announce' }];

let requests: OracleRequest[] = [];

beforeAll(() => {
  ensureFiltersBuilt('kafka');
  installKafka({ say: () => undefined });
  requests = oracleRequests();
}, 600_000);

function load(rules: readonly KafkaRuleMap[] | undefined, extra: Record<string, unknown> = {}) {
  return loadWeirFilter('kafka', 'kafka', kafkaConfig(rules, extra));
}

function open(rules: readonly KafkaRuleMap[] | undefined, topics: BrokerTopic[] = [PLANS, ANNOUNCE], extra: Record<string, unknown> = {}) {
  const broker = fakeBroker(topics);
  const vm = load(rules, extra);
  const connection = vm.openConnection({ upstream: broker });
  return { vm, broker, connection };
}

describe('every API key and version, serialized by Kafka 4.4', () => {
  it('covers every API key the broker serves', () => {
    expect(requests.length).toBeGreaterThan(250);
    expect(new Set(requests.map((r) => r.apiKey)).size).toBeGreaterThan(80);
  });

  it('forwards each request byte for byte when the policy allows it', () => {
    const vm = load([{}]);
    const notForwarded: string[] = [];
    for (const r of requests) {
      const connection = vm.openConnection({ upstream: silentUpstream() });
      connection.fromClient(r.frame);
      if (!connection.isOpen || !Buffer.from(connection.upstreamBytes).equals(r.frame)) notForwarded.push(`${r.apiKey} v${r.version}`);
    }
    // Refused by design: SaslHandshake v0 (raw SASL frames follow it), and the versions whose layout
    // differs between Kafka 3.9 and 4.4 (the filter cannot know which its broker reads):
    // ConsumerGroupHeartbeat v0, DescribeTopicPartitions v0 and ReadShareGroupStateSummary v0.
    expect(notForwarded).toEqual(['17 v0', '68 v0', '75 v0', '87 v0'].filter((v) => requests.some((r) => `${r.apiKey} v${r.version}` === v)));
  });

  it('answers each denied request with a response the Java client accepts, on its correlation id', () => {
    const vm = load([]);
    const answers: { apiKey: number; version: number; correlationId: number; frame: Buffer }[] = [];
    for (const r of requests) {
      const connection = vm.openConnection({ upstream: fakeBroker([]) });
      connection.fromClient(r.frame);
      const frames = readFrames(connection.clientBytes);
      if (frames.length === 0) continue; // refused versions close (previous test)
      expect(frames).toHaveLength(1);
      answers.push({ apiKey: r.apiKey, version: r.version, correlationId: r.apiKey * 1000 + r.version, frame: frames[0]!.frame });
    }
    expect(answers.length).toBeGreaterThan(250);
    const verdicts = oracleParseResponses(answers);
    expect(verdicts.filter((v) => !v.ok).map((v) => `${v.apiKey} v${v.version}: ${v.detail}`)).toEqual([]);
    // Group APIs say GROUP_AUTHORIZATION_FAILED, cluster APIs CLUSTER_AUTHORIZATION_FAILED.
    expect(verdicts.find((v) => v.apiKey === 11 && v.version === 9)?.detail).toContain('GROUP_AUTHORIZATION_FAILED');
    expect(verdicts.find((v) => v.apiKey === 60 && v.version === 1)?.detail).toContain('CLUSTER_AUTHORIZATION_FAILED');
  });
});

// kafkajs's own response decoders (node_modules/kafkajs/src/protocol/requests/<api>/v<n>/response.js),
// which its Connection runs on the bytes after the correlation id: decode, then parse (which
// throws the protocol error the response carries).
const requireKafkajs = createRequire(import.meta.url);
const kafkajsRequests = path.join(path.dirname(requireKafkajs.resolve('kafkajs')), 'src', 'protocol', 'requests');
type KafkajsResponse = { decode(payload: Buffer): Promise<unknown>; parse(decoded: unknown): Promise<unknown> };

function kafkajsDecoders(): { apiKey: number; version: number; module: KafkajsResponse }[] {
  const apiKeys = requireKafkajs(path.join(kafkajsRequests, 'apiKeys.js')) as Record<string, number>;
  const dirs: Record<number, string> = { 10: 'findCoordinator', 43: 'electPreferredLeaders' };
  for (const [name, key] of Object.entries(apiKeys)) dirs[key] ??= name.charAt(0).toLowerCase() + name.slice(1);
  const found: { apiKey: number; version: number; module: KafkajsResponse }[] = [];
  for (const [key, dir] of Object.entries(dirs)) {
    const folder = path.join(kafkajsRequests, dir);
    if (!fs.existsSync(folder)) continue;
    for (const entry of fs.readdirSync(folder)) {
      const file = path.join(folder, entry, 'response.js');
      if (!/^v\d+$/.test(entry) || !fs.existsSync(file)) continue;
      const module = requireKafkajs(file) as Partial<KafkajsResponse>;
      // deleteRecords' response modules are factories kafkajs calls with the request; skipped.
      if (typeof module.decode === 'function' && typeof module.parse === 'function') found.push({ apiKey: Number(key), version: Number(entry.slice(1)), module: module as KafkajsResponse });
    }
  }
  return found;
}

describe('kafkajs reads every deny response of the versions it speaks', () => {
  it('decodes each, and parse() throws only a Kafka protocol error', async () => {
    const vm = load([]);
    const problems: string[] = [];
    let checked = 0;
    for (const { apiKey, version, module } of kafkajsDecoders()) {
      const r = requests.find((q) => q.apiKey === apiKey && q.version === version);
      if (r === undefined) continue; // a version Kafka 4.4 no longer serves
      const connection = vm.openConnection({ upstream: fakeBroker([]) });
      connection.fromClient(r.frame);
      const [frame] = readFrames(connection.clientBytes);
      if (frame === undefined) continue; // refused versions close
      checked++;
      try {
        const decoded = await module.decode(frame.body);
        await module.parse(decoded).catch((error: { name?: string; type?: string }) => {
          if (error.name !== 'KafkaJSProtocolError') throw error;
        });
      } catch (error) {
        problems.push(`${apiKey} v${version}: ${String(error)}`);
      }
    }
    expect(checked).toBeGreaterThan(80);
    expect(problems).toEqual([]);
  });
});

describe('topics', () => {
  it.each([7, 9] as const)('Produce v%i: forwards allowed topics, denies a request naming a denied one with per-partition errors', async (version) => {
    const { broker, connection, vm } = open(HQ);
    connection.fromClient(produce(version, 1, [{ topic: 'empire-announce', partitions: [0] }]));
    connection.fromClient(produce(version, 2, [{ topic: 'empire-announce', partitions: [0, 1] }, { topic: 'deathstar-plans', partitions: [2] }]));
    expect(broker.received.map((r) => [r.apiKey, r.correlationId])).toEqual([
      [0, 1],
      [18, 2], // the probe that carries the deny response back
    ]);
    const frames = readFrames(connection.clientBytes);
    expect(frames.map((f) => f.correlationId)).toEqual([1, 2]);
    const verdicts = oracleParseResponses(frames.map((f) => ({ apiKey: 0, version, correlationId: f.correlationId, frame: f.frame })));
    expect(verdicts.map((v) => [v.ok, v.detail])).toEqual([
      [true, '{NONE=1}'],
      [true, `{TOPIC_AUTHORIZATION_FAILED=1, OPERATION_NOT_ATTEMPTED=2}`],
    ]);
    expect(accessLog(vm).filter((e) => e.type !== 'Response').map((e) => [e.type, e.fields['topic']])).toEqual([
      ['Request', 'empire-announce'],
      ['Denied', 'deathstar-plans'],
    ]);
    if (version === 7) {
      const kafkajs = requireKafkajs(path.join(kafkajsRequests, 'produce', 'v7', 'response.js')) as KafkajsResponse;
      const error = await kafkajs.parse(await kafkajs.decode(frames[1]!.body)).then(() => null, (e: { type?: string }) => e);
      expect(error?.type).toBe('TOPIC_AUTHORIZATION_FAILED');
    }
  });

  it('Produce v13 names topics by id: allowed once a Metadata response named the id, UNKNOWN_TOPIC_ID before', () => {
    const { broker, connection } = open(HQ);
    connection.fromClient(produce(13, 1, [{ topic: ANNOUNCE.id, partitions: [0] }]));
    connection.fromClient(metadata(12, 2, ['empire-announce']));
    connection.fromClient(produce(13, 3, [{ topic: ANNOUNCE.id, partitions: [0] }]));
    connection.fromClient(produce(13, 4, [{ topic: PLANS.id, partitions: [0] }]));
    expect(broker.received.map((r) => [r.apiKey, r.correlationId])).toEqual([
      [18, 1], // probe for the denied Produce 1
      [3, 2],
      [0, 3],
      [18, 4], // probe for the denied Produce 4 (deathstar-plans' id was never named)
    ]);
    const frames = readFrames(connection.clientBytes);
    const verdicts = oracleParseResponses(frames.map((f) => ({ apiKey: f.correlationId === 2 ? 3 : 0, version: f.correlationId === 2 ? 12 : 13, correlationId: f.correlationId, frame: f.frame })));
    expect(verdicts.map((v) => v.detail)).toEqual(['{UNKNOWN_TOPIC_ID=1}', '{NONE=2}', '{NONE=1}', '{UNKNOWN_TOPIC_ID=1}']);
  });

  it('Produce with acks=0 gets no response: allowed ones pass, denied ones are dropped silently', () => {
    const { broker, connection } = open(HQ);
    connection.fromClient(produce(9, 1, [{ topic: 'empire-announce', partitions: [0] }], 0));
    connection.fromClient(produce(9, 2, [{ topic: 'deathstar-plans', partitions: [0] }], 0));
    connection.fromClient(produce(9, 3, [{ topic: 'empire-announce', partitions: [0] }]));
    expect(broker.received.map((r) => r.correlationId)).toEqual([1, 3]);
    expect(readFrames(connection.clientBytes).map((f) => f.correlationId)).toEqual([3]);
    expect(connection.isOpen).toBe(true);
  });

  it('Metadata: denied topics are taken out of the request and added back to the response with TOPIC_AUTHORIZATION_FAILED', () => {
    const { broker, connection } = open([{ role: 'consume', topic: 'empire-announce' }]);
    connection.fromClient(metadata(12, 5, ['deathstar-plans', 'empire-announce']));
    expect(broker.received).toHaveLength(1);
    expect(broker.received[0]!.frame.includes(Buffer.from('deathstar-plans'))).toBe(false);
    const [frame] = readFrames(connection.clientBytes);
    const [verdict] = oracleParseResponses([{ apiKey: 3, version: 12, correlationId: 5, frame: frame!.frame }]);
    // NONE twice: empire-announce and its partition.
    expect(verdict).toEqual({ ok: true, apiKey: 3, version: 12, detail: '{NONE=2, TOPIC_AUTHORIZATION_FAILED=1}' });
    expect(frame!.frame.includes(Buffer.from('deathstar-plans'))).toBe(true);
  });

  it('Metadata for every topic lists only the topics the policy allows', () => {
    const { connection } = open([{ role: 'consume', topic: 'empire-announce' }]);
    connection.fromClient(metadata(1, 6, null));
    const [frame] = readFrames(connection.clientBytes);
    expect(oracleParseResponses([{ apiKey: 3, version: 1, correlationId: 6, frame: frame!.frame }])[0]?.detail).toBe('{NONE=2}'); // the topic and its partition
    expect(frame!.frame.includes(Buffer.from('empire-announce'))).toBe(true);
    expect(frame!.frame.includes(Buffer.from('deathstar-plans'))).toBe(false);
  });

  it('Fetch: every fetch is made sessionless, and a denied topic gets TOPIC_AUTHORIZATION_FAILED per partition', () => {
    const { broker, connection } = open([{ role: 'consume', topic: 'empire-announce' }]);
    connection.fromClient(fetch(11, 1, [{ topic: 'empire-announce', partitions: [0] }], { id: 77, epoch: 3 }));
    const forwarded = broker.received[0]!.frame;
    // session_id and session_epoch follow replica_id, max_wait_ms, min_bytes, max_bytes, isolation_level
    const sessionAt = 4 + 2 + 2 + 4 + 2 + 'weir-test'.length + 4 * 4 + 1;
    expect([forwarded.readInt32BE(sessionAt), forwarded.readInt32BE(sessionAt + 4)]).toEqual([0, -1]);
    const denied = open([{ role: 'consume', topic: 'empire-announce' }]).connection;
    denied.fromClient(fetch(11, 2, [{ topic: 'deathstar-plans', partitions: [0, 1] }]));
    const frames = readFrames(denied.clientBytes);
    expect(frames.map((f) => f.correlationId)).toEqual([2]);
    expect(oracleParseResponses([{ apiKey: 1, version: 11, correlationId: 2, frame: frames[0]!.frame }])[0]?.detail).toBe('{NONE=1, TOPIC_AUTHORIZATION_FAILED=2}'); // NONE: the top-level error (a top-level error would read as a broken fetch session)
  });
});

describe('framing', () => {
  const pipeline = () =>
    Buffer.concat([
      produce(7, 1, [{ topic: 'empire-announce', partitions: [0] }]),
      metadata(12, 2, ['empire-announce', 'deathstar-plans']),
      produce(9, 3, [{ topic: 'deathstar-plans', partitions: [0] }]),
      produce(9, 4, [{ topic: 'empire-announce', partitions: [0, 1] }]),
    ]);

  // The broker's requests without the filter's probes: whether a denial rides on a probe or
  // waits behind an outstanding response depends on when the broker answered.
  const brokerRequests = (received: { apiKey: number; version: number; frame: Buffer }[]) =>
    received.filter((r) => !(r.apiKey === 18 && r.version === 0)).map((r) => r.frame.toString('hex'));

  it('decides the same wherever TCP splits pipelined requests', () => {
    const reference = open(HQ);
    reference.connection.fromClient(pipeline());
    const expectedUpstream = brokerRequests(reference.broker.received);
    const expectedClient = Buffer.from(reference.connection.clientBytes).toString('hex');
    expect(readFrames(reference.connection.clientBytes).map((f) => f.correlationId)).toEqual([1, 2, 3, 4]);
    for (const chunking of everySplit(pipeline())) {
      const { broker, connection } = open(HQ);
      connection.fromClient(pipeline(), { chunking: chunking as Chunking });
      expect(brokerRequests(broker.received)).toEqual(expectedUpstream);
      expect(Buffer.from(connection.clientBytes).toString('hex')).toBe(expectedClient);
    }
  });

  it('reads responses split at every byte', () => {
    const requestBytes = Buffer.concat([produce(7, 1, [{ topic: 'empire-announce', partitions: [0] }]), metadata(1, 2, ['empire-announce'])]);
    const reference = open(HQ);
    reference.connection.fromClient(requestBytes);
    const expected = Buffer.from(reference.connection.clientBytes);
    for (const chunking of everySplit(expected).filter((_, i) => i % 2 === 0)) {
      const vm = load(HQ);
      const connection = vm.openConnection({ upstream: fakeBroker([PLANS, ANNOUNCE]), upstreamChunking: chunking as Chunking });
      connection.fromClient(requestBytes);
      expect(Buffer.from(connection.clientBytes).equals(expected)).toBe(true);
    }
  });

  const ok = request({ apiKey: 18, version: 0, correlationId: 9, flexible: false }, () => undefined);
  it.each([
    ['a negative size', Buffer.from('ffffffff00120000', 'hex')],
    ['a size below the request header', Buffer.from('0000000400120000', 'hex')],
    ['a size above maxBufferBytes', Buffer.concat([Buffer.from('00100001', 'hex'), ok.subarray(4)])],
    ['an unknown API key', request({ apiKey: 999, version: 0, correlationId: 1, flexible: false }, () => undefined)],
    ['an unknown version', request({ apiKey: 0, version: 99, correlationId: 1, flexible: true }, () => undefined)],
    ['a string longer than the frame', request({ apiKey: 3, version: 1, correlationId: 1, flexible: false }, (w) => w.i32(1).i16(200).raw(Buffer.from('short')))],
    ['an array count above the bytes left', request({ apiKey: 3, version: 1, correlationId: 1, flexible: false }, (w) => w.i32(1000))],
    ['bytes after the last field', request({ apiKey: 3, version: 1, correlationId: 1, flexible: false }, (w) => w.i32(0).i8(7))],
    ['a varint longer than 5 bytes', request({ apiKey: 3, version: 9, correlationId: 1, flexible: true }, (w) => w.raw(Buffer.from('8080808080', 'hex')))],
    ['a null non-nullable topic name', request({ apiKey: 3, version: 1, correlationId: 1, flexible: false }, (w) => w.i32(1).i16(-1))],
    ['SaslHandshake v0 (raw SASL frames follow)', request({ apiKey: 17, version: 0, correlationId: 1, flexible: false }, (w) => w.string('PLAIN', false))],
  ])('closes on %s without sending the broker a byte', (_what, bytes) => {
    const { broker, connection, vm } = open([{}], [], { maxBufferBytes: 1048576 });
    connection.fromClient(Buffer.concat([bytes, ok]));
    expect(connection.isOpen).toBe(false);
    expect(broker.received).toEqual([]);
    expect(vm.traps).toEqual([]);
    expect(accessLog(vm).filter((e) => e.type === 'Error')).toHaveLength(1);
  });

  it('streams an allowed Produce request, and one malformed after its record batch never reaches the broker whole', () => {
    const good = produce(9, 1, [{ topic: 'empire-announce', partitions: [0, 1] }]);
    const streamed = open(HQ);
    streamed.connection.fromClient(good, { chunking: { sizes: [40, 30, 30, 30, 30] } });
    expect(streamed.broker.received.map((r) => r.frame.equals(good))).toEqual([true]);
    // The same request with two bytes after its last field.
    const bad = Buffer.concat([good, Buffer.from([0, 0])]);
    bad.writeInt32BE(bad.length - 4, 0);
    const { broker, connection, vm } = open(HQ);
    connection.fromClient(bad, { chunking: { sizes: [40, 30, 30, 30] } });
    vm.advanceTime(100); // the SDK closes from its next tick: this callback forwarded bytes
    expect(connection.isOpen).toBe(false);
    expect(broker.received).toEqual([]);
    expect(connection.upstreamBytes.length).toBeLessThan(bad.length);
    expect(accessLog(vm).find((e) => e.type === 'Error')?.reason).toMatch(/does not parse after its record batch/);
  });

  it('forwards 1 MiB record batches, pipelined, byte for byte while reading only the frames\' first KiBs', () => {
    const batch = Buffer.alloc(1024 * 1024, 0x5a);
    const first = produce(9, 1, [{ topic: 'empire-announce', partitions: [0] }], -1, batch);
    const second = produce(9, 2, [{ topic: 'empire-announce', partitions: [0, 1] }], -1, batch);
    const { broker, connection, vm } = open(HQ, [PLANS, ANNOUNCE], { maxBufferBytes: 4 * 1024 * 1024 });
    connection.fromClient(Buffer.concat([first, second]), { chunking: { sizes: [first.length + 100] } });
    expect(broker.received.map((r) => r.frame.equals(r.correlationId === 1 ? first : second))).toEqual([true, true]);
    // What the filter copied out of Envoy's buffers: each frame's header and prefix, not its batches.
    const copied = connection.callsTo('proxy_on_downstream_data')
      .flatMap((record) => record.hostCalls)
      .filter((call) => call.name === 'proxy_get_buffer_bytes')
      .reduce((sum, call) => sum + Number(call.args[2]), 0);
    expect(copied).toBeLessThan(64 * 1024);
    expect(accessLog(vm).filter((e) => e.type === 'Request').map((e) => e.fields['topic'])).toEqual(['empire-announce', 'empire-announce']);
  });

  it('answers ApiVersions newer than it reads with UNSUPPORTED_VERSION, as the broker does', () => {
    const { broker, connection } = open([{}]);
    connection.fromClient(request({ apiKey: 18, version: 42, correlationId: 3, flexible: true }, () => undefined));
    expect(broker.received.map((r) => [r.apiKey, r.version])).toEqual([[18, 0]]);
    const [frame] = readFrames(connection.clientBytes);
    expect(oracleParseResponses([{ apiKey: 18, version: 0, correlationId: 3, frame: frame!.frame }])[0]?.detail).toBe('{UNSUPPORTED_VERSION=1}');
  });
});
