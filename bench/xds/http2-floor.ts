// `npx tsx bench/xds/http2-floor.ts`: what Node's HTTP/2 alone costs for bench:xds's messages, the
// floor under Weir's CPU per change. A plain node:http2 server holds N streams, opened by two
// client processes over connections of 100 streams each as bench:xds's generators open them. Per
// change the server collects garbage twice (as bench:xds's server does before each change), then
// writes one DATA frame of a NetworkPolicy response's size on every stream; each client answers
// every frame with one ACK-sized frame on the same stream; the change ends when the server has read
// all N. No gRPC, protobuf, snapshot cache or proxy status: compare its CPU per change with
// bench:xds's `later CPU s` at the same N to see how much of Weir's is Node's stream machinery.
import { fork, type ChildProcess } from 'node:child_process';
import http2 from 'node:http2';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { mainThreadCpuMicros } from './main-thread-cpu.ts';
import { percentile } from './results.ts';

const RESPONSE_BYTES = 4_700;
const ACK_BYTES = 60;
const STREAMS_PER_CONNECTION = 100;
const WINDOW_BYTES = 256 * 1024 * 1024;
const SCRIPT = fileURLToPath(import.meta.url);
const CHILD_EXEC_ARGV = ['--import', 'tsx', '--expose-gc'];

type ServerMessage =
  | { kind: 'listening'; port: number }
  | { kind: 'ready' }
  | { kind: 'changed'; change: number; wallMs: number; cpuSeconds: number; mainThreadSeconds: number };

const { values } = parseArgs({
  options: {
    role: { type: 'string', default: 'orchestrator' },
    nodes: { type: 'string', default: '1000' },
    changes: { type: 'string', default: '12' },
    port: { type: 'string' },
    streams: { type: 'string' },
  },
});

if (values.role === 'server') runServer(Number(values.nodes));
else if (values.role === 'client') runClient(Number(values.port), Number(values.streams));
else await runOrchestrator(values.nodes.split(',').map(Number), Number(values.changes));

async function runOrchestrator(nodeCounts: number[], changes: number): Promise<void> {
  process.stdout.write(`| streams | changes | CPU per change s (median of 2..${changes}) | main thread s | wall ms |\n|--:|--:|--:|--:|--:|\n`);
  for (const nodes of nodeCounts) {
    const children: ChildProcess[] = [];
    try {
      const server = fork(SCRIPT, ['--role', 'server', '--nodes', String(nodes)], { execArgv: CHILD_EXEC_ARGV });
      children.push(server);
      const listening = await nextMessage(server, 'listening');
      const ready = nextMessage(server, 'ready');
      for (let client = 0; client < 2; client += 1) {
        children.push(fork(SCRIPT, ['--role', 'client', '--port', String(listening.port), '--streams', String(nodes / 2)], { execArgv: CHILD_EXEC_ARGV }));
      }
      await ready;
      const results: Array<Extract<ServerMessage, { kind: 'changed' }>> = [];
      for (let change = 1; change <= changes; change += 1) {
        const changed = nextMessage(server, 'changed');
        server.send({ change });
        results.push(await changed);
      }
      const later = results.slice(1);
      process.stdout.write(
        `| ${nodes.toLocaleString('en-US')} | ${changes} | ${median(later.map((r) => r.cpuSeconds)).toFixed(3)} | ${median(later.map((r) => r.mainThreadSeconds)).toFixed(3)} | ${median(later.map((r) => r.wallMs)).toFixed(0)} |\n`,
      );
    } finally {
      for (const child of children) child.kill();
    }
  }
}

function nextMessage<Kind extends ServerMessage['kind']>(server: ChildProcess, kind: Kind): Promise<Extract<ServerMessage, { kind: Kind }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: ServerMessage): void => {
      if (message.kind !== kind) return;
      server.off('message', onMessage);
      server.off('exit', onExit);
      resolve(message as Extract<ServerMessage, { kind: Kind }>);
    };
    const onExit = (code: number | null): void => reject(new Error(`http2-floor: the server exited (code ${code}) before sending '${kind}'`));
    server.on('message', onMessage);
    server.once('exit', onExit);
  });
}

function runServer(nodes: number): void {
  const report = (message: ServerMessage): void => void process.send?.(message);
  const server = http2.createServer({ settings: { initialWindowSize: WINDOW_BYTES } });
  const streams: http2.ServerHttp2Stream[] = [];
  let acks = 0;
  let awaitedAcks = 0;
  let allAcked: () => void = () => {};
  server.on('stream', (stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc+proto' }, { waitForTrailers: true });
    stream.on('data', () => {
      acks += 1;
      if (acks === awaitedAcks) allAcked();
    });
    streams.push(stream);
    if (streams.length === nodes) report({ kind: 'ready' });
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address && typeof address === 'object') report({ kind: 'listening', port: address.port });
  });
  const response = Buffer.alloc(RESPONSE_BYTES, 7);
  process.on('message', (message: { change: number }) => {
    globalThis.gc?.();
    globalThis.gc?.();
    const cpuBefore = process.cpuUsage();
    const mainBefore = mainThreadCpuMicros();
    const started = performance.now();
    awaitedAcks = acks + nodes;
    allAcked = () => {
      const cpu = process.cpuUsage(cpuBefore);
      report({ kind: 'changed', change: message.change, wallMs: performance.now() - started, cpuSeconds: (cpu.user + cpu.system) / 1e6, mainThreadSeconds: (mainThreadCpuMicros() - mainBefore) / 1e6 });
    };
    for (const stream of streams) stream.write(response, noop);
  });
}

function runClient(port: number, streams: number): void {
  const ack = Buffer.alloc(ACK_BYTES, 1);
  for (let opened = 0; opened < streams; opened += STREAMS_PER_CONNECTION) {
    const session = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: WINDOW_BYTES } });
    for (let index = opened; index < Math.min(streams, opened + STREAMS_PER_CONNECTION); index += 1) {
      const request = session.request({ ':method': 'POST', ':path': '/floor', 'content-type': 'application/grpc+proto' });
      request.on('data', () => request.write(ack));
    }
  }
}

function median(values: number[]): number {
  return percentile([...values].sort((left, right) => left - right), 0.5);
}

function noop(): void {}
