// A line client for the netns tests that waits for the reply instead of for the clock: run inside
// a workload's network namespace (`ip netns exec NS tsx namespace-line-client.ts HOST PORT
// [--tls CERT KEY CA] --until REGEX`), it sends stdin's bytes and prints what came back once the
// reply matches REGEX, or the server closes, or 10 s pass. With --tls it talks as an Istio
// sidecar's outbound side does: TLS with the workload's certificate (its SPIFFE ID), the mesh's
// root as trust and Istio's ALPN `istio`, which the inbound mTLS filter chain matches on; exit
// status 2 when the handshake failed.
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

const REPLY_TIMEOUT_MS = 10_000;
const args = process.argv.slice(2);
const [host, port] = args;
const tlsAt = args.indexOf('--tls');
const untilAt = args.indexOf('--until');
const untilPattern = untilAt >= 0 ? args[untilAt + 1] : undefined;
if (host === undefined || port === undefined || untilPattern === undefined || (tlsAt >= 0 && args[tlsAt + 3] === undefined)) {
  process.stderr.write('usage: namespace-line-client.ts HOST PORT [--tls CERT KEY CA] --until REGEX\n');
  process.exit(64);
}
const until = new RegExp(untilPattern);
const chunks: Buffer[] = [];
process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
process.stdin.on('end', () => run(Buffer.concat(chunks)));

function connect(onReady: () => void): net.Socket {
  if (tlsAt < 0) return net.connect({ host, port: Number(port) }, onReady);
  const [certFile, keyFile, caFile] = args.slice(tlsAt + 1, tlsAt + 4) as [string, string, string];
  return tls.connect(
    {
      host,
      port: Number(port),
      cert: fs.readFileSync(certFile),
      key: fs.readFileSync(keyFile),
      ca: fs.readFileSync(caFile),
      ALPNProtocols: ['istio'],
      // Istio's peers check the SPIFFE ID, not a host name; the chain is still verified against the root.
      checkServerIdentity: () => undefined,
    },
    onReady,
  );
}

function run(request: Buffer): void {
  let reply = '';
  let ready = false;
  const socket = connect(() => {
    ready = true;
    socket.write(request);
  });
  const finish = (status: number): void => {
    process.stdout.write(reply);
    socket.destroy();
    process.exit(status);
  };
  const timer = setTimeout(() => finish(0), REPLY_TIMEOUT_MS);
  socket.on('data', (chunk: Buffer) => {
    reply += chunk.toString('latin1');
    if (until.test(reply)) {
      clearTimeout(timer);
      finish(0);
    }
  });
  socket.on('end', () => finish(0));
  socket.on('error', (error) => {
    process.stderr.write(`${error.message}\n`);
    finish(tlsAt >= 0 && !ready ? 2 : 0);
  });
}
