// A raw CQL client over one TCP connection, for tests that send exactly the bytes an attacker
// would: it writes whatever it is given and reads replies as legacy frames, switching to v5
// segments when told (after the answer to a v5 STARTUP). Waits on socket events; the timeouts
// only bound a test that would otherwise hang, and their errors say what was awaited.
import net from 'node:net';
import { splitFrames, type Frame } from './cql-wire.ts';

const DEFAULT_WAIT_MS = 20_000;

export class RawCql {
  private received = Buffer.alloc(0);
  private legacyFrames = Number.POSITIVE_INFINITY;
  private ended = false;
  private readonly waiters = new Set<() => void>();

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.wake();
    });
    const end = (): void => {
      this.ended = true;
      this.wake();
    };
    socket.on('close', end);
    socket.on('error', end);
  }

  // `localAddress` binds the client end (e.g. 127.0.0.5), so the server's logs name that address.
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawCql> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, ...(localAddress === undefined ? {} : { localAddress }) }, () => resolve(new RawCql(socket)));
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.ended;
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  // Replies after the first `count` frames are read as v5 segments.
  segmentsAfter(count: number): void {
    this.legacyFrames = count;
  }

  // Every complete reply so far (a trailing partial one is left out).
  frames(): Frame[] {
    return splitFrames(this.received, this.legacyFrames).frames;
  }

  // Resolves with the first `count` replies; rejects when the connection closes first.
  async waitForFrames(count: number, timeoutMs = DEFAULT_WAIT_MS): Promise<Frame[]> {
    await this.waitUntil(() => this.frames().length >= count || this.ended, timeoutMs, `${count} CQL replies`);
    const frames = this.frames();
    if (frames.length < count) throw new Error(`the connection closed after ${frames.length} of ${count} replies`);
    return frames.slice(0, count);
  }

  // Everything received so far, as bytes (for replies that are not v3+ frames).
  bytes(): Buffer {
    return this.received;
  }

  async waitForBytes(count: number, timeoutMs = DEFAULT_WAIT_MS): Promise<Buffer> {
    await this.waitUntil(() => this.received.length >= count || this.ended, timeoutMs, `${count} bytes`);
    return this.received;
  }

  // Resolves once the peer closed the connection.
  async waitForClose(timeoutMs = DEFAULT_WAIT_MS): Promise<void> {
    await this.waitUntil(() => this.ended, timeoutMs, 'the connection to close');
  }

  close(): void {
    this.socket.destroy();
  }

  // Resolves once `done()` holds, checked whenever bytes arrive or the connection ends; rejects
  // after `timeoutMs`, naming `what` it waited for.
  waitUntil(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!done()) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`RawCql: waited ${timeoutMs} ms for ${what}; got ${this.received.length} bytes, closed=${this.ended}`));
      }, timeoutMs);
      this.waiters.add(check);
    });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
