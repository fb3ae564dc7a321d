// A small r2d2 server for demos and tests: answers each request line of the tutorial protocol from
// Cilium's Go-extension guide (READ <file>, WRITE <file>, HALT, RESET) and records every line it
// received, so tests can prove what did and did not reach the backend.
import net from 'node:net';

export interface R2d2BackendOptions {
  host?: string;
  port?: number; // 0 picks a free port
  onRequest?: (line: string) => void;
}

export interface R2d2Backend {
  host: string;
  port: number;
  received: string[]; // every request line, without its \r\n, in arrival order
  receivedBytes(): number; // every byte that arrived, complete line or not
  close(): Promise<void>;
}

export async function startR2d2Backend(options: R2d2BackendOptions = {}): Promise<R2d2Backend> {
  const host = options.host ?? '127.0.0.1';
  const received: string[] = [];
  let receivedBytes = 0;
  const files = new Map<string, number>();
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      receivedBytes += chunk.length;
      pending += chunk;
      let end = pending.indexOf('\r\n');
      while (end >= 0) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 2);
        received.push(line);
        options.onRequest?.(line);
        socket.write(answer(line, files));
        end = pending.indexOf('\r\n');
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('r2d2 backend: no TCP address');
  return {
    host,
    port: address.port,
    received,
    receivedBytes: () => receivedBytes,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

// The reply to one request line. Malformed lines (including an empty line) get ERROR, as in the
// protocol's reference server; Weir's r2d2 parser relies on that for its probe request.
export function answer(line: string, files: Map<string, number>): string {
  const words = line.split(' ');
  const command = words[0] ?? '';
  const file = words.length === 2 ? (words[1] ?? '') : undefined;
  if ((command === 'READ' || command === 'WRITE') && file !== undefined && file.length > 0) {
    if (command === 'WRITE') {
      files.set(file, (files.get(file) ?? 0) + 1);
      return `OK wrote ${file}\r\n`;
    }
    return `OK ${file} written ${files.get(file) ?? 0} times\r\n`;
  }
  if (words.length === 1 && command === 'HALT') return 'OK halted\r\n';
  if (words.length === 1 && command === 'RESET') {
    files.clear();
    return 'OK reset\r\n';
  }
  return 'ERROR\r\n';
}

// `tsx demo/backends/r2d2-backend.ts --port 9000` runs it on its own (docker-compose does this).
if (import.meta.url === `file://${process.argv[1]}`) {
  const portFlag = process.argv.indexOf('--port');
  const hostFlag = process.argv.indexOf('--host');
  const port = portFlag > 0 ? Number(process.argv[portFlag + 1]) : 9000;
  const host = hostFlag > 0 ? (process.argv[hostFlag + 1] ?? '127.0.0.1') : '127.0.0.1';
  const backend = await startR2d2Backend({
    host,
    port,
    onRequest: (line) => console.log(JSON.stringify({ msg: 'r2d2 request', line })),
  });
  console.log(JSON.stringify({ msg: 'r2d2 backend listening', host: backend.host, port: backend.port }));
}
