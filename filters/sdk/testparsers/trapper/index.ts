// test.trapper: a deliberately broken parser for the sandboxing tests. It forwards every byte like
// test.passer, except that the magic sequence WEIR-TRAP-NOW anywhere in a read makes it throw,
// which AssemblyScript turns into the SDK's abort handler (a critical log line and a Denied
// access-log entry) followed by a trap that fails the whole VM. Never copy this into a parser.
import { ByteView, Connection, Op, Parser, ParserFactory, RuleSchema, nop, pass, useParser } from '../../index';
export * from '../../module/exports';

const MAGIC = 'WEIR-TRAP-NOW';

class Trapper extends Parser {
  onData(reply: bool, endStream: bool, data: ByteView): Op {
    if (data.length == 0) return nop();
    if (data.containsAscii(0, data.length, MAGIC)) throw new Error('test.trapper received ' + MAGIC);
    return pass(<u32>data.length);
  }
}

class TrapperFactory extends ParserFactory {
  get protocol(): string {
    return 'test.trapper';
  }
  ruleSchema(): RuleSchema {
    return new RuleSchema([]);
  }
  create(connection: Connection): Parser {
    return new Trapper();
  }
}

useParser(new TrapperFactory());
