// Asks a CQL native port whether it serves clients: sends OPTIONS (expects SUPPORTED, whose options
// it returns) and then STARTUP (expects READY), in protocol v4 framing on one short connection.
// The runner polls it to decide that a node is ready. Speaks just enough CQL for that.
import net from 'node:net';

export interface CqlHandshake {
  /** The SUPPORTED multimap, e.g. { PROTOCOL_VERSIONS: ['3/v3', '4/v4', '5/v5', ...], CQL_VERSION: ['3.4.7'] }. */
  supported: Record<string, string[]>;
}

const enum CqlOpcode {
  Error = 0x00,
  Startup = 0x01,
  Ready = 0x02,
  Options = 0x05,
  Supported = 0x06,
}

const REQUEST_V4 = 0x04;
const HEADER_BYTES = 9;

/** Resolves with the server's SUPPORTED options once it has also answered STARTUP with READY. */
export async function cqlHandshake(host: string, port: number, timeoutMs: number): Promise<CqlHandshake> {
  const connection = await connectWithin(host, port, timeoutMs);
  try {
    const frames = frameReader(connection, timeoutMs);
    connection.write(encodeFrame(CqlOpcode.Options, 1, Buffer.alloc(0)));
    const supported = await frames.next();
    if (supported.opcode !== CqlOpcode.Supported) throw new Error(`OPTIONS was answered with ${describeFrame(supported)}, not SUPPORTED`);
    const options = decodeStringMultimap(supported.body);
    const cqlVersion = options.CQL_VERSION?.[0] ?? '3.0.0';
    connection.write(encodeFrame(CqlOpcode.Startup, 2, encodeStringMap({ CQL_VERSION: cqlVersion })));
    const ready = await frames.next();
    if (ready.opcode !== CqlOpcode.Ready) throw new Error(`STARTUP was answered with ${describeFrame(ready)}, not READY`);
    return { supported: options };
  } finally {
    connection.destroy();
  }
}

interface CqlFrame {
  version: number;
  opcode: number;
  body: Buffer;
}

function encodeFrame(opcode: CqlOpcode, streamId: number, body: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt8(REQUEST_V4, 0);
  header.writeUInt8(0, 1);
  header.writeInt16BE(streamId, 2);
  header.writeUInt8(opcode, 4);
  header.writeUInt32BE(body.length, 5);
  return Buffer.concat([header, body]);
}

function encodeStringMap(entries: Record<string, string>): Buffer {
  const parts: Buffer[] = [u16(Object.keys(entries).length)];
  for (const [key, value] of Object.entries(entries)) parts.push(encodeString(key), encodeString(value));
  return Buffer.concat(parts);
}

function encodeString(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  return Buffer.concat([u16(bytes.length), bytes]);
}

function u16(value: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16BE(value, 0);
  return bytes;
}

function decodeStringMultimap(body: Buffer): Record<string, string[]> {
  let offset = 0;
  const readString = (): string => {
    const length = body.readUInt16BE(offset);
    const text = body.toString('utf8', offset + 2, offset + 2 + length);
    offset += 2 + length;
    return text;
  };
  const result: Record<string, string[]> = {};
  const keyCount = body.readUInt16BE(offset);
  offset += 2;
  for (let key = 0; key < keyCount; key++) {
    const name = readString();
    const valueCount = body.readUInt16BE(offset);
    offset += 2;
    result[name] = Array.from({ length: valueCount }, readString);
  }
  return result;
}

function describeFrame(frame: CqlFrame): string {
  if (frame.opcode !== CqlOpcode.Error || frame.body.length < 6) return `opcode 0x${frame.opcode.toString(16)}`;
  const code = frame.body.readInt32BE(0);
  const messageLength = frame.body.readUInt16BE(4);
  return `ERROR 0x${code.toString(16)} "${frame.body.toString('utf8', 6, 6 + messageLength)}"`;
}

function connectWithin(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no TCP connection to ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Reads whole v3/v4 frames off a socket, one `next()` per frame, each bounded by timeoutMs. */
function frameReader(socket: net.Socket, timeoutMs: number): { next(): Promise<CqlFrame> } {
  let buffered = Buffer.alloc(0);
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    wake?.();
  });
  socket.on('error', (error) => {
    failure = error;
    wake?.();
  });
  socket.on('close', () => {
    failure ??= new Error('the server closed the connection before answering');
    wake?.();
  });
  const takeFrame = (): CqlFrame | undefined => {
    if (buffered.length < HEADER_BYTES) return undefined;
    const length = buffered.readUInt32BE(5);
    if (buffered.length < HEADER_BYTES + length) return undefined;
    const frame = { version: buffered.readUInt8(0), opcode: buffered.readUInt8(4), body: buffered.subarray(HEADER_BYTES, HEADER_BYTES + length) };
    buffered = buffered.subarray(HEADER_BYTES + length);
    return frame;
  };
  return {
    next: () =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no complete CQL frame within ${timeoutMs} ms`)), timeoutMs);
        const attempt = (): void => {
          const frame = takeFrame();
          if (frame !== undefined || failure !== undefined) {
            clearTimeout(timer);
            wake = undefined;
            if (frame !== undefined) resolve(frame);
            else reject(failure);
          }
        };
        wake = attempt;
        attempt();
      }),
  };
}
