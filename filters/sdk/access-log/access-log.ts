// Writes access-log entries: hands each one to the Weir agent through the shared queue
// (access-log-queue.ts) as `{"time":..,"source":..,"destination":..,"type":..,"proto":..,
// "connection":..,"direction":..,"endpoint":..,"revision":..,"rule":..,"sourceIdentity":..,
// "destinationIdentity":..,"fields":{..},"reason":".."}` (attribution members only when known), and
// writes the same members as one `proxy_log` line `weir-accesslog {"type":..,..}` when Envoy's
// `wasm` logger prints that level (Request and Response at info, Denied and Error at warn); a line
// Envoy would discard is not built. Owns the JSON encoding of field values (bytes are escaped byte
// by byte, so any wire content yields valid JSON). Entries are written straight into the message
// for the agent, log lines into one buffer per VM; building an entry allocates only when a buffer
// grows.
import { ByteBuffer } from '../bytes/byte-buffer';
import { ByteView } from '../bytes/byte-view';
import { LogLevel, proxy_log } from '../abi/imports';
import { beginAccessLogEntry, endAccessLogEntry } from './access-log-queue';
import { hostLogsAt, nowNanoseconds, propertyBytes } from '../abi/host';

export const enum EntryType {
  Request = 0,
  Denied = 1,
  Error = 2,
  Response = 3,
}

// What decided one entry; filled by the connection (connection.ts) from the policy decision. Empty
// strings and identity 0 mean "unknown" and are left out of the JSON, so the server falls back to
// its own view (docs/accesslog.md). What every entry of a connection repeats (addresses, proto,
// connection id, direction, endpoint) is encoded once per connection: appendConnectionMembers().
export class EntryAttribution {
  revision: string = ''; // the policy revision that decided
  rule: string = ''; // the rule that allowed the request
  sourceIdentity: u32 = 0;
  destinationIdentity: u32 = 0;
}

export const ACCESS_LOG_PREFIX = 'weir-accesslog ';

// The `fields` object of one entry, filled by the parser before it calls Connection.log().
export class LogFields {
  buffer: ByteBuffer = new ByteBuffer();
  private count: i32 = 0;

  clear(): LogFields {
    this.buffer.clear();
    this.count = 0;
    return this;
  }

  // Adds "key": "<bytes of the view>"; a range outside the view adds an empty string.
  addBytes(key: string, view: ByteView, offset: i32, length: i32): LogFields {
    this.beginField(key);
    if (view.has(offset, length)) appendJsonStringBytes(this.buffer, view.pointer + <usize>offset, <usize>length);
    else this.buffer.appendAscii('""');
    return this;
  }

  // Adds "key": "<the `length` bytes at `pointer`>"; the caller vouches for the range (a value of
  // a RequestRecord during the callback that filled it).
  addRecordValue(key: string, pointer: usize, length: i32): LogFields {
    this.beginField(key);
    appendJsonStringBytes(this.buffer, pointer, <usize>length);
    return this;
  }

  // Appends a space and the `length` bytes at `pointer` to the value of the field added last
  // (a string): the next value of a key that has several. The caller vouches for the range.
  appendToLastValue(pointer: usize, length: i32): LogFields {
    const buffer = this.buffer;
    buffer.truncate(buffer.length - 1); // the closing quote
    buffer.appendByte(0x20);
    const offset = buffer.length;
    appendJsonStringBytes(buffer, pointer, <usize>length);
    // the new string's opening quote goes: the rest moves one byte left
    const at = buffer.readPtr + offset;
    memory.copy(at, at + 1, buffer.length - offset - 1);
    buffer.truncate(buffer.length - 1);
    return this;
  }

    addString(key: string, value: string): LogFields {
    this.beginField(key);
    appendJsonString(this.buffer, value);
    return this;
  }

  addNumber(key: string, value: u64): LogFields {
    this.beginField(key);
    this.buffer.appendDecimal(value);
    return this;
  }

  private beginField(key: string): void {
    if (this.count > 0) this.buffer.appendByte(0x2c); // ,
    this.count += 1;
    appendJsonString(this.buffer, key);
    this.buffer.appendByte(0x3a); // :
  }
}

// The `weir-accesslog {...}` line, built only when Envoy prints it; one per VM, made on first use
// (no allocating initializer: see callback-scope.ts).
let logLine: ByteBuffer | null = null;

// Emits one entry from the connection's `addresses` (`"source":"..","destination":".."`, see
// appendEntryAddresses) and `members` (see appendConnectionMembers): writes it straight into the
// message for the agent (access-log-queue.ts) and, when Envoy prints that level, logs it.
export function writeAccessLog(addresses: ByteBuffer, members: ByteBuffer, type: EntryType, attribution: EntryAttribution, fields: LogFields, reason: string): void {
  const entry = beginAccessLogEntry();
  entry.reserve(addresses.length + members.length + fields.buffer.length + <usize>reason.length * MAX_JSON_BYTES_PER_CHAR + 256);
  const time = nowNanoseconds();
  entry.appendAscii('{"time":');
  entry.appendDecimal(time);
  entry.appendByte(0x2c); // ,
  entry.appendBytes(addresses.readPtr, addresses.length);
  entry.appendByte(0x2c); // ,
  const membersStart = entry.length;
  entry.appendAscii(typeMember(type));
  entry.appendBytes(members.readPtr, members.length);
  appendAttribution(entry, attribution);
  entry.appendAscii(',"fields":{');
  entry.appendBytes(fields.buffer.readPtr, fields.buffer.length);
  entry.appendAscii('},"reason":');
  appendJsonString(entry, reason);
  entry.appendByte(0x7d); // }
  const level = type == EntryType.Request || type == EntryType.Response ? LogLevel.Info : LogLevel.Warn;
  if (hostLogsAt(<u32>level, time)) logEntryLine(level, entry.readPtr + membersStart, entry.length - membersStart);
  endAccessLogEntry();
}

// Appends `"source":"<ip:port>","destination":"<ip:port>"` from Envoy's connection properties (""
// when Envoy has none): the addresses every entry of a connection carries, read once per connection.
export function appendEntryAddresses(target: ByteBuffer): void {
  appendAddressMember(target, '"source":', propertyBytes('source.address'));
  appendAddressMember(target, ',"destination":', propertyBytes('destination.address'));
}

function appendAddressMember(target: ByteBuffer, member: string, address: ArrayBuffer | null): void {
  target.appendAscii(member);
  if (address === null) appendJsonString(target, '');
  else appendJsonStringBytes(target, changetype<usize>(address), <usize>address.byteLength);
}

// Appends the members that are the same in every entry of one connection, in entry order after
// "type": `,"proto":..,"connection":..` and `,"direction":..`, `,"endpoint":..` when known.
export function appendConnectionMembers(target: ByteBuffer, proto: string, connectionId: u64, direction: string, endpoint: string): void {
  target.appendAscii(',"proto":');
  appendJsonString(target, proto);
  target.appendAscii(',"connection":');
  target.appendDecimal(connectionId);
  appendOptionalString(target, ',"direction":', direction);
  appendOptionalString(target, ',"endpoint":', endpoint);
}

// `weir-accesslog {` + the entry's members from "type" on (with their closing brace).
function logEntryLine(level: LogLevel, membersPtr: usize, membersLength: usize): void {
  let line = logLine;
  if (line === null) {
    line = new ByteBuffer();
    logLine = line;
  }
  line.clear();
  line.appendAscii(ACCESS_LOG_PREFIX);
  line.appendByte(0x7b); // {
  line.appendBytes(membersPtr, membersLength);
  proxy_log(level, line.readPtr, line.length);
}

function typeMember(type: EntryType): string {
  if (type == EntryType.Request) return '"type":"Request"';
  if (type == EntryType.Denied) return '"type":"Denied"';
  if (type == EntryType.Response) return '"type":"Response"';
  return '"type":"Error"';
}

function appendAttribution(line: ByteBuffer, attribution: EntryAttribution): void {
  appendOptionalString(line, ',"revision":', attribution.revision);
  appendOptionalString(line, ',"rule":', attribution.rule);
  appendOptionalIdentity(line, ',"sourceIdentity":', attribution.sourceIdentity);
  appendOptionalIdentity(line, ',"destinationIdentity":', attribution.destinationIdentity);
}

function appendOptionalString(line: ByteBuffer, member: string, value: string): void {
  if (value.length == 0) return;
  line.appendAscii(member);
  appendJsonString(line, value);
}

function appendOptionalIdentity(line: ByteBuffer, member: string, identity: u32): void {
  if (identity == 0) return;
  line.appendAscii(member);
  line.appendDecimal(<u64>identity);
}

// The longest encoding of one character: \uXXXX.
const MAX_JSON_BYTES_PER_CHAR: usize = 6;

// Appends `text` as a JSON string, encoding characters outside ASCII as \uXXXX escapes.
export function appendJsonString(target: ByteBuffer, text: string): void {
  appendJsonUnits<u16>(target, changetype<usize>(text), <usize>text.length);
}

// The bytes [pointer, pointer + length) as a JSON string (bytes outside printable ASCII escaped).
function appendJsonStringBytes(target: ByteBuffer, pointer: usize, length: usize): void {
  appendJsonUnits<u8>(target, pointer, length);
}

// `count` code units of type T (u16: a string's UTF-16, u8: raw bytes) from `units` as a JSON
// string; the caller vouches for the range.
// @ts-ignore: decorator
@inline function appendJsonUnits<T>(target: ByteBuffer, units: usize, count: usize): void {
  const begin = target.writePtr(count * MAX_JSON_BYTES_PER_CHAR + 2);
  let at = begin;
  store<u8>(at++, 0x22);
  for (let i: usize = 0; i < count; i++) {
    const code = <u32>load<T>(units + i * sizeof<T>()); // safe: i < count units, as the caller vouched
    if (isPlainJsonChar(code)) store<u8>(at++, <u8>code);
    else at = storeJsonEscape(at, code);
  }
  store<u8>(at++, 0x22);
  target.advanceEnd(at - begin);
}

// Printable ASCII other than " and \: written as it is.
// @ts-ignore: decorator
@inline function isPlainJsonChar(code: u32): bool {
  return code >= 0x20 && code < 0x7f && code != 0x22 && code != 0x5c;
}

// Writes the escape of one character that is not plain at `at` (room for MAX_JSON_BYTES_PER_CHAR
// reserved by the caller); returns the position after it.
function storeJsonEscape(at: usize, code: u32): usize {
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
