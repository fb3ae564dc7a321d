// memcached's vocabulary as the parser needs it: the text commands of memcached
// 1.6 (what each takes: keys, a data block, `noreply`), and the binary opcodes with the names the
// access log and the rules use (Cilium's names where Cilium had one; quiet variants end in `q`).
// Rule keys are in rule-keys.ts; framing in text-protocol.ts and binary-protocol.ts.
import { ByteView } from '../../sdk/index';

export const enum TextCommand {
  Unknown = 0,
  Get, // get/gets/bget <key>*
  Gat, // gat/gats <exptime> <key>*
  Storage, // set/add/replace/append/prepend <key> <flags> <exptime> <bytes> [noreply] + data
  Cas, // cas <key> <flags> <exptime> <bytes> <cas unique> [noreply] + data
  KeyCommand, // incr/decr/delete/touch <key> ... [noreply]
  MetaKey, // mg/md/ma <key> <flags>*
  MetaDebug, // me <key> [b]: base64 only when the first flag is exactly `b`
  MetaSet, // ms <key> <datalen> <flags>* + data
  MetaNoop, // mn
  Version, // version: answered by VERSION, our probe's answer
  Quit, // quit: no reply, the server closes
  NoKey, // every other known command: stats, flush_all, verbosity, slabs, lru, ...
}

// Text commands that take `noreply` as their last token (memcached's set_noreply_maybe).
const NOREPLY_COMMANDS: Array<string> = [
  'set', 'add', 'replace', 'append', 'prepend', 'cas', 'incr', 'decr', 'delete', 'touch',
  'verbosity', 'slabs', 'watch', 'cache_memlimit', 'lru', 'extstore', 'flush_all', 'refresh_certs',
];

// Every text command memcached 1.6 knows, for rule validation.
export const TEXT_COMMANDS: Array<string> = [
  'get', 'gets', 'gat', 'gats', 'bget', 'set', 'add', 'replace', 'append', 'prepend', 'cas',
  'incr', 'decr', 'delete', 'touch', 'mg', 'ms', 'md', 'ma', 'mn', 'me', 'stats', 'flush_all',
  'version', 'quit', 'verbosity', 'slabs', 'lru', 'lru_crawler', 'watch', 'cache_memlimit',
  'misbehave', 'shutdown', 'debugtime', 'debugitem', 'extstore', 'refresh_certs',
];

// Classifies the command token [start, start + length) of a request line.
export function textCommandOf(data: ByteView, start: i32, length: i32): TextCommand {
  const first = data.byteAt(start);
  if (length == 2 && first == 0x6d) return metaCommandOf(data.byteAt(start + 1)); // m?
  if (data.equalsAscii(start, length, 'get') || data.equalsAscii(start, length, 'gets') || data.equalsAscii(start, length, 'bget')) return TextCommand.Get;
  if (data.equalsAscii(start, length, 'set') || data.equalsAscii(start, length, 'add') || data.equalsAscii(start, length, 'replace')) return TextCommand.Storage;
  if (data.equalsAscii(start, length, 'append') || data.equalsAscii(start, length, 'prepend')) return TextCommand.Storage;
  if (data.equalsAscii(start, length, 'gat') || data.equalsAscii(start, length, 'gats')) return TextCommand.Gat;
  if (data.equalsAscii(start, length, 'cas')) return TextCommand.Cas;
  if (data.equalsAscii(start, length, 'delete') || data.equalsAscii(start, length, 'incr') || data.equalsAscii(start, length, 'decr') || data.equalsAscii(start, length, 'touch')) return TextCommand.KeyCommand;
  if (data.equalsAscii(start, length, 'version')) return TextCommand.Version;
  if (data.equalsAscii(start, length, 'quit')) return TextCommand.Quit;
  for (let i = 0; i < TEXT_COMMANDS.length; i++) if (data.equalsAscii(start, length, TEXT_COMMANDS[i])) return TextCommand.NoKey;
  return TextCommand.Unknown;
}

function metaCommandOf(second: i32): TextCommand {
  if (second == 0x67 || second == 0x64 || second == 0x61) return TextCommand.MetaKey; // mg md ma
  if (second == 0x65) return TextCommand.MetaDebug; // me
  if (second == 0x73) return TextCommand.MetaSet; // ms
  if (second == 0x6e) return TextCommand.MetaNoop; // mn
  return TextCommand.Unknown;
}

// True when the command token takes `noreply` as its last token.
export function acceptsNoreply(data: ByteView, start: i32, length: i32): bool {
  for (let i = 0; i < NOREPLY_COMMANDS.length; i++) if (data.equalsAscii(start, length, NOREPLY_COMMANDS[i])) return true;
  return false;
}

export const enum Opcode {
  Get = 0x00,
  Quit = 0x07,
  Noop = 0x0a,
  QuitQ = 0x17,
}

// Binary opcode names, indexed by opcode; '' marks an opcode memcached does not define.
const OPCODE_NAMES: Array<string> = buildOpcodeNames();
const OPCODE_NAME_BYTES: Array<ArrayBuffer> = buildNameBytes(OPCODE_NAMES);

export function opcodeName(opcode: i32): string {
  if (<u32>opcode >= <u32>OPCODE_NAMES.length) return '';
  return OPCODE_NAMES[opcode];
}

// The name's bytes (for the request record); an empty buffer for undefined opcodes.
export function opcodeNameBytes(opcode: i32): ArrayBuffer {
  return OPCODE_NAME_BYTES[<u32>opcode < <u32>OPCODE_NAME_BYTES.length ? opcode : 0xff];
}

// The opcode a rule's name stands for, or -1.
export function opcodeNamed(name: string): i32 {
  for (let i = 0; i < OPCODE_NAMES.length; i++) if (OPCODE_NAMES[i].length > 0 && OPCODE_NAMES[i] == name) return i;
  return -1;
}

function buildOpcodeNames(): Array<string> {
  const names = new Array<string>(256);
  for (let i = 0; i < 256; i++) names[i] = '';
  const base: Array<string> = [
    'get', 'set', 'add', 'replace', 'delete', 'incr', 'decr', 'quit', 'flush', 'getq', 'noop', 'version',
    'getk', 'getkq', 'append', 'prepend', 'stat', 'setq', 'addq', 'replaceq', 'deleteq', 'incrq', 'decrq',
    'quitq', 'flushq', 'appendq', 'prependq', 'verbosity', 'touch', 'gat', 'gatq',
  ];
  for (let i = 0; i < base.length; i++) names[i] = base[i];
  names[0x20] = 'sasl-list-mechs';
  names[0x21] = 'sasl-auth';
  names[0x22] = 'sasl-step';
  names[0x23] = 'gatk';
  names[0x24] = 'gatkq';
  const ranged: Array<string> = [
    'rget', 'rset', 'rsetq', 'rappend', 'rappendq', 'rprepend', 'rprependq', 'rdelete', 'rdeleteq',
    'rincr', 'rincrq', 'rdecr', 'rdecrq', 'set-vbucket', 'get-vbucket', 'del-vbucket', 'tap-connect',
    'tap-mutation', 'tap-delete', 'tap-flush', 'tap-opaque', 'tap-vbucket-set', 'tap-checkpoint-start',
    'tap-checkpoint-end',
  ];
  for (let i = 0; i < ranged.length; i++) names[0x30 + i] = ranged[i];
  return names;
}

function buildNameBytes(names: Array<string>): Array<ArrayBuffer> {
  const bytes = new Array<ArrayBuffer>(256);
  for (let i = 0; i < 256; i++) bytes[i] = String.UTF8.encode(names[i]);
  return bytes;
}
