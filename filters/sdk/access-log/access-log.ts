// Writes access-log entries: hands each one to the Weir agent through the shared queue
// (access-log-queue.ts) as a weir.AccessLogEntry with every typed field the VM knows
// (entry-protobuf.ts), the form the agent ships and the server reads, and writes the
// `weir-accesslog {...}` line (entry-line.ts) when Envoy's `wasm` logger prints that level
// (Request and Response at info, Denied and Error at warn); a line Envoy would discard is not
// built. Entries are written straight into the message for the agent; building one allocates
// only when a buffer grows.
import { ByteBuffer } from '../bytes/byte-buffer';
import { appendUtf8OfBytes } from '../bytes/utf8';
import { LogLevel } from '../abi/imports';
import { beginAccessLogEntry, endAccessLogEntry } from './access-log-queue';
import { hostLogsAt, nowNanoseconds, propertyBytes } from '../abi/host';
import { WireDirection, WireEntryType, encodeConnectionFields, encodeEntry } from './entry-protobuf';
import { logEntryLine } from './entry-line';
import { LogFields } from './log-fields';

export { LogFields } from './log-fields';
export { ACCESS_LOG_PREFIX } from './entry-line';

export const enum EntryType {
  Request = 0,
  Denied = 1,
  Error = 2,
  Response = 3,
}

// What decided one entry; filled by the connection (connection.ts) from the policy decision. Empty
// strings and identity 0 mean "unknown" and are left out, so the server falls back to its own view
// (docs/accesslog.md).
export class EntryAttribution {
  revision: string = ''; // the policy revision that decided
  rule: string = ''; // the rule that allowed the request
  sourceIdentity: u32 = 0;
  destinationIdentity: u32 = 0;
}

// What every entry of one connection repeats, read and encoded once, at its first entry (which is
// always written where the connection's properties are visible).
export class ConnectionConstants {
  protocol: string = '';
  connectionId: u64 = 0;
  direction: string = ''; // "ingress", "egress" or "" (unknown)
  endpoint: string = '';
  // Envoy's source.address and destination.address as UTF-8; empty when Envoy has none.
  readonly sourceAddress: ByteBuffer = new ByteBuffer();
  readonly destinationAddress: ByteBuffer = new ByteBuffer();
  // direction, protocol, endpoint and connection id as AccessLogEntry fields.
  readonly encoded: ByteBuffer = new ByteBuffer();
  private filled: bool = false;

  get isFilled(): bool {
    return this.filled;
  }

  fill(protocol: string, connectionId: u64, direction: string, endpoint: string): void {
    this.protocol = protocol;
    this.connectionId = connectionId;
    this.direction = direction;
    this.endpoint = endpoint;
    appendAddress(this.sourceAddress, propertyBytes('source.address'));
    appendAddress(this.destinationAddress, propertyBytes('destination.address'));
    const wireDirection = direction == 'ingress' ? WireDirection.Ingress : direction == 'egress' ? WireDirection.Egress : WireDirection.Unspecified;
    encodeConnectionFields(this.encoded, wireDirection, protocol, endpoint, connectionId);
    this.filled = true;
  }

  release(): void {
    this.sourceAddress.release();
    this.destinationAddress.release();
    this.encoded.release();
  }
}

// Emits one entry of the connection `constants` describes: into the message for the agent and,
// when Envoy prints that level, as a log line.
export function writeAccessLog(constants: ConnectionConstants, type: EntryType, attribution: EntryAttribution, fields: LogFields, reason: string): void {
  const entry = beginAccessLogEntry();
  const time = nowNanoseconds();
  encodeEntry(
    entry,
    constants.encoded,
    time,
    wireTypeOf(type),
    constants.sourceAddress,
    attribution.sourceIdentity,
    constants.destinationAddress,
    attribution.destinationIdentity,
    attribution.revision,
    attribution.rule,
    fields,
    reason,
  );
  endAccessLogEntry();
  const level = type == EntryType.Request || type == EntryType.Response ? LogLevel.Info : LogLevel.Warn;
  if (!hostLogsAt(<u32>level, time)) return;
  logEntryLine(level, typeNameOf(type), constants.protocol, constants.connectionId, constants.direction, constants.endpoint, attribution.revision, attribution.rule, attribution.sourceIdentity, attribution.destinationIdentity, fields, reason);
}

function appendAddress(target: ByteBuffer, address: ArrayBuffer | null): void {
  if (address !== null) appendUtf8OfBytes(target, changetype<usize>(address), <usize>address.byteLength);
}

function wireTypeOf(type: EntryType): WireEntryType {
  if (type == EntryType.Request) return WireEntryType.Request;
  if (type == EntryType.Denied) return WireEntryType.Denied;
  if (type == EntryType.Response) return WireEntryType.Response;
  return WireEntryType.Error;
}

function typeNameOf(type: EntryType): string {
  if (type == EntryType.Request) return 'Request';
  if (type == EntryType.Denied) return 'Denied';
  if (type == EntryType.Response) return 'Response';
  return 'Error';
}
