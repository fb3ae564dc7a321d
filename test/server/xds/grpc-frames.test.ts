// gRPC's message framing as the xDS streams read it: messages cut out of DATA chunks whatever the
// chunk boundaries, compressed and oversized messages refused with the status the call ends with.
import { describe, expect, it } from 'vitest';
import { StreamStatus } from '../../../server/xds/discovery-messages.ts';
import { GrpcFrameError, GrpcMessageReader, writeFramePrefix } from '../../../server/xds/grpc-frames.ts';

function frame(text: string, compressed = 0): Buffer {
  const body = Buffer.from(text);
  const bytes = Buffer.alloc(5 + body.length);
  writeFramePrefix(bytes, body.length);
  bytes[0] = compressed;
  body.copy(bytes, 5);
  return bytes;
}

function readAll(reader: GrpcMessageReader, chunks: Buffer[]): string[] {
  const messages: string[] = [];
  const sink = { deliverMessage: (message: Buffer) => messages.push(message.toString()) };
  for (const chunk of chunks) reader.read(chunk, sink);
  return messages;
}

describe('gRPC message framing', () => {
  it('reads several messages from one chunk, and one message split at every byte', () => {
    const both = Buffer.concat([frame('first ack'), frame(''), frame('second')]);
    expect(readAll(new GrpcMessageReader(1024), [both])).toEqual(['first ack', '', 'second']);
    const bytewise = [...both].map((byte) => Buffer.from([byte]));
    expect(readAll(new GrpcMessageReader(1024), bytewise)).toEqual(['first ack', '', 'second']);
  });

  it('keeps a partial message until the rest arrives, with the next message in the same chunk', () => {
    const bytes = Buffer.concat([frame('one'), frame('two')]);
    const reader = new GrpcMessageReader(1024);
    expect(readAll(reader, [bytes.subarray(0, 6)])).toEqual([]);
    expect(readAll(reader, [bytes.subarray(6)])).toEqual(['one', 'two']);
  });

  it('refuses a compressed message with UNIMPLEMENTED and an oversized one with RESOURCE_EXHAUSTED', () => {
    const refusal = (chunk: Buffer, limit: number): GrpcFrameError | undefined => {
      try {
        readAll(new GrpcMessageReader(limit), [chunk]);
        return undefined;
      } catch (error) {
        return error instanceof GrpcFrameError ? error : undefined;
      }
    };
    expect(refusal(frame('zipped', 1), 1024)).toMatchObject({ status: StreamStatus.Unimplemented, message: expect.stringContaining('compressed') });
    expect(refusal(frame('x'.repeat(100)), 64)).toMatchObject({ status: StreamStatus.ResourceExhausted, message: expect.stringContaining('limit is 64') });
  });
});
