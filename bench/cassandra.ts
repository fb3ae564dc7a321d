// Prepared-statement throughput and latency of Cassandra 5 three ways in the same run: through
// Envoy with the Weir cassandra filter (release build, rules that allow the traffic, so every
// EXECUTE is looked up and matched), through the same Envoy with only tcp_proxy, and directly.
// cassandra-driver (protocol v4) keeps `concurrency` prepared EXECUTEs in flight (a 50/50 mix of
// SELECT by key and INSERT) for a fixed time per target. Prints a table and the ratios.
// Run: npm run bench:cassandra  (BENCH_SECONDS, BENCH_CONCURRENCY, BENCH_ENVOY_THREADS)
import os from 'node:os';
import cassandra from 'cassandra-driver';
import { installCassandra } from '../demo/servers/cassandra/install.ts';
import { startCassandra } from '../demo/servers/cassandra/runner.ts';
import { tableRegex } from '../test/filters/parsers/cassandra/test-rules.ts';
import { buildFilters } from '../test/filters/envoy-harness.ts';
import { startBenchEnvoy, type BenchEnvoy } from './bench-envoy.ts';

const OPTIONS = {
  durationMs: Number(process.env['BENCH_SECONDS'] ?? 5) * 1000,
  rounds: Number(process.env['BENCH_ROUNDS'] ?? 3),
  warmupMs: 2000,
  concurrency: Number(process.env['BENCH_CONCURRENCY'] ?? 64),
  envoyConcurrency: Number(process.env['BENCH_ENVOY_THREADS'] ?? 2),
  keys: 1000,
};

const RULES = [
  { query_action: 'select', query_table: 'bench.kv' },
  { query_action: 'insert', query_table: 'bench.kv' },
  { query_action: 'select', query_table: tableRegex('^system') },
];
const SELECT = 'SELECT v FROM bench.kv WHERE k = ?';
const INSERT = 'INSERT INTO bench.kv (k, v) VALUES (?, ?)';

interface Measurement {
  opsPerSecond: number;
  p50Us: number;
  p99Us: number;
  errors: number;
}

async function main(): Promise<void> {
  buildFilters();
  const installation = installCassandra({ say: () => undefined });
  const node = await startCassandra({ libDir: installation.libDir });
  const envoys: BenchEnvoy[] = [];
  try {
    await createSchema(node.nativePort);
    envoys.push(await startBenchEnvoy({ mode: 'weir', parser: 'cassandra', configuration: JSON.stringify({ parser: 'cassandra', rules: RULES }), backendPort: node.nativePort, concurrency: OPTIONS.envoyConcurrency }), await startBenchEnvoy({ mode: 'tcp_proxy', parser: 'cassandra', configuration: JSON.stringify({ parser: 'cassandra', rules: RULES }), backendPort: node.nativePort, concurrency: OPTIONS.envoyConcurrency }));
    const [weir, plain] = envoys as [BenchEnvoy, BenchEnvoy];
    console.log(`cassandra bench: prepared EXECUTE (50% SELECT by key, 50% INSERT), ${OPTIONS.concurrency} in flight, ${OPTIONS.rounds} rounds of ${OPTIONS.durationMs / 1000}s per target, load average ${os.loadavg()[0]!.toFixed(1)}, Envoy --concurrency ${OPTIONS.envoyConcurrency}, ${os.cpus().length} CPUs, Cassandra ${installation.version}`);
    // Rounds interleave the targets, so a busy machine slows all three alike; medians are reported.
    const samples: Record<string, Measurement[]> = { direct: [], tcp_proxy: [], weir: [] };
    for (let round = 0; round < OPTIONS.rounds; round++) {
      for (const [target, port] of [['direct', node.nativePort], ['tcp_proxy', plain.port], ['weir', weir.port]] as const) samples[target]!.push(await measure(port));
    }
    const results: Record<string, Measurement> = {};
    for (const [target, list] of Object.entries(samples)) {
      const result = median(list);
      results[target] = result;
      console.log(`${target.padEnd(10)} ${result.opsPerSecond.toFixed(0).padStart(8)} ops/s   p50 ${result.p50Us.toFixed(0).padStart(6)} us   p99 ${result.p99Us.toFixed(0).padStart(6)} us   errors ${result.errors}   (median of ${list.length} rounds)`);
    }
    const { weir: w, tcp_proxy: t, direct: d } = results as Record<'weir' | 'tcp_proxy' | 'direct', Measurement>;
    console.log(`ratios: weir/tcp_proxy throughput ${(w.opsPerSecond / t.opsPerSecond).toFixed(3)}, p99 ${(w.p99Us / t.p99Us).toFixed(2)}x; weir/direct throughput ${(w.opsPerSecond / d.opsPerSecond).toFixed(3)}, p99 ${(w.p99Us / d.p99Us).toFixed(2)}x; tcp_proxy/direct throughput ${(t.opsPerSecond / d.opsPerSecond).toFixed(3)}`);
    const unprepared = weir.output().match(/unknown prepared query id/g)?.length ?? 0;
    const deniedOrErrors = (weir.output().match(/"type":"(Denied|Error)"/g)?.length ?? 0) - unprepared;
    console.log(`weir filter: ${unprepared} UNPREPARED answers (a connection executing an id it has not seen prepared; the driver re-prepares), ${deniedOrErrors} other Denied/Error entries (expected 0)`);
  } finally {
    for (const envoy of envoys) await envoy.stop();
    await node.stop();
  }
}

function median(list: Measurement[]): Measurement {
  const pick = (values: number[]): number => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  return {
    opsPerSecond: pick(list.map((m) => m.opsPerSecond)),
    p50Us: pick(list.map((m) => m.p50Us)),
    p99Us: pick(list.map((m) => m.p99Us)),
    errors: list.reduce((sum, m) => sum + m.errors, 0),
  };
}

async function createSchema(port: number): Promise<void> {
  const client = newClient(port);
  await client.connect();
  await client.execute("CREATE KEYSPACE IF NOT EXISTS bench WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}");
  await client.execute('CREATE TABLE IF NOT EXISTS bench.kv (k int PRIMARY KEY, v text)');
  for (let k = 0; k < OPTIONS.keys; k += 100) {
    await Promise.all(Array.from({ length: 100 }, (_, i) => client.execute(INSERT, [k + i, 'x'.repeat(100)], { prepare: true })));
  }
  await client.shutdown();
}

function newClient(port: number): cassandra.Client {
  return new cassandra.Client({
    contactPoints: [`127.0.0.1:${port}`],
    localDataCenter: 'datacenter1',
    pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 2 } },
    socketOptions: { readTimeout: 20000 },
  });
}

// `concurrency` loops, each issuing prepared EXECUTEs back to back; latencies after warm-up.
async function measure(port: number): Promise<Measurement> {
  const client = newClient(port);
  await client.connect();
  const latencies: number[] = [];
  let errors = 0;
  let completed = 0;
  const start = performance.now();
  const measureFrom = start + OPTIONS.warmupMs;
  const deadline = measureFrom + OPTIONS.durationMs;
  const loop = async (worker: number): Promise<void> => {
    for (let i = worker; performance.now() < deadline; i += OPTIONS.concurrency) {
      const key = i % OPTIONS.keys;
      const sentAt = performance.now();
      try {
        if (i % 2 === 0) await client.execute(SELECT, [key], { prepare: true });
        else await client.execute(INSERT, [key, 'y'.repeat(100)], { prepare: true });
      } catch {
        errors++;
      }
      const doneAt = performance.now();
      if (sentAt >= measureFrom && doneAt <= deadline) {
        latencies.push((doneAt - sentAt) * 1000);
        completed++;
      }
    }
  };
  await Promise.all(Array.from({ length: OPTIONS.concurrency }, (_, worker) => loop(worker)));
  await client.shutdown();
  latencies.sort((a, b) => a - b);
  const at = (quantile: number): number => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * quantile))] ?? 0;
  return { opsPerSecond: completed / (OPTIONS.durationMs / 1000), p50Us: at(0.5), p99Us: at(0.99), errors };
}

await main();
