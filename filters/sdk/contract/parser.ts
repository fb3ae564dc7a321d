// The parser contract of DESIGN.md: a Parser is made per connection by its module's
// ParserFactory and answers onData(reply, endStream, data) with one Op (ops.ts). The op loop that
// applies them is in op-loop.ts; what a parser may ask of its connection is in connection.ts.
import { ByteView } from '../bytes/byte-view';
import { Connection } from './connection';
import { RuleSchema } from '../policy/rules';
import { Op } from './ops';

export abstract class Parser {
  // `reply` is false for client -> server bytes, true for server -> client bytes. `data` starts
  // on a frame boundary and may be empty (then return NOP or MORE).
  abstract onData(reply: bool, endStream: bool, data: ByteView): Op;
}

export abstract class ParserFactory {
  // The protocol name: the module's root_id, the "parser" of the plugin configuration and the
  // "proto" of access-log entries.
  abstract get protocol(): string;

  // The rule keys this protocol accepts, with the checks that are specific to it.
  abstract ruleSchema(): RuleSchema;

  abstract create(connection: Connection): Parser;
}
