// tcp: the L3/L4 guard for ports whose traffic Weir does not parse. It frames nothing: each chunk
// of client bytes is checked against the endpoint's policy for this port and remote (identity,
// port, deny rules, default-deny), exactly as a parser's request would be, with an empty request
// record; allowed bytes pass unchanged, replies always pass. A denial cannot be answered in an
// opaque protocol, so it closes the connection (ERROR PolicyDenied) after logging a Denied entry
// with the policy's reason; the denied bytes never reach the server. Because every chunk is
// checked, a policy change reaches connections that are already open. Without a policy binding
// ("policy": "agent") it allows everything. The sidecar's and the per-node proxy's catch-all
// filter chains run it with "port": "destination".
import { ByteView, Connection, EntryType, ErrorCode, Op, Parser, ParserFactory, RuleSchema, error, nop, pass } from '../../sdk/index';

export class TcpGuard extends Parser {
  private logged: bool = false;

  constructor(private connection: Connection) {
    super();
  }

  onData(reply: bool, endStream: bool, data: ByteView): Op {
    if (data.length == 0) return nop();
    if (reply) return pass(<u32>data.length);
    const connection = this.connection;
    connection.record.clear();
    connection.fields.clear().addNumber('bytes', <u64>data.length);
    if (connection.allowsRequest()) {
      // One Request entry per connection: the first bytes it sends.
      if (!this.logged) connection.log(EntryType.Request, '');
      else connection.fields.clear();
      this.logged = true;
      return pass(<u32>data.length);
    }
    connection.log(EntryType.Denied, 'denied');
    return error(ErrorCode.PolicyDenied);
  }
}

export class TcpGuardFactory extends ParserFactory {
  private schema: RuleSchema = new RuleSchema([]);

  get protocol(): string {
    return 'tcp';
  }

  ruleSchema(): RuleSchema {
    return this.schema;
  }

  create(connection: Connection): Parser {
    return new TcpGuard(connection);
  }
}
