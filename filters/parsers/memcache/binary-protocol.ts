// memcached's binary protocol: 24-byte headers (magic 0x80 request / 0x81 reply, opcode, key
// length, extras length, total body length, opaque), then extras, key and value; value bytes are
// counted and passed, never read. A request passes only in a shape memcached 1.6.18 reads as one
// frame of 24 + body bytes (dispatch_bin_command, binary-shapes.ts); any other shape closes the
// connection, because memcached would either close or read part of it as the next request.
// Every request is decided on its opcode name and key; a denied
// one is replaced by a NOOP with the same opaque, and that NOOP's reply becomes status 0x0008
// `access denied` echoing the denied request's opcode and opaque (the SDK's probe-answers.ts
// explains why quiet opcodes and NOOP-terminated multi-gets cannot misplace it). Quiet (q) requests get the
// deny reply too: the protocol answers quiet requests when they fail.
import { ByteView, Connection, LogFields, Op, ReplyKind, closeOnDoubt, more, pass } from '../../sdk/index';
import { Opcode, opcodeName, opcodeNameBytes } from './commands';
import { shapeProblem } from './binary-shapes';
import { MemcacheKey } from './rule-keys';

const HEADER_BYTES: i32 = 24;
const REQUEST_MAGIC: i32 = 0x80;
const REPLY_MAGIC: i32 = 0x81;
// Larger bodies would overflow a frame length; memcached's own item limit is far below.
const MAX_BODY_BYTES: i64 = 0x7fffff00;
const STATUS_ACCESS_DENIED: i32 = 0x0008;
const DENIED_TEXT = 'access denied';

export class BinaryProtocol {
  private nameView: ByteView = new ByteView();
  private probe: ArrayBuffer = new ArrayBuffer(HEADER_BYTES);

  constructor(private connection: Connection) {}

  onRequest(data: ByteView): Op {
    if (data.length < HEADER_BYTES) return more(<u32>(HEADER_BYTES - data.length));
    if (data.byteAt(0) != REQUEST_MAGIC) return closeOnDoubt(this.connection, 'binary request without magic 0x80');
    const opcode = data.byteAt(1);
    const keyLength = data.u16be(2);
    const extrasLength = data.byteAt(4);
    const bodyLength = data.u32be(8);
    if (bodyLength > MAX_BODY_BYTES) return closeOnDoubt(this.connection, 'binary request body over 2 GiB');
    const keyStart = HEADER_BYTES + extrasLength;
    const keyEnd = keyStart + keyLength;
    const problem = shapeProblem(opcode, extrasLength, keyLength, bodyLength);
    if (problem !== null) return closeOnDoubt(this.connection, problem);
    if (data.length < keyEnd) return more(<u32>(keyEnd - data.length));
    const opaque = <u32>data.u32be(12);
    this.decodeRequest(data, opcode, keyStart, keyLength);
    const frameLength = <u32>(<i64>HEADER_BYTES + bodyLength);
    // The client's own NOOP is answered like our probe: its answer is counted, not replaced.
    if (this.connection.decide()) return this.connection.forward(frameLength, opcode == Opcode.Noop ? ReplyKind.LikeProbe : ReplyKind.Other);
    return this.connection.refuse(frameLength, denyReplyFor(<u8>opcode, opaque), this.probeFor(opaque));
  }

  onReply(data: ByteView): Op {
    if (data.length < HEADER_BYTES) return more(<u32>(HEADER_BYTES - data.length));
    if (data.byteAt(0) != REPLY_MAGIC) return closeOnDoubt(this.connection, 'binary reply without magic 0x81');
    const bodyLength = data.u32be(8);
    if (bodyLength > MAX_BODY_BYTES) return closeOnDoubt(this.connection, 'binary reply body over 2 GiB');
    const frameLength = <u32>(<i64>HEADER_BYTES + bodyLength);
    if (data.byteAt(1) == Opcode.Noop) {
      const denyReply = this.connection.answered(ReplyKind.LikeProbe);
      if (denyReply !== null) return this.connection.replace(frameLength, denyReply);
    }
    this.logReplyStatus(data);
    return pass(frameLength);
  }

  // A Response entry with the reply's opcode name and its status code (0 = no error, 1 = key not
  // found, 0x08 = access denied by the server, ...).
  private logReplyStatus(data: ByteView): void {
    const fields = this.connection.fields.clear();
    addOpcodeField(fields, <i32>data.byteAt(1));
    fields.addNumber('status', <u64>data.u16be(6));
    this.connection.logResponse();
  }

  private decodeRequest(data: ByteView, opcode: i32, keyStart: i32, keyLength: i32): void {
    const record = this.connection.record;
    record.clear();
    this.connection.fields.clear();
    const name = opcodeNameBytes(opcode);
    if (name.byteLength > 0) {
      this.nameView.setWindow(changetype<usize>(name), name.byteLength);
      record.set(MemcacheKey.Command, this.nameView, 0, name.byteLength);
    } else {
      this.connection.fields.addNumber('opcode', <u64>opcode); // decide() logs a named one as `command`
    }
    if (keyLength == 0) return;
    record.add(MemcacheKey.KeyExact, data, keyStart, keyLength);
    record.add(MemcacheKey.KeyPrefix, data, keyStart, keyLength);
    record.add(MemcacheKey.KeyRegex, data, keyStart, keyLength);
  }

  // NOOP request with the denied request's opaque.
  private probeFor(opaque: u32): ArrayBuffer {
    const bytes = Uint8Array.wrap(this.probe);
    bytes.fill(0);
    bytes[0] = <u8>REQUEST_MAGIC;
    bytes[1] = <u8>Opcode.Noop;
    writeU32be(bytes, 12, opaque);
    return this.probe;
  }

}

// Status 0x0008 with body `access denied`, echoing the denied request's opcode and opaque (made
// per denial: it waits for the probe's answer).
function denyReplyFor(opcode: u8, opaque: u32): ArrayBuffer {
  const bytes = new Uint8Array(HEADER_BYTES + DENIED_TEXT.length);
  bytes[0] = <u8>REPLY_MAGIC;
  bytes[1] = opcode;
  bytes[6] = <u8>(STATUS_ACCESS_DENIED >> 8);
  bytes[7] = <u8>(STATUS_ACCESS_DENIED & 0xff);
  writeU32be(bytes, 8, <u32>DENIED_TEXT.length);
  writeU32be(bytes, 12, opaque);
  for (let i = 0; i < DENIED_TEXT.length; i++) bytes[HEADER_BYTES + i] = <u8>DENIED_TEXT.charCodeAt(i);
  return bytes.buffer;
}

function writeU32be(bytes: Uint8Array, offset: i32, value: u32): void {
  bytes[offset] = <u8>(value >> 24);
  bytes[offset + 1] = <u8>(value >> 16);
  bytes[offset + 2] = <u8>(value >> 8);
  bytes[offset + 3] = <u8>value;
}

// The entry field naming a binary opcode: `command` with its name, or `opcode` with its number
// when memcached's table has none.
function addOpcodeField(fields: LogFields, opcode: i32): void {
  const name = opcodeName(opcode);
  if (name.length > 0) fields.addString('command', name);
  else fields.addNumber('opcode', <u64>opcode);
}
