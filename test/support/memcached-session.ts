// One memcached text-protocol connection from a chosen source address (the address is the
// client's identity to Weir), kept open across requests so a test can see a verdict change on an
// open connection. Each command resolves with the complete reply as text (up to END, STORED, an
// error line, ...), or 'closed' when the connection ended. Test helper.
import net from 'node:net';

export interface MemcachedSession {
  command(text: string, timeoutMs?: number): Promise<string>;
  close(): void;
}

const FINAL_LINE = /(^|\r\n)(STORED|NOT_STORED|EXISTS|NOT_FOUND|END|DELETED|TOUCHED|OK|ERROR|CLIENT_ERROR [^\r\n]*|SERVER_ERROR [^\r\n]*|VERSION [^\r\n]*)\r\n$/;

export async function openMemcachedSession(port: number, localAddress: string): Promise<MemcachedSession> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  let buffered = '';
  let closed = false;
  const wakers = new Set<() => void>();
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('latin1');
    for (const wake of [...wakers]) wake();
  });
  socket.on('close', () => {
    closed = true;
    for (const wake of [...wakers]) wake();
  });
  return {
    command: (text, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (FINAL_LINE.test(buffered)) {
            const reply = buffered.trimEnd();
            buffered = '';
            finish();
            resolve(reply);
          } else if (closed) {
            finish();
            resolve('closed');
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`no complete reply to ${JSON.stringify(text)} from ${localAddress} within ${timeoutMs} ms (got ${JSON.stringify(buffered)})`));
        }, timeoutMs);
        const finish = (): void => {
          clearTimeout(timer);
          wakers.delete(check);
        };
        wakers.add(check);
        if (closed) check();
        else socket.write(text);
      }),
    close: () => socket.destroy(),
  };
}

/** One command on a fresh connection. */
export async function memcachedOnce(port: number, localAddress: string, text: string): Promise<string> {
  const session = await openMemcachedSession(port, localAddress);
  try {
    return await session.command(text);
  } finally {
    session.close();
  }
}
