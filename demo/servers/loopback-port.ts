// Loopback TCP ports for the servers Weir starts (Envoy, Cassandra, memcached, weir serve): pick one
// that was free a moment ago, for servers whose command line cannot say "any port", and ask whether
// something accepts connections on one.
import net from 'node:net';

export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('freeLoopbackPort: the OS gave no TCP port on 127.0.0.1'));
      });
    });
  });
}

/** True when a TCP connection to 127.0.0.1:`port` is accepted (it is closed at once). */
export function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
