// test.blockparser: blocks "<decimal length>:<payload>" where the length counts the whole block
// (digits and colon included). A block whose payload starts with PASS or DROP is decided as soon
// as its header is in, with the full block length: PASS/DROP beyond the buffered bytes, which the
// SDK must carry over without calling the parser again. Other blocks wait for all their bytes
// (MORE missing) and are passed. A length not larger than its header: ERROR InvalidFrameLength.
import { ByteView, Connection, ErrorCode, Op, Parser, ParserFactory, RuleSchema, drop, error, more, nop, pass, useParser } from '../../index';
export * from '../../module/exports';

const MAX_DIGITS: i32 = 9;

class BlockParser extends Parser {
  constructor(private connection: Connection) {
    super();
  }

  onData(reply: bool, endStream: bool, data: ByteView): Op {
    if (data.length == 0) return nop();
    const colon = data.indexOf(0x3a, 0);
    if (colon < 0) return data.length > MAX_DIGITS ? error(ErrorCode.InvalidFrameLength) : more(1);
    let length: i64 = 0;
    for (let i = 0; i < colon; i++) {
      const digit = data.byteAt(i) - 0x30;
      if (digit < 0 || digit > 9) return error(ErrorCode.InvalidFrameLength);
      length = length * 10 + <i64>digit;
    }
    if (colon == 0 || length <= <i64>(colon + 1)) {
      this.connection.errorDetail = 'block length must exceed its header';
      return error(ErrorCode.InvalidFrameLength);
    }
    if (data.startsWithAscii(colon + 1, 'PASS')) return pass(<u32>length);
    if (data.startsWithAscii(colon + 1, 'DROP')) return drop(<u32>length);
    if (!data.has(colon + 1, 4)) return more(1);
    if (<i64>data.length < length) return more(<u32>(length - <i64>data.length));
    return pass(<u32>length);
  }
}

class BlockParserFactory extends ParserFactory {
  get protocol(): string {
    return 'test.blockparser';
  }
  ruleSchema(): RuleSchema {
    return new RuleSchema([]);
  }
  create(connection: Connection): Parser {
    return new BlockParser(connection);
  }
}

useParser(new BlockParserFactory());
