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

/**
 * Converts one wire entry. `batchNodeId` applies when the entry names no node; peers without
 * labels get them from `labelsOf`. Returns a problem text instead of throwing for entries that
 * cannot be a record (unknown type), so one bad entry never costs a batch.
 */
export function recordFromMessage(
  message: AccessLogEntryMessage,
  batchNodeId: string,
  labelsOf: IdentityLabelResolver = () => undefined,
): AccessLogRecord | { problem: string } {
  const type = enumValue(message.type, ENTRY_TYPE_BY_WIRE_NAME, ENTRY_TYPES);
  if (type === undefined) return { problem: `entry type ${String(message.type)} is not one of ${ENTRY_TYPES.join(', ')}` };
  const timeUnixNano = BigInt(message.time_unix_nano ?? 0);
  return {
    time: new Date(Number(timeUnixNano / 1_000_000n)).toISOString(),
    timeUnixNano: timeUnixNano.toString(),
    nodeId: message.node_id !== undefined && message.node_id !== '' ? message.node_id : batchNodeId,
    direction: enumValue(message.direction, DIRECTION_BY_WIRE_NAME, ['unknown', 'ingress', 'egress']) ?? 'unknown',
    type,
    protocol: message.protocol ?? '',
    source: peerFromMessage(message.source, labelsOf),
    destination: peerFromMessage(message.destination, labelsOf),
    endpoint: message.endpoint ?? '',
    policyRevision: message.policy_revision ?? '',
    rule: message.rule ?? '',
    fields: { ...(message.fields ?? {}) },
    reason: message.reason ?? '',
    connectionId: String(message.connection_id ?? 0),
  };
}

function peerFromMessage(peer: PeerMessage | null | undefined, labelsOf: IdentityLabelResolver): PeerRecord {
  const identity = peer?.identity ?? 0;
  const labels = peer?.labels !== undefined && peer.labels.length > 0 ? [...peer.labels] : [...(labelsOf(identity) ?? [])];
  return { address: peer?.address ?? '', identity, labels };
}

/** proto-loader gives enum names (enums: String); numbers are accepted too, as their position. */
function enumValue<T extends string>(raw: string | number | undefined, byName: Readonly<Record<string, T>>, byNumber: readonly T[]): T | undefined {
  if (raw === undefined) return byNumber[0];
  if (typeof raw === 'number') return byNumber[raw];
  return byName[raw];
}
