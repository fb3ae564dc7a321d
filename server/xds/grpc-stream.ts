// One gRPC bidirectional call served on a node:http2 stream directly, as the XdsStreamTransport the
// SotW and delta modules speak. grpc-js runs every message through interceptor layers, a Duplex
// object stream, an async decompression step and a copy into a framed buffer; at thousands of
// proxies per push that machinery cost more than the xDS work. Here a response is written in the
// buffer it was encoded into (the codec frames it) and a request is decoded from the DATA chunk it
// arrived in. What this keeps of gRPC: the response headers and trailers (grpc-status,
// percent-encoded grpc-message, trailers-only for an error before any message), identity encoding
// only (compressed requests end the call with UNIMPLEMENTED), message size limits, half-close ends
// the call with OK, a reset or a closed connection ends it silently. No deadline: xDS streams have
// none. The peer's verified certificate is read the way grpc-js's auth context reads it.
import http2 from 'node:http2';
import { TLSSocket, type PeerCertificate } from 'node:tls';
import type { PeerCertificateFacts } from '../pki/peer-authenticator.ts';
import { StreamStatus, type XdsStreamTransport } from './discovery-messages.ts';
import { GRPC_FRAME_PREFIX_BYTES, GrpcFrameError, GrpcMessageReader } from './grpc-frames.ts';

/** How one method's messages are read and written. */
export interface GrpcStreamCodec<Request, Response> {
  /** Decodes one request message; throws on malformed bytes. */
  decode(message: Buffer): Request;
  /** Encodes one response as a whole gRPC frame (five-byte prefix included). */
  encodeFrame(response: Response): Buffer;
  /** Told when HTTP/2 has written a frame from encodeFrame (or dropped it unwritten): its memory may be reused. */
  frameWritten?(frame: Buffer): void;
  /** Names the request message in errors, e.g. DiscoveryRequest. */
  requestName: string;
}

export interface GrpcStreamLimits {
  maxReceiveMessageBytes: number;
  maxSendMessageBytes: number;
}

const RESPONSE_HEADERS: http2.OutgoingHttpHeaders = {
  [http2.constants.HTTP2_HEADER_STATUS]: http2.constants.HTTP_STATUS_OK,
  [http2.constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc+proto',
  'grpc-accept-encoding': 'identity',
  'grpc-encoding': 'identity',
};
const RESPONSE_OPTIONS: http2.ServerStreamResponseOptions = { waitForTrailers: true };
const TRANSPORT = Symbol('weir.grpcStream');

type StreamWithTransport = http2.ServerHttp2Stream & { [TRANSPORT]?: GrpcServerStream<unknown, unknown> };

/** True when `headers` announce a gRPC call; otherwise answer with answerNotGrpc(). */
export function isGrpcRequest(headers: http2.IncomingHttpHeaders): boolean {
  const contentType = headers[http2.constants.HTTP2_HEADER_CONTENT_TYPE];
  return typeof contentType === 'string' && contentType.startsWith('application/grpc');
}

/** What grpc-js answers a request that is not gRPC: 415. */
export function answerNotGrpc(stream: http2.ServerHttp2Stream): void {
  stream.respond({ [http2.constants.HTTP2_HEADER_STATUS]: http2.constants.HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE }, { endStream: true });
}

/**
 * Wraps an HTTP/2 stream that carries a gRPC bidi call; `describe` turns the peer's verified
 * certificate (if any) into what the stream admission checks.
 */
export function grpcStreamTransport<Request, Response>(
  stream: http2.ServerHttp2Stream,
  codec: GrpcStreamCodec<Request, Response>,
  limits: GrpcStreamLimits,
  describe: (certificate: PeerCertificate | undefined) => PeerCertificateFacts | undefined,
): XdsStreamTransport<Request, Response> {
  return new GrpcServerStream(stream, codec, limits, describe(verifiedPeerCertificate(stream)));
}

/** As grpc-js's auth context reads it: the certificate of an authorized TLS peer, else undefined. */
export function verifiedPeerCertificate(stream: http2.ServerHttp2Stream): PeerCertificate | undefined {
  const socket: unknown = stream.session?.socket;
  if (!(socket instanceof TLSSocket) || !socket.authorized) return undefined;
  const certificate = socket.getPeerCertificate();
  return certificate.raw ? certificate : undefined;
}

class GrpcServerStream<Request, Response> implements XdsStreamTransport<Request, Response> {
  readonly peer: string;
  #reader: GrpcMessageReader | undefined;
  #onRequest: ((request: Request) => void) | undefined;
  #closeListeners: Array<() => void> = [];
  #headersSent = false;
  #finished = false;
  #closed = false;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    private readonly codec: GrpcStreamCodec<Request, Response>,
    private readonly limits: GrpcStreamLimits,
    readonly peerCertificate: PeerCertificateFacts | undefined,
  ) {
    const socket = stream.session?.socket;
    this.peer = socket?.remoteAddress ? `${socket.remoteAddress}${socket.remotePort ? `:${socket.remotePort}` : ''}` : 'unknown';
    // One set of listener functions for every stream (they find their transport on the stream):
    // no closures per stream.
    (stream as StreamWithTransport)[TRANSPORT] = this as GrpcServerStream<unknown, unknown>;
    stream.on('data', onStreamData);
    stream.on('end', onStreamEnd);
    stream.on('close', onStreamClose);
    stream.on('error', onStreamError);
  }

  send(response: Response): void {
    if (this.#finished || this.stream.destroyed) return;
    const frame = this.codec.encodeFrame(response);
    if (frame.length - GRPC_FRAME_PREFIX_BYTES > this.limits.maxSendMessageBytes) {
      this.codec.frameWritten?.(frame);
      this.fail(StreamStatus.ResourceExhausted, `response of ${frame.length - GRPC_FRAME_PREFIX_BYTES} bytes exceeds the ${this.limits.maxSendMessageBytes}-byte limit`);
      return;
    }
    if (!this.#headersSent) {
      this.#headersSent = true;
      this.stream.respond(RESPONSE_HEADERS, RESPONSE_OPTIONS);
    }
    const written = this.codec.frameWritten;
    // The write callback runs once HTTP/2 no longer holds the bytes: written to the socket, or
    // dropped with the stream.
    this.stream.write(frame, written ? () => written(frame) : undefined);
  }

  fail(status: StreamStatus, message: string): void {
    this.#finish(status, message);
    this.close();
  }

  onRequest(listener: (request: Request) => void): void {
    this.#onRequest = listener;
  }

  onClose(listener: () => void): void {
    this.#closeListeners.push(listener);
  }

  receive(chunk: Buffer): void {
    if (this.#finished) return;
    this.#reader ??= new GrpcMessageReader(this.limits.maxReceiveMessageBytes);
    try {
      this.#reader.read(chunk, this);
    } catch (error) {
      if (error instanceof GrpcFrameError) this.fail(error.status, error.message);
      else throw error;
    }
  }

  /** The client half-closed: the call ends with OK, as grpc-js ends it. */
  endedByClient(): void {
    this.close();
    this.#finish(StreamStatus.Ok, '');
  }

  /** Tells the listeners once that the call is over, whatever ended it. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const listener of this.#closeListeners) listener();
    this.#closeListeners = [];
  }

  /** One whole request message, from the reader. */
  deliverMessage(message: Buffer): void {
    if (this.#finished) return;
    let request: Request;
    try {
      request = this.codec.decode(message);
    } catch (error) {
      this.fail(StreamStatus.Internal, `cannot decode the ${this.codec.requestName}: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    try {
      this.#onRequest?.(request);
    } catch (error) {
      // A fault serving one request ends that call (the proxy reconnects), not the control plane.
      this.fail(StreamStatus.Internal, `the xDS server failed serving a ${this.codec.requestName}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Sends the status: in trailers after the headers, or trailers-only when nothing was sent yet. */
  #finish(status: StreamStatus, message: string): void {
    if (this.#finished) return;
    this.#finished = true;
    const stream = this.stream;
    if (stream.destroyed || stream.closed) return;
    const trailers: http2.OutgoingHttpHeaders = { 'grpc-status': String(status) };
    if (message) trailers['grpc-message'] = encodeURI(message);
    if (!this.#headersSent) {
      this.#headersSent = true;
      stream.respond({ ...RESPONSE_HEADERS, ...trailers }, { endStream: true });
      return;
    }
    stream.once('wantTrailers', () => stream.sendTrailers(trailers));
    stream.end();
  }
}

function transportOf(stream: http2.ServerHttp2Stream): GrpcServerStream<unknown, unknown> | undefined {
  return (stream as StreamWithTransport)[TRANSPORT];
}

function onStreamData(this: http2.ServerHttp2Stream, chunk: Buffer): void {
  transportOf(this)?.receive(chunk);
}

function onStreamEnd(this: http2.ServerHttp2Stream): void {
  transportOf(this)?.endedByClient();
}

function onStreamClose(this: http2.ServerHttp2Stream): void {
  transportOf(this)?.close();
}

// A reset or a broken connection: the 'close' that follows tells the listeners.
function onStreamError(this: http2.ServerHttp2Stream): void {
  transportOf(this)?.close();
}
