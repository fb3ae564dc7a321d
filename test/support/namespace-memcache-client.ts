// Unmodified memcached clients, run inside a workload's network namespace
// (`ip netns exec NS tsx namespace-memcache-client.ts HOST PORT`): memjs (binary protocol) and the
// `memcached` npm package (text protocol), each with one connection to HOST:PORT kept open between
// calls, so a test can tell that a policy change reaches a connection that is already open. Reads
// one JSON request per line on stdin ({"id", "client": "memjs"|"memcached", "op": "get"|"set",
// "key", "value"}) and answers one JSON line on stdout ({"id", "ok": true, "value"} or
// {"id", "ok": false, "error"}). Exits when stdin closes.
import readline from 'node:readline';
import memjs from 'memjs';
import Memcached from 'memcached';

export interface ClientRequest {
  id: number;
  client: 'memjs' | 'memcached';
  op: 'get' | 'set';
  key: string;
  value?: string;
}

export type ClientReply = { id: number; ok: true; value: string | null } | { id: number; ok: false; error: string };

const [host, port] = process.argv.slice(2);
if (host === undefined || port === undefined) {
  process.stderr.write('usage: namespace-memcache-client.ts HOST PORT\n');
  process.exit(2);
}
const target = `${host}:${port}`;
let binary: memjs.Client | undefined;
let text: Memcached | undefined;

async function answer(request: ClientRequest): Promise<ClientReply> {
  try {
    if (request.client === 'memjs') {
      binary ??= memjs.Client.create(target, { retries: 0, timeout: 3, logger: { log: () => undefined } });
      if (request.op === 'set') return { id: request.id, ok: true, value: String(await binary.set(request.key, request.value ?? '', { expires: 600 })) };
      const result = await binary.get(request.key);
      return { id: request.id, ok: true, value: result.value === null ? null : result.value.toString() };
    }
    text ??= new Memcached(target, { retries: 0, timeout: 3000, idle: 60_000, failures: 0, reconnect: 100 });
    const client = text;
    const value = await new Promise<unknown>((resolve, reject) => {
      const done = (error: Error | undefined, result: unknown): void => (error ? reject(error) : resolve(result));
      if (request.op === 'set') client.set(request.key, request.value ?? '', 600, done);
      else client.get(request.key, done);
    });
    return { id: request.id, ok: true, value: value === undefined ? null : String(value) };
  } catch (error) {
    return { id: request.id, ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

const lines = readline.createInterface({ input: process.stdin });
lines.on('line', (line) => {
  void answer(JSON.parse(line) as ClientRequest).then((reply) => process.stdout.write(`${JSON.stringify(reply)}\n`));
});
lines.on('close', () => {
  binary?.close();
  text?.end();
});
