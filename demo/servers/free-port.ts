// Picks a loopback TCP port that was free a moment ago, for servers (Cassandra, memcached) whose
// command line cannot say "any port" and report back which one they took.
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
