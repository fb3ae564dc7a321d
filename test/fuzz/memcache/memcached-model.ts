// How memcached 1.6.18 (Debian's build: negotiated protocol, no SASL, no debug commands) frames and
// reads a client's byte stream, written from its source for the fuzzers: memcached.c
// try_read_command_negotiate (first byte 0x80 = binary for the whole connection), proto_text.c
// try_read_command_ascii / tokenize_command / process_command_ascii and the process_* functions
// (token counts, safe_strto* numbers, when a rejected storage line leaves its data block to be read
// as commands and when it is swallowed), meta flag pre-parsing and base64 keys, and proto_bin.c
// try_read_command_binary / dispatch_bin_command (per-opcode shapes, what each consumes). Each
// frame says what runs (for decide()), and whether Weir's filter must, may or must not close there.
import type { L7Request } from '../../../server/policy/l7/l7-rule-types.ts';
import type { FilterClose, ModelFrame, ServerModel, StreamReading } from '../framework/protocol.ts';
import { isCSpace, isPlainDigits, plainValue, safeStrtol, safeStrtoul, safeStrtoull } from './c-numbers.ts';
import { memcachedBase64Decode } from './memcached-base64.ts';

const KEY_MAX_LENGTH = 250;
const MAX_TOKENS = 24; // tokenize_command's array, terminal token included
const LONG_LINE = 2048; // try_read_command_ascii closes unread lines longer than this (get/gets excepted)
const MFLAG_MAX_OPT_LENGTH = 20;
const INT_MAX = 0x7fffffff;
/** What Weir's filter buffers at most (maxBufferBytes default): longer frames are refused. */
const FILTER_BUFFER = 1024 * 1024;
const FILTER_MAX_BODY = 0x7fffff00;

export const memcachedModel: ServerModel = {
  // try_read_command_negotiate: the first byte of the connection picks the protocol for good
  read: (stream) => readFrames(stream, stream[0] === 0x80),
};

/** Frames `stream` (which starts on a request boundary) in one protocol. */
export function readFrames(stream: Uint8Array, binary: boolean): StreamReading {
    const frames: ModelFrame[] = [];
    let at = 0;
    while (at < stream.length) {
      const frame = binary ? readBinary(stream, at) : readText(stream, at);
      if (frame === undefined) break;
      frames.push(frame);
      if (frame.end > stream.length || (binary && frame.filterClose === 'must' && frame.serverStops)) {
        at = Math.min(frame.end, stream.length);
        break;
      }
      at = frame.end;
    }
    return { frames, incompleteTail: stream.length - at };
}

// ---- text protocol ----

interface Line {
  /** The request line as memcached's string functions see it: up to "\r\n"/"\n", cut at a NUL. */
  bytes: Uint8Array;
  tokens: Uint8Array[];
  /** Offset after the "\n". */
  next: number;
  hasNul: boolean;
  longLine: boolean;
}

function readText(stream: Uint8Array, start: number): ModelFrame | undefined {
  const lf = stream.indexOf(0x0a, start);
  if (lf < 0) return undefined;
  const line = lineAt(stream, start, lf);
  const baseClose: FilterClose = line.hasNul || line.longLine || lf - start > FILTER_BUFFER ? 'may' : 'never';
  const reading = readCommand(line);
  const end = reading.dataBytes === undefined ? line.next : line.next + reading.dataBytes;
  const filterClose = strictest(baseClose, reading.filterClose);
  const label = labelOf(line.bytes) + (reading.dataBytes === undefined ? '' : ` +${reading.dataBytes} data bytes`);
  const isProbe = end - start === 9 && Buffer.from(stream.subarray(start, end)).toString('latin1') === 'version\r\n';
  return { start, end, request: reading.request, label, filterClose, serverStops: reading.serverStops ?? false, isProbe };
}

function lineAt(stream: Uint8Array, start: number, lf: number): Line {
  // "\r" is dropped only when something precedes it: (el - rcurr) > 1
  const lineEnd = lf - start > 1 && stream[lf - 1] === 0x0d ? lf - 1 : lf;
  let bytes = stream.subarray(start, lineEnd);
  const nul = bytes.indexOf(0);
  if (nul >= 0) bytes = bytes.subarray(0, nul);
  return { bytes, tokens: tokenize(bytes), next: lf + 1, hasNul: nul >= 0, longLine: lf - start > LONG_LINE };
}

// Every space-separated token (tokenize_command stops at 23 and process_get_command continues with
// the rest; no other command reads past 23, so they are counted, see tokenCount()).
function tokenize(line: Uint8Array): Uint8Array[] {
  const tokens: Uint8Array[] = [];
  let at = 0;
  while (at < line.length) {
    while (at < line.length && line[at] === 0x20) at++;
    const start = at;
    while (at < line.length && line[at] !== 0x20) at++;
    if (at > start) tokens.push(line.subarray(start, at));
  }
  return tokens;
}

// tokenize_command's ntokens: the real tokens (at most 23) plus the terminal one.
function ntokensOf(tokens: readonly Uint8Array[]): number {
  return Math.min(tokens.length, MAX_TOKENS - 1) + 1;
}

interface CommandReading {
  request: L7Request | undefined; // undefined: memcached runs nothing for it
  dataBytes?: number; // a data block memcached reads (or swallows) after the line
  filterClose: FilterClose;
  serverStops?: boolean;
}

const NOTHING: CommandReading = { request: undefined, filterClose: 'never' };

function readCommand(line: Line): CommandReading {
  const tokens = line.tokens;
  const ntokens = ntokensOf(tokens);
  if (ntokens < 2 || (tokens[0] as Uint8Array).length < 2) return NOTHING; // ERROR
  const command = text(tokens[0] as Uint8Array);
  if (command[0] === 'm' && command.length === 2) return readMeta(command, tokens, ntokens, line);
  switch (command) {
    case 'get':
    case 'gets':
    case 'bget':
      return ntokens < 3 ? NOTHING : keysFrom(command, tokens, 1);
    case 'gat':
    case 'gats':
      if (ntokens < 3 || safeStrtol(tokens[1] as Uint8Array) === undefined) return NOTHING;
      return keysFrom(command, tokens, 2);
    case 'set':
    case 'add':
    case 'replace':
    case 'append':
    case 'prepend':
      return readStorage(command, tokens, ntokens, false);
    case 'cas':
      return readStorage(command, tokens, ntokens, true);
    case 'incr':
    case 'decr':
      if (ntokens !== 4 && ntokens !== 5) return NOTHING;
      if ((tokens[1] as Uint8Array).length > KEY_MAX_LENGTH || safeStrtoull(tokens[2] as Uint8Array) === undefined) return NOTHING;
      return oneKey(command, tokens);
    case 'touch':
      if (ntokens !== 4 && ntokens !== 5) return NOTHING;
      if ((tokens[1] as Uint8Array).length > KEY_MAX_LENGTH || safeStrtol(tokens[2] as Uint8Array) === undefined) return NOTHING;
      return oneKey(command, tokens);
    case 'delete':
      return readDelete(tokens, ntokens);
    case 'quit':
      return { request: { command, keys: [] }, filterClose: 'never', serverStops: true };
    case 'stats':
    case 'flush_all':
    case 'version':
    case 'verbosity':
    case 'slabs':
    case 'lru':
    case 'lru_crawler':
    case 'watch':
    case 'cache_memlimit':
      return { request: { command, keys: [] }, filterClose: 'never' };
    default:
      // unknown (and, in this build, shutdown/misbehave/debugtime/extstore/refresh_certs do nothing);
      // an unknown command whose last token starts with "HTTP/" closes the connection
      return { request: undefined, filterClose: 'never', serverStops: startsWith(tokens[Math.min(tokens.length, MAX_TOKENS - 1) - 1] as Uint8Array, 'HTTP/') };
  }
}

// process_update_command: token count, key length, flags (u32, truncated), exptime and bytes
// (i32, truncated), cas (u64); any failure answers CLIENT_ERROR without reading the data block,
// which then arrives as commands: the filter cannot pass such a line and must close.
function readStorage(command: string, tokens: readonly Uint8Array[], ntokens: number, isCas: boolean): CommandReading {
  const required = isCas ? 7 : 6;
  if (ntokens !== required && ntokens !== required + 1) return rejectedStorage();
  const [, key, flags, exptime, bytes, cas] = tokens as Uint8Array[];
  if ((key as Uint8Array).length > KEY_MAX_LENGTH) return rejectedStorage();
  if (safeStrtoul(flags as Uint8Array) === undefined || safeStrtol(exptime as Uint8Array) === undefined) return rejectedStorage();
  const vlen = safeStrtol(bytes as Uint8Array);
  if (vlen === undefined) return rejectedStorage();
  if (isCas && safeStrtoull(cas as Uint8Array) === undefined) return rejectedStorage();
  if (vlen < 0 || vlen > INT_MAX - 2) return rejectedStorage();
  const canonical =
    isPlainDigits(flags as Uint8Array, 20) && plainValue(flags as Uint8Array) <= (1n << 64n) - 1n &&
    isCanonicalExptime(exptime as Uint8Array) &&
    isPlainDigits(bytes as Uint8Array, 19) && plainValue(bytes as Uint8Array) <= BigInt(INT_MAX - 2) &&
    (!isCas || (isPlainDigits(cas as Uint8Array, 20) && plainValue(cas as Uint8Array) <= (1n << 64n) - 1n));
  return { request: { command, keys: [text(key as Uint8Array)] }, dataBytes: vlen + 2, filterClose: canonical ? 'never' : 'may' };
}

function rejectedStorage(): CommandReading {
  return { request: undefined, filterClose: 'must' };
}

function isCanonicalExptime(token: Uint8Array): boolean {
  const digits = token[0] === 0x2d && token.length > 1 ? token.subarray(1) : token;
  return isPlainDigits(digits, 10);
}

function readDelete(tokens: readonly Uint8Array[], ntokens: number): CommandReading {
  if (ntokens < 3 || ntokens > 5) return NOTHING;
  if (ntokens > 3) {
    const holdIsZero = text(tokens[2] as Uint8Array) === '0';
    const noreply = text(tokens[ntokens - 2] as Uint8Array) === 'noreply';
    const valid = (ntokens === 4 && (holdIsZero || noreply)) || (ntokens === 5 && holdIsZero && noreply);
    if (!valid) return NOTHING;
  }
  if ((tokens[1] as Uint8Array).length > KEY_MAX_LENGTH) return NOTHING;
  return oneKey('delete', tokens);
}

function oneKey(command: string, tokens: readonly Uint8Array[]): CommandReading {
  return { request: { command, keys: [text(tokens[1] as Uint8Array)] }, filterClose: 'never' };
}

// process_get_command: every token from `first` on is a key, past the 24-token array too; it
// stops at a key over 250 bytes, after fetching the keys before it.
function keysFrom(command: string, tokens: readonly Uint8Array[], first: number): CommandReading {
  return { request: { command, keys: tokens.slice(first).map(text) }, filterClose: 'never' };
}

// ---- meta commands ----

function readMeta(command: string, tokens: readonly Uint8Array[], ntokens: number, line: Line): CommandReading {
  switch (command[1]) {
    case 'n':
      return { request: { command, keys: [] }, filterClose: 'never' };
    case 's':
      return readMetaSet(tokens, ntokens);
    case 'g':
    case 'd':
    case 'a':
      return readMetaKeyed(command, tokens, ntokens);
    case 'e':
      return readMetaDebug(tokens, ntokens);
    default:
      void line;
      return NOTHING;
  }
}

function readMetaKeyed(command: string, tokens: readonly Uint8Array[], ntokens: number): CommandReading {
  if (ntokens < 3 || (tokens[1] as Uint8Array).length > KEY_MAX_LENGTH || ntokens > MFLAG_MAX_OPT_LENGTH) return NOTHING;
  const flags = preparseMetaFlags(tokens, 2);
  if (flags === undefined) return NOTHING;
  if (command === 'ma' && flags.mode !== undefined && !['I', '+', 'D', '-'].includes(flags.mode)) return NOTHING;
  const key = metaKey(tokens[1] as Uint8Array, flags.base64);
  return key === undefined ? NOTHING : { request: { command, keys: [key] }, filterClose: 'never' };
}

// process_mset_command: what makes it answer an error without reading the data block (token count,
// key length, flag count, <datalen>), and everything after that, which swallows the block.
function readMetaSet(tokens: readonly Uint8Array[], ntokens: number): CommandReading {
  if (ntokens < 3 || (tokens[1] as Uint8Array).length > KEY_MAX_LENGTH || ntokens === 3 || ntokens > MFLAG_MAX_OPT_LENGTH) return rejectedStorage();
  const datalen = tokens[2] as Uint8Array;
  const vlen = safeStrtol(datalen);
  if (vlen === undefined || vlen < 0 || vlen > INT_MAX - 2) return rejectedStorage();
  const filterClose: FilterClose = isPlainDigits(datalen, 19) && plainValue(datalen) <= BigInt(INT_MAX - 2) ? 'never' : 'may';
  const flags = preparseMetaFlags(tokens, 3);
  const opaqueTooLong = tokens.slice(2).some((token) => token[0] === 0x4f && token.length > 32);
  const badMode = flags?.mode !== undefined && !['E', 'A', 'P', 'R', 'S'].includes(flags.mode);
  const key = flags === undefined ? undefined : metaKey(tokens[1] as Uint8Array, flags.base64);
  const runs = flags !== undefined && !opaqueTooLong && !badMode && key !== undefined;
  return { request: runs ? { command: 'ms', keys: [key] } : undefined, dataBytes: vlen + 2, filterClose };
}

function readMetaDebug(tokens: readonly Uint8Array[], ntokens: number): CommandReading {
  if (ntokens < 3 || (tokens[1] as Uint8Array).length > KEY_MAX_LENGTH) return NOTHING;
  // only a `b` as the very first flag, and only with at least one flag token
  const base64 = ntokens >= 4 && tokens[2]?.length === 1 && tokens[2][0] === 0x62;
  const key = metaKey(tokens[1] as Uint8Array, base64);
  return key === undefined ? NOTHING : { request: { command: 'me', keys: [key] }, filterClose: 'never' };
}

interface MetaFlags {
  base64: boolean;
  mode: string | undefined;
}

// _meta_flag_preparse: the first byte of each token is a flag; duplicates, bytes >= 127 and
// unknown flags are errors, and so are bad numbers after N T R F C J D and an M of the wrong length.
function preparseMetaFlags(tokens: readonly Uint8Array[], first: number): MetaFlags | undefined {
  const seen = new Set<number>();
  const flags: MetaFlags = { base64: false, mode: undefined };
  const last = Math.min(tokens.length, MAX_TOKENS - 1);
  for (let i = first; i < last; i++) {
    const token = tokens[i] as Uint8Array;
    const flag = token[0] as number;
    if (flag >= 127 || seen.has(flag)) return undefined;
    seen.add(flag);
    const rest = token.subarray(1);
    const letter = String.fromCharCode(flag);
    if (letter === 'b') flags.base64 = true;
    else if ('NTR'.includes(letter)) {
      if (safeStrtol(rest) === undefined) return undefined;
    } else if (letter === 'F') {
      if (safeStrtoul(rest) === undefined) return undefined;
    } else if ('CJD'.includes(letter)) {
      if (safeStrtoull(rest) === undefined) return undefined;
    } else if (letter === 'M') {
      if (token.length !== 2) return undefined;
      flags.mode = String.fromCharCode(token[1] as number);
    } else if (!'lOPLkstcfvhuqI'.includes(letter)) return undefined;
  }
  return flags;
}

function metaKey(token: Uint8Array, base64: boolean): string | undefined {
  if (!base64) return text(token);
  const decoded = memcachedBase64Decode(token);
  return decoded === undefined ? undefined : text(decoded);
}

// ---- binary protocol ----

const QUIET_TO_LOUD: Readonly<Record<number, number>> = { 0x09: 0x00, 0x0d: 0x0c, 0x11: 0x01, 0x12: 0x02, 0x13: 0x03, 0x14: 0x04, 0x15: 0x05, 0x16: 0x06, 0x17: 0x07, 0x18: 0x08, 0x19: 0x0e, 0x1a: 0x0f, 0x1e: 0x1d, 0x24: 0x23 };

function readBinary(stream: Uint8Array, start: number): ModelFrame | undefined {
  if (stream.length - start < 24) return undefined;
  const view = new DataView(stream.buffer, stream.byteOffset + start);
  const magic = view.getUint8(0);
  const opcode = view.getUint8(1);
  const keylen = view.getUint16(2);
  const extlen = view.getUint8(4);
  const bodylen = view.getUint32(8);
  const label = `binary opcode 0x${opcode.toString(16).padStart(2, '0')} extras ${extlen} key ${keylen} body ${bodylen}`;
  if (magic !== 0x80) return { start, end: stream.length, request: undefined, label: `binary magic 0x${magic.toString(16)}`, filterClose: 'must', serverStops: true, isProbe: false };
  if (stream.length - start < 24 + extlen + keylen) return undefined;
  const key = stream.subarray(start + 24 + extlen, start + 24 + extlen + keylen);
  const closes = (why: string): ModelFrame => ({ start, end: start + 24 + extlen + keylen, request: undefined, label: `${label} (${why})`, filterClose: 'must', serverStops: true, isProbe: false });
  if (keylen > bodylen || keylen + extlen > bodylen) return closes('key and extras exceed the body: memcached closes');
  if (keylen > KEY_MAX_LENGTH) return closes('key over 250 bytes: memcached closes');
  const consumed = binaryConsumption(QUIET_TO_LOUD[opcode] ?? opcode, extlen, keylen, bodylen);
  if (consumed === 'protocol-error') return closes('shape memcached refuses: it closes');
  if (consumed !== 24 + bodylen) {
    return { start, end: start + consumed, request: undefined, label: `${label} (memcached consumes ${consumed} bytes, not 24 + body)`, filterClose: 'must', serverStops: false, isProbe: false };
  }
  const request: L7Request = { opcode, keys: keylen > 0 ? [text(key)] : [] };
  const isProbe = opcode === 0x0a && extlen === 0 && keylen === 0 && bodylen === 0;
  return { start, end: start + consumed, request, label, filterClose: bodylen > FILTER_MAX_BODY ? 'may' : 'never', serverStops: opcode === 0x07 || opcode === 0x17, isProbe };
}

// dispatch_bin_command after the quiet opcodes are mapped to their loud ones: the bytes memcached
// consumes for a request (header + extras + key, then the value it reads or swallows), or the
// shapes it answers with a protocol error and closes on. SASL is off (Debian's default).
function binaryConsumption(cmd: number, ext: number, key: number, body: number): number | 'protocol-error' {
  const zero = ext === 0 && key === 0 && body === 0;
  switch (cmd) {
    case 0x0b: // version
    case 0x0a: // noop
    case 0x07: // quit
    case 0x20: // sasl list mechs (SASL off: unknown command, swallows body - key = 0)
      return zero ? 24 : 'protocol-error';
    case 0x08: // flush
      return key === 0 && body === ext && (ext === 0 || ext === 4) ? 24 + body : 'protocol-error';
    case 0x01: // set add replace
    case 0x02:
    case 0x03:
      if (!(ext === 8 && key !== 0 && body >= key + 8)) return 'protocol-error';
      return body - key - 8 > INT_MAX - 2 ? 24 + ext + key : 24 + body; // a negative int vlen swallows nothing
    case 0x00: // get getk
    case 0x0c:
      return ext === 0 && body === key && key > 0 ? 24 + body : 'protocol-error';
    case 0x04: // delete
      return key > 0 && ext === 0 && body === key ? 24 + body : 'protocol-error';
    case 0x05: // incr decr
    case 0x06:
      return key > 0 && ext === 20 && body === key + ext ? 24 + body : 'protocol-error';
    case 0x0e: // append prepend
    case 0x0f:
      if (!(key > 0 && ext === 0)) return 'protocol-error';
      return body - key > INT_MAX - 2 ? 24 + key : 24 + body;
    case 0x10: // stat: the key is the sub-command; a body past the key is never read
      return ext === 0 ? 24 + key : 'protocol-error';
    case 0x21: // sasl auth/step (SASL off: unknown command, swallows body - key)
    case 0x22:
      return ext === 0 && key !== 0 ? 24 + body : 'protocol-error';
    case 0x1c: // touch gat gatk: extras and key only, a body past them is never read
    case 0x1d:
    case 0x23:
      return ext === 4 && key !== 0 ? 24 + ext + key : 'protocol-error';
    default: // unknown command: swallows `body` more bytes after extras and key
      return 24 + ext + key + body;
  }
}

// ---- helpers ----

function strictest(a: FilterClose, b: FilterClose): FilterClose {
  if (a === 'must' || b === 'must') return 'must';
  return a === 'may' || b === 'may' ? 'may' : 'never';
}

function text(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('latin1');
}

function startsWith(bytes: Uint8Array | undefined, prefix: string): boolean {
  return bytes !== undefined && text(bytes.subarray(0, prefix.length)) === prefix;
}

function labelOf(line: Uint8Array): string {
  return JSON.stringify(text(line.subarray(0, 80)) + (line.length > 80 ? '...' : ''));
}

export { isCSpace };
