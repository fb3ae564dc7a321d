// `npx tsx bench/memcache-filter.ts [FILE.wasm ...]`: the memcache filter's own cost per request,
// without Envoy or sockets (BENCH_REQUESTS per case, default 100,000). Instantiates each build in
// Node's V8 with a minimal stub host (no call recording, unlike server/wasm-host), feeds `get`
// requests and `END` replies in reads of 1, 4 and 16 requests to a filter whose agent queue exists,
// delivers a root tick (which sends the collected access-log entries) every TICK_EVERY_READS reads,
// and prints nanoseconds and host calls per request (request and its reply). Host calls per request
// are exact and machine-independent; nanoseconds move with the machine's load, so compare builds in
// the same run (bench/memcache.ts measures throughput through a real Envoy).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../test/filters/envoy-harness.ts';
import { memcacheConfig, rule } from '../test/filters/parsers/memcache/memcache-rules.ts';

// What the control server ships for `get` and `set` under bench/ (its own command groups).
const RULES = [rule('get', { keyPrefix: 'bench/' }), rule('set', { keyPrefix: 'bench/' })];
const STATUS_OK = 0;
const STATUS_NOT_FOUND = 1;
const LOG_LEVEL_WARN = 3; // as the bench's Envoy runs: Request lines (info) are not printed
const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? 100_000);
// Envoy ticks every 20 ms, i.e. once per ~2,000 requests at 100,000 requests/s; one tick per 64
// reads overstates the queue's share a little.
const TICK_EVERY_READS = 64;

interface FilterExports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  proxy_on_memory_allocate(size: number): number;
  proxy_on_context_create(contextId: number, parentId: number): void;
  proxy_on_configure(rootId: number, size: number): number;
  proxy_on_downstream_data(contextId: number, size: number, endStream: number): number;
  proxy_on_upstream_data(contextId: number, size: number, endStream: number): number;
  proxy_on_tick(rootId: number): void;
}

interface CostResult {
  nsPerRequest: number;
  hostCallsPerRequest: Map<string, number>;
}

// One filter instance behind a stub host that answers like Envoy for one open connection.
class StubHost {
  readonly calls = new Map<string, number>();
  private readonly filter: FilterExports;
  private current: Uint8Array = new Uint8Array(0);
  private readonly properties = new Map<string, Uint8Array>([
    ['source\0address', Buffer.from('127.0.0.1:40000')],
    ['destination\0address', Buffer.from('127.0.0.1:11211')],
    ['connection\0id', Uint8Array.of(7, 0, 0, 0, 0, 0, 0, 0)],
  ]);

  constructor(wasm: Uint8Array) {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(wasm)), { env: this.imports() });
    this.filter = instance.exports as unknown as FilterExports;
    const config = Buffer.from(memcacheConfig(RULES));
    this.filter._initialize();
    this.filter.proxy_on_context_create(1, 0);
    this.current = config;
    if (this.filter.proxy_on_configure(1, config.length) === 0) throw new Error('bench/memcache-filter: the filter refused the bench configuration');
    this.filter.proxy_on_context_create(2, 1);
  }

  request(bytes: Uint8Array): void {
    this.current = bytes;
    this.filter.proxy_on_downstream_data(2, bytes.length, 0);
  }

  reply(bytes: Uint8Array): void {
    this.current = bytes;
    this.filter.proxy_on_upstream_data(2, bytes.length, 0);
  }

  tick(): void {
    this.filter.proxy_on_tick(1);
  }

  private count(name: string): void {
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
  }

  private view(): DataView {
    return new DataView(this.filter.memory.buffer);
  }

  private give(bytes: Uint8Array, pointerSlot: number, lengthSlot: number): void {
    const pointer = this.filter.proxy_on_memory_allocate(bytes.length);
    new Uint8Array(this.filter.memory.buffer).set(bytes, pointer);
    this.view().setUint32(pointerSlot, pointer, true);
    this.view().setUint32(lengthSlot, bytes.length, true);
  }

  private imports(): Record<string, (...args: number[]) => number> {
    return {
      proxy_log: () => (this.count('log'), STATUS_OK),
      proxy_get_log_level: (slot) => (this.count('get_log_level'), this.view().setUint32(slot, LOG_LEVEL_WARN, true), STATUS_OK),
      proxy_get_buffer_bytes: (_type, start, size, pointerSlot, lengthSlot) => {
        this.count('get_buffer_bytes');
        this.give(this.current.subarray(start, start + size), pointerSlot, lengthSlot);
        return STATUS_OK;
      },
      proxy_set_buffer_bytes: (_type, _start, _size, pointer, length) => {
        this.count('set_buffer_bytes');
        this.current = new Uint8Array(this.filter.memory.buffer.slice(pointer, pointer + length));
        return STATUS_OK;
      },
      proxy_get_property: (pathPointer, pathLength, pointerSlot, lengthSlot) => {
        this.count('get_property');
        const key = Buffer.from(this.filter.memory.buffer, pathPointer, pathLength).toString('latin1');
        const value = this.properties.get(key);
        if (value === undefined) return STATUS_NOT_FOUND;
        this.give(value, pointerSlot, lengthSlot);
        return STATUS_OK;
      },
      proxy_get_current_time_nanoseconds: (slot) => (this.count('get_current_time'), this.view().setBigUint64(slot, 1n, true), STATUS_OK),
      proxy_get_shared_data: () => (this.count('get_shared_data'), STATUS_NOT_FOUND),
      proxy_set_shared_data: () => (this.count('set_shared_data'), STATUS_OK),
      proxy_resolve_shared_queue: (_vm, _vmLength, _name, _nameLength, slot) => {
        this.count('resolve_shared_queue');
        this.view().setUint32(slot, 1, true);
        return STATUS_OK;
      },
      proxy_enqueue_shared_queue: () => (this.count('enqueue_shared_queue'), STATUS_OK),
      proxy_set_tick_period_milliseconds: () => STATUS_OK,
      proxy_set_effective_context: () => STATUS_OK,
      proxy_close_stream: () => STATUS_OK,
    };
  }
}

function measure(wasm: Uint8Array, requestsPerRead: number): CostResult {
  const host = new StubHost(wasm);
  let requests = '';
  for (let i = 0; i < requestsPerRead; i++) requests += `get bench/key${i}\r\n`;
  const requestBytes = Buffer.from(requests);
  const replyBytes = Buffer.from('END\r\n'.repeat(requestsPerRead));
  const rounds = Math.max(1, Math.floor(REQUESTS / requestsPerRead));
  for (let i = 0; i < rounds / 5; i++) {
    host.request(requestBytes);
    host.reply(replyBytes);
  }
  host.calls.clear();
  const started = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) {
    host.request(requestBytes);
    host.reply(replyBytes);
    if (i % (TICK_EVERY_READS / 2) === 0) host.tick();
  }
  const elapsedNs = Number(process.hrtime.bigint() - started);
  const total = rounds * requestsPerRead;
  const perRequest = new Map([...host.calls].map(([name, count]) => [name, count / total] as [string, number]));
  return { nsPerRequest: elapsedNs / total, hostCallsPerRequest: perRequest };
}

function main(): void {
  const files = process.argv.slice(2);
  if (files.length === 0) files.push(path.join(repoRoot, 'build', 'filters', 'memcache.wasm'));
  console.log(`memcache filter cost: ${REQUESTS} requests per case, stub host at log level warn`);
  console.log('build                      reqs/read  ns/req  host calls per request');
  for (const file of files) {
    const wasm = readFileSync(file);
    for (const requestsPerRead of [1, 4, 16]) {
      const result = measure(wasm, requestsPerRead);
      const calls = [...result.hostCallsPerRequest].map(([name, count]) => `${name}=${count.toFixed(3)}`).join(' ');
      console.log(`${path.basename(file).padEnd(26)} ${String(requestsPerRead).padStart(9)} ${result.nsPerRequest.toFixed(0).padStart(7)}  ${calls}`);
    }
  }
}

main();
