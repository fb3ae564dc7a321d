// memcached's text protocol (classic and meta commands, memcached 1.6.18). Requests: one line, plus
// a data block for storage commands (set add replace append prepend cas: <bytes>; ms: <datalen>),
// whose value bytes are counted and passed, never read. Replies are framed by their content: a
// line, or a `VALUE`/`VA` line with its data block; `VERSION` lines answer `version` requests,
// which is where denials take their place (the SDK's probe-answer correlation). Each reply is one
// Response entry: the status line that ends it, not the items before it (VALUE, STAT, ...) nor
// the events `watch` streams. A storage line memcached would
// reject without reading its data block (process_update_command / process_mset_command: token
// count, key over 250 bytes, a number safe_strto* refuses) closes the connection: memcached would
// read that block as commands. So does a number in any form but plain digits in range, which
// memcached may read differently (signs, whitespace, truncation); see README.md for each rule.
import { ByteBuffer, ByteView, Connection, LineTokens, Op, ReplyKind, U64_MAX, asciiBytes, closeOnDoubt, drop, decimalAtMost, isDecimalAtMost, isSignedDecimalWithin, more, pass } from '../../sdk/index';
import { TextCommand, acceptsNoreply, textCommandOf } from './commands';
import { LineBounds } from './text-line';
import { decodeBase64Key } from './base64-key';
import { MemcacheKey } from './rule-keys';

export const TEXT_DENY_REPLY: ArrayBuffer = asciiBytes('CLIENT_ERROR access denied\r\n');
export const TEXT_PROBE: ArrayBuffer = asciiBytes('version\r\n');

const NOREPLY_NOTE = 'noreply: nothing sent to the client';

const enum ClientWaits {
  ForReply = 0,
  ForNothing = 1, // noreply, quit
}

const KEY_MAX_LENGTH: i32 = 250; // memcached's KEY_MAX_LENGTH
const MAX_DATA_BYTES: i64 = 2147483645; // process_update_command: vlen > INT_MAX - 2 is refused
const META_MAX_TOKENS: i32 = 19; // memcached's MFLAG_MAX_OPT_LENGTH (20), less its terminal token
// Exptime: memcached takes any long (safe_strtol) and truncates it; 10 digits cover every real use.
const EXPTIME_MAX_MAGNITUDE: u64 = 9999999999;

export class TextProtocol {
  private line: LineBounds = new LineBounds();
  private tokens: LineTokens = new LineTokens();
  private decodedKey: ByteBuffer;
  private decodedKeyView: ByteView = new ByteView();

  constructor(private connection: Connection) {
    this.decodedKey = connection.buffer();
  }

  onRequest(data: ByteView): Op {
    const line = this.line;
    line.locate(data);
    if (!line.found) return more(1);
    if (data.indexOfBefore(0, 0, line.lineEnd) >= 0) return closeOnDoubt(this.connection, 'request line contains a NUL byte');
    const tokens = this.tokens;
    tokens.scan(data, 0, line.lineEnd);
    const connection = this.connection;
    connection.record.clear();
    connection.fields.clear();
    if (tokens.count == 0) return verdict(connection, <u32>line.next, ClientWaits.ForReply, ReplyKind.Other);
    const commandStart = tokens.start(0);
    const commandLength = tokens.length(0);
    connection.record.set(MemcacheKey.Command, data, commandStart, commandLength);
    const command = textCommandOf(data, commandStart, commandLength);
    let frameLength: i64 = <i64>line.next;
    if (command == TextCommand.Storage || command == TextCommand.Cas || command == TextCommand.MetaSet) {
      const dataBytes = command == TextCommand.MetaSet ? this.metaSetDataBytes(data) : this.storageDataBytes(data, command == TextCommand.Cas);
      if (dataBytes < 0) return closeOnDoubt(connection, 'invalid storage command line (memcached would not read its data block the same way)');
      frameLength += dataBytes + 2;
    }
    this.recordKeys(data, command);
    const kind = command == TextCommand.Version ? ReplyKind.LikeProbe : ReplyKind.Other;
    return verdict(connection, <u32>frameLength, this.clientWaits(data, command), kind);
  }

  onReply(data: ByteView): Op {
    const line = this.line;
    line.locate(data);
    if (!line.found) return more(1);
    let frameLength: i64 = <i64>line.next;
    // `VALUE <key> <flags> <bytes>` (an item of a get: its END carries the status) or `VA <size>`
    const isValueItem = data.startsWithAscii(0, 'VALUE ');
    const sizeToken = isValueItem ? 3 : data.startsWithAscii(0, 'VA ') ? 1 : -1;
    if (sizeToken > 0) {
      this.tokens.scan(data, 0, line.lineEnd);
      const size = decimalAtMost(data, this.tokens.start(sizeToken), this.tokens.length(sizeToken), MAX_DATA_BYTES);
      if (size < 0) return closeOnDoubt(this.connection, 'VALUE/VA reply line without a valid size');
      frameLength += size + 2;
    } else if (this.isVersionLine(data)) {
      const denyReply = this.connection.answered(ReplyKind.LikeProbe);
      if (denyReply !== null) return this.connection.replace(<u32>frameLength, denyReply);
    }
    if (!isValueItem && !isReplyItem(data)) this.logReplyStatus(data);
    return pass(<u32>frameLength);
  }

  // A Response entry whose status is the reply line's first word (END, STORED, NOT_FOUND, VA, HD,
  // EN, CLIENT_ERROR, ...).
  private logReplyStatus(data: ByteView): void {
    const lineEnd = this.line.lineEnd;
    const firstSpace = data.indexOfBefore(<u8>0x20, 0, lineEnd);
    this.connection.fields.clear().addBytes('status', data, 0, firstSpace < 0 ? lineEnd : firstSpace);
    this.connection.logResponse();
  }

  private isVersionLine(data: ByteView): bool {
    return data.startsWithAscii(0, 'VERSION ') || data.equalsAscii(0, this.line.lineEnd, 'VERSION');
  }

  // <bytes> of set/add/replace/append/prepend/cas after checking the line as memcached does
  // before it reads a data block (process_update_command); -1 when memcached would refuse the line
  // without reading the block, or could read a field other than as plain digits. flags and
  // cas unique go through strtoul/strtoull: plain digits up to 2^64-1 are read (flags then
  // truncated to 32 bits), 2^64 and above are refused with ERANGE.
  private storageDataBytes(data: ByteView, isCas: bool): i64 {
    const tokens = this.tokens;
    const required = isCas ? 6 : 5;
    if (tokens.count != required && tokens.count != required + 1) return -1;
    if (tokens.length(1) > KEY_MAX_LENGTH) return -1;
    if (!isDecimalAtMost(data, tokens.start(2), tokens.length(2), U64_MAX)) return -1;
    if (!isSignedDecimalWithin(data, tokens.start(3), tokens.length(3), EXPTIME_MAX_MAGNITUDE)) return -1;
    if (isCas && !isDecimalAtMost(data, tokens.start(5), tokens.length(5), U64_MAX)) return -1;
    return decimalAtMost(data, tokens.start(4), tokens.length(4), MAX_DATA_BYTES);
  }

  // <datalen> of `ms <key> <datalen> <flags>*`, or -1 when memcached would not read the block.
  private metaSetDataBytes(data: ByteView): i64 {
    const tokens = this.tokens;
    if (tokens.count < 3 || tokens.count > META_MAX_TOKENS) return -1;
    if (tokens.length(1) > KEY_MAX_LENGTH) return -1;
    return decimalAtMost(data, tokens.start(2), tokens.length(2), MAX_DATA_BYTES);
  }

  private recordKeys(data: ByteView, command: TextCommand): void {
    const tokens = this.tokens;
    if (command == TextCommand.Get) this.addKeyTokens(data, 1);
    else if (command == TextCommand.Gat) this.addKeyTokens(data, 2);
    else if (command == TextCommand.Storage || command == TextCommand.Cas || command == TextCommand.KeyCommand) {
      if (tokens.count >= 2) this.recordKey(data, tokens.start(1), tokens.length(1));
    } else if (command == TextCommand.MetaKey || command == TextCommand.MetaSet) {
      if (tokens.count >= 2) this.addMetaKey(data, this.hasMetaFlag(data, command == TextCommand.MetaSet ? 3 : 2, 0x62));
    } else if (command == TextCommand.MetaDebug) {
      // process_meta_command: base64 only when token 2 is exactly "b" (other flags are ignored)
      if (tokens.count >= 2) this.addMetaKey(data, tokens.count >= 3 && tokens.is(data, 2, 'b'));
    }
  }

  // Every token from `first` on is a key (multi-key get/gat; may be more tokens than are stored).
  private addKeyTokens(data: ByteView, first: i32): void {
    const tokens = this.tokens;
    const start = tokens.start(first);
    if (start < 0) return;
    const end = tokens.lastEnd;
    let at = start;
    while (at < end) {
      while (at < end && data.byteAt(at) == 0x20) at++;
      const keyStart = at;
      while (at < end && data.byteAt(at) != 0x20) at++;
      if (at > keyStart) this.recordKey(data, keyStart, at - keyStart);
    }
  }

  // Meta commands: the key is token 1; when memcached decodes it (`base64`) rules see the decoded
  // key, decoded as memcached's base64_decode does (an undecodable key is left out, so key
  // constraints fail; memcached refuses it too).
  private addMetaKey(data: ByteView, base64: bool): void {
    const tokens = this.tokens;
    if (!base64) {
      this.recordKey(data, tokens.start(1), tokens.length(1));
      return;
    }
    const fields = this.connection.fields;
    if (!decodeBase64Key(data, tokens.start(1), tokens.length(1), this.decodedKey)) {
      fields.addBytes('keys', data, tokens.start(1), tokens.length(1)).addString('keyEncoding', 'invalid base64');
      return;
    }
    const view = this.decodedKey.viewInto(this.decodedKeyView);
    this.recordKey(view, 0, view.length);
    fields.addString('keyEncoding', 'base64');
  }

  private recordKey(view: ByteView, start: i32, length: i32): void {
    const record = this.connection.record;
    record.add(MemcacheKey.KeyExact, view, start, length);
    record.add(MemcacheKey.KeyPrefix, view, start, length);
    record.add(MemcacheKey.KeyRegex, view, start, length);
  }

  // Whether the client waits for a reply: not after `noreply` (classic commands), nor `quit`.
  // Meta commands with `q` still get error replies, so a denial is answered.
  private clientWaits(data: ByteView, command: TextCommand): ClientWaits {
    if (command == TextCommand.Quit) return ClientWaits.ForNothing;
    if (command == TextCommand.MetaKey || command == TextCommand.MetaSet || command == TextCommand.MetaNoop || command == TextCommand.MetaDebug) return ClientWaits.ForReply;
    const tokens = this.tokens;
    if (tokens.count < 2 || !tokens.is(data, tokens.count - 1, 'noreply')) return ClientWaits.ForReply;
    return acceptsNoreply(data, tokens.start(0), tokens.length(0)) ? ClientWaits.ForNothing : ClientWaits.ForReply;
  }

  // _meta_flag_preparse: any token from `firstFlag` on whose first byte is `flag` (memcached
  // refuses more than 19 tokens, so the 24 stored ones are all there are).
  private hasMetaFlag(data: ByteView, firstFlag: i32, flag: i32): bool {
    const tokens = this.tokens;
    const last = tokens.count < 24 ? tokens.count : 24;
    for (let i = firstFlag; i < last; i++) if (data.byteAt(tokens.start(i)) == flag) return true;
    return false;
  }
}

// A line that is one item of a longer reply, logged with the status line that ends it: `stats`
// (STAT), `stats cachedump` (ITEM), `stats detail dump` (PREFIX), `lru_crawler metadump` (key=)
// and `mgdump` (mg), or an event `watch` streams (ts=), which answers no request.
function isReplyItem(data: ByteView): bool {
  return data.startsWithAscii(0, 'STAT ') || data.startsWithAscii(0, 'ITEM ') || data.startsWithAscii(0, 'PREFIX ') || data.startsWithAscii(0, 'key=') || data.startsWithAscii(0, 'mg ') || data.startsWithAscii(0, 'ts=');
}

// The verdict on a decoded request: PASS when allowed (`kind` LikeProbe: the client's own
// `version`, whose answer is counted, not replaced); a denied one never reaches the server:
// dropped silently when the client expects no reply, else replaced by our `version` probe.
function verdict(connection: Connection, frameLength: u32, waits: ClientWaits, kind: ReplyKind): Op {
  const silent = waits == ClientWaits.ForNothing;
  if (connection.decide(silent ? NOREPLY_NOTE : '')) return connection.forward(frameLength, kind);
  return silent ? drop(frameLength) : connection.refuse(frameLength, TEXT_DENY_REPLY, TEXT_PROBE);
}
