// gRPC's length-prefixed message framing (one byte compressed flag, four bytes big-endian length,
// the message), for the xDS streams served on node:http2 directly (grpc-stream.ts): a reader that
// cuts HTTP/2 DATA chunks into whole messages, and the size of the prefix writers reserve so a
// response is framed in the buffer it is encoded into. Knows nothing of HTTP/2 or xDS messages.
import { StreamStatus } from './discovery-messages.ts';

/** Bytes before each message: the compressed flag and the length. */
export const GRPC_FRAME_PREFIX_BYTES = 5;

/** Why a stream of frames cannot be read further; the stream should end with `status`. */
export class GrpcFrameError extends Error {
  constructor(
    readonly status: StreamStatus,
    message: string,
  ) {
    super(message);
  }
}

/** Writes the frame prefix of an uncompressed message of `length` bytes at the start of `frame`. */
export function writeFramePrefix(frame: Buffer, length: number): void {
  frame[0] = 0;
  frame.writeUInt32BE(length, 1);
}

/** Takes each whole message the reader cuts out. */
export interface GrpcMessageSink {
  deliverMessage(message: Buffer): void;
}

/**
 * Cuts a stream of DATA chunks into messages. A chunk holding exactly whole messages (the usual
 * case: an ACK is one small message) is sliced without copying; a message split across chunks is
 * gathered first. Compressed messages are refused: the streams advertise `grpc-accept-encoding:
 * identity`, so a client that compresses anyway is broken.
 */
export class GrpcMessageReader {
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  constructor(private readonly maxMessageBytes: number) {}

  /** Hands each message completed by `chunk` to `sink`; throws GrpcFrameError on bad frames. */
  read(chunk: Buffer, sink: GrpcMessageSink): void {
    let bytes = chunk;
    if (this.#pendingBytes > 0) {
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.length;
      if (this.#pendingBytes < GRPC_FRAME_PREFIX_BYTES) return;
      const wanted = GRPC_FRAME_PREFIX_BYTES + this.#messageLength(Buffer.concat(this.#pending, GRPC_FRAME_PREFIX_BYTES));
      if (this.#pendingBytes < wanted) return;
      bytes = Buffer.concat(this.#pending, this.#pendingBytes);
      this.#pending = [];
      this.#pendingBytes = 0;
    }
    let offset = 0;
    while (bytes.length - offset >= GRPC_FRAME_PREFIX_BYTES) {
      const length = this.#messageLength(bytes.subarray(offset, offset + GRPC_FRAME_PREFIX_BYTES));
      const end = offset + GRPC_FRAME_PREFIX_BYTES + length;
      if (end > bytes.length) break;
      sink.deliverMessage(bytes.subarray(offset + GRPC_FRAME_PREFIX_BYTES, end));
      offset = end;
    }
    if (offset < bytes.length) {
      // Keep the partial message as its own copy: the chunk's memory belongs to the HTTP/2 layer.
      const rest = Buffer.from(bytes.subarray(offset));
      this.#pending.push(rest);
      this.#pendingBytes = rest.length;
    }
  }

  /** The declared length of the message whose prefix starts `prefix`. */
  #messageLength(prefix: Buffer): number {
    const flag = prefix[0];
    if (flag === 1) throw new GrpcFrameError(StreamStatus.Unimplemented, 'compressed gRPC messages are not supported on xDS streams (the server accepts identity encoding only)');
    if (flag !== 0) throw new GrpcFrameError(StreamStatus.Internal, `malformed gRPC frame: compressed flag ${String(flag)}`);
    const length = prefix.readUInt32BE(1);
    if (length > this.maxMessageBytes) {
      throw new GrpcFrameError(StreamStatus.ResourceExhausted, `received a ${length}-byte message; the limit is ${this.maxMessageBytes} bytes`);
    }
    return length;
  }
}
