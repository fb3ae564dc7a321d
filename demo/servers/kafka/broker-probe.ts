// Asks a Kafka broker, over one raw TCP connection, whether it serves clients: a Metadata v1
// request for no topics, answered with the list of live brokers. A broker that listens but has not
// registered itself with its KRaft controller yet answers with no brokers, which counts as not
// ready. Speaks just enough of the protocol for that; the clients the tests use are kafkajs and
// Kafka's own tools.
import net from 'node:net';

const METADATA_API_KEY = 3;
const PROBE_CORRELATION_ID = 7;

/** Resolves with the number of live brokers the broker reports; rejects on a timeout or a close. */
export function probeKafkaBroker(host: string, port: number, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host);
    let received = Buffer.alloc(0);
    const fail = (why: string): void => {
      socket.destroy();
      reject(new Error(`Kafka probe of ${host}:${port}: ${why}`));
    };
    socket.setTimeout(timeoutMs, () => fail(`no Metadata answer within ${timeoutMs} ms`));
    socket.once('error', (error) => fail(error.message));
    socket.once('close', () => fail('connection closed before a Metadata answer'));
    socket.once('connect', () => socket.write(metadataRequestV1()));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 4 || received.length < 4 + received.readInt32BE(0)) return;
      const correlationId = received.readInt32BE(4);
      if (correlationId !== PROBE_CORRELATION_ID) return fail(`answer for correlation id ${correlationId}, expected ${PROBE_CORRELATION_ID}`);
      // Metadata v1 response body: brokers is an INT32-counted array right after the header.
      const brokerCount = received.readInt32BE(8);
      socket.removeAllListeners('close');
      socket.destroy();
      resolve(brokerCount);
    });
  });
}

function metadataRequestV1(): Buffer {
  const clientId = Buffer.from('weir-probe');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4);
  let at = body.writeInt16BE(METADATA_API_KEY, 0);
  at = body.writeInt16BE(1, at);
  at = body.writeInt32BE(PROBE_CORRELATION_ID, at);
  at = body.writeInt16BE(clientId.length, at);
  at += clientId.copy(body, at);
  body.writeInt32BE(0, at); // topics: an empty list (no topics), not null (all topics)
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length, 0);
  return Buffer.concat([size, body]);
}
