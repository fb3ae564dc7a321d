// The xDS streams' own gRPC call handling (grpc-stream.ts) as clients see it over mTLS: a grpc-js
// client's half-close ends the call with OK after its answer; a compressed, oversized or undecodable
// request ends that call with a status that says why, and the server goes on serving the next call;
// a raw HTTP/2 client sending a non-gRPC request or a malformed frame gets a clear refusal too.
// Every frame the transport writes is handed back to its codec once HTTP/2 is done with it (the
// response encoder reuses its memory then), exactly once and in the order written.
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readNodeCredentials } from '../../../server/pki/node-credentials.ts';
import { startControlServer, type ControlServer } from '../../../server/xds/control-server.ts';
import type { DiscoveryRequest } from '../../../server/xds/discovery-messages.ts';
import { envoyMessageType } from '../../../server/xds/envoy-protos.ts';
import { Snapshot } from '../../../server/xds/snapshot.ts';
import { grpcStreamTransport, type GrpcStreamCodec } from '../../../server/xds/grpc-stream.ts';
import { cluster, NODE, sotwRequest } from './support/resources.ts';
import { createTestPki, grpcCredentialsOf } from '../../support/test-pki.ts';

const ADS_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const pki = createTestPki();
const nodeDir = pki.enrol(NODE.id);
const nodeCredentials = grpcCredentialsOf(nodeDir, { caPem: pki.authority.ca.certificatePem });
afterAll(() => pki.remove());

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function controlServer(): Promise<ControlServer> {
  const server = await startControlServer({ security: pki.security, batchWindowMs: 0, snapshot: new Snapshot([cluster('a')]) });
  cleanups.push(() => server.stop());
  return server;
}

interface AdsCall {
  call: grpc.ClientDuplexStream<Buffer, Buffer>;
  status: Promise<grpc.StatusObject>;
  firstResponse: Promise<Buffer>;
}

/** An ADS call whose messages are raw bytes, so a test can send what no serializer would. */
function adsCall(server: ControlServer, options: grpc.ChannelOptions = {}): AdsCall {
  const client = new grpc.Client(`127.0.0.1:${server.port}`, nodeCredentials, { 'grpc.ssl_target_name_override': 'weir-serve', ...options });
  cleanups.push(() => client.close());
  const call = client.makeBidiStreamRequest<Buffer, Buffer>(ADS_PATH, (bytes) => bytes, (bytes) => bytes);
  cleanups.push(() => call.cancel());
  call.on('error', () => {});
  return {
    call,
    firstResponse: new Promise((resolve) => call.once('data', resolve)),
    status: new Promise((resolve) => call.on('status', resolve)),
  };
}

function encodeRequest(request: Partial<DiscoveryRequest>): Buffer {
  const type = envoyMessageType('envoy.service.discovery.v3.DiscoveryRequest');
  return Buffer.from(type.encode(type.fromObject(sotwRequest(request))).finish());
}

/** The server still answers a well-formed call (after another one was refused). */
async function stillServes(server: ControlServer): Promise<void> {
  const { call, firstResponse } = adsCall(server);
  call.write(encodeRequest({ node: NODE }));
  expect((await firstResponse).length).toBeGreaterThan(0);
}

interface RawAnswer {
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
}

/** One request on the ADS path from node:http2 with the node's certificate; what came back. */
async function rawAdsRequest(server: ControlServer, contentType: string, body: Buffer): Promise<RawAnswer> {
  const credentials = readNodeCredentials(nodeDir);
  const session = http2.connect(`https://127.0.0.1:${server.port}`, {
    ca: credentials.caPem,
    cert: credentials.certificatePem,
    key: credentials.privateKeyPem,
    // The server certificate names its SPIFFE ID, not the address dialled.
    checkServerIdentity: () => undefined,
  });
  cleanups.push(() => session.destroy());
  session.on('error', () => {});
  const request = session.request({ ':method': 'POST', ':path': ADS_PATH, 'content-type': contentType, te: 'trailers' });
  let headers: http2.IncomingHttpHeaders = {};
  let trailers: http2.IncomingHttpHeaders = {};
  request.on('response', (received) => (headers = received));
  request.on('trailers', (received) => (trailers = received));
  request.resume();
  request.end(body);
  await new Promise<void>((resolve) => request.on('close', resolve));
  return { headers, trailers };
}

/** grpc-status and grpc-message of a raw answer, in trailers or in a trailers-only response. */
function grpcStatusOf(answer: RawAnswer): { code: string | undefined; message: string } {
  const source = answer.trailers['grpc-status'] !== undefined ? answer.trailers : answer.headers;
  const message = source['grpc-message'];
  return { code: source['grpc-status'] as string | undefined, message: typeof message === 'string' ? decodeURIComponent(message) : '' };
}

describe('xDS streams served on HTTP/2 directly', () => {
  it('ends the call with OK when the proxy half-closes, after answering it', async () => {
    const { call, status, firstResponse } = adsCall(await controlServer());
    call.write(encodeRequest({ node: NODE }));
    expect((await firstResponse).length).toBeGreaterThan(0);
    call.end();
    expect((await status).code).toBe(grpc.status.OK);
  });

  it('ends the call with UNIMPLEMENTED when the client compresses its requests', async () => {
    const { call, status } = adsCall(await controlServer(), { 'grpc.default_compression_algorithm': 2 });
    call.write(encodeRequest({ node: NODE }));
    const ended = await status;
    expect(ended.code).toBe(grpc.status.UNIMPLEMENTED);
    expect(ended.details).toContain('compressed');
  });

  it('ends a call sending a message over 4 MiB with RESOURCE_EXHAUSTED, and serves the next call', async () => {
    const server = await controlServer();
    const { call, status } = adsCall(server);
    call.write(Buffer.alloc(4 * 1024 * 1024 + 1));
    const ended = await status;
    expect(ended.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(ended.details).toContain('the limit is 4194304 bytes');
    await stillServes(server);
  });

  it('ends a call whose request is not a DiscoveryRequest with INTERNAL naming it, and serves the next call', async () => {
    const server = await controlServer();
    const { call, status } = adsCall(server);
    call.write(Buffer.from([0xff, 0xff, 0xff, 0xff]));
    const ended = await status;
    expect(ended.code).toBe(grpc.status.INTERNAL);
    expect(ended.details).toContain('cannot decode the DiscoveryRequest');
    expect(server.status.get(NODE.id)).toBeUndefined();
    await stillServes(server);
  });

  it('answers a request that is not gRPC with 415, and a frame with an unknown flag with INTERNAL', async () => {
    const server = await controlServer();
    const notGrpc = await rawAdsRequest(server, 'application/json', Buffer.from('{}'));
    expect(notGrpc.headers[':status']).toBe(415);
    const badFlag = await rawAdsRequest(server, 'application/grpc', Buffer.from([7, 0, 0, 0, 1, 0]));
    expect(badFlag.headers[':status']).toBe(200);
    expect(grpcStatusOf(badFlag)).toEqual({ code: String(grpc.status.INTERNAL), message: 'malformed gRPC frame: compressed flag 7' });
    await stillServes(server);
  });
});

describe('frames handed back to the codec once written', () => {
  // A plaintext HTTP/2 server whose one stream sends `count` numbered frames as fast as HTTP/2
  // takes them (the client reads only once all are queued, so most wait behind flow control), and
  // records every frame the transport hands back. Returns the frames sent and the ones handed back.
  async function sendFrames(count: number, clientAction: (request: http2.ClientHttp2Stream) => void): Promise<{ sent: Buffer[]; released: Buffer[]; closed: Promise<void> }> {
    const sent: Buffer[] = [];
    const released: Buffer[] = [];
    const codec: GrpcStreamCodec<Buffer, number> = {
      requestName: 'test request',
      decode: (message) => message,
      encodeFrame: (index) => {
        const frame = Buffer.alloc(5 + 16 * 1024, index % 251);
        frame.writeUInt32BE(frame.length - 5, 1);
        sent.push(frame);
        return frame;
      },
      frameWritten: (frame) => released.push(frame),
    };
    const server = http2.createServer();
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    let closed!: Promise<void>;
    const served = new Promise<void>((resolve) => {
      server.once('stream', (stream) => {
        const transport = grpcStreamTransport(stream, codec, { maxReceiveMessageBytes: 1024, maxSendMessageBytes: 1024 * 1024 }, () => undefined);
        closed = new Promise<void>((done) => transport.onClose(done));
        for (let index = 0; index < count; index += 1) transport.send(index);
        resolve();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const client = http2.connect(`http://127.0.0.1:${port}`);
    cleanups.push(() => client.destroy());
    const request = client.request({ ':method': 'POST', ':path': ADS_PATH, 'content-type': 'application/grpc' });
    await served;
    clientAction(request);
    return { sent, released, closed };
  }

  it('hands back every frame once, in the order written, when the client reads them all', async () => {
    let received = 0;
    const { sent, released } = await sendFrames(64, (request) => request.on('data', (chunk: Buffer) => (received += chunk.length)));
    await until(() => released.length === sent.length);
    expect(released).toHaveLength(64);
    released.forEach((frame, index) => expect(frame).toBe(sent[index]));
    await until(() => received === sent.reduce((total, frame) => total + frame.length, 0));
  });

  it('hands back every frame once, oldest first, when the client resets the stream with frames still queued', async () => {
    const { sent, released, closed } = await sendFrames(64, (request) => request.close(http2.constants.NGHTTP2_CANCEL));
    await closed;
    await until(() => released.length === sent.length);
    released.forEach((frame, index) => expect(frame).toBe(sent[index]));
  });
});

/** Waits for `condition` on every turn of the event loop (HTTP/2 callbacks run between turns). */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}
