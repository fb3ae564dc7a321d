// A client that talks to a service the way an Istio sidecar's outbound side does: TLS with the
// workload's certificate (its SPIFFE ID), the mesh's root as trust, and Istio's ALPN `istio`,
// which the inbound mTLS filter chain matches on. Run inside a workload's network namespace
// (`ip netns exec NS tsx namespace-mtls-client.ts HOST PORT CERT KEY CA`): sends stdin's bytes,
// prints what came back once the reply ends in a line the pattern `--until` names, or the server
// closes, or 5 s pass. Exit status 2 when the handshake failed.
import fs from 'node:fs';
import tls from 'node:tls';

const [host, port, certFile, keyFile, caFile, untilFlag, untilPattern] = process.argv.slice(2);
if (host === undefined || port === undefined || certFile === undefined || keyFile === undefined || caFile === undefined) {
  process.stderr.write('usage: namespace-mtls-client.ts HOST PORT CERT KEY CA [--until REGEX]\n');
  process.exit(64);
}
const until = untilFlag === '--until' && untilPattern !== undefined ? new RegExp(untilPattern) : undefined;
const chunks: Buffer[] = [];
process.stdin.on('data', (chunk: Buffer) => chunks.push(chunk));
process.stdin.on('end', () => run(Buffer.concat(chunks)));

function run(request: Buffer): void {
  let reply = '';
  const socket = tls.connect({
    host,
    port: Number(port),
    cert: fs.readFileSync(certFile),
    key: fs.readFileSync(keyFile),
    ca: fs.readFileSync(caFile),
    ALPNProtocols: ['istio'],
    // Istio's peers check the SPIFFE ID, not a host name; the chain is still verified against the root.
    checkServerIdentity: () => undefined,
  });
  const finish = (status: number): void => {
    process.stdout.write(reply);
    socket.destroy();
    process.exit(status);
  };
  const timer = setTimeout(() => finish(0), 5_000);
  socket.once('secureConnect', () => socket.write(request));
  socket.on('data', (chunk: Buffer) => {
    reply += chunk.toString('latin1');
    if (until !== undefined && until.test(reply)) {
      clearTimeout(timer);
      finish(0);
    }
  });
  socket.on('end', () => finish(0));
  socket.on('error', (error) => {
    process.stderr.write(`${error.message}\n`);
    finish(socket.authorized ? 0 : 2);
  });
}
