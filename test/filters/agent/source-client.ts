// A line client that connects from a chosen loopback source address (127.x.y.z), so that tests can
// play several remote identities against one Envoy listener. Collects "\r\n"-terminated lines.
import net from 'node:net';

export interface SourceClient {
  lines(): string[];
  request(line: string, timeoutMs?: number): Promise<string>;
  close(): void;
}

export async function connectFrom(sourceAddress: string, port: number): Promise<SourceClient> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress: sourceAddress });
  let buffer = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (buffer += chunk));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  const lines = (): string[] => buffer.split('\r\n').slice(0, -1);
  return {
    lines,
    // Sends one request line and resolves with the next reply line.
    request: async (line, timeoutMs = 3000) => {
      const before = lines().length;
      socket.write(`${line}\r\n`);
      const deadline = Date.now() + timeoutMs;
      while (lines().length <= before) {
        if (Date.now() > deadline) throw new Error(`no reply to ${JSON.stringify(line)} from ${sourceAddress} within ${timeoutMs} ms; received ${JSON.stringify(buffer)}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return lines()[before] ?? '';
    },
    close: () => socket.destroy(),
  };
}
