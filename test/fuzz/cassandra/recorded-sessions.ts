// Recorded client sessions as the wire fuzzer replays them: a recording (cassandra-driver or
// cqlsh bytes, recordings/*.json) cut into the deliveries the client made, each waiting for the
// answer on its first stream id, as the client did (it waited for STARTUP's answer before
// switching to segments). Mutation then changes one delivery and keeps the rest, so a mutated
// byte reaches the filter in a connection that got that far, not one refused at STARTUP.
import { mutate } from '../framework/mutate.ts';
import type { Prng } from '../framework/prng.ts';
import { crc24 } from '../../filters/parsers/cassandra/cql-wire.ts';
import type { CqlSession, CqlStep } from './cql-grammar.ts';

// Splits a recording into legacy frames until its first STARTUP, then its v5 segments (or legacy
// frames for v3/v4): one step per frame or segment, waiting on the stream id it starts with.
export function recordedSession(recording: Uint8Array): CqlSession {
  const bytes = Buffer.from(recording);
  const steps: CqlStep[] = [];
  let at = 0;
  let segmented = false;
  let version = 4;
  while (at < bytes.length) {
    if (segmented) {
      if (bytes.length - at < 6) break;
      const bits = bytes.readUIntLE(at, 3);
      if (crc24(bits) !== bytes.readUIntLE(at + 3, 3)) break;
      const end = at + 10 + (bits & 0x1ffff);
      const stream = end - at >= 10 + 9 ? bytes.readInt16BE(at + 6 + 2) : undefined;
      steps.push({ bytes: bytes.subarray(at, end), label: 'recorded segment', ...(stream === undefined ? {} : { awaitStream: stream }) });
      at = end;
      continue;
    }
    if (bytes.length - at < 9) break;
    const end = at + 9 + bytes.readUInt32BE(at + 5);
    const opcode = bytes[at + 4];
    steps.push({ bytes: bytes.subarray(at, end), label: `recorded opcode 0x${(opcode ?? 0).toString(16)}`, awaitStream: bytes.readInt16BE(at + 2), ...(opcode === 0x01 ? { startup: true } : {}) });
    if (opcode === 0x01) {
      version = bytes[at]! & 0x7f;
      segmented = version === 5 || version === 6;
    }
    at = end;
  }
  if (at < bytes.length) steps.push({ bytes: bytes.subarray(at), label: 'recorded tail' });
  return { version, steps };
}

// The recording with one delivery mutated (flips, inserts, dictionary words, splices).
export function mutatedRecordedSession(recording: Uint8Array, prng: Prng, dictionary: readonly Uint8Array[], corpus: readonly Uint8Array[]): CqlSession {
  const session = recordedSession(recording);
  if (session.steps.length === 0) return session;
  const index = prng.below(session.steps.length);
  const steps = session.steps.map((step, at) => (at === index ? { ...step, bytes: Buffer.from(mutate(step.bytes, prng, { dictionary, corpus, maxLength: 64 * 1024 })), label: `${step.label}, mutated` } : step));
  return { version: session.version, steps };
}
