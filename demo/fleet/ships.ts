// The fleet's clients. Weir tells endpoints apart by source address, and the ships share one
// network namespace (no pods), so each ship gets a relay: its client connects to the relay on
// 127.0.0.1, and the relay connects on from the ship's own address, to Envoy's listener or, with
// Weir as the server's sidecar, to the server's own address, where Envoy intercepts it. Through its
// relay a ship talks as the guide's ships do: memjs for the binary protocol (the guide's
// python-bmemcached), the `memcached` npm client for the text protocol, and a raw socket for the
// guide's `echo -en ... | nc` sessions. Every call resolves to the text a user would see.
import net from 'node:net';
import memjs from 'memjs';
import Memcached from 'memcached';

export interface Ship {
  name: string;
  sourceAddress: string;
  /** The relay's port on 127.0.0.1; connections to it reach the relay's target from `sourceAddress`. */
  port: number;
  close(): Promise<void>;
}

/** Where a relay connects: Envoy's listener, or the server itself when Envoy intercepts. */
export interface RelayTarget {
  host: string;
  port: number;
}

export async function launchShip(name: string, sourceAddress: string, target: RelayTarget): Promise<Ship> {
  const sockets = new Set<net.Socket>();
  const relay = net.createServer((client) => {
    const upstream = net.connect({ host: target.host, port: target.port, localAddress: sourceAddress });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      socket.on('close', () => sockets.delete(socket));
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    relay.once('error', reject);
    relay.listen(0, '127.0.0.1', resolve);
  });
  const address = relay.address();
  if (address === null || typeof address !== 'object') throw new Error(`ship ${name}: the relay got no TCP port on 127.0.0.1`);
  return {
    name,
    sourceAddress,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        relay.close(() => resolve());
      }),
  };
}

/** A binary-protocol client (memjs). Each call prints like the guide's python session. */
export class BinaryShipClient {
  private client: memjs.Client;

  constructor(ship: Ship) {
    this.client = memjs.Client.create(`127.0.0.1:${ship.port}`, { retries: 0, timeout: 3, logger: { log: () => undefined } });
  }

  set(key: string, value: string): Promise<string> {
    return outcomeText(this.client.set(key, value, { expires: 2400 }).then(String));
  }

  get(key: string): Promise<string> {
    return outcomeText(this.client.get(key).then((result) => (result.value === null ? 'None' : result.value.toString())));
  }

  delete(key: string): Promise<string> {
    return outcomeText(this.client.delete(key).then(String));
  }

  close(): void {
    this.client.close();
  }
}

/** A text-protocol client (the `memcached` npm package). */
export class TextShipClient {
  private client: Memcached;

  constructor(ship: Ship) {
    this.client = new Memcached(`127.0.0.1:${ship.port}`, { retries: 0, timeout: 3000, idle: 1000, failures: 0, reconnect: 100 });
  }

  set(key: string, value: string): Promise<string> {
    return outcomeText(this.call<boolean>((done) => this.client.set(key, value, 2400, done)).then(String));
  }

  get(key: string): Promise<string> {
    return outcomeText(this.call<unknown>((done) => this.client.get(key, done)).then((value) => (value === undefined ? 'undefined' : String(value))));
  }

  delete(key: string): Promise<string> {
    return outcomeText(this.call<boolean>((done) => this.client.del(key, done)).then(String));
  }

  close(): void {
    this.client.end();
  }

  private call<T>(run: (done: (err: Error | undefined, value: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value))));
  }
}

/** The guide's `echo -en "REQUESTS" | nc memcd-server 11211`: one connection, the replies as text. */
export async function netcat(ship: Ship, requests: string, timeoutMs = 3_000): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port: ship.port });
  let received = '';
  return new Promise<string>((resolve) => {
    let settle: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(deadline);
      clearTimeout(settle);
      socket.destroy();
      resolve(received);
    };
    const deadline = setTimeout(finish, timeoutMs);
    socket.on('connect', () => socket.write(requests));
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      // A final reply line is in: give the server a moment for anything after it, as nc would.
      if (FINAL_REPLY_LINE.test(received) || META_VALUE_REPLY.test(received)) {
        clearTimeout(settle);
        settle = setTimeout(finish, 150);
      }
    });
    socket.on('error', finish);
    socket.on('close', finish);
  });
}

const FINAL_REPLY_LINE = /(?:^|\r\n)(?:END|STORED|NOT_STORED|EXISTS|NOT_FOUND|DELETED|TOUCHED|OK|ERROR|VERSION [^\r]*|CLIENT_ERROR [^\r]*|SERVER_ERROR [^\r]*|HD|NF|NS|EX|MN|EN)\r\n$/;

// `mg key v` answers `VA <bytes> ...` and the value, with no line after it.
const META_VALUE_REPLY = /(?:^|\r\n)VA \d+[^\r]*\r\n[^\r\n]*\r\n$/;

/** A client call's result as the user sees it: the value, or the error's message. */
async function outcomeText(result: Promise<string>): Promise<string> {
  return result.catch((error: unknown) => `Error: ${error instanceof Error ? error.message : String(error)}`);
}
