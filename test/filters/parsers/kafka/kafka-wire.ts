// Kafka wire helpers for the filter's host tests: a writer for request and response frames (classic
// and flexible encodings), the few requests the tests build with topics (Produce, Fetch, Metadata),
// reading frames back, and a fake broker that answers the filter's ApiVersions v0 probe, Metadata
// and Produce the way a broker does. Deliberately small: the broker's own serializer, not this
// file, is the oracle for every other API (test/support/kafka-oracle).
import type { FakeUpstream, UpstreamPeer } from '../../../../server/wasm-host/index.ts';

export class WireWriter {
  private parts: Buffer[] = [];

  i8(value: number): this {
    return this.push(Buffer.from([value & 0xff]));
  }

  i16(value: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(value);
    return this.push(b);
  }

  i32(value: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(value);
    return this.push(b);
  }

  i64(value: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(value);
    return this.push(b);
  }

  uvarint(value: number): this {
    const bytes: number[] = [];
    let v = value >>> 0;
    while (v >= 0x80) {
      bytes.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    bytes.push(v);
    return this.push(Buffer.from(bytes));
  }

  uuid(id: Buffer): this {
    return this.push(id);
  }

  // A string (null when `value` is null), compact or classic.
  string(value: string | null, compact: boolean): this {
    if (value === null) return compact ? this.uvarint(0) : this.i16(-1);
    const bytes = Buffer.from(value, 'utf8');
    if (compact) this.uvarint(bytes.length + 1);
    else this.i16(bytes.length);
    return this.push(bytes);
  }

  // An array count (null when `count` is null), compact or classic.
  count(count: number | null, compact: boolean): this {
    if (count === null) return compact ? this.uvarint(0) : this.i32(-1);
    return compact ? this.uvarint(count + 1) : this.i32(count);
  }

  bytes(value: Buffer, compact: boolean): this {
    if (compact) this.uvarint(value.length + 1);
    else this.i32(value.length);
    return this.push(value);
  }

  tags(flexible: boolean): this {
    return flexible ? this.uvarint(0) : this;
  }

  raw(bytes: Buffer): this {
    return this.push(bytes);
  }

  build(): Buffer {
    return Buffer.concat(this.parts);
  }

  private push(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
}

export function sized(body: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

export interface RequestHead {
  apiKey: number;
  version: number;
  correlationId: number;
  clientId?: string | null;
  /** Request header version: 1 classic, 2 flexible. */
  flexible: boolean;
}

export function request(head: RequestHead, body: (w: WireWriter) => void): Buffer {
  const w = new WireWriter().i16(head.apiKey).i16(head.version).i32(head.correlationId).string(head.clientId === undefined ? 'weir-test' : head.clientId, false).tags(head.flexible);
  body(w);
  return sized(w.build());
}

export function response(correlationId: number, flexibleHeader: boolean, body: (w: WireWriter) => void): Buffer {
  const w = new WireWriter().i32(correlationId).tags(flexibleHeader);
  body(w);
  return sized(w.build());
}

export interface TopicPartitions {
  topic: string | Buffer; // a name, or a 16-byte topic id
  partitions: number[];
}

// A record batch stand-in: the filter never parses records, only their length.
const RECORDS = Buffer.from('records are passed, not parsed');

/** Produce v7 (classic), v9 (flexible, names) or v13 (flexible, topic ids), each partition with `records`. */
export function produce(version: 7 | 9 | 13, correlationId: number, topics: TopicPartitions[], acks = -1, records: Buffer = RECORDS): Buffer {
  const flexible = version >= 9;
  return request({ apiKey: 0, version, correlationId, flexible }, (w) => {
    w.string(null, flexible).i16(acks).i32(30_000).count(topics.length, flexible);
    for (const { topic, partitions } of topics) {
      if (typeof topic === 'string') w.string(topic, flexible);
      else w.uuid(topic);
      w.count(partitions.length, flexible);
      for (const p of partitions) w.i32(p).bytes(records, flexible).tags(flexible);
      w.tags(flexible);
    }
    w.tags(flexible);
  });
}

/** Fetch v11 (classic, names) or v13 (flexible, topic ids), with a fetch session, from `offset`, up to `partitionMaxBytes` per partition. */
export function fetch(version: 11 | 13, correlationId: number, topics: TopicPartitions[], session = { id: 0, epoch: -1 }, offset = 0n, partitionMaxBytes = 1048576): Buffer {
  const flexible = version >= 12;
  return request({ apiKey: 1, version, correlationId, flexible }, (w) => {
    w.i32(-1).i32(500).i32(1).i32(52428800).i8(0).i32(session.id).i32(session.epoch).count(topics.length, flexible);
    for (const { topic, partitions } of topics) {
      if (typeof topic === 'string') w.string(topic, flexible);
      else w.uuid(topic);
      w.count(partitions.length, flexible);
      for (const p of partitions) {
        w.i32(p).i32(-1).i64(offset);
        if (version >= 12) w.i32(-1);
        w.i64(-1n).i32(partitionMaxBytes).tags(flexible);
      }
      w.tags(flexible);
    }
    w.count(0, flexible); // forgotten_topics_data
    w.string('', flexible); // rack_id
    w.tags(flexible);
  });
}

/** Metadata v1 (classic) or v12 (flexible; entries by name, or by id when `topic` is a Buffer); null topics: every topic. */
export function metadata(version: 1 | 12, correlationId: number, topics: (string | Buffer)[] | null): Buffer {
  const flexible = version >= 9;
  return request({ apiKey: 3, version, correlationId, flexible }, (w) => {
    w.count(topics === null ? null : topics.length, flexible);
    for (const topic of topics ?? []) {
      if (version >= 10) w.uuid(typeof topic === 'string' ? Buffer.alloc(16) : topic);
      w.string(typeof topic === 'string' ? topic : null, flexible).tags(flexible);
    }
    if (version >= 4) w.i8(0);
    if (version >= 8) w.i8(0);
    w.tags(flexible);
  });
}

export interface BrokerTopic {
  name: string;
  id: Buffer;
}

export interface ReadFrame {
  correlationId: number;
  body: Buffer; // after the correlation id
  frame: Buffer; // with its size
}

/** Splits `bytes` into size-prefixed frames (a trailing partial frame is ignored). */
export function readFrames(bytes: Uint8Array): ReadFrame[] {
  const buffer = Buffer.from(bytes);
  const frames: ReadFrame[] = [];
  for (let at = 0; at + 4 <= buffer.length; ) {
    const size = buffer.readInt32BE(at);
    if (at + 4 + size > buffer.length) break;
    const frame = buffer.subarray(at, at + 4 + size);
    frames.push({ correlationId: frame.readInt32BE(4), body: frame.subarray(8), frame });
    at += 4 + size;
  }
  return frames;
}

export interface ReceivedRequest {
  apiKey: number;
  version: number;
  correlationId: number;
  frame: Buffer;
}

/**
 * A broker for host tests: answers ApiVersions v0 (the filter's probe), Metadata v1/v12 (the
 * topics it knows, with their ids; an unknown topic with UNKNOWN_TOPIC_OR_PARTITION) and Produce
 * v7/v9/v13 (every partition accepted); records every request it received.
 */
export function fakeBroker(topics: BrokerTopic[]): FakeUpstream & { received: ReceivedRequest[] } {
  let pending = Buffer.alloc(0);
  const received: ReceivedRequest[] = [];
  return {
    received,
    onData(bytes: Uint8Array, peer: UpstreamPeer) {
      pending = Buffer.concat([pending, Buffer.from(bytes)]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const frame = pending.subarray(0, 4 + pending.readInt32BE(0));
        pending = pending.subarray(frame.length);
        const req = { apiKey: frame.readInt16BE(4), version: frame.readInt16BE(6), correlationId: frame.readInt32BE(8), frame: Buffer.from(frame) };
        received.push(req);
        const answer = answerFor(req, topics);
        if (answer !== undefined) peer.send(answer);
      }
    },
  };
}

function answerFor(req: ReceivedRequest, topics: BrokerTopic[]): Buffer | undefined {
  if (req.apiKey === 18 && req.version === 0) {
    return response(req.correlationId, false, (w) => w.i16(0).count(1, false).i16(18).i16(0).i16(4));
  }
  if (req.apiKey === 3) return metadataResponse(req, topics);
  if (req.apiKey === 0) return produceResponse(req);
  return undefined;
}

// Reads the topic names/ids a Metadata v1 or v12 request asks for (null: every topic).
function requestedTopics(req: ReceivedRequest): (string | Buffer)[] | null {
  const flexible = req.version >= 9;
  let at = 12;
  const clientIdLength = req.frame.readInt16BE(at);
  at += 2 + Math.max(clientIdLength, 0);
  if (flexible) at += 1;
  const count = flexible ? req.frame[at]! - 1 : req.frame.readInt32BE(at);
  at += flexible ? 1 : 4;
  if (count < 0) return null;
  const result: (string | Buffer)[] = [];
  for (let i = 0; i < count; i++) {
    let id: Buffer | undefined;
    if (req.version >= 10) {
      id = req.frame.subarray(at, at + 16);
      at += 16;
    }
    const length = flexible ? req.frame[at]! - 1 : req.frame.readInt16BE(at);
    at += flexible ? 1 : 2;
    if (length < 0) result.push(Buffer.from(id!));
    else {
      result.push(req.frame.subarray(at, at + length).toString('utf8'));
      at += length;
    }
    if (flexible) at += 1;
  }
  return result;
}

function metadataResponse(req: ReceivedRequest, topics: BrokerTopic[]): Buffer {
  const v = req.version;
  const flexible = v >= 9;
  const wanted = requestedTopics(req);
  const listed = wanted === null ? topics.map((t) => ({ topic: t, asked: t.name as string | Buffer })) : wanted.map((asked) => ({ topic: topics.find((t) => (typeof asked === 'string' ? t.name === asked : t.id.equals(asked))), asked }));
  return response(req.correlationId, flexible, (w) => {
    if (v >= 3) w.i32(0);
    w.count(1, flexible).i32(1).string('127.0.0.1', flexible).i32(9092);
    if (v >= 1) w.string(null, flexible);
    w.tags(flexible);
    if (v >= 2) w.string('weir-test-cluster', flexible);
    if (v >= 1) w.i32(1);
    w.count(listed.length, flexible);
    for (const { topic, asked } of listed) {
      w.i16(topic === undefined ? 3 : 0).string(topic?.name ?? (typeof asked === 'string' ? asked : null), flexible);
      if (v >= 10) w.uuid(topic?.id ?? Buffer.alloc(16));
      if (v >= 1) w.i8(0);
      if (topic === undefined) w.count(0, flexible);
      else {
        w.count(1, flexible).i16(0).i32(0).i32(1);
        if (v >= 7) w.i32(0);
        w.count(1, flexible).i32(1).count(1, flexible).i32(1);
        if (v >= 5) w.count(0, flexible);
        w.tags(flexible);
      }
      if (v >= 8) w.i32(-2147483648);
      w.tags(flexible);
    }
    if (v >= 8 && v <= 10) w.i32(-2147483648);
    if (v >= 13) w.i16(0);
    w.tags(flexible);
  });
}

// Every partition of every topic accepted (Produce v7, v9 or v13), echoing names or ids.
function produceResponse(req: ReceivedRequest): Buffer | undefined {
  const v = req.version;
  const flexible = v >= 9;
  const frame = req.frame;
  let at = 12;
  at += 2 + Math.max(frame.readInt16BE(at), 0);
  if (flexible) at += 1;
  const txnLength = flexible ? frame[at]! - 1 : frame.readInt16BE(at);
  at += (flexible ? 1 : 2) + Math.max(txnLength, 0);
  const acks = frame.readInt16BE(at);
  if (acks === 0) return undefined;
  at += 6;
  const topicCount = flexible ? frame[at]! - 1 : frame.readInt32BE(at);
  at += flexible ? 1 : 4;
  const topics: { key: Buffer; partitions: number[] }[] = [];
  for (let t = 0; t < topicCount; t++) {
    let key: Buffer;
    if (v >= 13) {
      key = frame.subarray(at, at + 16);
      at += 16;
    } else {
      const length = flexible ? frame[at]! - 1 : frame.readInt16BE(at);
      at += flexible ? 1 : 2;
      key = frame.subarray(at, at + length);
      at += length;
    }
    const partitionCount = flexible ? frame[at]! - 1 : frame.readInt32BE(at);
    at += flexible ? 1 : 4;
    const partitions: number[] = [];
    for (let p = 0; p < partitionCount; p++) {
      partitions.push(frame.readInt32BE(at));
      at += 4;
      const length = flexible ? frame[at]! - 1 : frame.readInt32BE(at);
      at += (flexible ? 1 : 4) + length;
      if (flexible) at += 1;
    }
    if (flexible) at += 1;
    topics.push({ key, partitions });
  }
  return response(req.correlationId, flexible, (w) => {
    w.count(topics.length, flexible);
    for (const { key, partitions } of topics) {
      if (v >= 13) w.uuid(key);
      else w.string(key.toString('utf8'), flexible);
      w.count(partitions.length, flexible);
      for (const p of partitions) {
        w.i32(p).i16(0).i64(0n).i64(-1n).i64(0n);
        if (v >= 8) w.count(0, flexible).string(null, flexible);
        w.tags(flexible);
      }
      w.tags(flexible);
    }
    w.i32(0).tags(flexible);
  });
}
