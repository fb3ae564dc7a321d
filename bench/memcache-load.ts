// The load generator of bench/memcache.ts, run in worker threads: each worker opens connections
// to one target, keeps `depth` text requests in flight per connection (get or set of a 100-byte
// value over 1000 keys) for a fixed time, and reports completed requests and per-request latency
// samples (microseconds). Replies are counted by their terminator line, so framing is cheap.
import net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';

export interface LoadSpec {
  /** Default 127.0.0.1. */
  host?: string;
  port: number;
  operation: 'get' | 'set';
  connections: number;
  depth: number;
  durationMs: number;
}

export interface LoadResult {
  completed: number;
  latenciesUs: number[];
  errors: number;
}

const VALUE = 'v'.repeat(100);
const KEYS = 1000;

function request(operation: 'get' | 'set', index: number): string {
  const key = `bench/key${index % KEYS}`;
  return operation === 'get' ? `get ${key}\r\n` : `set ${key} 0 0 ${VALUE.length}\r\n${VALUE}\r\n`;
}

async function runConnection(spec: LoadSpec, deadline: number, result: LoadResult, offset: number): Promise<void> {
  const socket = net.connect(spec.port, spec.host ?? '127.0.0.1');
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  const terminator = spec.operation === 'get' ? 'END\r\n' : 'STORED\r\n';
  const sentAt: number[] = [];
  let sequence = offset;
  let pending = '';
  let finished: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const send = (): void => {
    sentAt.push(performance.now());
    socket.write(request(spec.operation, sequence++));
  };
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    pending += chunk;
    let at = pending.indexOf(terminator);
    while (at >= 0) {
      pending = pending.slice(at + terminator.length);
      const started = sentAt.shift() ?? performance.now();
      result.completed++;
      if (result.latenciesUs.length < 200_000) result.latenciesUs.push((performance.now() - started) * 1000);
      if (performance.now() < deadline) send();
      else if (sentAt.length === 0) finished();
      at = pending.indexOf(terminator);
    }
    if (pending.includes('ERROR')) {
      result.errors++;
      pending = '';
    }
  });
  socket.on('error', () => {
    result.errors++;
    finished();
  });
  for (let i = 0; i < spec.depth; i++) send();
  await done;
  socket.destroy();
}

async function main(): Promise<void> {
  const spec = workerData as LoadSpec;
  const result: LoadResult = { completed: 0, latenciesUs: [], errors: 0 };
  const deadline = performance.now() + spec.durationMs;
  await Promise.all(Array.from({ length: spec.connections }, (_, index) => runConnection(spec, deadline, result, index * 7919)));
  parentPort?.postMessage(result);
}

if (parentPort !== null) void main();
