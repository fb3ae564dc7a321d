// The Cassandra checks of one host fuzz case (the framework runs them instead of its one-entry-
// per-frame checks, which do not fit CQL: one QUERY logs one entry per statement, OPTIONS none).
// Independently of the filter, on what actually reached the fake Cassandra:
//   1. framed as Cassandra 5.0 frames it (cassandra-model.ts), nothing makes the server stop,
//      discard or read in a framing that depends on timing (no bytes follow a v5 STARTUP in the
//      same delivery);
//   2. every envelope is the client's next envelope, byte for byte, or one of the filter's probes
//      (a bodiless OPTIONS): nothing re-framed, reordered or invented;
//   3. every statement the server would run, read by the reference (cql-reference.ts) with the
//      keyspaces the server could be using (the one before the delivery, or after any USE in the
//      same delivery, as Cassandra runs a connection's requests concurrently), is allowed by the
//      control server's reference verdict for the client; a conditional write needs select too;
//      USE is always allowed (Cilium's rule); a statement the reference cannot read is a failure.
import { createHash } from 'node:crypto';
import type { HostConnection } from '../../../server/wasm-host/index.ts';
import type { HostCaseView } from '../framework/protocol.ts';
import { BodyReader, clientEnvelopes, readAsCassandra, readQueryKeyspace, type ModelEnvelope } from './cassandra-model.ts';
import { readCql, type ReferenceStatement } from './cql-reference.ts';

const enum Opcode {
  Startup = 0x01,
  Options = 0x05,
  Query = 0x07,
  Prepare = 0x09,
  Execute = 0x0a,
  Batch = 0x0d,
}

export function checkCassandraHostCase(testCase: HostCaseView, connection: HostConnection): string[] {
  const violations: string[] = [];
  const upstream = readAsCassandra(connection.upstreamBytes);
  if (upstream.stopped !== undefined) violations.push(`what reached Cassandra makes it stop: ${upstream.stopped}`);
  const chunkOf = chunkIndexer(connection.upstreamChunks);
  checkNoBytesAfterV5Startup(upstream.envelopes, connection, chunkOf, violations);
  const startup = upstream.envelopes.find((envelope) => envelope.opcode === Opcode.Startup);
  const client = clientEnvelopes(testCase.bytes, startup?.bytes);
  const unmatched = firstUnmatched(upstream.envelopes, client);
  if (unmatched !== undefined) violations.push(`Cassandra would run ${describe(unmatched)}, which is not the client's next request nor a probe`);
  checkStatements(testCase, upstream.envelopes, chunkOf, violations);
  return violations;
}

// The first upstream envelope that breaks "the client's envelopes in order, some left out, plus
// probes (bodiless OPTIONS)"; undefined when none does. A probe can look exactly like a later
// client OPTIONS, so both readings are tried.
function firstUnmatched(upstream: readonly ModelEnvelope[], client: readonly Buffer[]): ModelEnvelope | undefined {
  const failed = new Set<string>();
  let deepest = 0;
  const fits = (i: number, j: number): boolean => {
    if (i === upstream.length) return true;
    const key = `${i},${j}`;
    if (failed.has(key)) return false;
    deepest = Math.max(deepest, i);
    const envelope = upstream[i]!;
    if (envelope.opcode === Opcode.Options && envelope.body.length === 0 && fits(i + 1, j)) return true;
    for (let k = j; k < client.length; k++) if (client[k]!.equals(envelope.bytes) && fits(i + 1, k + 1)) return true;
    failed.add(key);
    return false;
  };
  return fits(0, 0) ? undefined : upstream[deepest];
}

function checkNoBytesAfterV5Startup(envelopes: readonly ModelEnvelope[], connection: HostConnection, chunkOf: (offset: number) => number, violations: string[]): void {
  const startup = envelopes.find((envelope) => envelope.opcode === Opcode.Startup);
  if (startup === undefined || startup.version < 5) return;
  const chunk = chunkOf(startup.end - 1);
  const chunkEnd = connection.upstreamChunks.slice(0, chunk + 1).reduce((sum, part) => sum + part.length, 0);
  if (chunkEnd > startup.end) violations.push('bytes after a v5 STARTUP reached Cassandra with it, before its answer: Cassandra may read them in either framing');
}

// Offset in the upstream stream -> index of the delivery (upstream chunk) that carried it.
function chunkIndexer(chunks: readonly Uint8Array[]): (offset: number) => number {
  const ends: number[] = [];
  let total = 0;
  for (const chunk of chunks) ends.push((total += chunk.length));
  return (offset) => {
    const index = ends.findIndex((end) => offset < end);
    return index < 0 ? ends.length : index;
  };
}

interface Prepared {
  readonly readings: readonly (readonly ReferenceStatement[])[];
}

// Walks what reached the server in order, tracking its keyspace and prepared statements as the
// fake Cassandra answers them, and checks every statement that would run.
function checkStatements(testCase: HostCaseView, envelopes: readonly ModelEnvelope[], chunkOf: (offset: number) => number, violations: string[]): void {
  let keyspace: string | undefined;
  let chunkStartKeyspace: string | undefined;
  let currentChunk = -1;
  const prepared = new Map<string, Prepared>();
  const candidatesFor = (index: number): (string | undefined)[] => {
    const chunk = chunkOf(envelopes[index]!.start);
    const candidates = new Set<string | undefined>([chunkStartKeyspace]);
    let running = chunkStartKeyspace;
    for (const other of envelopes) {
      if (chunkOf(other.start) !== chunk) continue;
      const used = useOf(other, running);
      if (used !== undefined) {
        running = used;
        candidates.add(used);
      }
    }
    return [...candidates];
  };
  for (let i = 0; i < envelopes.length && violations.length === 0; i++) {
    const envelope = envelopes[i]!;
    const chunk = chunkOf(envelope.start);
    if (chunk !== currentChunk) {
      currentChunk = chunk;
      chunkStartKeyspace = keyspace;
    }
    const readings = (candidates: (string | undefined)[], text: string, own: string | undefined): (readonly ReferenceStatement[])[] | string =>
      collect(candidates.map((candidate) => readCql(text, own ?? candidate)));
    try {
      const reader = new BodyReader(envelope.body);
      reader.customPayload(envelope.flags);
      if (envelope.opcode === Opcode.Query) {
        const text = reader.longString();
        const own = readQueryKeyspace(reader, envelope.version);
        const result = readings(candidatesFor(i), text, own);
        if (typeof result === 'string') violations.push(`Cassandra would run QUERY ${JSON.stringify(text)}, which the reference cannot read: ${result}`);
        else result.forEach((statements) => judge(testCase, statements, `QUERY ${JSON.stringify(text)}`, violations));
      } else if (envelope.opcode === Opcode.Prepare) {
        const text = reader.longString();
        const own = envelope.version >= 5 && (reader.fixed(4).readUInt32BE(0) & 1) !== 0 ? reader.string() : undefined;
        const result = readings(candidatesFor(i), text, own);
        if (typeof result === 'string') violations.push(`Cassandra would prepare ${JSON.stringify(text)}, which the reference cannot read: ${result}`);
        else prepared.set(createHash('md5').update(text).digest('hex'), { readings: result });
      } else if (envelope.opcode === Opcode.Execute) {
        const entry = prepared.get(reader.shortBytes().toString('hex'));
        entry?.readings.forEach((statements) => judge(testCase, statements, 'EXECUTE', violations));
      } else if (envelope.opcode === Opcode.Batch) {
        checkBatch(testCase, reader, envelope.version, candidatesFor(i), prepared, violations);
      }
    } catch (error) {
      if (!(error instanceof RangeError)) throw error; // a body the server cannot read runs nothing
    }
    const used = useOf(envelope, keyspace);
    if (used !== undefined) keyspace = used;
  }
}

// The readings of one text under several keyspaces; a string when one cannot be told.
function collect(results: ReturnType<typeof readCql>[]): (readonly ReferenceStatement[])[] | string {
  const out: (readonly ReferenceStatement[])[] = [];
  for (const result of results) {
    if (result.kind === 'unknown') return result.why;
    if (result.kind === 'statements') out.push(result.statements);
  }
  return out;
}

function checkBatch(testCase: HostCaseView, reader: BodyReader, version: number, candidates: (string | undefined)[], prepared: Map<string, Prepared>, violations: string[]): void {
  const type = reader.u8();
  const texts: (string | Buffer)[] = [];
  for (let count = reader.u16(); count > 0; count--) {
    const kind = reader.u8();
    if (kind === 0) texts.push(reader.longString());
    else if (kind === 1) texts.push(reader.shortBytes());
    else return;
    for (let values = reader.u16(); values > 0; values--) reader.value(version);
  }
  if (type > 2) return;
  const own = readQueryKeyspace(reader, version);
  for (const candidate of candidates) {
    const statements: ReferenceStatement[] = [];
    for (const text of texts) {
      if (typeof text === 'string') {
        const reading = readCql(text, own ?? candidate);
        if (reading.kind === 'unknown') {
          violations.push(`Cassandra would run a BATCH entry ${JSON.stringify(text)} the reference cannot read: ${reading.why}`);
          return;
        }
        if (reading.kind === 'rejected' || reading.statements.length !== 1 || !['insert', 'update', 'delete'].includes(reading.statements[0]!.action)) return;
        statements.push(reading.statements[0]!);
      } else {
        const entry = prepared.get(text.toString('hex'));
        if (entry === undefined) return;
        for (const reading of entry.readings) {
          if (reading.length !== 1 || !['insert', 'update', 'delete'].includes(reading[0]!.action)) return;
          statements.push(reading[0]!);
        }
      }
    }
    judge(testCase, statements, 'BATCH', violations);
  }
}

function judge(testCase: HostCaseView, statements: readonly ReferenceStatement[], what: string, violations: string[]): void {
  const verdict = (action: string, table: string | undefined): string => testCase.policy.reference.verdict(testCase.client, table === undefined ? { query_action: action } : { query_action: action, query_table: table });
  for (const statement of statements) {
    if (statement.action === 'use') continue;
    if (verdict(statement.action, statement.table) !== 'allow') violations.push(`Cassandra would run ${what}: ${statement.action} ${statement.table ?? ''}, which the policy denies to ${testCase.client.app}`);
    else if (statement.conditional && verdict('select', statement.table) !== 'allow') violations.push(`Cassandra would run ${what}: a conditional ${statement.action} on ${statement.table ?? ''} (it answers with the row) for ${testCase.client.app}, which may not select it`);
  }
}

// The keyspace a USE envelope sets, as the fake Cassandra answers it (undefined for others).
function useOf(envelope: ModelEnvelope, current: string | undefined): string | undefined {
  if (envelope.opcode !== Opcode.Query) return undefined;
  try {
    const reader = new BodyReader(envelope.body);
    reader.customPayload(envelope.flags);
    const reading = readCql(reader.longString(), current);
    if (reading.kind === 'statements' && reading.statements.length === 1 && reading.statements[0]!.action === 'use') return reading.statements[0]!.table;
  } catch {
    return undefined;
  }
  return undefined;
}

function describe(envelope: ModelEnvelope): string {
  return `v${envelope.version} opcode 0x${envelope.opcode.toString(16)} on stream ${envelope.stream} (${envelope.body.length}-byte body)`;
}
