// Kafka produce and fetch throughput (MB/s) and p99 latency, three ways in the same run: through
// Envoy with the Weir kafka filter (release build, rules that allow the traffic, so every request
// is framed, walked and matched), through the same Envoy with only tcp_proxy, and directly to the
// broker. A raw client keeps one request in flight on each of `connections` connections: Produce
// v9 carrying one prebuilt record batch (16 KiB or 1 MiB, acks=1), or Fetch v11 of one partition
// from offset 0 (up to 16 KiB or 1 MiB). Rounds interleave the targets; medians are reported.
// Besides throughput and latency, the CPU time each Envoy spent per GB moved (from /proc): on a
// machine shared with other work, throughput swings with the load, while CPU per byte does not.
// Run: npm run bench:kafka  (BENCH_SECONDS, BENCH_ROUNDS, BENCH_CONNECTIONS, BENCH_ENVOY_THREADS)
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { installKafka } from '../demo/servers/kafka/install.ts';
import { startKafka } from '../demo/servers/kafka/runner.ts';
import { buildFilters } from '../test/filters/envoy-harness.ts';
import { startBenchEnvoy, type BenchEnvoy } from './bench-envoy.ts';
import { fetch, produce } from '../test/filters/parsers/kafka/kafka-wire.ts';
import { kafkaConfig } from '../test/filters/parsers/kafka/kafka-rules.ts';
import { recordBatch } from './kafka-records.ts';

const OPTIONS = {
  durationMs: Number(process.env['BENCH_SECONDS'] ?? 5) * 1000,
  rounds: Number(process.env['BENCH_ROUNDS'] ?? 5),
  warmupMs: 1000,
  connections: Number(process.env['BENCH_CONNECTIONS'] ?? 4),
  envoyConcurrency: Number(process.env['BENCH_ENVOY_THREADS'] ?? 2),
};

interface Workload {
  name: string;
  topic: string;
  request(correlationId: number): Buffer;
}

const SIZES = [
  { label: '16 KiB', topic: 'bench-16k', batch: recordBatch(16, 1024 - 12), fetchBytes: 16 * 1024 },
  { label: '1 MiB', topic: 'bench-1m', batch: recordBatch(64, 16 * 1024 - 14), fetchBytes: 1024 * 1024 },
];

const WORKLOADS: Workload[] = SIZES.flatMap((size) => [
  { name: `produce ${size.label}`, topic: size.topic, request: (id: number) => produce(9, id, [{ topic: size.topic, partitions: [0] }], 1, size.batch) },
  { name: `fetch ${size.label}`, topic: size.topic, request: (id: number) => fetch(11, id, [{ topic: size.topic, partitions: [0] }], { id: 0, epoch: -1 }, 0n, size.fetchBytes) },
]);

const RULES = [
  { role: 'produce', topic: 'bench-16k' },
  { role: 'produce', topic: 'bench-1m' },
  { role: 'consume', topic: 'bench-16k' },
  { role: 'consume', topic: 'bench-1m' },
];

interface Measurement {
  mbPerSecond: number;
  p99Us: number;
  requests: number;
  /** CPU seconds the target's Envoy spent per GB moved (NaN for the broker directly). */
  envoyCpuPerGb: number;
}

async function main(): Promise<void> {
  buildFilters('kafka');
  const installation = installKafka({ say: () => undefined });
  const broker = await startKafka({ maxHeap: '1g' });
  const envoys: BenchEnvoy[] = [];
  try {
    await prefill(broker.port);
    envoys.push(await startBenchEnvoy({ mode: 'weir', parser: 'kafka', configuration: kafkaConfig(RULES, { maxBufferBytes: 8 * 1024 * 1024 }), backendPort: broker.port, concurrency: OPTIONS.envoyConcurrency }), await startBenchEnvoy({ mode: 'tcp_proxy', parser: 'kafka', configuration: kafkaConfig(RULES, { maxBufferBytes: 8 * 1024 * 1024 }), backendPort: broker.port, concurrency: OPTIONS.envoyConcurrency }));
    const [weir, plain] = envoys as [BenchEnvoy, BenchEnvoy];
    console.log(
      `kafka bench: ${OPTIONS.connections} connections, one request in flight each, ${OPTIONS.rounds} rounds of ${OPTIONS.durationMs / 1000}s per target and workload, load average ${os.loadavg()[0]!.toFixed(1)}, Envoy --concurrency ${OPTIONS.envoyConcurrency}, ${os.cpus().length} CPUs, Kafka ${installation.version}`,
    );
    for (const workload of WORKLOADS) {
      const samples: Record<string, Measurement[]> = { direct: [], tcp_proxy: [], weir: [] };
      for (let round = 0; round < OPTIONS.rounds; round++) {
        for (const [target, envoy] of [['direct', undefined], ['tcp_proxy', plain], ['weir', weir]] as const) samples[target]!.push(await measure(envoy?.port ?? broker.port, workload, envoy));
      }
      const results = Object.fromEntries(Object.entries(samples).map(([target, list]) => [target, median(list)])) as Record<'direct' | 'tcp_proxy' | 'weir', Measurement>;
      console.log(`\n${workload.name}`);
      for (const [target, result] of Object.entries(results)) {
        const cpu = Number.isNaN(result.envoyCpuPerGb) ? '' : `   Envoy CPU ${result.envoyCpuPerGb.toFixed(2).padStart(6)} s/GB`;
        console.log(`  ${target.padEnd(10)} ${result.mbPerSecond.toFixed(1).padStart(8)} MB/s   p99 ${result.p99Us.toFixed(0).padStart(7)} us   ${String(result.requests).padStart(6)} requests${cpu}`);
      }
      const { weir: w, tcp_proxy: t, direct: d } = results;
      console.log(`  ratios: weir/tcp_proxy throughput ${(w.mbPerSecond / t.mbPerSecond).toFixed(3)}, p99 ${(w.p99Us / t.p99Us).toFixed(2)}x, Envoy CPU per GB ${(w.envoyCpuPerGb / t.envoyCpuPerGb).toFixed(2)}x; weir/direct throughput ${(w.mbPerSecond / d.mbPerSecond).toFixed(3)}; tcp_proxy/direct throughput ${(t.mbPerSecond / d.mbPerSecond).toFixed(3)}`);
    }
    const problems = weir.output().match(/"type":"(Denied|Error)"/g)?.length ?? 0;
    console.log(`\nweir filter: ${problems} Denied/Error entries (expected 0)`);
  } finally {
    for (const envoy of envoys) await envoy.stop();
    await broker.stop();
  }
}

// Creates the topics and writes a few batches of each size, so fetches from offset 0 return data.
async function prefill(port: number): Promise<void> {
  const { Kafka, logLevel } = await import('kafkajs');
  const admin = new Kafka({ clientId: 'bench-setup', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: SIZES.map((size) => ({ topic: size.topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: String(4 * 1024 * 1024) }] })), waitForLeaders: true });
  await admin.disconnect();
  for (const workload of WORKLOADS.filter((w) => w.name.startsWith('produce'))) {
    const connection = await KafkaConnection.open(port);
    for (let i = 0; i < 4; i++) await connection.roundTrip(workload.request(i));
    connection.close();
  }
}

function median(list: Measurement[]): Measurement {
  const pick = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  return { mbPerSecond: pick(list.map((m) => m.mbPerSecond)), p99Us: pick(list.map((m) => m.p99Us)), requests: pick(list.map((m) => m.requests)), envoyCpuPerGb: pick(list.map((m) => m.envoyCpuPerGb)) };
}

// `connections` loops, each sending the workload's request and waiting for its response.
async function measure(port: number, workload: Workload, envoy?: BenchEnvoy): Promise<Measurement> {
  const connections = await Promise.all(Array.from({ length: OPTIONS.connections }, () => KafkaConnection.open(port)));
  const latencies: number[] = [];
  let bytes = 0;
  let allBytes = 0;
  const cpuBefore = envoy === undefined ? 0 : cpuSeconds(envoy.pid);
  const start = performance.now();
  const measureFrom = start + OPTIONS.warmupMs;
  const deadline = measureFrom + OPTIONS.durationMs;
  const loop = async (connection: KafkaConnection): Promise<void> => {
    for (let id = 1; performance.now() < deadline; id++) {
      const request = workload.request(id);
      const sentAt = performance.now();
      const responseBytes = await connection.roundTrip(request);
      const doneAt = performance.now();
      const moved = workload.name.startsWith('produce') ? request.length : responseBytes;
      allBytes += moved;
      if (sentAt >= measureFrom && doneAt <= deadline) {
        latencies.push((doneAt - sentAt) * 1000);
        bytes += moved;
      }
    }
  };
  await Promise.all(connections.map(loop));
  const envoyCpuPerGb = envoy === undefined ? Number.NaN : (cpuSeconds(envoy.pid) - cpuBefore) / (allBytes / 1e9);
  for (const connection of connections) connection.close();
  latencies.sort((a, b) => a - b);
  const p99 = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? 0;
  return { mbPerSecond: bytes / 1e6 / (OPTIONS.durationMs / 1000), p99Us: p99, requests: latencies.length, envoyCpuPerGb };
}

// User plus system CPU seconds of process `pid` so far (/proc/<pid>/stat, in clock ticks of 1/100 s).
function cpuSeconds(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

// One client connection: writes a request, resolves with the size of the one response it gets.
class KafkaConnection {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private waiting: ((size: number) => void) | undefined;

  private constructor(private socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
  }

  static open(port: number): Promise<KafkaConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new KafkaConnection(socket)));
      socket.setNoDelay(true);
      socket.once('error', reject);
    });
  }

  roundTrip(request: Buffer): Promise<number> {
    return new Promise((resolve) => {
      this.waiting = resolve;
      this.socket.write(request);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    if (this.buffered < 4) return;
    const head = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const frameLength = 4 + head.readInt32BE(0);
    if (this.buffered < frameLength) return;
    const rest = Buffer.concat(this.chunks).subarray(frameLength);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    const resolve = this.waiting;
    this.waiting = undefined;
    resolve?.(frameLength);
  }
}

await main();
