// A TCP client for line protocols in filter tests: sends bytes (optionally one byte per write),
// collects everything received, waits for a number of "\r\n"-terminated lines or for close.
import net from 'node:net';

export interface LineClient {
  received(): string;
  lines(): string[];
  closed(): boolean;
  send(text: string | Buffer, options?: { byteByByte?: boolean }): Promise<void>;
  waitForLines(count: number, timeoutMs?: number): Promise<string[]>;
  waitForClose(timeoutMs?: number): Promise<void>;
  close(): void;
}

export async function connectLineClient(port: number): Promise<LineClient> {
  const socket = net.connect(port, '127.0.0.1');
  let buffer = '';
  let isClosed = false;
  socket.setNoDelay(true);
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (buffer += chunk));
  socket.on('close', () => (isClosed = true));
  socket.on('error', () => (isClosed = true));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  const completeLines = (): string[] => buffer.split('\r\n').slice(0, -1);
  const waitUntil = async (check: () => boolean, timeoutMs: number, what: string): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received so far: ${JSON.stringify(buffer)}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  return {
    received: () => buffer,
    lines: completeLines,
    closed: () => isClosed,
    send: async (text, options) => {
      const bytes = typeof text === 'string' ? Buffer.from(text, 'latin1') : text;
      if (options?.byteByByte === true) {
        for (const byte of bytes) {
          await new Promise<void>((resolve) => socket.write(Buffer.from([byte]), () => resolve()));
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
        return;
      }
      await new Promise<void>((resolve) => socket.write(bytes, () => resolve()));
    },
    waitForLines: async (count, timeoutMs = 5000) => {
      await waitUntil(() => completeLines().length >= count, timeoutMs, `${count} reply lines`);
      return completeLines();
    },
    waitForClose: async (timeoutMs = 5000) => waitUntil(() => isClosed, timeoutMs, 'the connection to close'),
    close: () => socket.destroy(),
  };
}
