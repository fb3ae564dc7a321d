// The `weir-accesslog {"type":..,"proto":..,"connection":..,"direction":..,"endpoint":..,
// "revision":..,"rule":..,"sourceIdentity":..,"destinationIdentity":..,"fields":{..},"reason":..}`
// line of one entry in Envoy's log (attribution members only when known), for people and for tests
// that read Envoy's log; the agent gets the protobuf entry (entry-protobuf.ts), not this line.
// Built only when Envoy prints its level (access-log.ts asks). Owns the JSON encoding: characters
// outside printable ASCII are \uXXXX escapes, so any wire content gives valid JSON.
import { ByteBuffer } from '../bytes/byte-buffer';
import { Utf8Units } from '../bytes/utf8';
import { LogLevel, proxy_log } from '../abi/imports';
import { LogFields, NUMBER_VALUE, PAIR_HEADER_BYTES } from './log-fields';

export const ACCESS_LOG_PREFIX = 'weir-accesslog ';

// One each per VM, made on first use (no allocating initializer: see callback-scope.ts).
let line: ByteBuffer | null = null;
let reader: Utf8Units | null = null;

// Writes the line of one entry at `level`: `typeName` is "Request", "Denied", ...; `direction`
// and `endpoint` empty, identities 0 when unknown.
export function logEntryLine(
  level: LogLevel,
  typeName: string,
  protocol: string,
  connectionId: u64,
  direction: string,
  endpoint: string,
  revision: string,
  rule: string,
  sourceIdentity: u32,
  destinationIdentity: u32,
  fields: LogFields,
  reason: string,
): void {
  let text = line;
  if (text === null) {
    text = new ByteBuffer();
    line = text;
  }
  text.clear();
  text.appendAscii(ACCESS_LOG_PREFIX);
  text.appendAscii('{"type":"');
  text.appendAscii(typeName);
  text.appendAscii('","proto":');
  appendJsonString(text, protocol);
  text.appendAscii(',"connection":');
  text.appendDecimal(connectionId);
  appendOptionalString(text, ',"direction":', direction);
  appendOptionalString(text, ',"endpoint":', endpoint);
  appendOptionalString(text, ',"revision":', revision);
  appendOptionalString(text, ',"rule":', rule);
  appendOptionalIdentity(text, ',"sourceIdentity":', sourceIdentity);
  appendOptionalIdentity(text, ',"destinationIdentity":', destinationIdentity);
  text.appendAscii(',"fields":{');
  appendPairs(text, fields);
  text.appendAscii('},"reason":');
  appendJsonString(text, reason);
  text.appendByte(0x7d); // }
  proxy_log(level, text.readPtr, text.length);
}

// `"key":"value"` per pair (`"key":123` for a number), comma-separated.
function appendPairs(text: ByteBuffer, fields: LogFields): void {
  const pairs = fields.pairs;
  const base = pairs.readPtr;
  const total = pairs.length;
  let at: usize = 0;
  while (at + PAIR_HEADER_BYTES <= total) {
    const keyWord = load<u32>(base + at); // safe: at + PAIR_HEADER_BYTES <= total
    const keyLength = <usize>(keyWord & ~NUMBER_VALUE);
    const valueLength = <usize>load<u32>(base + at + 4);
    const key = base + at + PAIR_HEADER_BYTES;
    if (at > 0) text.appendByte(0x2c); // ,
    appendJsonUtf8(text, key, keyLength); // LogFields wrote the pair within `pairs`
    text.appendByte(0x3a); // :
    if ((keyWord & NUMBER_VALUE) != 0) text.appendBytes(key + keyLength, valueLength); // decimal digits
    else appendJsonUtf8(text, key + keyLength, valueLength);
    at += PAIR_HEADER_BYTES + keyLength + valueLength;
  }
}

function appendOptionalString(text: ByteBuffer, member: string, value: string): void {
  if (value.length == 0) return;
  text.appendAscii(member);
  appendJsonString(text, value);
}

function appendOptionalIdentity(text: ByteBuffer, member: string, identity: u32): void {
  if (identity == 0) return;
  text.appendAscii(member);
  text.appendDecimal(<u64>identity);
}

// The longest encoding of one UTF-16 code unit: \uXXXX.
const MAX_JSON_BYTES_PER_UNIT: usize = 6;

// Appends `text` as a JSON string.
function appendJsonString(target: ByteBuffer, text: string): void {
  const units = changetype<usize>(text);
  const count = <usize>text.length;
  const begin = target.writePtr(count * MAX_JSON_BYTES_PER_UNIT + 2);
  let at = begin;
  store<u8>(at++, 0x22);
  for (let i: usize = 0; i < count; i++) at = storeJsonUnit(at, <u32>load<u16>(units + (i << 1))); // safe: i < text.length code units
  store<u8>(at++, 0x22);
  target.advanceEnd(at - begin);
}

// Appends the UTF-8 at [pointer, pointer + length) as a JSON string; the caller vouches for the
// range. A UTF-8 byte gives at most one code unit.
function appendJsonUtf8(target: ByteBuffer, pointer: usize, length: usize): void {
  const begin = target.writePtr(length * MAX_JSON_BYTES_PER_UNIT + 2);
  let at = begin;
  store<u8>(at++, 0x22);
  let units = reader;
  if (units === null) {
    units = new Utf8Units();
    reader = units;
  }
  units.reset(pointer, length);
  while (units.next()) at = storeJsonUnit(at, units.unit);
  store<u8>(at++, 0x22);
  target.advanceEnd(at - begin);
}

// Writes one code unit at `at` (room for MAX_JSON_BYTES_PER_UNIT reserved by the caller): printable
// ASCII other than " and \ as it is, " and \ escaped, anything else as \uXXXX. Returns the
// position after it.
function storeJsonUnit(at: usize, code: u32): usize {
  if (code >= 0x20 && code < 0x7f && code != 0x22 && code != 0x5c) {
    store<u8>(at, <u8>code);
    return at + 1;
  }
  if (code == 0x22 || code == 0x5c) {
    store<u8>(at, 0x5c);
    store<u8>(at + 1, <u8>code);
    return at + 2;
  }
  store<u8>(at, 0x5c); // \
  store<u8>(at + 1, 0x75); // u
  for (let shift = 12, offset: usize = 2; shift >= 0; shift -= 4, offset++) {
    const digit = (code >> <u32>shift) & 0xf;
    store<u8>(at + offset, <u8>(digit < 10 ? 0x30 + digit : 0x61 + digit - 10));
  }
  return at + 6;
}
