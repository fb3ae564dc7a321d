// A loopback TCP relay in front of a CQL native port that records, per connection, the protocol
// version the server answered STARTUP with (the version byte of its READY frame). Tests use it to
// see on the wire which version a client negotiated, without reaching into the client's internals.
import net from 'node:net';

export interface CqlWireRecorder {
  port: number;
  /** One entry per connection that got READY: 3, 4, 5, ... */
  negotiatedVersions(): number[];
  close(): Promise<void>;
}

const READY_OPCODE = 0x02;
const LEGACY_HEADER_BYTES = 9;

export function recordCqlWire(targetPort: number): Promise<CqlWireRecorder> {
  const versions: number[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(client).add(upstream);
    const watchReplies = readyVersionWatcher((version) => versions.push(version));
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    upstream.on('data', (chunk: Buffer) => {
      watchReplies(chunk);
      client.write(chunk);
    });
    const closeBoth = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', closeBoth).on('error', closeBoth);
    upstream.on('close', closeBoth).on('error', closeBoth);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = address !== null && typeof address === 'object' ? address.port : 0;
      resolve({
        port,
        negotiatedVersions: () => [...versions],
        close: () =>
          new Promise((closed) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => closed());
          }),
      });
    });
  });
}

/**
 * Walks the server's legacy-framed replies (9-byte header, length at byte 5) until READY, then
 * reports READY's version and stops looking: after READY a v5 connection switches to segments.
 */
function readyVersionWatcher(onReady: (version: number) => void): (chunk: Buffer) => void {
  let pending = Buffer.alloc(0);
  let done = false;
  return (chunk) => {
    if (done) return;
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= LEGACY_HEADER_BYTES) {
      const frameBytes = LEGACY_HEADER_BYTES + pending.readUInt32BE(5);
      if (pending[4] === READY_OPCODE) {
        onReady((pending[0] ?? 0) & 0x7f);
        done = true;
        return;
      }
      if (pending.length < frameBytes) return;
      pending = pending.subarray(frameBytes);
    }
  };
}
