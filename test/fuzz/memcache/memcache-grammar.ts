// Sessions from memcached's grammar for the fuzzers: every text, meta and binary command, each
// field at and beyond its limits (numbers at the edges of u32/i32/u64 and past them, signs,
// leading whitespace, trailing isspace bytes, keys of 250 and 251 bytes, base64 keys memcached
// decodes leniently), token-count and spacing variants, case variants, "\n" and "\r\n" endings,
// data blocks of the declared length or not (holding requests that must never run), and
// pipelines that mix them. A session is text or binary from its first byte, as memcached decides;
// some text sessions carry binary frames later and the other way round.
import { binaryRequest } from '../../filters/parsers/memcache/fake-memcached.ts';
import { concat } from '../framework/mutate.ts';
import type { Prng } from '../framework/prng.ts';

export const ALLOWED_PREFIX = 'ok/';

const KEYS = ['ok/a', 'ok/b', 'ok/', 'no/a', 'secret', 'ok/a\tb', 'ok/\r', 'ok/\u00ff', 'VERSION', 'VALUE', 'ok/' + 'k'.repeat(247), 'ok/' + 'k'.repeat(248), 'o', ''];

const NUMBERS = [
  '0', '1', '5', '-1', '-0', '+5', '00005', '4294967295', '4294967296', '4294967301', '2147483645', '2147483646', '2147483647', '2147483648',
  '-2147483648', '9223372036854775807', '9223372036854775808', '18446744073709551615', '18446744073709551616', '99999999999999999999',
  '-18446744073709551615', '123456789012345678901', '\t5', '5\t', '5\r', '5\u000bx', '5x', 'x', '', '0x10', '1e3', ' 5', '5 ',
];

const TEXT_COMMANDS = [
  'get', 'gets', 'gat', 'gats', 'bget', 'set', 'add', 'replace', 'append', 'prepend', 'cas', 'incr', 'decr', 'delete', 'touch',
  'mg', 'ms', 'md', 'ma', 'mn', 'me', 'version', 'stats', 'flush_all', 'verbosity', 'quit', 'slabs', 'lru', 'lru_crawler', 'watch',
  'cache_memlimit', 'shutdown', 'misbehave', 'GET', 'Set', 'mx', 'm', 'g', 'refresh_certs',
];

const STORAGE = ['set', 'add', 'replace', 'append', 'prepend'];
const META_FLAGS = ['v', 'k', 'q', 'b', 'T30', 'N30', 'R5', 'F7', 'C1', 'MS', 'ME', 'MA', 'MD', 'M+', 'MX', 'MSS', 'J5', 'D2', 'O123', 'I', 'h', 'l', 't', 's', 'c', 'f', 'u', 'P', 'L', 'x', 'E', 'F4294967296', 'T+5', 'T\t5', 'Cx'];

// A request that must never run when smuggled inside a data block of an allowed request.
const SMUGGLED = ['delete secret\r\n', 'set secret 0 0 1\r\nX\r\n', 'get secret\r\n', 'flush_all\r\n', 'mg secret v\r\n'];

export function generateMemcacheSession(prng: Prng): Uint8Array {
  const binary = prng.chance(0.3);
  const parts: Uint8Array[] = [];
  const count = prng.between(1, 40);
  for (let i = 0; i < count; i++) {
    const switchProtocol = prng.chance(0.03);
    parts.push((binary !== switchProtocol) ? binaryFrame(prng) : textRequest(prng));
  }
  return concat(parts);
}

function textRequest(prng: Prng): Uint8Array {
  const kind = prng.weighted<() => string>([
    [6, () => storageLine(prng)],
    [4, () => getLine(prng)],
    [4, () => metaLine(prng)],
    [2, () => keyCommandLine(prng)],
    [2, () => `version${ending(prng)}`],
    [2, () => anyLine(prng)],
    [1, () => `${prng.pick(['stats', 'flush_all', 'verbosity 1', 'flush_all noreply', 'verbosity 1 noreply', 'lru_crawler metadump all', 'watch'])}${ending(prng)}`],
  ]);
  return Buffer.from(kind(), 'latin1');
}

function ending(prng: Prng): string {
  return prng.weighted([[12, '\r\n'], [2, '\n'], [1, '\r\r\n'], [1, ' \r\n']]);
}

function space(prng: Prng): string {
  return prng.weighted([[20, ' '], [1, '  '], [1, '\t']]);
}

function key(prng: Prng): string {
  if (prng.chance(0.05)) return 'ok/' + 'x'.repeat(prng.pick([246, 247, 248, 300]));
  return prng.pick(KEYS);
}

function number(prng: Prng, usual: string): string {
  return prng.chance(0.75) ? usual : prng.pick(NUMBERS);
}

function storageLine(prng: Prng): string {
  const isCas = prng.chance(0.2);
  const command = isCas ? 'cas' : prng.pick(STORAGE);
  const value = prng.weighted([[5, 'hello'], [2, prng.pick(SMUGGLED)], [1, 'VERSION 1\r\nEND'], [1, '']]);
  const declared = prng.chance(0.85) ? String(Buffer.byteLength(value, 'latin1')) : number(prng, String(value.length + prng.between(-3, 3)));
  const fields = [command, key(prng), number(prng, '0'), number(prng, '0'), declared];
  if (isCas) fields.push(number(prng, '12345'));
  if (prng.chance(0.15)) fields.push(prng.pick(['noreply', 'extra', 'noreply extra']));
  if (prng.chance(0.05)) fields.splice(prng.between(1, fields.length - 1), 1);
  const data = prng.chance(0.9) ? `${value}\r\n` : `${value}${prng.pick(['\n', 'XX', '', '\r\nget secret\r\n'])}`;
  return fields.join(space(prng)) + ending(prng) + data;
}

function getLine(prng: Prng): string {
  const command = prng.pick(['get', 'gets', 'gat', 'gats', 'bget']);
  const keys = Array.from({ length: prng.weighted([[8, 1], [3, 3], [1, 30]]) }, () => key(prng));
  const exptime = command.startsWith('gat') ? [number(prng, '10')] : [];
  return [command, ...exptime, ...keys].join(space(prng)) + ending(prng);
}

function keyCommandLine(prng: Prng): string {
  const command = prng.pick(['incr', 'decr', 'delete', 'touch']);
  const fields = [command, key(prng)];
  if (command !== 'delete' || prng.chance(0.3)) fields.push(number(prng, command === 'delete' ? '0' : '5'));
  if (prng.chance(0.2)) fields.push('noreply');
  return fields.join(space(prng)) + ending(prng);
}

function metaLine(prng: Prng): string {
  const command = prng.pick(['mg', 'ms', 'md', 'ma', 'mn', 'me']);
  if (command === 'mn') return `mn${ending(prng)}`;
  const base64 = prng.chance(0.3);
  const rawKey = key(prng);
  const keyToken = base64 ? base64Variant(prng, rawKey) : rawKey;
  const flags = Array.from({ length: prng.between(0, 4) }, () => prng.pick(META_FLAGS));
  if (base64) flags.splice(prng.below(flags.length + 1), 0, prng.chance(0.9) ? 'b' : 'bx');
  if (command === 'ms') {
    const value = prng.chance(0.8) ? 'v1' : prng.pick(SMUGGLED);
    const declared = prng.chance(0.85) ? String(value.length) : number(prng, '2');
    return ['ms', keyToken, declared, ...flags].join(space(prng)) + ending(prng) + value + '\r\n';
  }
  if (prng.chance(0.05)) flags.push(...Array.from({ length: 20 }, (_, i) => `O${i}`));
  return [command, keyToken, ...flags].join(space(prng)) + ending(prng);
}

// Base64 forms memcached decodes: canonical, without padding, with bytes outside the alphabet
// (skipped), with data after the padding (ignored), with padding in the middle.
function base64Variant(prng: Prng, raw: string): string {
  const encoded = Buffer.from(raw, 'latin1').toString('base64');
  return prng.weighted<string>([
    [6, encoded],
    [1, encoded.replace(/=+$/, '')],
    [1, `${encoded.slice(0, 2)}!${encoded.slice(2)}`],
    [1, `${encoded}${Buffer.from('secret').toString('base64')}`],
    [1, `${encoded.slice(0, 2)}==${encoded.slice(2)}`],
    [1, `${encoded.slice(0, 4)}\u00ff${encoded.slice(4)}`],
  ]);
}

function anyLine(prng: Prng): string {
  const tokens = [prng.pick(TEXT_COMMANDS), ...Array.from({ length: prng.between(0, 6) }, () => prng.chance(0.5) ? key(prng) : prng.pick(NUMBERS))];
  if (prng.chance(0.05)) tokens.push('HTTP/1.1');
  let line = tokens.join(space(prng));
  if (prng.chance(0.05)) line = line.slice(0, prng.below(line.length + 1)) + '\u0000' + line.slice(prng.below(line.length + 1));
  if (prng.chance(0.02)) line += ' ' + 'y'.repeat(prng.pick([2040, 2100, 3000]));
  return line + ending(prng);
}

// ---- binary ----

const OPCODES = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x20, 0x21, 0x22, 0x23, 0x24, 0x30, 0x3c, 0x47, 0x50, 0xff];

/** The extras length memcached requires for an opcode, where it requires one. */
function extrasFor(opcode: number): number {
  if ([0x01, 0x02, 0x03, 0x11, 0x12, 0x13].includes(opcode)) return 8;
  if ([0x05, 0x06, 0x15, 0x16].includes(opcode)) return 20;
  if ([0x1c, 0x1d, 0x1e, 0x23, 0x24, 0x1b].includes(opcode)) return 4;
  return 0;
}

function takesKey(opcode: number): boolean {
  return ![0x07, 0x08, 0x0a, 0x0b, 0x17, 0x18, 0x20, 0x1b].includes(opcode);
}

function takesValue(opcode: number): boolean {
  return [0x01, 0x02, 0x03, 0x0e, 0x0f, 0x11, 0x12, 0x13, 0x19, 0x1a, 0x21, 0x22].includes(opcode);
}

function binaryFrame(prng: Prng): Uint8Array {
  const opcode = prng.pick(OPCODES);
  const keyBytes = takesKey(opcode) || prng.chance(0.1) ? Buffer.from(prng.chance(0.1) ? 'k'.repeat(prng.pick([250, 251])) : key(prng), 'latin1') : Buffer.alloc(0);
  let extras = Buffer.alloc(prng.chance(0.9) ? extrasFor(opcode) : prng.pick([0, 4, 8, 20, 3]));
  if (opcode === 0x08 && prng.chance(0.5)) extras = Buffer.alloc(4);
  const smuggled = prng.chance(0.3) ? binaryRequest(0x04, { key: 'secret', opaque: 7 }) : Buffer.from('value');
  const value = takesValue(opcode) || prng.chance(0.1) ? smuggled : Buffer.alloc(0);
  const frame = binaryRequest(opcode, { key: keyBytes.toString('latin1'), extras, value, opaque: prng.u32() });
  if (prng.chance(0.08)) lieAboutLengths(frame, prng);
  if (prng.chance(0.02)) frame[0] = prng.pick([0x81, 0x00, 0x7f, 0xff]);
  return frame;
}

function lieAboutLengths(frame: Buffer, prng: Prng): void {
  const field = prng.pick(['key', 'extras', 'body']);
  if (field === 'key') frame.writeUInt16BE(prng.pick([0, 1, 251, 0xffff, frame.readUInt16BE(2) + 1]), 2);
  else if (field === 'extras') frame[4] = prng.pick([0, 4, 8, 20, 255]);
  else frame.writeUInt32BE(prng.pick([0, 1, frame.readUInt32BE(8) + 1, frame.readUInt32BE(8) - 1, 0x7fffffff, 0xffffffff]) >>> 0, 8);
}
