// cassandra-driver, unmodified, inside a workload's network namespace
// (`ip netns exec NS tsx namespace-cql-client.ts HOST PORT`): reads a JSON array of CQL statements
// on stdin, runs them in order on one connection, and prints one JSON line per statement:
// {"ok": true, "rows": [...]} or {"ok": false, "code": <CQL error code>, "error": "..."}.
import cassandra from 'cassandra-driver';

export type CqlOutcome = { ok: true; rows: Array<Record<string, unknown>> } | { ok: false; code: number | undefined; error: string };

const [host, port] = process.argv.slice(2);
const chunks: Buffer[] = [];
process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
process.stdin.on('end', () => void run(JSON.parse(Buffer.concat(chunks).toString('utf8')) as string[]));

async function run(statements: readonly string[]): Promise<void> {
  const client = new cassandra.Client({ contactPoints: [`${host}:${port}`], localDataCenter: 'datacenter1', pooling: { coreConnectionsPerHost: { [cassandra.types.distance.local]: 1 } } });
  try {
    await client.connect();
    for (const statement of statements) {
      const outcome: CqlOutcome = await client.execute(statement).then(
        (result) => ({ ok: true as const, rows: (result.rows ?? []).map((row) => Object.fromEntries(row.keys().map((key) => [key, String(row.get(key))]))) }),
        (error: unknown) => ({ ok: false as const, code: (error as { code?: number }).code, error: error instanceof Error ? error.message : String(error) }),
      );
      process.stdout.write(`${JSON.stringify(outcome)}\n`);
    }
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ ok: false, code: undefined, error: `connect: ${error instanceof Error ? error.message : String(error)}` })}\n`);
  } finally {
    await client.shutdown();
  }
}
