// A raw TCP client for r2d2 sessions: sends bytes (whole or one byte per write) and collects the
// reply lines, so the demo and the tests see exactly what a client on the wire sees.
import net from 'node:net';

export interface R2d2Session {
  /** Sends the bytes and resolves with the next `lines` reply lines (without \r\n). */
  request(bytes: string, options?: { lines?: number; bytewise?: boolean; timeoutMs?: number }): Promise<string[]>;
  /** Sends raw bytes without waiting for a reply. */
  send(bytes: string | Buffer): Promise<void>;
  /** Resolves when the proxy or server closes the connection; rejects after timeoutMs. */
  closed(timeoutMs?: number): Promise<void>;
  isClosed(): boolean;
  close(): void;
}

export async function openR2d2Session(port: number, host = '127.0.0.1'): Promise<R2d2Session> {
  const socket = net.connect(port, host);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', (error) => reject(new Error(`r2d2 client: cannot connect to ${host}:${port}: ${error.message}`)));
  });
  socket.setNoDelay(true);
  let buffered = '';
  let isClosed = false;
  const wakers = new Set<() => void>();
  socket.on('data', (chunk) => {
    buffered += chunk.toString('latin1');
    for (const wake of wakers) wake();
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    isClosed = true;
    for (const wake of wakers) wake();
  });

  const takeLines = (count: number): string[] | undefined => {
    const lines: string[] = [];
    let rest = buffered;
    while (lines.length < count) {
      const end = rest.indexOf('\r\n');
      if (end < 0) return undefined;
      lines.push(rest.slice(0, end));
      rest = rest.slice(end + 2);
    }
    buffered = rest;
    return lines;
  };

  const waitUntil = <T>(probe: () => T | undefined, what: string, timeoutMs: number): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const check = (): void => {
        const value = probe();
        if (value !== undefined) {
          done();
          resolve(value);
        } else if (isClosed) {
          done();
          reject(new Error(`r2d2 client: connection closed while waiting for ${what}; received so far: ${JSON.stringify(buffered)}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`r2d2 client: no ${what} within ${timeoutMs} ms; received so far: ${JSON.stringify(buffered)}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        wakers.delete(check);
      };
      wakers.add(check);
      check();
    });

  const send = async (bytes: string | Buffer, bytewise = false): Promise<void> => {
    const buffer = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
    if (!bytewise) {
      await new Promise<void>((resolve) => socket.write(buffer, () => resolve()));
      return;
    }
    for (const byte of buffer) {
      await new Promise<void>((resolve) => socket.write(Buffer.of(byte), () => resolve()));
      // Let each byte leave as its own segment, so Envoy sees it in its own read.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  };

  return {
    request: async (bytes, options = {}) => {
      const lines = options.lines ?? 1;
      await send(bytes, options.bytewise === true);
      return waitUntil(() => takeLines(lines), `${lines} reply line(s)`, options.timeoutMs ?? 5_000);
    },
    send: (bytes) => send(bytes),
    closed: (timeoutMs = 5_000) =>
      new Promise<void>((resolve, reject) => {
        if (isClosed) return resolve();
        const timer = setTimeout(() => reject(new Error(`r2d2 client: connection still open after ${timeoutMs} ms`)), timeoutMs);
        socket.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
      }),
    isClosed: () => isClosed,
    close: () => socket.destroy(),
  };
}
