// The access-log record as the server keeps it: one L7 request (or response, denial, error) seen by
// a parser in some Envoy, after the agent shipped it (protos/weir/accesslog.proto). Owns the record
// type, its literal unions and the conversion from the wire message; receiving, storing and
// printing records live in the other modules of this folder.

export const ENTRY_TYPES = ['Request', 'Response', 'Denied', 'Error'] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];

export const DIRECTIONS = ['ingress', 'egress', 'unknown'] as const;
export type Direction = (typeof DIRECTIONS)[number];

/** Hubble's verdict words: what happened to the request. */
export type Verdict = 'forwarded' | 'denied' | 'error';

export interface PeerRecord {
  /** "ip:port". */
  address: string;
  identity: number;
  /** "source:key=value" labels of the identity, sorted; empty when unknown. */
  labels: string[];
}

export interface AccessLogRecord {
  /** ISO-8601 with milliseconds, taken by the proxy. */
  time: string;
  timeUnixNano: string;
  nodeId: string;
  direction: Direction;
  type: EntryType;
  protocol: string;
  source: PeerRecord;
  destination: PeerRecord;
  endpoint: string;
  policyRevision: string;
  rule: string;
  fields: Record<string, string>;
  reason: string;
  connectionId: string;
}

/**
 * How many requests a record stands for: the `requests` field when the filter counted identical
 * requests into one entry (the HTTP filter does for allowed requests, docs/http.md), else 1.
 */
export function requestsOf(record: AccessLogRecord): number {
  const counted = Number(record.fields['requests']);
  return Number.isSafeInteger(counted) && counted > 0 ? counted : 1;
}

export function verdictOf(type: EntryType): Verdict {
  if (type === 'Denied') return 'denied';
  if (type === 'Error') return 'error';
  return 'forwarded';
}

/** weir.AccessLogEntry as @grpc/proto-loader delivers it (keepCase, longs and enums as strings). */
export interface AccessLogEntryMessage {
  time_unix_nano?: string | number;
  node_id?: string;
  direction?: string | number;
  type?: string | number;
  protocol?: string;
  source?: PeerMessage | null;
  destination?: PeerMessage | null;
  endpoint?: string;
  policy_revision?: string;
  rule?: string;
  fields?: Record<string, string>;
  reason?: string;
  connection_id?: string | number;
  /** The parser's own JSON object (see protos/weir/accesslog.proto). */
  parser_json?: Uint8Array;
}

export interface PeerMessage {
  address?: string;
  identity?: number;
  labels?: string[];
}

const ENTRY_TYPE_BY_WIRE_NAME: Readonly<Record<string, EntryType>> = {
  ACCESS_LOG_ENTRY_TYPE_REQUEST: 'Request',
  ACCESS_LOG_ENTRY_TYPE_RESPONSE: 'Response',
  ACCESS_LOG_ENTRY_TYPE_DENIED: 'Denied',
  ACCESS_LOG_ENTRY_TYPE_ERROR: 'Error',
};

const DIRECTION_BY_WIRE_NAME: Readonly<Record<string, Direction>> = {
  TRAFFIC_DIRECTION_INGRESS: 'ingress',
  TRAFFIC_DIRECTION_EGRESS: 'egress',
};

/** Labels of an identity number, or undefined when the server does not know it. */
export type IdentityLabelResolver = (identity: number) => readonly string[] | undefined;

/** The identity of an IP address ("127.0.0.2"), from the server's IP -> identity map. */
export type AddressIdentityResolver = (ip: string) => number | undefined;

export interface RecordContext {
  /**
   * The node the stream authenticated as: every record carries it. An entry that names another
   * node is refused (a proxy speaks only for itself).
   */
  batchNodeId: string;
  /** Fills peer labels the entry does not carry. */
  labelsOf?: IdentityLabelResolver;
  /** Fills a peer identity the entry does not carry (0), from the peer's address. */
  identityOfAddress?: AddressIdentityResolver;
}

/**
 * Converts one wire entry: typed fields first, then the parser's JSON for whatever they leave
 * empty (the agent sends only the JSON today). Returns a problem text instead of throwing for
 * entries that cannot be a record (unknown type, bad JSON), so one bad entry never costs a batch.
 */
export function recordFromMessage(message: AccessLogEntryMessage, context: RecordContext): AccessLogRecord | { problem: string } {
  const claimedNode = nonEmpty(message.node_id);
  if (claimedNode !== undefined && claimedNode !== context.batchNodeId) {
    return { problem: `entry claims node "${claimedNode}" but its stream is authenticated as node "${context.batchNodeId}"; a proxy may only log for itself` };
  }
  const parsed = parserJsonOf(message.parser_json);
  if ('problem' in parsed) return parsed;
  const json = parsed.json;
  const type = json.type !== undefined ? json.type : enumValue(message.type, ENTRY_TYPE_BY_WIRE_NAME, ENTRY_TYPES);
  if (type === undefined || !(ENTRY_TYPES as readonly string[]).includes(type)) {
    return { problem: `entry type ${String(json.type ?? message.type)} is not one of ${ENTRY_TYPES.join(', ')}` };
  }
  const wireTime = BigInt(message.time_unix_nano ?? 0);
  const timeUnixNano = wireTime !== 0n ? wireTime : BigInt(json.time ?? 0);
  const wireDirection = enumValue(message.direction, DIRECTION_BY_WIRE_NAME, ['unknown', 'ingress', 'egress']) ?? 'unknown';
  return {
    time: new Date(Number(timeUnixNano / 1_000_000n)).toISOString(),
    timeUnixNano: timeUnixNano.toString(),
    nodeId: context.batchNodeId,
    direction: wireDirection !== 'unknown' ? wireDirection : (json.direction ?? 'unknown'),
    type: type as EntryType,
    protocol: nonEmpty(message.protocol) ?? json.proto ?? '',
    source: peerRecord(message.source, json.source, json.sourceIdentity, context),
    destination: peerRecord(message.destination, json.destination, json.destinationIdentity, context),
    endpoint: nonEmpty(message.endpoint) ?? json.endpoint ?? '',
    policyRevision: nonEmpty(message.policy_revision) ?? json.revision ?? '',
    rule: nonEmpty(message.rule) ?? json.rule ?? '',
    fields: { ...(json.fields ?? {}), ...(message.fields ?? {}) },
    reason: nonEmpty(message.reason) ?? json.reason ?? '',
    connectionId: String(message.connection_id !== undefined && String(message.connection_id) !== '0' ? message.connection_id : (json.connection ?? 0)),
  };
}

/** The members of the parser's JSON the server reads; anything else is ignored. */
interface ParserJson {
  time?: number | string;
  source?: string;
  destination?: string;
  type?: string;
  proto?: string;
  connection?: number;
  fields?: Record<string, string>;
  reason?: string;
  direction?: Direction;
  endpoint?: string;
  revision?: string;
  rule?: string;
  sourceIdentity?: number;
  destinationIdentity?: number;
}

function parserJsonOf(bytes: Uint8Array | undefined): { json: ParserJson } | { problem: string } {
  if (bytes === undefined || bytes.length === 0) return { json: {} };
  const text = Buffer.from(bytes).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problem: `parser_json is not JSON (${error instanceof Error ? error.message : String(error)}): ${text.slice(0, 120)}` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { problem: `parser_json is not a JSON object: ${text.slice(0, 120)}` };
  const object = value as Record<string, unknown>;
  const json: ParserJson = {};
  for (const key of ['source', 'destination', 'type', 'proto', 'reason', 'endpoint', 'revision', 'rule'] as const) {
    if (typeof object[key] === 'string') json[key] = object[key];
  }
  for (const key of ['connection', 'sourceIdentity', 'destinationIdentity'] as const) {
    if (typeof object[key] === 'number') json[key] = object[key];
  }
  if (typeof object.time === 'number' || typeof object.time === 'string') json.time = object.time;
  if (object.direction === 'ingress' || object.direction === 'egress') json.direction = object.direction;
  if (typeof object.fields === 'object' && object.fields !== null) {
    json.fields = Object.fromEntries(Object.entries(object.fields).map(([key, fieldValue]) => [key, typeof fieldValue === 'string' ? fieldValue : JSON.stringify(fieldValue)]));
  }
  return { json };
}

function peerRecord(peer: PeerMessage | null | undefined, jsonAddress: string | undefined, jsonIdentity: number | undefined, context: RecordContext): PeerRecord {
  const address = nonEmpty(peer?.address) ?? jsonAddress ?? '';
  const identity = peer?.identity || jsonIdentity || context.identityOfAddress?.(ipOf(address)) || 0;
  const labels = peer?.labels !== undefined && peer.labels.length > 0 ? [...peer.labels] : [...(context.labelsOf?.(identity) ?? [])];
  return { address, identity, labels };
}

/** "127.0.0.2:4000" -> "127.0.0.2", "[::1]:80" -> "::1". */
export function ipOf(address: string): string {
  const bracketed = /^\[(.*)\]:\d+$/.exec(address);
  if (bracketed?.[1] !== undefined) return bracketed[1];
  const colon = address.lastIndexOf(':');
  return colon > 0 && address.indexOf(':') === colon ? address.slice(0, colon) : address;
}

function nonEmpty(text: string | undefined): string | undefined {
  return text === undefined || text === '' ? undefined : text;
}

/** proto-loader gives enum names (enums: String); numbers are accepted too, as their position. */
function enumValue<T extends string>(raw: string | number | undefined, byName: Readonly<Record<string, T>>, byNumber: readonly T[]): T | undefined {
  if (raw === undefined) return byNumber[0];
  if (typeof raw === 'number') return byNumber[raw];
  return byName[raw];
}
