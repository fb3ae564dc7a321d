// memcached from Debian as a process: installMemcached() finds it installed, startMemcached() serves
// the text protocol (raw socket session, exact bytes) and the binary protocol (memjs) on 127.0.0.1
// with UDP off, and stop() ends the pid and frees the port.
import net from 'node:net';
import memjs from 'memjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installMemcached, startMemcached, type RunningMemcached } from '../../../demo/servers/memcached.ts';
import { acceptsConnections } from '../../../demo/servers/loopback-port.ts';

describe('memcached as a process', () => {
  let memcached: RunningMemcached;
  const setupLines: string[] = [];

  beforeAll(async () => {
    installMemcached({ say: (line) => setupLines.push(line) });
    memcached = await startMemcached();
  }, 120_000);

  afterAll(async () => {
    await memcached?.stop();
  });

  it('reports itself installed on a second run without calling apt-get', () => {
    const lines: string[] = [];
    installMemcached({ say: (line) => lines.push(line) });
    expect(lines).toEqual([expect.stringMatching(/^memcached: already installed \(memcached 1\.6\.\d+\)$/)]);
  });

  it('answers a raw text session byte for byte', async () => {
    const session = await TextSession.open(memcached.port);
    try {
      expect(await session.exchange('set weir:text 7 0 5\r\nhello\r\n', 'STORED\r\n')).toBe('STORED\r\n');
      expect(await session.exchange('get weir:text\r\n', 'END\r\n')).toBe('VALUE weir:text 7 5\r\nhello\r\nEND\r\n');
      expect(await session.exchange('get weir:missing\r\n', 'END\r\n')).toBe('END\r\n');
      expect(await session.exchange('delete weir:text\r\n', '\r\n')).toBe('DELETED\r\n');
      expect(await session.exchange('get weir:text\r\n', 'END\r\n')).toBe('END\r\n');
    } finally {
      session.close();
    }
  });

  it('listens on 127.0.0.1 with UDP off and a 64 MiB cache', async () => {
    const session = await TextSession.open(memcached.port);
    try {
      const stats = await session.exchange('stats settings\r\n', 'END\r\n');
      expect(stats).toContain('STAT inter 127.0.0.1\r\n');
      expect(stats).toContain('STAT udpport 0\r\n');
      expect(stats).toContain(`STAT tcpport ${memcached.port}\r\n`);
      expect(stats).toContain('STAT maxbytes 67108864\r\n');
    } finally {
      session.close();
    }
  });

  it('serves the binary protocol to memjs, sharing items with the text protocol', async () => {
    const client = memjs.Client.create(`127.0.0.1:${memcached.port}`, { retries: 0, timeout: 2 });
    try {
      expect(await client.set('weir:binary', 'from memjs')).toBe(true);
      const { value } = await client.get('weir:binary');
      expect(value?.toString()).toBe('from memjs');
      expect((await client.get('weir:absent')).value).toBeNull();
      const session = await TextSession.open(memcached.port);
      try {
        expect(await session.exchange('get weir:binary\r\n', 'END\r\n')).toBe('VALUE weir:binary 0 10\r\nfrom memjs\r\nEND\r\n');
      } finally {
        session.close();
      }
    } finally {
      client.close();
    }
  });

  it('stops by pid and frees its port', async () => {
    const second = await startMemcached({ memoryMb: 16 });
    expect(await acceptsConnections(second.port)).toBe(true);
    await second.stop();
    expect(() => process.kill(second.pid, 0)).toThrow();
    expect(await acceptsConnections(second.port)).toBe(false);
  });
});

/** One TCP connection to memcached: send bytes, collect the reply until it ends with a terminator. */
class TextSession {
  private received = '';
  private waiter: (() => void) | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received += chunk.toString('latin1');
      this.waiter?.();
    });
  }

  static open(port: number): Promise<TextSession> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(new TextSession(socket)));
      socket.once('error', reject);
    });
  }


  exchange(request: string, terminator: string, timeoutMs = 2_000): Promise<string> {
    this.received = '';
    this.socket.write(request, 'latin1');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply ending in ${JSON.stringify(terminator)} to ${JSON.stringify(request)}; got ${JSON.stringify(this.received)}`)), timeoutMs);
      this.waiter = () => {
        if (!this.received.endsWith(terminator)) return;
        clearTimeout(timer);
        this.waiter = undefined;
        resolve(this.received);
      };
      this.waiter();
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
