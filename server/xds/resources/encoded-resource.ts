// The unit the xDS server moves around: one named resource, encoded once into the bytes of its
// Any, with a content hash. Snapshots hold these and every proxy that receives the resource is sent
// the same bytes. Knows nothing of streams, versions per proxy or gRPC.
import { createHash } from 'node:crypto';
import { envoyMessageType } from '../envoy-protos.ts';

export const TYPE_URL_PREFIX = 'type.googleapis.com/';

export interface EncodedResource {
  readonly typeUrl: string;
  readonly name: string;
  /** The serialized message: the `value` of the Any sent on the wire. Shared, never mutated. */
  readonly value: Uint8Array;
  /** sha256 of `value`, hex: the resource's version in delta xDS and input to SotW versions. */
  readonly hash: string;
}

/** An Any as protobufjs takes it for encoding. */
export interface PackedAny {
  type_url: string;
  value: Uint8Array;
}

/** Encodes `message` (a plain snake_case object) as the message named by `typeUrl`. */
export function encodeMessage(typeUrl: string, message: object): Uint8Array {
  const messageType = envoyMessageType(messageNameOf(typeUrl));
  const typed = messageType.fromObject(message as Record<string, unknown>);
  const problem = messageType.verify(typed);
  if (problem) {
    throw new Error(`cannot encode ${typeUrl}: ${problem}`);
  }
  return messageType.encode(typed).finish();
}

/** Wraps a message into an Any (for typed_config fields inside a resource). */
export function packAny(typeUrl: string, message: object): PackedAny {
  return { type_url: typeUrl, value: encodeMessage(typeUrl, message) };
}

/** Encodes a top-level resource once; the result is shared by every proxy it is sent to. */
export function encodeResource(typeUrl: string, name: string, message: object): EncodedResource {
  return resourceFromEncodedBytes(typeUrl, name, encodeMessage(typeUrl, message));
}

/**
 * Wraps bytes encoded elsewhere (e.g. Weir's own policy messages, encoded with their own protos) so
 * they travel like any other resource.
 */
export function resourceFromEncodedBytes(typeUrl: string, name: string, value: Uint8Array): EncodedResource {
  return { typeUrl, name, value, hash: createHash('sha256').update(value).digest('hex') };
}

/** `type.googleapis.com/envoy.config.listener.v3.Listener` -> `envoy.config.listener.v3.Listener`. */
export function messageNameOf(typeUrl: string): string {
  if (!typeUrl.startsWith(TYPE_URL_PREFIX)) {
    throw new Error(`type URL "${typeUrl}" does not start with ${TYPE_URL_PREFIX}`);
  }
  return typeUrl.slice(TYPE_URL_PREFIX.length);
}
