// memcached (text, meta and binary protocols) as a Weir parser, l7proto `memcache`. Per
// connection the first request byte picks the protocol as memcached's try_read_command_negotiate
// does: 0x80 is binary, anything else text, for the rest of the connection.
// Rule keys (rule-keys.ts): `command` (a text command, binary opcode name or group such as `get`
// or `writeGroup`), and at most one of `keyExact`, `keyPrefix`, `keyRegex`, which every key of
// the request must satisfy. Without configured rules every request is allowed and logged.
// Denials: text `CLIENT_ERROR access denied\r\n`, binary status 0x0008 `access denied`, each at
// the request's position among the replies: the denied request is replaced by a probe (text
// `version`, binary NOOP) whose answer becomes the deny reply (the SDK's probe-answer
// correlation); it never reaches the server. See README.md.
import { ByteView, Connection, Op, Parser, ParserFactory, RuleSchema, nop } from '../../sdk/index';
import { BinaryProtocol } from './binary-protocol';
import { MEMCACHE_RULE_KEYS } from './rule-keys';
import { TextProtocol } from './text-protocol';

const enum Framing {
  Undecided = 0,
  Text = 1,
  Binary = 2,
}

const BINARY_MAGIC: i32 = 0x80;

export class MemcacheParser extends Parser {
  private text: TextProtocol;
  private binary: BinaryProtocol;
  private framing: Framing = Framing.Undecided;

  constructor(connection: Connection) {
    super();
    connection.answersByProbe('version/NOOP');
    this.text = new TextProtocol(connection);
    this.binary = new BinaryProtocol(connection);
  }

  onData(reply: bool, endStream: bool, data: ByteView): Op {
    if (data.length == 0) return nop();
    if (this.framing == Framing.Undecided && !reply) {
      this.framing = data.byteAt(0) == BINARY_MAGIC ? Framing.Binary : Framing.Text;
    }
    if (this.framing == Framing.Binary) return reply ? this.binary.onReply(data) : this.binary.onRequest(data);
    return reply ? this.text.onReply(data) : this.text.onRequest(data);
  }
}

export class MemcacheFactory extends ParserFactory {
  get protocol(): string {
    return 'memcache';
  }

  ruleSchema(): RuleSchema {
    return MEMCACHE_RULE_KEYS;
  }

  create(connection: Connection): Parser {
    return new MemcacheParser(connection);
  }
}
