// memcached's own record of what it executes: a direct connection running
// `watch fetchers mutations connevents` (memcached 1.6.18, proto_text.c process_watch_command,
// logger.c). What 1.6.18 emits and what it does not:
//   type=item_get key=<uri-encoded> status=found|not_found|flushed|expired ... cfd=N
//       every do_item_get (items.c): get/gets/gat/bget, mg/me, delete, incr/decr, touch, and the
//       lookups inside storage commands (so a set is an item_get and an item_store);
//   type=item_store key=... status=... cmd=set|add|replace|append|prepend|cas|null cfd=N
//       do_store_item (text and binary storage, ms) and failed allocations;
//   type=conn_new / conn_close ... cfd=N  (connevents).
// Not logged: flush_all, verbosity, stats, slab/lru commands, and in-place incr/decr updates
// (those show only as item_get). Loss: a worker's 64 KiB log buffer full drops entries
// (stats log_worker_dropped); a watcher more than 256 KiB behind is skipped (a `skipped=N` line,
// stats log_watcher_skipped). The oracle treats any loss as an inconclusive session.
import net from 'node:net';

export interface WatchEvent {
  readonly type: 'item_get' | 'item_store' | 'conn_new' | 'conn_close';
  readonly cfd: number;
  /** The key's bytes as latin1 text (uri-decoded). */
  readonly key: string;
  /** item_store's cmd, item_get's status. */
  readonly detail: string;
}

export interface MemcachedWatch {
  readonly events: WatchEvent[];
  /** Total `skipped=N` the watcher reported. */
  skipped: number;
  /** Resolves with the first event from index `from` on that satisfies `match`, once it has arrived (undefined after timeoutMs). */
  waitFor(match: (event: WatchEvent) => boolean, timeoutMs: number, from?: number): Promise<WatchEvent | undefined>;
  close(): void;
}

export async function watchMemcached(port: number): Promise<MemcachedWatch> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const events: WatchEvent[] = [];
  const waiters = new Set<() => void>();
  let pending = '';
  let confirmed = false;
  const state: MemcachedWatch = {
    events,
    skipped: 0,
    async waitFor(match, timeoutMs, from = 0) {
      let seen = from;
      const find = (): WatchEvent | undefined => {
        for (; seen < events.length; seen++) if (match(events[seen] as WatchEvent)) return events[seen];
        return undefined;
      };
      const found = find();
      if (found !== undefined) return found;
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          resolve(undefined);
        }, timeoutMs);
        const check = (): void => {
          const event = find();
          if (event === undefined) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(event);
        };
        waiters.add(check);
      });
    },
    close: () => socket.destroy(),
  };
  const ready = new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      for (let end = pending.indexOf('\n'); end >= 0; end = pending.indexOf('\n')) {
        const line = pending.slice(0, end).replace(/\r$/, '');
        pending = pending.slice(end + 1);
        if (!confirmed) {
          if (line !== 'OK') reject(new Error(`memcached refused "watch fetchers mutations connevents": ${line}`));
          confirmed = true;
          resolve();
          continue;
        }
        const event = parseWatchLine(line);
        if (event === 'skipped') state.skipped += Number(/skipped=(\d+)/.exec(line)?.[1] ?? '1');
        else if (event !== undefined) events.push(event);
      }
      for (const wake of [...waiters]) wake();
    });
    socket.once('error', reject);
  });
  socket.write('watch fetchers mutations connevents\r\n');
  await ready;
  return state;
}

function parseWatchLine(line: string): WatchEvent | 'skipped' | undefined {
  if (line.startsWith('skipped=')) return 'skipped';
  const fields = new Map<string, string>();
  for (const part of line.split(' ')) {
    const equals = part.indexOf('=');
    if (equals > 0) fields.set(part.slice(0, equals), part.slice(equals + 1));
  }
  const type = fields.get('type');
  if (type !== 'item_get' && type !== 'item_store' && type !== 'conn_new' && type !== 'conn_close') return undefined;
  return { type, cfd: Number(fields.get('cfd') ?? '-1'), key: uriDecode(fields.get('key') ?? ''), detail: fields.get(type === 'item_store' ? 'cmd' : 'status') ?? '' };
}

// logger.c uriencode: alphanumerics and -._~ as they are, every other byte as %XX.
function uriDecode(text: string): string {
  return text.replace(/%([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}
