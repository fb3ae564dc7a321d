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
  /** Set on a parser's plugin configuration report, which is no record (plugin-config-reports.ts). */
  plugin_config?: PluginConfigMessage | null;
}

export interface PeerMessage {
  address?: string;
  identity?: number;
  labels?: string[];
}

export interface PluginConfigMessage {
  plugin?: string;
  state?: string | number;
  reason?: string;
}

const ENTRY_TYPE_BY_WIRE_NAME: Readonly<Record<string, EntryType>> = {
  ACCESS_LOG_ENTRY_TYPE_REQUEST: 'Request',
  ACCESS_LOG_ENTRY_TYPE_RESPONSE: 'Response',
  ACCESS_LOG_ENTRY_TYPE_DENIED: 'Denied',
  ACCESS_LOG_ENTRY_TYPE_ERROR: 'Error',
};

const DIRECTION_BY_WIRE_NAME: Readonly<Record<string, Direction>> = {
  TRAFFIC_DIRECTION_UNSPECIFIED: 'unknown',
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
 * Converts one wire entry, as the parser VM filled it (filters/sdk/access-log/entry-protobuf.ts),
 * adding what only the server knows: the authenticated node, and peer identities and labels the
 * entry leaves empty. Returns a problem text instead of throwing for an entry that cannot be a
 * record (an unknown type), so one bad entry never costs a batch.
 */
export function recordFromMessage(message: AccessLogEntryMessage, context: RecordContext): AccessLogRecord | { problem: string } {
  const claimedNode = nonEmpty(message.node_id);
  if (claimedNode !== undefined && claimedNode !== context.batchNodeId) {
    return { problem: `entry claims node "${claimedNode}" but its stream is authenticated as node "${context.batchNodeId}"; a proxy may only log for itself` };
  }
  const type = enumValue(message.type, ENTRY_TYPE_BY_WIRE_NAME, ENTRY_TYPES);
  if (type === undefined) return { problem: `entry type ${String(message.type)} is not one of ${ENTRY_TYPES.join(', ')}` };
  const direction = enumValue(message.direction, DIRECTION_BY_WIRE_NAME, ['unknown', 'ingress', 'egress']) ?? 'unknown';
  const timeUnixNano = BigInt(message.time_unix_nano ?? 0);
  return {
    time: new Date(Number(timeUnixNano / 1_000_000n)).toISOString(),
    timeUnixNano: timeUnixNano.toString(),
    nodeId: context.batchNodeId,
    direction,
    type,
    protocol: message.protocol ?? '',
    source: peerRecord(message.source, context),
    destination: peerRecord(message.destination, context),
    endpoint: message.endpoint ?? '',
    policyRevision: message.policy_revision ?? '',
    rule: message.rule ?? '',
    fields: { ...(message.fields ?? {}) },
    reason: message.reason ?? '',
    connectionId: String(message.connection_id ?? 0),
  };
}

function peerRecord(peer: PeerMessage | null | undefined, context: RecordContext): PeerRecord {
  const address = peer?.address ?? '';
  const identity = peer?.identity || context.identityOfAddress?.(ipOf(address)) || 0;
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
