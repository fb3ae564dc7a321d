// Records the bytes real memcached clients send, as seeds for mutation: memjs (binary protocol)
// and the `memcached` npm client (text protocol) run their usual operations against a real
// memcached through a recording TCP relay, and each client connection's bytes are written to
// recordings/<client>.json (base64). Run once with `npx tsx test/fuzz/memcache/record-clients.ts`;
// the recordings are kept as test data, so fuzzing needs neither client nor server.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import memjs from 'memjs';
import Memcached from 'memcached';
import { startMemcached } from '../../../demo/servers/memcached.ts';
import { startRecordingRelay } from '../framework/recording-relay.ts';

const RECORDINGS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'recordings');

async function recordMemjs(port: number): Promise<void> {
  const client = memjs.Client.create(`127.0.0.1:${port}`, { retries: 0, timeout: 3, logger: { log: () => undefined } });
  await client.set('ok/fleet/awing', '4309.432,918.980', { expires: 2400 });
  await client.get('ok/fleet/awing');
  await client.add('ok/fleet/xwing', '1,2', {});
  await client.replace('ok/fleet/xwing', '3,4', {});
  await client.append('ok/fleet/xwing', ';5');
  await client.prepend('ok/fleet/xwing', '0;');
  await client.increment('ok/counter', 3, { initial: 1 });
  await client.decrement('ok/counter', 1, {});
  await client.touch('ok/fleet/awing', 100);
  await client.delete('ok/fleet/xwing');
  await client.get('secret/plans');
  await new Promise<void>((resolve) => client.stats(() => resolve()));
  await new Promise<void>((resolve) => client.flush(() => resolve()));
  client.close();
}

async function recordMemcachedClient(port: number): Promise<void> {
  const client = new Memcached(`127.0.0.1:${port}`, { retries: 0, timeout: 3000, idle: 1000 });
  const call = <T>(run: (done: (err: Error | undefined, value: T) => void) => void): Promise<T | undefined> =>
    new Promise((resolve) => run((_err, value) => resolve(value)));
  await call<boolean>((done) => client.set('ok/fleet/tracker', 'on', 100, done));
  await call<unknown>((done) => client.get('ok/fleet/tracker', done));
  await call<unknown>((done) => client.getMulti(['ok/fleet/tracker', 'ok/fleet/awing', 'secret/plans'], done));
  await call<unknown>((done) => client.gets('ok/fleet/tracker', done));
  await call<boolean>((done) => client.add('ok/fleet/new', 'x', 10, done));
  await call<boolean>((done) => client.replace('ok/fleet/new', 'y', 10, done));
  await call<boolean>((done) => client.append('ok/fleet/new', 'z', done));
  await call<boolean>((done) => client.prepend('ok/fleet/new', 'w', done));
  await call<boolean>((done) => client.cas('ok/fleet/new', 'v', '1', 10, done));
  await call<unknown>((done) => client.incr('ok/n', 2, done));
  await call<unknown>((done) => client.decr('ok/n', 1, done));
  await call<boolean>((done) => client.touch('ok/fleet/tracker', 50, (err: Error | undefined) => done(err, true)));
  await call<boolean>((done) => client.del('ok/fleet/new', done));
  await call<unknown>((done) => client.version(done));
  await call<unknown>((done) => client.stats(done));
  client.end();
}

async function main(): Promise<void> {
  const memcached = await startMemcached();
  const relay = await startRecordingRelay(memcached.port);
  try {
    fs.mkdirSync(RECORDINGS_DIR, { recursive: true });
    for (const [name, record] of [['memjs', recordMemjs], ['memcached-npm', recordMemcachedClient]] as const) {
      const first = relay.sessions.length;
      await record(relay.port);
      await new Promise((resolve) => setTimeout(resolve, 200)); // the relay's last reads
      const sessions = relay.sessions.slice(first).map((chunks) => Buffer.concat(chunks)).filter((bytes) => bytes.length > 0);
      const file = path.join(RECORDINGS_DIR, `${name}.json`);
      fs.writeFileSync(file, `${JSON.stringify({ client: name, recordedWith: 'test/fuzz/memcache/record-clients.ts', server: 'memcached 1.6.18', sessions: sessions.map((bytes) => bytes.toString('base64')) }, null, 2)}\n`);
      console.log(`${file}: ${sessions.length} connection(s), ${sessions.reduce((sum, bytes) => sum + bytes.length, 0)} bytes`);
    }
  } finally {
    await relay.close();
    await memcached.stop();
  }
}

await main();
