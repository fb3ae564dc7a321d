// r2d2, the toy line protocol of Cilium's Go-extension guide, as a Weir parser: requests are
// `READ <file>`, `WRITE <file>`, `HALT`, `RESET`, each ending in "\r\n"; replies are lines, passed
// one by one. Rule keys (rule-keys.ts): `cmd` (READ, WRITE, HALT, RESET) and `file` (only with
// READ, WRITE or no cmd). Without configured rules the default applies: deny any request line
// containing `C-3PO`. A denied request never reaches the server; the client gets `ERROR\r\n` in its
// place among the replies (probe: the empty line, which r2d2 servers answer with ERROR). Each
// reply line is logged as a Response entry with its `status` (OK or ERROR).
// See README.md for example rules and limits.
import { Ascii, ByteView, Connection, Op, Parser, ParserFactory, RuleSchema, asciiBytes, more, pass } from '../../sdk/index';
import { R2D2_RULE_KEYS, R2d2Key } from './rule-keys';

const DENY_REPLY: ArrayBuffer = asciiBytes('ERROR\r\n');
const PROBE_REQUEST: ArrayBuffer = asciiBytes('\r\n');
const DEFAULT_DENIED_TEXT = 'C-3PO';
const DEFAULT_DENY_REASON = 'request contains ' + DEFAULT_DENIED_TEXT + ' (default rule: no rules configured)';

export class R2d2Parser extends Parser {
  constructor(private connection: Connection) {
    super();
    connection.answersInOrder(PROBE_REQUEST);
  }

  onData(reply: bool, endStream: bool, data: ByteView): Op {
    const lineLength = data.lineLength(0);
    if (lineLength < 0) return more(1);
    const frameLength = <u32>(lineLength + 2);
    if (reply) {
      // A Response entry with the reply's status, its first word (OK or ERROR).
      const firstSpace = data.indexOfBefore(<u8>Ascii.Space, 0, lineLength);
      this.connection.fields.clear().addBytes('status', data, 0, firstSpace < 0 ? lineLength : firstSpace);
      this.connection.completeReply();
      return pass(frameLength);
    }
    this.decodeRequest(data, lineLength);
    const allowed = data.containsAscii(0, lineLength, DEFAULT_DENIED_TEXT) ? this.connection.decideDefaultDeny(DEFAULT_DENY_REASON) : this.connection.decide();
    return allowed ? this.connection.forward(frameLength) : this.connection.refuse(frameLength, DENY_REPLY);
  }

  // cmd is the first space-separated word, file the second when the line has exactly two words.
  private decodeRequest(data: ByteView, lineLength: i32): void {
    const record = this.connection.record;
    record.clear();
    const firstSpace = data.indexOfBefore(<u8>Ascii.Space, 0, lineLength);
    record.set(R2d2Key.Cmd, data, 0, firstSpace < 0 ? lineLength : firstSpace);
    if (firstSpace < 0) return;
    const fileStart = firstSpace + 1;
    if (data.indexOfBefore(<u8>Ascii.Space, fileStart, lineLength) >= 0) return;
    record.set(R2d2Key.File, data, fileStart, lineLength - fileStart);
  }
}

export class R2d2Factory extends ParserFactory {
  get protocol(): string {
    return 'r2d2';
  }

  ruleSchema(): RuleSchema {
    return R2D2_RULE_KEYS;
  }

  create(connection: Connection): Parser {
    return new R2d2Parser(connection);
  }
}
