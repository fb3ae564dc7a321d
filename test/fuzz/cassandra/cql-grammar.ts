// Grammar-based CQL sessions for the fuzzers: every request opcode (OPTIONS, STARTUP, QUERY,
// PREPARE, EXECUTE, BATCH, REGISTER, AUTH_RESPONSE and non-requests), every query-parameter flag
// combination at every protocol version (v3, v4, v5, and versions Cassandra or Weir refuse), the
// framing switches (v5 segments after STARTUP's answer, STARTUP answered with an error, legacy
// frames where segments are due, large envelopes split over segments, requests before STARTUP's
// answer), STARTUP option names in every case and encoding, keyspace changes in flight (USE
// pipelined with bare names, the keyspace parameter), conditional writes, stream ids (reused,
// negative), and CQL text variants (quoting, case, comments, `$$` strings, whitespace and bytes
// the lexer rejects, several statements, BEGIN BATCH). A session is a list of steps: bytes, and
// whether the client waits for the answer on a stream id before the next step (pipelining when
// not). Every choice comes from the case's random source, so a session replays from its seed.
import { createHash } from 'node:crypto';
import {
  Opcode,
  authResponse,
  batch,
  execute,
  frame,
  int,
  largeSegments,
  options,
  prepare,
  query,
  register,
  segment,
  short,
  startupWith,
  string,
  type BatchEntry,
  type QueryParams,
} from '../../filters/parsers/cassandra/cql-wire.ts';

// What the generator needs of the fuzzers' seeded PRNG (test/fuzz/framework/prng.ts).
export interface CqlRandom {
  below(bound: number): number;
  between(min: number, max: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  weighted<T>(choices: readonly (readonly [number, T])[]): T;
  bytes(length: number): Uint8Array;
}

export interface CqlStep {
  readonly bytes: Buffer;
  /** The client waits for the reply on this stream id before the next step. */
  readonly awaitStream?: number;
  /** The step is a STARTUP: after its answer a v5 connection speaks segments. */
  readonly startup?: boolean;
  readonly label: string;
}

export interface CqlSession {
  readonly version: number;
  readonly steps: readonly CqlStep[];
}

export function sessionBytes(session: CqlSession): Uint8Array {
  return Buffer.concat(session.steps.map((step) => step.bytes));
}

// The session as deliveries: a step the client waits on ends a delivery; steps it pipelines go
// out with the next.
export function sessionDeliveries(session: CqlSession): Uint8Array[] {
  const deliveries: Uint8Array[] = [];
  let pending: Buffer[] = [];
  for (const step of session.steps) {
    pending.push(step.bytes);
    if (step.awaitStream === undefined) continue;
    deliveries.push(Buffer.concat(pending));
    pending = [];
  }
  if (pending.length > 0) deliveries.push(Buffer.concat(pending));
  return deliveries;
}

// The schema the fuzzers' servers carry (the wire fuzzer creates it; names repeat across
// keyspaces so that resolving against the wrong keyspace touches a real table).
export const FUZZ_KEYSPACES = ['attendance', 'deathstar'] as const;
export const FUZZ_TABLES = ['daily_records', 'scrum_notes'] as const;
export const FUZZ_TABLE_COLUMNS = '(id int PRIMARY KEY, content text, present boolean)';

const KEYSPACE_NAMES = [...FUZZ_KEYSPACES, 'system', 'system_schema', 'nosuch'];
const TABLE_NAMES = [...FUZZ_TABLES, 'local', 'peers', 'keyspaces', 'nosuch'];

class SessionBuilder {
  readonly steps: CqlStep[] = [];
  private nextStream = 1;
  segmented = false;
  prepared: Buffer[] = [];

  constructor(
    readonly random: CqlRandom,
    readonly version: number,
  ) {}

  stream(): number {
    const random = this.random;
    if (random.chance(0.01)) return random.pick([-1, -128, 0x7fff, this.nextStream - 1]);
    this.nextStream = (this.nextStream + 1) & 0x7fff;
    return this.nextStream;
  }

  // Adds envelopes as one step, framed as the connection expects now (or, rarely, not).
  add(envelopes: Buffer[], label: string, awaitStream?: number): void {
    const random = this.random;
    let bytes: Buffer;
    if (!this.segmented || random.chance(0.02)) bytes = Buffer.concat(envelopes);
    else if (random.chance(0.1)) bytes = Buffer.concat(envelopes.map((envelope) => largeSegments(envelope, random.between(9, Math.max(9, envelope.length)))));
    else if (random.chance(0.3)) bytes = Buffer.concat(envelopes.map((envelope) => segment(envelope)));
    else bytes = segment(Buffer.concat(envelopes));
    this.steps.push({ bytes, label, ...(awaitStream === undefined ? {} : { awaitStream }) });
  }
}

export function generateSession(random: CqlRandom): CqlSession {
  const version = random.weighted<number>([
    [30, 4],
    [30, 5],
    [15, 3],
    [2, 2],
    [1, 1],
    [3, 6],
    [1, 0x42],
    [1, 7],
  ]);
  const session = new SessionBuilder(random, version);
  if (random.chance(0.3)) {
    const stream = session.stream();
    session.steps.push({ bytes: random.chance(0.9) ? options(version, stream) : frame(version, stream, Opcode.Options, Buffer.from(random.bytes(random.between(1, 12)))), label: 'OPTIONS', awaitStream: stream });
  }
  const startupStream = random.chance(0.97) ? 0 : session.stream();
  const startup = startupWith(version, startupStream, startupOptions(random), { flags: startupFlags(random, version) });
  const waits = random.chance(0.9);
  session.steps.push({ bytes: startup, label: 'STARTUP', startup: true, ...(waits ? { awaitStream: startupStream } : {}) });
  if (version >= 5) session.segmented = true;
  const requests = random.between(1, 20);
  for (let i = 0; i < requests; i++) addRequest(session);
  return { version, steps: session.steps };
}

function startupOptions(random: CqlRandom): Record<string, string> {
  const entries: Record<string, string> = {};
  if (random.chance(0.95)) entries[random.chance(0.9) ? 'CQL_VERSION' : random.pick(['cql_version', 'Cql_Version'])] = random.pick(['3.0.0', '3.4.7', '4.0.0', '2.0.0', 'x']);
  if (random.chance(0.5)) entries.DRIVER_NAME = random.pick(['DataStax Node.js Driver', 'DataStax Python Driver', 'weir-fuzz', 'caf\u00e9', '\u0005\u0000\u0000\u0000\u0007']);
  if (random.chance(0.1)) entries[random.pick(['COMPRESSION', 'compression', 'Compression', 'compre\u00dfion', 'COMPRESSION ', '\u017fnappy'])] = random.pick(['lz4', 'snappy', 'LZ4', '']);
  if (random.chance(0.05)) entries.THROW_ON_OVERLOAD = random.pick(['1', '0']);
  if (random.chance(0.03)) entries['x'.repeat(random.between(200, 300))] = 'long';
  return entries;
}

function startupFlags(random: CqlRandom, version: number): number {
  if (version === 6 && random.chance(0.8)) return 0x10;
  return random.weighted<number>([
    [90, 0],
    [3, 0x02],
    [2, 0x04],
    [2, 0x10],
    [1, 0x01],
    [1, 0x08],
  ]);
}

function addRequest(session: SessionBuilder): void {
  const random = session.random;
  const kind = random.weighted<string>([
    [30, 'query'],
    [10, 'use-pipelined'],
    [10, 'prepare-execute'],
    [8, 'batch'],
    [4, 'options'],
    [3, 'register'],
    [2, 'auth'],
    // each of these ends the connection at the filter: rare, so that sessions go deep
    [1, 'other-opcode'],
    [1, 'wrong-version'],
    [1, 'startup-again'],
  ]);
  const version = session.version;
  const stream = session.stream();
  const waits = random.chance(0.6);
  const awaitStream = waits ? stream : undefined;
  switch (kind) {
    case 'query':
      session.add([query(version, stream, statementText(random), queryParameters(random, version))], 'QUERY', awaitStream);
      return;
    case 'use-pipelined': {
      const use = query(version, stream, `USE ${keyspaceName(random)}`, random.chance(0.2) ? queryParameters(random, version) : {});
      const second = session.stream();
      const bare = query(version, second, bareStatement(random), random.chance(0.2) ? { keyspace: random.pick(KEYSPACE_NAMES) } : {});
      const order = random.chance(0.7) ? [use, bare] : [bare, use];
      session.add(order, 'USE + bare name', random.chance(0.5) ? second : undefined);
      return;
    }
    case 'prepare-execute': {
      const text = statementText(random);
      const keyspace = version >= 5 && random.chance(0.2) ? random.pick(KEYSPACE_NAMES) : undefined;
      session.add([prepare(version, stream, text, keyspace)], 'PREPARE', stream);
      const id = random.chance(0.8) ? preparedIdOf(text, keyspace) : Buffer.from(random.bytes(16));
      session.prepared.push(id);
      session.add([execute(version, session.stream(), id, [], queryParameters(random, version))], 'EXECUTE', awaitStream);
      return;
    }
    case 'batch': {
      const entries: BatchEntry[] = [];
      for (let i = random.between(0, 4); i > 0; i--) {
        if (session.prepared.length > 0 && random.chance(0.3)) entries.push({ id: random.pick(session.prepared) });
        else entries.push({ query: random.chance(0.85) ? modificationText(random) : statementText(random) });
      }
      session.add([batch(version, stream, entries, queryParameters(random, version, { batch: true }), random.chance(0.95) ? random.below(3) : random.between(3, 255))], 'BATCH', awaitStream);
      return;
    }
    case 'options':
      session.add([options(version, stream)], 'OPTIONS', awaitStream);
      return;
    case 'register':
      session.add([register(version, stream)], 'REGISTER', awaitStream);
      return;
    case 'auth':
      session.add([authResponse(version, stream)], 'AUTH_RESPONSE', awaitStream);
      return;
    case 'other-opcode':
      session.add([frame(version, stream, random.pick([Opcode.Ready, Opcode.Result, 0x04, 0x0e, 0x10, 0x11, 0x7f]), Buffer.from(random.bytes(random.below(16))))], 'other opcode', awaitStream);
      return;
    case 'wrong-version':
      session.add([query(random.pick([3, 4, 5, 6, 2]), stream, statementText(random))], 'QUERY in another version', awaitStream);
      return;
    default:
      session.add([startupWith(version, stream, startupOptions(random))], 'STARTUP again', awaitStream);
  }
}

// Query parameters with a random subset of every flag Cassandra reads (and unknown bits).
function queryParameters(random: CqlRandom, version: number, settings: { batch?: boolean } = {}): QueryParams {
  const params: QueryParams = {};
  const set = <K extends keyof QueryParams>(key: K, value: QueryParams[K]): void => {
    params[key] = value;
  };
  if (!settings.batch && random.chance(0.3)) set('values', Array.from({ length: random.below(3) }, () => Buffer.from(random.bytes(random.below(5)))));
  if (random.chance(0.05)) set('names', ['a', 'b']);
  if (random.chance(0.1)) set('skipMetadata', true);
  if (random.chance(0.2)) set('pageSize', random.pick([0, 1, 100, 5000, -1, 0x7fffffff]));
  if (random.chance(0.1)) set('pagingState', Buffer.from(random.bytes(random.below(12))));
  if (random.chance(0.1)) set('serialConsistency', random.pick([8, 9, 0xffff]));
  if (random.chance(0.1)) set('timestamp', random.pick([1n, 1700000000000000n, -9223372036854775808n]));
  if (random.chance(0.25)) set('keyspace', random.chance(0.9) ? random.pick(KEYSPACE_NAMES) : random.pick(['', 'deathstar.x', 'Deathstar', 'death star']));
  if (version >= 5 && random.chance(0.05)) set('nowInSeconds', random.between(0, 0x7fffffff));
  if (random.chance(0.05)) set('extraFlags', random.pick([0x200, 0x400, 0x8000, 0x40000000]));
  if (random.chance(0.05)) set('consistency', random.pick([0, 1, 0x000a, 0xffff]));
  return params;
}

function keyspaceName(random: CqlRandom): string {
  return renderName(random, random.pick(KEYSPACE_NAMES));
}

// A name as CQL text: unquoted in any case, quoted exactly, or quoted with a different case.
function renderName(random: CqlRandom, name: string): string {
  return random.weighted<string>([
    [6, name],
    [2, randomCase(random, name)],
    [2, `"${name}"`],
    [1, `"${randomCase(random, name)}"`],
    [1, random.pick([`"${name}.x"`, `"${name}"""`, '""', `${name}\u00e9`])],
  ]);
}

function randomCase(random: CqlRandom, text: string): string {
  return [...text].map((char) => (random.chance(0.5) ? char.toUpperCase() : char)).join('');
}

function tableReference(random: CqlRandom, bare: boolean): string {
  const table = renderName(random, random.pick(TABLE_NAMES));
  if (bare) return table;
  const dot = random.weighted<string>([
    [10, '.'],
    [1, ' . '],
    [1, '.\t'],
  ]);
  return `${keyspaceName(random)}${dot}${table}`;
}

function bareStatement(random: CqlRandom): string {
  return random.pick([`SELECT * FROM ${tableReference(random, true)}`, `INSERT INTO ${tableReference(random, true)} (id, content) VALUES (1, 'x')`, `DELETE FROM ${tableReference(random, true)} WHERE id = 1`]);
}

function modificationText(random: CqlRandom): string {
  const table = tableReference(random, random.chance(0.3));
  const condition = random.chance(0.25);
  return random.pick([
    `INSERT INTO ${table} (id, content) VALUES (${random.below(9)}, 'fuzz')${condition ? ' IF NOT EXISTS' : ''}`,
    `UPDATE ${table} SET content = 'fuzz' WHERE id = ${random.below(9)}${condition ? " IF content = 'x'" : ''}`,
    `DELETE FROM ${table} WHERE id = ${random.below(9)}${condition ? ' IF EXISTS' : ''}`,
    `UPDATE ${table} USING TTL 10 SET "content" = $$if$$ WHERE id = 1`,
  ]);
}

// One query text: mostly a statement Cassandra runs, with variants the filter must read as the
// lexer does, and some it must refuse.
function statementText(random: CqlRandom): string {
  const base = random.weighted<() => string>([
    [10, () => `SELECT * FROM ${tableReference(random, random.chance(0.3))}`],
    [3, () => `SELECT content, "from" FROM ${tableReference(random, false)} WHERE id = 1 ALLOW FILTERING`],
    [8, () => modificationText(random)],
    [3, () => `USE ${keyspaceName(random)}`],
    [2, () => `TRUNCATE ${tableReference(random, random.chance(0.3))}`],
    [2, () => `CREATE TABLE IF NOT EXISTS ${tableReference(random, false)} ${FUZZ_TABLE_COLUMNS}`],
    [1, () => `DROP TABLE IF EXISTS ${keyspaceName(random)}.fuzz_${random.below(3)}`],
    [1, () => `ALTER TABLE ${tableReference(random, false)} WITH comment = 'fuzz'`],
    [2, () => `BEGIN ${random.pick(['', 'UNLOGGED ', 'LOGGED '])}BATCH ${modificationText(random)}; ${modificationText(random)} APPLY BATCH`],
    [1, () => random.pick(['LIST ROLES', 'LIST USERS', 'LIST ALL PERMISSIONS', 'DESCRIBE KEYSPACES', 'LIST SUPERUSERS'])],
    [1, () => `GRANT SELECT ON ${tableReference(random, false)} TO fuzz`],
  ])();
  return random.weighted<(text: string) => string>([
    [30, (text) => text],
    [2, (text) => `${text};`],
    [1, (text) => `${text} -- tail`],
    [1, (text) => `/* c */ ${text}`],
    [1, (text) => `${text}; SELECT * FROM deathstar.scrum_notes`],
    [1, (text) => text.replace(' ', '\f')],
    [1, (text) => text.replace(' ', '\t\n')],
    [1, (text) => `  ${text}\r\n`],
    [1, (text) => text.replace('FROM', 'from')],
    [1, (text) => `${text} AND content = 'it''s -- not a comment'`],
  ])(base);
}

// Cassandra's id for a prepared statement: MD5 of the query, prefixed by the keyspace only for
// statements with bare names (QueryProcessor.prepare, computeId); an approximation is enough here.
function preparedIdOf(text: string, keyspace: string | undefined): Buffer {
  return createHash('md5').update(`${keyspace ?? ''}${text}`).digest();
}

// Words that byte-level mutation splices in: opcodes and versions, lengths at their limits, and
// CQL words that change meaning.
export const CQL_DICTIONARY: readonly Uint8Array[] = [
  ...[0x03, 0x04, 0x05, 0x06, 0x42, 0x83, 0x84, 0x85].map((byte) => Uint8Array.of(byte)),
  ...[Opcode.Startup, Opcode.Options, Opcode.Query, Opcode.Prepare, Opcode.Execute, Opcode.Batch, Opcode.Register, Opcode.AuthResponse].map((byte) => Uint8Array.of(byte)),
  int(0),
  int(-1),
  int(-2),
  int(0x7fffffff),
  short(0xffff),
  short(0x80),
  Uint8Array.of(0x00, 0x00, 0x00, 0x80),
  string('deathstar'),
  string('COMPRESSION'),
  string('compression'),
  ...['USE ', ' IF NOT EXISTS', 'deathstar.', '"deathstar".', ' FROM ', '--', '/*', '$$', "'", '"', ';', '\f', 'BEGIN BATCH ', ' APPLY BATCH'].map((word) => Buffer.from(word)),
];
