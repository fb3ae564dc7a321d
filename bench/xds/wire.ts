// The load generator's view of xDS messages on the wire: encodes the few DiscoveryRequest and
// DeltaDiscoveryRequest shapes an Envoy sends (first request, ACK) and reads only the top-level
// fields of responses it needs to ACK (type URL, version, nonce, resource names). Hand-rolled so a
// generator process can drive thousands of streams without decoding 60 KB Wasm modules into
// objects; field numbers are those of envoy/service/discovery/v3/discovery.proto.

/** What the generator learns from one (Delta)DiscoveryResponse. */
export interface ResponseSummary {
  typeUrl: string;
  /** version_info (SotW) or system_version_info (delta). */
  version: string;
  nonce: string;
  /** Delta: names of the resources carried (SotW leaves this empty). */
  resourceNames: string[];
  /** Delta: each resource's version, in order (SotW leaves this empty). */
  resourceVersions: string[];
  resourceCount: number;
  /** control_plane.identifier, '' when the server sends none. */
  controlPlane: string;
  /** The encoded Any of every resource carried, in order: what must be byte-identical across servers. */
  anys: Uint8Array[];
}

export interface RequestFields {
  nodeId?: string;
  nodeCluster?: string;
  typeUrl: string;
  resourceNames: readonly string[];
  /** SotW only. */
  versionInfo?: string;
  responseNonce: string;
}

const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  Fixed32 = 5,
}

/** DiscoveryRequest: version_info=1, node=2, resource_names=3, type_url=4, response_nonce=5. */
export function encodeSotwRequest(fields: RequestFields): Buffer {
  const writer = new FieldWriter();
  if (fields.versionInfo) writer.string(1, fields.versionInfo);
  if (fields.nodeId !== undefined) writer.bytes(2, encodeNode(fields.nodeId, fields.nodeCluster ?? ''));
  for (const name of fields.resourceNames) writer.string(3, name);
  writer.string(4, fields.typeUrl);
  if (fields.responseNonce) writer.string(5, fields.responseNonce);
  return writer.finish();
}

/** DeltaDiscoveryRequest: node=1, type_url=2, resource_names_subscribe=3, response_nonce=6. */
export function encodeDeltaRequest(fields: RequestFields): Buffer {
  const writer = new FieldWriter();
  if (fields.nodeId !== undefined) writer.bytes(1, encodeNode(fields.nodeId, fields.nodeCluster ?? ''));
  writer.string(2, fields.typeUrl);
  for (const name of fields.resourceNames) writer.string(3, name);
  if (fields.responseNonce) writer.string(6, fields.responseNonce);
  return writer.finish();
}

/** DiscoveryResponse: version_info=1, resources=2, type_url=4, nonce=5, control_plane=6. */
export function readSotwResponse(bytes: Uint8Array): ResponseSummary {
  const summary = emptySummary();
  forEachField(bytes, (field, start, end) => {
    if (field === 1) summary.version = utf8(bytes, start, end);
    else if (field === 2) {
      summary.resourceCount += 1;
      summary.anys.push(bytes.subarray(start, end));
    } else if (field === 4) summary.typeUrl = utf8(bytes, start, end);
    else if (field === 5) summary.nonce = utf8(bytes, start, end);
    else if (field === 6) summary.controlPlane = controlPlaneIdentifier(bytes.subarray(start, end));
  });
  return summary;
}

/**
 * DeltaDiscoveryResponse: system_version_info=1, resources=2 (Resource: version=1, resource=2,
 * name=3), type_url=4, nonce=5, control_plane=7.
 */
export function readDeltaResponse(bytes: Uint8Array): ResponseSummary {
  const summary = emptySummary();
  forEachField(bytes, (field, start, end) => {
    if (field === 1) summary.version = utf8(bytes, start, end);
    else if (field === 2) {
      summary.resourceCount += 1;
      const resource = bytes.subarray(start, end);
      forEachField(resource, (inner, innerStart, innerEnd) => {
        if (inner === 1) summary.resourceVersions.push(utf8(resource, innerStart, innerEnd));
        else if (inner === 2) summary.anys.push(resource.subarray(innerStart, innerEnd));
        else if (inner === 3) summary.resourceNames.push(utf8(resource, innerStart, innerEnd));
      });
    } else if (field === 4) summary.typeUrl = utf8(bytes, start, end);
    else if (field === 5) summary.nonce = utf8(bytes, start, end);
    else if (field === 7) summary.controlPlane = controlPlaneIdentifier(bytes.subarray(start, end));
  });
  return summary;
}

function emptySummary(): ResponseSummary {
  return { typeUrl: '', version: '', nonce: '', resourceNames: [], resourceVersions: [], resourceCount: 0, controlPlane: '', anys: [] };
}

/** ControlPlane: identifier=1. */
function controlPlaneIdentifier(bytes: Uint8Array): string {
  let identifier = '';
  forEachField(bytes, (field, start, end) => {
    if (field === 1) identifier = utf8(bytes, start, end);
  });
  return identifier;
}

function encodeNode(id: string, cluster: string): Buffer {
  const writer = new FieldWriter();
  writer.string(1, id);
  if (cluster) writer.string(2, cluster);
  return writer.finish();
}

class FieldWriter {
  readonly #parts: Buffer[] = [];

  string(field: number, value: string): void {
    this.bytes(field, Buffer.from(value, 'utf8'));
  }

  bytes(field: number, value: Uint8Array): void {
    this.#parts.push(varint((field << 3) | WireType.LengthDelimited), varint(value.length), Buffer.from(value));
  }

  finish(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

function varint(value: number): Buffer {
  const out: number[] = [];
  let rest = value;
  while (rest > 0x7f) {
    out.push((rest & 0x7f) | 0x80);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
  return Buffer.from(out);
}

/** Calls `visit` for each length-delimited top-level field; skips the other wire types. */
function forEachField(bytes: Uint8Array, visit: (field: number, start: number, end: number) => void): void {
  let offset = 0;
  while (offset < bytes.length) {
    const [key, afterKey] = readVarint(bytes, offset);
    const field = Math.floor(key / 8);
    const wireType = key & 7;
    offset = afterKey;
    if (wireType === WireType.LengthDelimited) {
      const [length, afterLength] = readVarint(bytes, offset);
      const end = afterLength + length;
      if (end > bytes.length) throw new Error(`xDS response truncated: field ${field} needs ${end} bytes, have ${bytes.length}`);
      visit(field, afterLength, end);
      offset = end;
    } else if (wireType === WireType.Varint) {
      offset = readVarint(bytes, offset)[1];
    } else if (wireType === WireType.Fixed64) {
      offset += 8;
    } else if (wireType === WireType.Fixed32) {
      offset += 4;
    } else {
      throw new Error(`xDS response: unsupported wire type ${wireType} for field ${field} at byte ${offset}`);
    }
  }
}

function readVarint(bytes: Uint8Array, start: number): [number, number] {
  let value = 0;
  let scale = 1;
  let offset = start;
  for (;;) {
    const byte = bytes[offset];
    if (byte === undefined) throw new Error(`xDS response: varint runs past the end at byte ${start}`);
    offset += 1;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, offset];
    scale *= 128;
  }
}

function utf8(bytes: Uint8Array, start: number, end: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start).toString('utf8');
}
