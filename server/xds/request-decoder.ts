// Decodes the requests a proxy sends most, ACKs, without building proto-loader's full object
// (every field defaulted, nested messages expanded). Only requests made of the fields below take
// this path; a request with a node, an error_detail (a NACK), resource locators or any other field
// goes to proto-loader's decoder unchanged, so first requests and NACKs decode exactly as before.
// Field numbers: envoy/service/discovery/v3/discovery.proto. ads.ts binds it; no protocol logic.
import type { DeltaDiscoveryRequest, DiscoveryRequest } from './discovery-messages.ts';

const enum DiscoveryRequestField {
  VersionInfo = 1,
  ResourceNames = 3,
  TypeUrl = 4,
  ResponseNonce = 5,
}

const enum DeltaDiscoveryRequestField {
  TypeUrl = 2,
  ResourceNamesSubscribe = 3,
  ResourceNamesUnsubscribe = 4,
  InitialResourceVersions = 5,
  ResponseNonce = 6,
}

const LENGTH_DELIMITED = 2;

/** Decodes a DiscoveryRequest, falling back to `fullDecode` for anything but the common ACK fields. */
export function decodeDiscoveryRequest(bytes: Buffer, fullDecode: (bytes: Buffer) => DiscoveryRequest): DiscoveryRequest {
  const request: DiscoveryRequest = { version_info: '', node: null, resource_names: [], type_url: '', response_nonce: '', error_detail: null };
  return forEachStringField(bytes, request, takeDiscoveryRequestField) ? request : fullDecode(bytes);
}

function takeDiscoveryRequestField(request: DiscoveryRequest, field: number, value: string): boolean {
  if (field === DiscoveryRequestField.VersionInfo) request.version_info = value;
  else if (field === DiscoveryRequestField.ResourceNames) request.resource_names.push(value);
  else if (field === DiscoveryRequestField.TypeUrl) request.type_url = value;
  else if (field === DiscoveryRequestField.ResponseNonce) request.response_nonce = value;
  else return false;
  return true;
}

/** Decodes a DeltaDiscoveryRequest, falling back to `fullDecode` for anything but the common ACK fields. */
export function decodeDeltaDiscoveryRequest(bytes: Buffer, fullDecode: (bytes: Buffer) => DeltaDiscoveryRequest): DeltaDiscoveryRequest {
  const request: DeltaDiscoveryRequest = {
    node: null,
    type_url: '',
    resource_names_subscribe: [],
    resource_names_unsubscribe: [],
    initial_resource_versions: {},
    response_nonce: '',
    error_detail: null,
  };
  return forEachStringField(bytes, request, takeDeltaDiscoveryRequestField) ? request : fullDecode(bytes);
}

// initial_resource_versions entries are messages; they only come with the first request, which also carries the node.
function takeDeltaDiscoveryRequestField(request: DeltaDiscoveryRequest, field: number, value: string): boolean {
  if (field === DeltaDiscoveryRequestField.TypeUrl) request.type_url = value;
  else if (field === DeltaDiscoveryRequestField.ResourceNamesSubscribe) request.resource_names_subscribe.push(value);
  else if (field === DeltaDiscoveryRequestField.ResourceNamesUnsubscribe) request.resource_names_unsubscribe.push(value);
  else if (field === DeltaDiscoveryRequestField.ResponseNonce) request.response_nonce = value;
  else return false;
  return true;
}

/**
 * Visits each field as a UTF-8 string. Returns false, having stopped, at a field `take` does not
 * take, at any wire type other than length-delimited, or at malformed bytes: the caller then
 * decodes the whole message the slow, complete way (which also reports malformed input).
 * Top-level functions and no object per varint: this runs for every ACK of every proxy.
 */
function forEachStringField<Request>(bytes: Buffer, request: Request, take: (request: Request, field: number, value: string) => boolean): boolean {
  let offset = 0;
  while (offset < bytes.length) {
    const key = readVarint(bytes, offset);
    if (key < 0) return false;
    offset = varintEnd;
    if (key % 8 !== LENGTH_DELIMITED) return false;
    const length = readVarint(bytes, offset);
    if (length < 0) return false;
    const start = varintEnd;
    const end = start + length;
    if (end > bytes.length) return false;
    if (!take(request, Math.floor(key / 8), bytes.toString('utf8', start, end))) return false;
    offset = end;
  }
  return true;
}

/** Where the varint readVarint last read ended (decoding is synchronous, never nested). */
let varintEnd = 0;

/** The varint (at most 5 bytes) at `start`, with its end in varintEnd; -1 if it is malformed or cut off. */
function readVarint(bytes: Buffer, start: number): number {
  let value = 0;
  let scale = 1;
  for (let offset = start; offset < bytes.length && offset < start + 5; offset += 1) {
    const byte = bytes[offset] ?? 0;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      varintEnd = offset + 1;
      return value;
    }
    scale *= 128;
  }
  return -1;
}
