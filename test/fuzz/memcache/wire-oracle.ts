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
import { memcachedModel } from './memcached-model.ts';
import { watchMemcached, type MemcachedWatch, type WatchEvent } from './memcached-watch.ts';
import { deployMemcacheWire, wireAddress, WIRE_ADDRESSES, type WireDeployment } from './wire-deployment.ts';

export interface WireStats {
  sessions: number;
  /** memcached events checked (item_get/item_store). */
  events: number;
  allowedRequests: number;
  deniedRequests: number;
  inconclusive: number;
  /** Sessions not sent because they would crash memcached 1.6.18 itself (see crashesWatchedMemcached). */
  skipped: number;
  violations: string[];
}

export interface WireRunOptions {
  seed: number;
  /** Replays these session seeds (as printed with a violation) instead of deriving them from `seed`. */
  sessionSeeds?: readonly number[];
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
  const stats: WireStats = { sessions: 0, events: 0, allowedRequests: 0, deniedRequests: 0, inconclusive: 0, skipped: 0, violations: [] };
  const started = performance.now();
  // false while an earlier session may still be running at memcached (see quietAfter)
  const quiet = { now: true };
  try {
    const limit = options.sessionSeeds?.length ?? options.sessions ?? Infinity;
    for (let index = 0; index < limit && performance.now() - started < (options.milliseconds ?? Infinity); index++) {
      const seed = options.sessionSeeds?.[index] ?? caseSeed(options.seed, index);
      const problems = await runSession(deployment, watch, counters, seed, stats, quiet);
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

async function runSession(deployment: WireDeployment, watch: MemcachedWatch, counters: Counters, seed: number, stats: WireStats, quiet: { now: boolean }): Promise<string[]> {
  const prng = new Prng(seed);
  const client = prng.pick(CLIENTS);
  const bytes = sessionBytes(prng);
  if (crashesWatchedMemcached(bytes)) {
    stats.skipped++;
    return [];
  }
  const before = await counters.read();
  const firstEvent = watch.events.length;
  // the OS reuses client ports: only records that arrived during this session can be its own
  const firstRecord = deployment.records.length;
  const sent = await sendThroughEnvoy(deployment.proxyPort, wireAddress(client), bytes, prng);
  const settled = (await connectionsClosed(watch, firstEvent)) && (await sentinel(deployment, watch));
  const after = await counters.read();
  stats.sessions++;
  const wasQuiet = quiet.now;
  if (!settled || after.lost > before.lost || watch.skipped > 0 || !wasQuiet) {
    stats.inconclusive++;
    watch.skipped = 0;
    // Quiet before the next session: a connection of this one still open, or its records still
    // arriving, would be read as the next session's (the false reports of the 22-minute run all
    // followed an inconclusive session). When that cannot be shown (watch entries were lost, so a
    // close may never be seen), the next session is not checked either.
    quiet.now = await quietAfter(deployment, watch, firstEvent);
    return [];
  }
  // sessions run one at a time and the sentinel runs nothing memcached logs, so every item event
  // since the session started is the session's
  const events = watch.events.slice(firstEvent).filter((event) => event.type === 'item_get' || event.type === 'item_store');
  const records = deployment.records.slice(firstRecord).filter((record) => record.source.address === `${wireAddress(client)}:${sent.localPort}`);
  const problems = checkSession(client, events, records.map((record) => readRecord(record, bytes[0] === 0x80)), after.flushes - before.flushes);
  stats.events += events.length;
  stats.allowedRequests += records.filter((record) => record.type === 'Request').length;
  stats.deniedRequests += records.filter((record) => record.type === 'Denied').length;
  return problems.map((problem) => `${problem}\n    client ${client.app}, bytes: ${escapedText(bytes, 600)}\n    hex: ${hexDump(bytes, 600)}`);
}

// memcached 1.6.18 dereferences a NULL item when a binary set/add/replace cannot be allocated
// (value over the 1 MiB item limit, or out of memory) while a `watch mutations` watcher is attached
// (proto_bin.c process_bin_update, ITEM_clsid(it) in LOGGER_LOG; fixed upstream in 32ea7d8b5). The
// oracle is such a watcher, so it does not send those; Weir does not refuse them (it is not a
// framing disagreement, and memcached without a watcher answers E2BIG).
function crashesWatchedMemcached(bytes: Uint8Array): boolean {
  if (bytes[0] !== 0x80) return false;
  return memcachedModel.read(bytes).frames.some((frame) => {
    const opcode = bytes[frame.start + 1] ?? 0;
    if (![0x01, 0x02, 0x03, 0x11, 0x12, 0x13].includes(opcode) || frame.start + 24 > bytes.length) return false;
    const header = Buffer.from(bytes.subarray(frame.start, frame.start + 24));
    return header.readUInt32BE(8) - header.readUInt16BE(2) - header[4]! + 2 > ITEM_SIZE_MAX - 64;
  });
}

const ITEM_SIZE_MAX = 1024 * 1024;

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
  // each key occurrence of an allowed request may cause a few lookups and, for storing commands, one store
  const budget = allowed.flatMap((record) => record.keys.map((key) => ({ key, gets: 3, stores: STORING.has(record.command) ? 1 : 0 })));
  for (const record of allowed) {
    if (record.request !== undefined && MEMCACHE_FLEET_POLICY.verdict(client, record.request) !== 'allow') {
      problems.push(`Weir allowed ${describe(record)} for ${client.app}, which the policy denies`);
    }
  }
  for (const event of events) {
    if (event.type !== 'item_get' && event.type !== 'item_store') continue;
    const explaining = budget.find((entry) => entry.key === event.key && (event.type === 'item_get' ? entry.gets > 0 : entry.stores > 0));
    if (explaining === undefined) {
      problems.push(`memcached ran ${event.type} ${event.detail} on key ${JSON.stringify(event.key)}, which no request Weir allowed on this connection explains (Weir logged: ${records.filter((record) => record.type !== 'Response').map(describe).join('; ').slice(0, 800) || 'nothing'})`);
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

async function sendThroughEnvoy(proxyPort: number, from: string, bytes: Uint8Array, prng: Prng): Promise<{ localPort: number }> {
  const socket = net.connect({ host: '127.0.0.1', port: proxyPort, localAddress: from });
  socket.setNoDelay(true);
  socket.on('data', () => undefined);
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await Promise.race([new Promise<void>((resolve) => socket.once('connect', resolve)), closed]);
  const localPort = socket.localPort ?? 0;
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
  return { localPort };
}

// True once memcached has closed every connection it opened since event `from`, and there was
// one: memcached logs a connection's commands before its conn_close, on the same worker, in order.
async function connectionsClosed(watch: MemcachedWatch, from: number): Promise<boolean> {
  const open = (): number => {
    const cfds = new Set<number>();
    let opened = 0;
    for (const event of watch.events.slice(from)) {
      if (event.type === 'conn_new') {
        cfds.add(event.cfd);
        opened++;
      } else if (event.type === 'conn_close') cfds.delete(event.cfd);
    }
    return opened === 0 ? 1 : cfds.size;
  };
  const deadline = performance.now() + SESSION_TIMEOUT_MS;
  while (open() > 0) {
    if (performance.now() > deadline) return false;
    await watch.waitFor((event) => event.type === 'conn_close' || event.type === 'conn_new', 100, watch.events.length);
  }
  return true;
}

// A `version` from the sentinel address: once Weir has its Request record, every record of the
// session before it has arrived (one Envoy worker, one queue, one stream, in order). False when
// it does not arrive in time.
async function sentinel(deployment: WireDeployment, watch: MemcachedWatch): Promise<boolean> {
  const before = deployment.records.length;
  const firstEvent = watch.events.length;
  const sent = await sendThroughEnvoy(deployment.proxyPort, WIRE_ADDRESSES['oracle-sentinel'] as string, Buffer.from('version\r\n'), new Prng(0));
  const deadline = performance.now() + SESSION_TIMEOUT_MS;
  const logged = (): boolean => deployment.records.slice(before).some((record) => record.source.address.endsWith(`:${sent.localPort}`) && record.type === 'Request');
  while (!logged()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return connectionsClosed(watch, firstEvent);
}

// Every connection opened since `from` closed and a sentinel logged, tried a few times.
async function quietAfter(deployment: WireDeployment, watch: MemcachedWatch, from: number): Promise<boolean> {
  for (let attempt = 0; attempt < 3; attempt++) {
    if ((await connectionsClosed(watch, from)) && (await sentinel(deployment, watch))) return true;
  }
  return false;
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
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`memcached did not answer "stats" on the oracle's direct connection within ${SESSION_TIMEOUT_MS} ms (received ${JSON.stringify(text.slice(-300))}; socket ${socket.destroyed ? 'closed' : 'open'})`)), SESSION_TIMEOUT_MS);
        answered = () => {
          clearTimeout(timer);
          resolve();
        };
        socket.write('stats\r\n');
      });
      const stat = (name: string): number => Number(new RegExp(`STAT ${name} (\\d+)`).exec(text)?.[1] ?? '0');
      return { flushes: stat('cmd_flush'), lost: stat('log_worker_dropped') + stat('log_watcher_skipped') };
    },
    close: () => socket.destroy(),
  };
}
