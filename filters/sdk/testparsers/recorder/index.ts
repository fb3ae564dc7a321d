// test.recorder: a "\n"-line toy parser that reports how the SDK calls it, for contract tests.
// Requests: PASS... forwarded, DROP... discarded, INJECT... forwarded as "injected\n" followed by
// nothing (INJECT, then DROP of the line), ZERO... answers pass(0) (a parser bug: ERROR 1),
// STATS... logs a Request entry with the calls counted so far and is dropped. Replies: each line is
// passed. Counts calls with empty data per direction; the first endStream seen in a direction logs
// a Request entry {"end": "request"|"reply", "emptyCalls": n, "dataBytes": n}.
import { Ascii, ByteView, Connection, EntryType, Op, Parser, ParserFactory, RuleSchema, asciiBytes, drop, inject, more, nop, pass, useParser } from '../../index';
import { Direction } from '../../contract/connection';
export * from '../../module/exports';

const INJECTED: ArrayBuffer = asciiBytes('injected\n');

class Recorder extends Parser {
  private emptyRequestCalls: u32 = 0;
  private emptyReplyCalls: u32 = 0;
  private requestEnded: bool = false;
  private replyEnded: bool = false;
  private injectedFor: i32 = -1; // length of the INJECT line already answered with its injection

  constructor(private connection: Connection) {
    super();
  }

  onData(reply: bool, endStream: bool, data: ByteView): Op {
    if (endStream) this.recordEnd(reply, data);
    if (data.length == 0) {
      if (reply) this.emptyReplyCalls++;
      else this.emptyRequestCalls++;
      return nop();
    }
    const newline = data.indexOf(<u8>Ascii.LF, 0);
    if (newline < 0) return more(1);
    const frame = <u32>(newline + 1);
    if (reply || data.startsWithAscii(0, 'PASS')) return pass(frame);
    if (data.startsWithAscii(0, 'ZERO')) return pass(0);
    if (data.startsWithAscii(0, 'INJECT')) return this.injectOnce(<i32>frame);
    if (data.startsWithAscii(0, 'STATS')) {
      this.connection.fields.clear().addNumber('emptyRequestCalls', this.emptyRequestCalls).addNumber('emptyReplyCalls', this.emptyReplyCalls);
      this.connection.log(EntryType.Request, 'stats');
    }
    return drop(frame);
  }

  private injectOnce(frame: i32): Op {
    if (this.injectedFor == frame) {
      this.injectedFor = -1;
      return drop(<u32>frame);
    }
    this.injectedFor = frame;
    this.connection.injectHere(Direction.Request, INJECTED);
    return inject(<u32>INJECTED.byteLength);
  }

  private recordEnd(reply: bool, data: ByteView): void {
    if (reply ? this.replyEnded : this.requestEnded) return;
    if (reply) this.replyEnded = true;
    else this.requestEnded = true;
    const fields = this.connection.fields.clear();
    fields.addString('end', reply ? 'reply' : 'request');
    fields.addNumber('emptyCalls', reply ? this.emptyReplyCalls : this.emptyRequestCalls);
    fields.addNumber('dataBytes', <u64>data.length);
    this.connection.log(EntryType.Request, 'end of stream');
  }
}

class RecorderFactory extends ParserFactory {
  get protocol(): string {
    return 'test.recorder';
  }
  ruleSchema(): RuleSchema {
    return new RuleSchema([]);
  }
  create(connection: Connection): Parser {
    return new Recorder(connection);
  }
}

useParser(new RecorderFactory());
