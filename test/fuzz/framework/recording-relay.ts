// A loopback TCP relay in front of a real server that records, per client connection, the bytes
// the client sent, in accept order: how the protocols' record-clients scripts capture real
// clients' sessions as the seeds of mutation. Relays both ways and half-closes like the peers.
import net from 'node:net';

export interface RecordingRelay {
  port: number;
  /** The client->server bytes of each connection, in accept order. */
  sessions: Buffer[][];
  close(): Promise<void>;
}

export async function startRecordingRelay(backendPort: number): Promise<RecordingRelay> {
  const sessions: Buffer[][] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const chunks: Buffer[] = [];
    sessions.push(chunks);
    const upstream = net.connect(backendPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    client.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    sessions,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
