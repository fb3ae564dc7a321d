// test.lineparser: "\n"-framed lines whose first word is the verdict, to test the SDK's op loop
// and reply bookkeeping without a real protocol. Requests: PASS... (forwarded, one reply expected),
// DROP... (discarded), INSERT... (the line is INJECTed before itself in the same direction, then the
// original is dropped), REPLY... (the line is queued toward the client at its position, then
// dropped), DENY... (denied: deny reply "DENIED\n", probe "PROBE\n"), anything else: ERROR.
// Replies: each line is one complete reply. Partial line: MORE 1; empty input: NOP.
import { Ascii, ByteView, Connection, EntryType, ErrorCode, Op, Parser, ParserFactory, RuleSchema, asciiBytes, drop, error, inject, more, nop, pass, useParser } from '../../index';
import { Direction } from '../../contract/connection';
export * from '../../module/exports';

const DENY_REPLY: ArrayBuffer = asciiBytes('DENIED\n');
const PROBE_REQUEST: ArrayBuffer = asciiBytes('PROBE\n');

class LineParser extends Parser {
  private insertedLength: i32 = -1; // length of a line already INJECTed before itself

  constructor(private connection: Connection) {
    super();
  }

  onData(reply: bool, endStream: bool, data: ByteView): Op {
    if (data.length == 0) return nop();
    const newline = data.indexOf(<u8>Ascii.LF, 0);
    if (newline < 0) return more(1);
    const frame = newline + 1;
    if (reply) {
      this.connection.endOfReply();
      return pass(<u32>frame);
    }
    if (data.startsWithAscii(0, 'PASS')) {
      this.connection.expectReply();
      return pass(<u32>frame);
    }
    if (data.startsWithAscii(0, 'DROP')) return drop(<u32>frame);
    if (data.startsWithAscii(0, 'INSERT')) return this.insert(data, frame);
    if (data.startsWithAscii(0, 'REPLY')) {
      this.connection.injectReply(copyOf(data, frame));
      return drop(<u32>frame);
    }
    if (data.startsWithAscii(0, 'DENY')) {
      this.connection.fields.clear().addBytes('line', data, 0, newline);
      this.connection.log(EntryType.Denied, 'line starts with DENY');
      if (!this.connection.deny(DENY_REPLY, PROBE_REQUEST)) return error(ErrorCode.TooManyPendingReplies);
      return drop(<u32>frame);
    }
    this.connection.errorDetail = 'line starts with no known verdict';
    return error(ErrorCode.InvalidFrameType);
  }

  private insert(data: ByteView, frame: i32): Op {
    if (this.insertedLength == frame) {
      this.insertedLength = -1;
      return drop(<u32>frame);
    }
    this.insertedLength = frame;
    this.connection.injectHere(Direction.Request, copyOf(data, frame));
    return inject(<u32>frame);
  }
}

function copyOf(data: ByteView, length: i32): ArrayBuffer {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = <u8>data.byteAt(i);
  return bytes.buffer;
}

class LineParserFactory extends ParserFactory {
  get protocol(): string {
    return 'test.lineparser';
  }
  ruleSchema(): RuleSchema {
    return new RuleSchema([]);
  }
  create(connection: Connection): Parser {
    return new LineParser(connection);
  }
}

useParser(new LineParserFactory());
