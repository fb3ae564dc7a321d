// test.passer: forwards every byte in both directions, one PASS per call; NOP on empty input.
// Exercises the SDK's buffer plumbing without any framing.
import { ByteView, Connection, Op, Parser, ParserFactory, RuleSchema, nop, pass, useParser } from '../../index';
export * from '../../module/exports';

class Passer extends Parser {
  onData(reply: bool, endStream: bool, data: ByteView): Op {
    return data.length == 0 ? nop() : pass(<u32>data.length);
  }
}

class PasserFactory extends ParserFactory {
  get protocol(): string {
    return 'test.passer';
  }
  ruleSchema(): RuleSchema {
    return new RuleSchema([]);
  }
  create(connection: Connection): Parser {
    return new Passer();
  }
}

useParser(new PasserFactory());
