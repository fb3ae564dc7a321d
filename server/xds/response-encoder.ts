// Serializes the two messages the server sends most, DiscoveryResponse and DeltaDiscoveryResponse,
// straight into one buffer: every resource's Any bytes (encoded once, shared by every proxy) are
// copied in as they are, never re-encoded per stream. Replaces proto-loader's generic serializer
// for these responses only (ads.ts binds it); requests are still decoded by proto-loader.
// Field numbers: envoy/service/discovery/v3/discovery.proto. Empty strings and empty lists are
// omitted, as proto3 allows. Knows nothing of streams, versions or gRPC calls.
import type { DeltaDiscoveryResponse, DeltaResource, DiscoveryResponse } from './discovery-messages.ts';
import type { PackedAny } from './resources/encoded-resource.ts';

const enum DiscoveryResponseField {
  VersionInfo = 1,
  Resources = 2,
  TypeUrl = 4,
  Nonce = 5,
  ControlPlane = 6,
}

const enum DeltaDiscoveryResponseField {
  SystemVersionInfo = 1,
  Resources = 2,
  TypeUrl = 4,
  Nonce = 5,
  RemovedResources = 6,
  ControlPlane = 7,
}

const enum ResourceField {
  Version = 1,
  Resource = 2,
  Name = 3,
}

const enum AnyField {
  TypeUrl = 1,
  Value = 2,
}

/**
 * Responses up to this size are carved out of a shared slab, as Node's own Buffer pool does for
 * small buffers: gRPC copies each serialized response into its framed buffer at once, so slices
 * die young, and a push to thousands of proxies no longer pays one ArrayBuffer allocation per
 * response. Larger responses get their own buffer.
 */
const SLAB_BYTES = 512 * 1024;
const MAX_SLAB_SLICE_BYTES = 32 * 1024;

/** ControlPlane.identifier. */
const CONTROL_PLANE_IDENTIFIER_FIELD = 1;
const LENGTH_DELIMITED = 2;

export function encodeDiscoveryResponse(response: DiscoveryResponse): Buffer {
  const sizer = new FieldSizer();
  sizer.string(DiscoveryResponseField.VersionInfo, response.version_info);
  for (const resource of response.resources) sizer.message(DiscoveryResponseField.Resources, anySize(resource));
  sizer.string(DiscoveryResponseField.TypeUrl, response.type_url);
  sizer.string(DiscoveryResponseField.Nonce, response.nonce);
  sizer.message(DiscoveryResponseField.ControlPlane, controlPlaneSize(response.control_plane.identifier));

  const writer = new FieldWriter(sizer.total);
  writer.string(DiscoveryResponseField.VersionInfo, response.version_info);
  for (const resource of response.resources) writeAny(writer, DiscoveryResponseField.Resources, resource);
  writer.string(DiscoveryResponseField.TypeUrl, response.type_url);
  writer.string(DiscoveryResponseField.Nonce, response.nonce);
  writeControlPlane(writer, DiscoveryResponseField.ControlPlane, response.control_plane.identifier);
  return writer.finish();
}

export function encodeDeltaDiscoveryResponse(response: DeltaDiscoveryResponse): Buffer {
  const sizer = new FieldSizer();
  sizer.string(DeltaDiscoveryResponseField.SystemVersionInfo, response.system_version_info);
  for (const resource of response.resources) sizer.message(DeltaDiscoveryResponseField.Resources, deltaResourceSize(resource));
  sizer.string(DeltaDiscoveryResponseField.TypeUrl, response.type_url);
  sizer.string(DeltaDiscoveryResponseField.Nonce, response.nonce);
  for (const name of response.removed_resources) sizer.string(DeltaDiscoveryResponseField.RemovedResources, name, { keepEmpty: true });
  sizer.message(DeltaDiscoveryResponseField.ControlPlane, controlPlaneSize(response.control_plane.identifier));

  const writer = new FieldWriter(sizer.total);
  writer.string(DeltaDiscoveryResponseField.SystemVersionInfo, response.system_version_info);
  for (const resource of response.resources) {
    writer.header(DeltaDiscoveryResponseField.Resources, deltaResourceSize(resource));
    writer.string(ResourceField.Name, resource.name);
    writer.string(ResourceField.Version, resource.version);
    writeAny(writer, ResourceField.Resource, resource.resource);
  }
  writer.string(DeltaDiscoveryResponseField.TypeUrl, response.type_url);
  writer.string(DeltaDiscoveryResponseField.Nonce, response.nonce);
  for (const name of response.removed_resources) writer.string(DeltaDiscoveryResponseField.RemovedResources, name, { keepEmpty: true });
  writeControlPlane(writer, DeltaDiscoveryResponseField.ControlPlane, response.control_plane.identifier);
  return writer.finish();
}

function anySize(resource: PackedAny): number {
  const sizer = new FieldSizer();
  sizer.string(AnyField.TypeUrl, resource.type_url);
  sizer.bytes(AnyField.Value, resource.value.length);
  return sizer.total;
}

function writeAny(writer: FieldWriter, field: number, resource: PackedAny): void {
  writer.header(field, anySize(resource));
  writer.string(AnyField.TypeUrl, resource.type_url);
  writer.bytes(AnyField.Value, resource.value);
}

function deltaResourceSize(resource: DeltaResource): number {
  const sizer = new FieldSizer();
  sizer.string(ResourceField.Name, resource.name);
  sizer.string(ResourceField.Version, resource.version);
  sizer.message(ResourceField.Resource, anySize(resource.resource));
  return sizer.total;
}

function controlPlaneSize(identifier: string): number {
  const sizer = new FieldSizer();
  sizer.string(CONTROL_PLANE_IDENTIFIER_FIELD, identifier);
  return sizer.total;
}

function writeControlPlane(writer: FieldWriter, field: number, identifier: string): void {
  writer.header(field, controlPlaneSize(identifier));
  writer.string(CONTROL_PLANE_IDENTIFIER_FIELD, identifier);
}

interface StringFieldOptions {
  /** Repeated string entries are written even when empty; singular proto3 strings are not. */
  keepEmpty?: boolean;
}

/** Adds up the encoded size of length-delimited fields. */
class FieldSizer {
  total = 0;

  string(field: number, value: string, options: StringFieldOptions = {}): void {
    if (value === '' && !options.keepEmpty) return;
    this.bytes(field, Buffer.byteLength(value, 'utf8'));
  }

  bytes(field: number, length: number): void {
    this.total += varintSize(tagOf(field)) + varintSize(length) + length;
  }

  /** A nested message is written even when empty, so its presence survives. */
  message(field: number, length: number): void {
    this.bytes(field, length);
  }
}

/** Writes length-delimited fields into a buffer allocated once at the final size. */
class FieldWriter {
  readonly #buffer: Buffer;
  #offset = 0;

  constructor(size: number) {
    this.#buffer = slabs.allocate(size);
  }

  string(field: number, value: string, options: StringFieldOptions = {}): void {
    if (value === '' && !options.keepEmpty) return;
    const length = Buffer.byteLength(value, 'utf8');
    this.header(field, length);
    this.#offset += this.#buffer.write(value, this.#offset, length, 'utf8');
  }

  bytes(field: number, value: Uint8Array): void {
    this.header(field, value.length);
    this.#buffer.set(value, this.#offset);
    this.#offset += value.length;
  }

  /** The tag and length of a length-delimited field whose body the caller writes next. */
  header(field: number, length: number): void {
    this.#varint(tagOf(field));
    this.#varint(length);
  }

  finish(): Buffer {
    if (this.#offset !== this.#buffer.length) {
      throw new Error(`response encoder wrote ${this.#offset} bytes into a ${this.#buffer.length}-byte buffer; the size and write passes disagree`);
    }
    return this.#buffer;
  }

  #varint(value: number): void {
    let rest = value;
    while (rest > 0x7f) {
      this.#buffer[this.#offset++] = (rest & 0x7f) | 0x80;
      rest = Math.floor(rest / 128);
    }
    this.#buffer[this.#offset++] = rest;
  }
}

/** Hands out slices of a slab; a fresh slab replaces a full one (live slices keep the old one alive). */
class SlabAllocator {
  #slab = Buffer.allocUnsafe(0);
  #offset = 0;

  allocate(size: number): Buffer {
    if (size > MAX_SLAB_SLICE_BYTES) return Buffer.allocUnsafe(size);
    if (this.#offset + size > this.#slab.length) {
      this.#slab = Buffer.allocUnsafe(SLAB_BYTES);
      this.#offset = 0;
    }
    const slice = this.#slab.subarray(this.#offset, this.#offset + size);
    // Keep slices 8-byte aligned, as Node's pool does.
    this.#offset += (size + 7) & ~7;
    return slice;
  }
}

const slabs = new SlabAllocator();

function tagOf(field: number): number {
  return field * 8 + LENGTH_DELIMITED;
}

function varintSize(value: number): number {
  let size = 1;
  let rest = value;
  while (rest > 0x7f) {
    rest = Math.floor(rest / 128);
    size += 1;
  }
  return size;
}
