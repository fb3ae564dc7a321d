// memcached (text, meta and binary protocols) as a Weir parser, l7proto `memcache`. Per
// connection the first request byte picks the protocol as memcached's try_read_command_negotiate
// does: 0x80 is binary, anything else text, for the rest of the connection.
// Rule keys: `command` (a text command or binary opcode name; the control server expands groups
// such as `get` or `writeGroup` into sets), and at most one of `keyExact`, `keyPrefix`, `keyRegex`
// (a DFA table), which every key of the request must satisfy. Without configured rules every
// request is allowed and logged. Denials: text `CLIENT_ERROR access denied\r\n`, binary status
// 0x0008 `access denied`, each at the request's position among the replies (see session.ts and
// probe-answers.ts); the denied request never reaches the server. See README.md.
import { ByteView, Connection, ConstraintKind, Op, Parser, ParserFactory, Rule, RuleSchema, drop, nop } from '../../sdk/index';
import { MemcacheKey, RULE_KEYS, TEXT_COMMANDS, opcodeName, opcodeNamed } from './commands';
import { BinaryProtocol } from './binary-protocol';
import { TextProtocol } from './text-protocol';
import { MemcacheSession } from './session';

const enum Framing {
  Undecided = 0,
  Text = 1,
  Binary = 2,
}

const BINARY_MAGIC: i32 = 0x80;

export class MemcacheParser extends Parser {
  private session: MemcacheSession;
  private text: TextProtocol;
  private binary: BinaryProtocol;
  private framing: Framing = Framing.Undecided;

  constructor(connection: Connection) {
    super();
    const session = new MemcacheSession(connection);
    this.session = session;
    this.text = new TextProtocol(session);
    this.binary = new BinaryProtocol(session);
  }

  onData(reply: bool, endStream: bool, data: ByteView): Op {
    const pendingDrop = this.session.takePendingDrop(reply);
    if (pendingDrop > 0) return drop(pendingDrop);
    if (data.length == 0) return nop();
    if (this.framing == Framing.Undecided && !reply) {
      this.framing = data.byteAt(0) == BINARY_MAGIC ? Framing.Binary : Framing.Text;
    }
    if (this.framing == Framing.Binary) return reply ? this.binary.onReply(data) : this.binary.onRequest(data);
    return reply ? this.text.onReply(data) : this.text.onRequest(data);
  }
}

export class MemcacheRuleSchema extends RuleSchema {
  constructor() {
    super(RULE_KEYS);
  }

  validateRule(rule: Rule): string | null {
    const command = rule.constraintOn(MemcacheKey.Command);
    const keyConstraints = this.keyConstraintCount(rule);
    if (keyConstraints > 1) return 'only one of keyExact, keyPrefix, keyRegex per rule';
    if (command === null) return keyConstraints > 0 ? 'a key constraint needs a command (e.g. "command": "get")' : null;
    if (command.kind == ConstraintKind.Exact && !isKnownCommand(command.exactText())) {
      return 'unknown memcached command "' + command.exactText() + '"; see docs/parsers/memcache.md for the list';
    }
    if (command.kind != ConstraintKind.Exact && command.kind != ConstraintKind.Set) return 'command must be a command name or a set of them';
    const prefix = rule.constraintOn(MemcacheKey.KeyPrefix);
    if (prefix !== null && prefix.kind == ConstraintKind.Exact) prefix.kind = ConstraintKind.Prefix; // "keyPrefix": "a/"
    const regex = rule.constraintOn(MemcacheKey.KeyRegex);
    if (regex !== null && regex.kind != ConstraintKind.Regex) return 'keyRegex needs a DFA table ({"regex": "...", "dfa": {...}}), compiled by the control server';
    return null;
  }

  // The control server writes `command` as {"exact": "<group>", "textCommands": [...],
  // "binaryOpcodes": [...]}: the group's expansion, in both protocols.
  setFields(key: i32): Array<string> {
    return key == MemcacheKey.Command ? COMMAND_SET_FIELDS : NO_FIELDS;
  }

  setMember(key: i32, field: string, element: string): string | null {
    if (field == 'binaryOpcodes') {
      const opcode = I32.parseInt(element);
      const name = opcodeName(opcode);
      return name.length > 0 ? name : null;
    }
    return isKnownCommand(element) ? element : null;
  }

  private keyConstraintCount(rule: Rule): i32 {
    let count = 0;
    if (rule.constraintOn(MemcacheKey.KeyExact) !== null) count++;
    if (rule.constraintOn(MemcacheKey.KeyPrefix) !== null) count++;
    if (rule.constraintOn(MemcacheKey.KeyRegex) !== null) count++;
    return count;
  }
}

const COMMAND_SET_FIELDS: Array<string> = ['textCommands', 'binaryOpcodes'];
const NO_FIELDS: Array<string> = [];

function isKnownCommand(name: string): bool {
  return TEXT_COMMANDS.includes(name) || opcodeNamed(name) >= 0;
}

export class MemcacheFactory extends ParserFactory {
  private schema: MemcacheRuleSchema = new MemcacheRuleSchema();

  get protocol(): string {
    return 'memcache';
  }

  ruleSchema(): RuleSchema {
    return this.schema;
  }

  create(connection: Connection): Parser {
    return new MemcacheParser(connection);
  }
}
