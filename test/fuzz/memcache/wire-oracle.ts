// The differential oracle for memcached: fuzz sessions (grammar and mutated recordings) through
// real Envoy + Weir's memcache filter + real memcached, one connection at a time, each from its
// client's own address, and for each session:
//   - everything memcached executed on that connection (its watch stream: item_get/item_store
//     with the connection's cfd) is explained by a request Weir logged as allowed for that
//     connection, on the same key and of a kind that can cause it, within a per-request budget;
//   - every request Weir logged as allowed is one the control server's policy allows that client;
//   - flush_all, which watch does not show, ran no more often than Weir allowed one (stats
//     cmd_flush);
//   - so nothing Weir denied (or never saw as a request) executed.
// Sessions run one at a time so that memcached's cfd, Envoy's upstream connection and Weir's
// records of the client's source address belong to one session. A session whose watch stream
// lost entries is counted as inconclusive, not passed.
import net from 'node:net';
import type { AccessLogRecord } from '../../../server/accesslog/access-log-record.ts';
import { escapedText, hexDump } from '../framework/failure.ts';
import { mutate } from '../framework/mutate.ts';
import { Prng, caseSeed } from '../framework/prng.ts';
import type { FuzzClient } from '../framework/reference-policy.ts';
import { MEMCACHE_CLIENTS, MEMCACHE_FLEET_POLICY, memcacheFuzz } from './memcache-fuzz.ts';
import { watchMemcached, type MemcachedWatch, type WatchEvent } from './memcached-watch.ts';
import { deployMemcacheWire, wireAddress, WIRE_ADDRESSES, type WireDeployment } from './wire-deployment.ts';

export interface WireStats {
  sessions: number;
  /** memcached events checked (item_get/item_store). */
  events: number;
  allowedRequests: number;
  deniedRequests: number;
  inconclusive: number;
  violations: string[];
}

export interface WireRunOptions {
  seed: number;
  sessions?: number;
  milliseconds?: number;
  onProgress?: (stats: WireStats, elapsedMs: number) => void;
  stopAtFirstFailure?: boolean;
}

const SESSION_TIMEOUT_MS = 5_000;
const CLIENTS: readonly FuzzClient[] = Object.values(MEMCACHE_CLIENTS);
// The kinds of allowed request that can make memcached store a key (do_store_item).
const STORING = new Set(['set', 'add', 'replace', 'append', 'prepend', 'cas', 'ms', 'ma', 'incr', 'decr', 'setq', 'addq', 'replaceq', 'appendq', 'prependq', 'incrq', 'decrq']);

export async function runMemcacheWireFuzz(options: WireRunOptions): Promise<WireStats> {
  const deployment = await deployMemcacheWire();
  // the stats connection opens before the watcher, so that every conn_new it sees is Envoy's
  const counters = await memcachedCounters(deployment.memcached.port);
  const watch = await watchMemcached(deployment.memcached.port);
  const stats: WireStats = { sessions: 0, events: 0, allowedRequests: 0, deniedRequests: 0, inconclusive: 0, violations: [] };
  const started = performance.now();
  upstreamConnections = 0;
  try {
    for (let index = 0; index < (options.sessions ?? Infinity) && performance.now() - started < (options.milliseconds ?? Infinity); index++) {
      const seed = caseSeed(options.seed, index);
      const problems = await runSession(deployment, watch, counters, seed, stats);
      if (problems.length > 0) {
        stats.violations.push(...problems.map((problem) => `session ${index} (seed ${seed}): ${problem}`));
        if (options.stopAtFirstFailure === true || stats.violations.length > 50) break;
      }
      if (options.onProgress !== undefined && stats.sessions % 200 === 0) options.onProgress(stats, performance.now() - started);
    }
  } finally {
    watch.close();
    counters.close();
    await deployment.stop();
  }
  return stats;
}

async function runSession(deployment: WireDeployment, watch: MemcachedWatch, counters: Counters, seed: number, stats: WireStats): Promise<string[]> {
  const prng = new Prng(seed);
  const client = prng.pick(CLIENTS);
  const bytes = sessionBytes(prng);
  const before = await counters.read();
  const sent = await sendThroughEnvoy(deployment.proxyPort, wireAddress(client), bytes, prng);
  const cfd = await connectionCfd(watch, sent.upstreamOrdinal);
  if (cfd === undefined) {
    stats.inconclusive++;
    return [];
  }
  await watch.waitFor((event) => event.type === 'conn_close' && event.cfd === cfd && isAfter(watch, event, sent.upstreamOrdinal), SESSION_TIMEOUT_MS);
  await sentinel(deployment, watch);
  const after = await counters.read();
  stats.sessions++;
  if (after.lost > before.lost || watch.skipped > 0) {
    stats.inconclusive++;
    watch.skipped = 0;
    return [];
  }
  const events = eventsOf(watch, cfd, sent.upstreamOrdinal);
  const records = deployment.records.filter((record) => record.source.address === `${wireAddress(client)}:${sent.localPort}`);
  const problems = checkSession(client, events, records.map((record) => readRecord(record, bytes[0] === 0x80)), after.flushes - before.flushes);
  stats.events += events.length;
  stats.allowedRequests += records.filter((record) => record.type === 'Request').length;
  stats.deniedRequests += records.filter((record) => record.type === 'Denied').length;
  return problems.map((problem) => `${problem}\n    client ${client.app}, bytes: ${escapedText(bytes, 600)}\n    hex: ${hexDump(bytes, 600)}`);
}

function sessionBytes(prng: Prng): Uint8Array {
  const recordings = memcacheFuzz.recordings();
  if (prng.chance(0.6)) return memcacheFuzz.generate(prng);
  return mutate(prng.pick(recordings), prng, { dictionary: memcacheFuzz.dictionary, corpus: recordings, maxLength: 16 * 1024 }, 3);
}

/** A Weir access-log record as the oracle reads it. */
export interface LoggedRequest {
  type: AccessLogRecord['type'];
  command: string;
  keys: string[];
  /** What the reference matcher reads: text commands by name, binary ones by opcode. */
  request: { command?: string; opcode?: number; keys: string[] } | undefined;
}

// Text records log a multi-key get's keys as the line has them (split on spaces); a binary key is
// one key, spaces included, and its command is the opcode's name (`opcode` when it has none).
function readRecord(record: AccessLogRecord, binary: boolean): LoggedRequest {
  const command = record.fields['command'] ?? '';
  const logged = record.fields['keys'];
  const keys = logged === undefined ? [] : binary ? [logged] : logged.split(' ').filter((key) => key !== '');
  const opcode = binary ? (record.fields['opcode'] !== undefined ? Number(record.fields['opcode']) : OPCODE_BY_NAME.get(command)) : undefined;
  const request = binary ? (opcode === undefined ? undefined : { opcode, keys }) : record.fields['command'] === undefined ? undefined : { command, keys };
  return { type: record.type, command: command || `opcode ${record.fields['opcode'] ?? '?'}`, keys, request };
}

// The filter's binary opcode names (filters/parsers/memcache/commands.ts).
const OPCODE_BY_NAME = new Map<string, number>([
  ...['get', 'set', 'add', 'replace', 'delete', 'incr', 'decr', 'quit', 'flush', 'getq', 'noop', 'version', 'getk', 'getkq', 'append', 'prepend', 'stat', 'setq', 'addq', 'replaceq', 'deleteq', 'incrq', 'decrq', 'quitq', 'flushq', 'appendq', 'prependq', 'verbosity', 'touch', 'gat', 'gatq'].map((name, opcode) => [name, opcode] as [string, number]),
  ['sasl-list-mechs', 0x20], ['sasl-auth', 0x21], ['sasl-step', 0x22], ['gatk', 0x23], ['gatkq', 0x24],
]);

// The checks of one session; see the module comment.
export function checkSession(client: FuzzClient, events: readonly WatchEvent[], records: readonly LoggedRequest[], flushes: number): string[] {
  const problems: string[] = [];
  const allowed = records.filter((record) => record.type === 'Request');
  const budget = allowed.map((record) => ({ command: record.command, keys: record.keys, gets: 3, stores: 1 }));
  for (const record of allowed) {
    if (record.request !== undefined && MEMCACHE_FLEET_POLICY.verdict(client, record.request) !== 'allow') {
      problems.push(`Weir allowed ${describe(record)} for ${client.app}, which the policy denies`);
    }
  }
  for (const event of events) {
    if (event.type !== 'item_get' && event.type !== 'item_store') continue;
    const explaining = budget.find((entry) => entry.keys.includes(event.key) && (event.type === 'item_get' ? entry.gets > 0 : entry.stores > 0 && STORING.has(entry.command)));
    if (explaining === undefined) {
      problems.push(`memcached ran ${event.type} ${event.detail} on key ${JSON.stringify(event.key)}, which no request Weir allowed on this connection explains (Weir logged: ${records.map(describe).join('; ') || 'nothing'})`);
      continue;
    }
    if (event.type === 'item_get') explaining.gets--;
    else explaining.stores--;
  }
  const flushesAllowed = allowed.filter((record) => ['flush_all', 'flush', 'flushq'].includes(record.command)).length;
  if (flushes > flushesAllowed) problems.push(`memcached ran flush_all ${flushes} times, Weir allowed ${flushesAllowed}`);
  return problems;
}

function describe(record: LoggedRequest): string {
  return `${record.type} ${record.command} ${JSON.stringify(record.keys.join(' '))}`;
}

// ---- driving one connection ----

interface Sent {
  localPort: number;
  /** How many Envoy->memcached connections were opened before this one (conn_new order). */
  upstreamOrdinal: number;
}

let upstreamConnections = 0;

async function sendThroughEnvoy(proxyPort: number, from: string, bytes: Uint8Array, prng: Prng): Promise<Sent> {
  const ordinal = upstreamConnections++;
  const socket = net.connect({ host: '127.0.0.1', port: proxyPort, localAddress: from });
  socket.setNoDelay(true);
  socket.on('data', () => undefined);
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => {
    socket.once('connect', resolve);
    socket.once('close', resolve);
  });
  const localPort = socket.localPort ?? 0;
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  let at = 0;
  for (const cut of [...prng.splitPoints(bytes.length, prng.between(0, 4)), bytes.length]) {
    if (socket.destroyed) break;
    socket.write(bytes.subarray(at, cut));
    at = cut;
  }
  if (!socket.destroyed) socket.end();
  const timer = setTimeout(() => socket.destroy(), SESSION_TIMEOUT_MS);
  await closed;
  clearTimeout(timer);
  return { localPort, upstreamOrdinal: ordinal };
}

// The cfd of the `ordinal`-th connection Envoy opened to memcached (the watcher's own connection
// opened before any, so its conn_new is not in the stream).
async function connectionCfd(watch: MemcachedWatch, ordinal: number): Promise<number | undefined> {
  let seen = -1;
  const found = await watch.waitFor((event) => event.type === 'conn_new' && ++seen === ordinal, SESSION_TIMEOUT_MS);
  return found?.cfd;
}

function isAfter(watch: MemcachedWatch, event: WatchEvent, ordinal: number): boolean {
  return watch.events.indexOf(event) > indexOfConnNew(watch, ordinal);
}

function indexOfConnNew(watch: MemcachedWatch, ordinal: number): number {
  let seen = -1;
  return watch.events.findIndex((event) => event.type === 'conn_new' && ++seen === ordinal);
}

// memcached's events for the connection: from its conn_new to its conn_close.
function eventsOf(watch: MemcachedWatch, cfd: number, ordinal: number): WatchEvent[] {
  const start = indexOfConnNew(watch, ordinal);
  const out: WatchEvent[] = [];
  for (let i = start + 1; i < watch.events.length; i++) {
    const event = watch.events[i] as WatchEvent;
    if (event.cfd !== cfd) continue;
    if (event.type === 'conn_close') break;
    out.push(event);
  }
  return out;
}

// A `version` from the sentinel address: once Weir has its Request record, every record of the
// session before it has arrived (one Envoy worker, one queue, one stream, in order); once
// memcached closed its connection, the next conn_new is the next session's.
async function sentinel(deployment: WireDeployment, watch: MemcachedWatch): Promise<void> {
  const before = deployment.records.length;
  const sent = await sendThroughEnvoy(deployment.proxyPort, WIRE_ADDRESSES['oracle-sentinel'] as string, Buffer.from('version\r\n'), new Prng(0));
  const deadline = performance.now() + SESSION_TIMEOUT_MS;
  while (performance.now() < deadline && !deployment.records.slice(before).some((record) => record.source.address.endsWith(`:${sent.localPort}`) && record.type === 'Request')) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const cfd = await connectionCfd(watch, sent.upstreamOrdinal);
  if (cfd !== undefined) await watch.waitFor((event) => event.type === 'conn_close' && event.cfd === cfd && isAfter(watch, event, sent.upstreamOrdinal), SESSION_TIMEOUT_MS);
}

// ---- memcached's own counters ----

interface Counters {
  read(): Promise<{ flushes: number; lost: number }>;
  close(): void;
}

// One direct stats connection: cmd_flush, and the log loss counters (log_worker_dropped,
// log_watcher_skipped).
async function memcachedCounters(port: number): Promise<Counters> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let text = '';
  let answered: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
    if (text.endsWith('END\r\n')) answered?.();
  });
  return {
    async read() {
      text = '';
      await new Promise<void>((resolve) => {
        answered = resolve;
        socket.write('stats\r\n');
      });
      const stat = (name: string): number => Number(new RegExp(`STAT ${name} (\\d+)`).exec(text)?.[1] ?? '0');
      return { flushes: stat('cmd_flush'), lost: stat('log_worker_dropped') + stat('log_watcher_skipped') };
    },
    close: () => socket.destroy(),
  };
}
