// Encodes one weir.AccessLogEntry (protos/weir/accesslog.proto) as the agent ships it to the
// server: every typed field the parser VM knows, the parser's own pairs in `fields`. What every
// entry of a connection repeats (direction, protocol, endpoint, connection id) is encoded once per
// connection (encodeConnectionFields); each entry adds its time, type, peers, attribution, pairs
// and reason. Also the entry that carries a plugin configuration report (config-report.ts).
// Field numbers live here only; the framing of entries on the shared queue is
// access-log-queue.ts.
import { ByteBuffer } from '../bytes/byte-buffer';
import { WireType, appendTag, appendVarint, varintSize } from '../bytes/protobuf';
import { appendUtf8OfString, utf8LengthOfString } from '../bytes/utf8';
import { LogFields, NUMBER_VALUE, PAIR_HEADER_BYTES } from './log-fields';

const enum EntryField {
  TimeUnixNano = 1,
  Direction = 3,
  Type = 4,
  Protocol = 5,
  Source = 6,
  Destination = 7,
  Endpoint = 8,
  PolicyRevision = 9,
  Rule = 10,
  Fields = 11,
  Reason = 12,
  ConnectionId = 13,
  PluginConfig = 15,
}

const enum PeerField {
  Address = 1,
  Identity = 2,
}

const enum MapEntryField {
  Key = 1,
  Value = 2,
}

const enum PluginConfigField {
  Plugin = 1,
  State = 2,
  Reason = 3,
}

// weir.AccessLogEntryType and weir.TrafficDirection values.
export const enum WireEntryType {
  Request = 0,
  Response = 1,
  Denied = 2,
  Error = 3,
}

export const enum WireDirection {
  Unspecified = 0,
  Ingress = 1,
  Egress = 2,
}

// weir.PluginConfigState values.
export const enum WirePluginConfigState {
  Configured = 0,
  Rejected = 1,
}

// direction, protocol, endpoint and connection_id (the empty and zero ones left out, as proto3 does).
export function encodeConnectionFields(target: ByteBuffer, direction: WireDirection, protocol: string, endpoint: string, connectionId: u64): void {
  appendEnum(target, EntryField.Direction, <u32>direction);
  appendStringField(target, EntryField.Protocol, protocol);
  appendStringField(target, EntryField.Endpoint, endpoint);
  if (connectionId != 0) {
    appendTag(target, EntryField.ConnectionId, WireType.Varint);
    appendVarint(target, connectionId);
  }
}

// One entry: `connectionFields` from encodeConnectionFields, the peers' addresses as UTF-8 (empty:
// unknown) and identities (0: unknown).
export function encodeEntry(
  target: ByteBuffer,
  connectionFields: ByteBuffer,
  time: u64,
  type: WireEntryType,
  sourceAddress: ByteBuffer,
  sourceIdentity: u32,
  destinationAddress: ByteBuffer,
  destinationIdentity: u32,
  revision: string,
  rule: string,
  fields: LogFields,
  reason: string,
): void {
  appendTag(target, EntryField.TimeUnixNano, WireType.Varint);
  appendVarint(target, time);
  appendEnum(target, EntryField.Type, <u32>type);
  target.appendBytes(connectionFields.readPtr, connectionFields.length);
  appendPeer(target, EntryField.Source, sourceAddress, sourceIdentity);
  appendPeer(target, EntryField.Destination, destinationAddress, destinationIdentity);
  appendStringField(target, EntryField.PolicyRevision, revision);
  appendStringField(target, EntryField.Rule, rule);
  appendPairs(target, fields);
  appendStringField(target, EntryField.Reason, reason);
}

// An entry that is a plugin configuration report, not an access-log record.
export function encodePluginConfigEntry(target: ByteBuffer, time: u64, plugin: string, state: WirePluginConfigState, reason: string): void {
  appendTag(target, EntryField.TimeUnixNano, WireType.Varint);
  appendVarint(target, time);
  const pluginLength = utf8LengthOfString(plugin);
  const reasonLength = utf8LengthOfString(reason);
  const stateBytes: usize = state == WirePluginConfigState.Configured ? 0 : 1 + varintSize(<u64>state);
  appendTag(target, EntryField.PluginConfig, WireType.LengthDelimited);
  appendVarint(target, <u64>(stringFieldSize(pluginLength) + stateBytes + stringFieldSize(reasonLength)));
  appendStringField(target, PluginConfigField.Plugin, plugin);
  appendEnum(target, PluginConfigField.State, <u32>state);
  appendStringField(target, PluginConfigField.Reason, reason);
}

function appendEnum(target: ByteBuffer, field: u32, value: u32): void {
  if (value == 0) return;
  appendTag(target, field, WireType.Varint);
  appendVarint(target, <u64>value);
}

function appendStringField(target: ByteBuffer, field: u32, text: string): void {
  if (text.length == 0) return;
  appendTag(target, field, WireType.LengthDelimited);
  appendVarint(target, <u64>utf8LengthOfString(text));
  appendUtf8OfString(target, text);
}

// Bytes of a string field (tag < 16, so one byte) of `length` bytes; 0 for an empty one.
function stringFieldSize(length: usize): usize {
  return length == 0 ? 0 : 1 + varintSize(<u64>length) + length;
}

function appendPeer(target: ByteBuffer, field: u32, address: ByteBuffer, identity: u32): void {
  const addressLength = address.length;
  const identityBytes: usize = identity == 0 ? 0 : 1 + varintSize(<u64>identity);
  if (addressLength == 0 && identityBytes == 0) return;
  appendTag(target, field, WireType.LengthDelimited);
  appendVarint(target, <u64>(stringFieldSize(addressLength) + identityBytes));
  if (addressLength > 0) {
    appendTag(target, PeerField.Address, WireType.LengthDelimited);
    appendVarint(target, <u64>addressLength);
    target.appendBytes(address.readPtr, addressLength);
  }
  appendEnum(target, PeerField.Identity, identity);
}

// One map entry (a nested message of key and value) per pair of `fields`.
function appendPairs(target: ByteBuffer, fields: LogFields): void {
  const pairs = fields.pairs;
  const base = pairs.readPtr;
  const total = pairs.length;
  let at: usize = 0;
  while (at + PAIR_HEADER_BYTES <= total) {
    const keyLength = <usize>(load<u32>(base + at) & ~NUMBER_VALUE); // safe: at + PAIR_HEADER_BYTES <= total
    const valueLength = <usize>load<u32>(base + at + 4);
    const key = base + at + PAIR_HEADER_BYTES;
    appendTag(target, EntryField.Fields, WireType.LengthDelimited);
    appendVarint(target, <u64>(1 + varintSize(<u64>keyLength) + keyLength + 1 + varintSize(<u64>valueLength) + valueLength));
    appendTag(target, MapEntryField.Key, WireType.LengthDelimited);
    appendVarint(target, <u64>keyLength);
    target.appendBytes(key, keyLength); // LogFields wrote the pair within `pairs`
    appendTag(target, MapEntryField.Value, WireType.LengthDelimited);
    appendVarint(target, <u64>valueLength);
    target.appendBytes(key + keyLength, valueLength);
    at += PAIR_HEADER_BYTES + keyLength + valueLength;
  }
}
