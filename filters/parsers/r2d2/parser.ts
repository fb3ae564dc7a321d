// r2d2, the toy line protocol of Cilium's Go-extension guide, as a Weir parser: requests are
// `READ <file>`, `WRITE <file>`, `HALT`, `RESET`, each ending in "\r\n"; replies are lines, passed
// one by one. Rule keys: `cmd` (exact: READ, WRITE, HALT, RESET) and `file` (exact or regex, only
// with READ, WRITE or no cmd). Without configured rules the default applies: deny any request line
// containing `C-3PO`. A denied request never reaches the server; the client gets `ERROR\r\n` in its
// place among the replies (probe: the empty line, which r2d2 servers answer with ERROR). Each
// reply line is logged as a Response entry with its `status` (OK or ERROR).
// See README.md for example rules and limits.
import {
  ByteView,
  Connection,
  EntryType,
  ErrorCode,
  Op,
  Parser,
  ParserFactory,
  RuleSchema,
  Ascii,
  asciiBytes,
  drop,
  error,
  more,
  pass,
} from '../../sdk/index';
import { R2D2_RULE_KEYS, R2d2Key } from './rule-keys';

const DENY_REPLY: ArrayBuffer = asciiBytes('ERROR\r\n');
const PROBE_REQUEST: ArrayBuffer = asciiBytes('\r\n');
const DEFAULT_DENIED_TEXT = 'C-3PO';

export class R2d2Parser extends Parser {
  constructor(private connection: Connection) {
    super();
  }

  onData(reply: bool, endStream: bool, data: ByteView): Op {
    const lineLength = data.lineLength(0);
    if (lineLength < 0) return more(1);
    const frameLength = <u32>(lineLength + 2);
    if (reply) {
      this.logReply(data, lineLength);
      this.connection.endOfReply();
      return pass(frameLength);
    }
    this.decodeRequest(data, lineLength);
    const allowedByDefault = !data.containsAscii(0, lineLength, DEFAULT_DENIED_TEXT);
    if (this.connection.allows(allowedByDefault)) {
      this.logRequest(EntryType.Request, '');
      this.connection.expectReply();
      return pass(frameLength);
    }
    const reason = this.connection.settings.rules === null ? 'request contains ' + DEFAULT_DENIED_TEXT + ' (default rule: no rules configured)' : 'no rule allows this request';
    this.logRequest(EntryType.Denied, reason);
    if (!this.connection.deny(DENY_REPLY, PROBE_REQUEST)) return error(ErrorCode.TooManyPendingReplies);
    return drop(frameLength);
  }

  // Fills the request record and the log fields: cmd is the first space-separated word, file the
  // second when the line has exactly two words.
  private decodeRequest(data: ByteView, lineLength: i32): void {
    const record = this.connection.record;
    const fields = this.connection.fields.clear();
    record.clear();
    const firstSpace = data.indexOfBefore(<u8>Ascii.Space, 0, lineLength);
    const cmdLength = firstSpace < 0 ? lineLength : firstSpace;
    record.set(R2d2Key.Cmd, data, 0, cmdLength);
    fields.addBytes('cmd', data, 0, cmdLength);
    if (firstSpace < 0) return;
    const fileStart = firstSpace + 1;
    if (data.indexOfBefore(<u8>Ascii.Space, fileStart, lineLength) >= 0) return;
    record.set(R2d2Key.File, data, fileStart, lineLength - fileStart);
    fields.addBytes('file', data, fileStart, lineLength - fileStart);
  }

  // A Response entry with the reply's status, its first word (OK or ERROR).
  private logReply(data: ByteView, lineLength: i32): void {
    const firstSpace = data.indexOfBefore(<u8>Ascii.Space, 0, lineLength);
    this.connection.fields.clear().addBytes('status', data, 0, firstSpace < 0 ? lineLength : firstSpace);
    this.connection.logResponse();
  }

  private logRequest(type: EntryType, reason: string): void {
    this.connection.log(type, reason);
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
