// Serializes the two messages the server sends most, DiscoveryResponse and DeltaDiscoveryResponse,
// straight into one buffer: every resource's Any bytes (encoded once, shared by every proxy) are
// copied in as they are, never re-encoded per stream. The frame variants leave room for gRPC's
// five-byte message prefix and fill it in, so a response is written to HTTP/2 in the buffer it was
// encoded into (ads.ts binds them). Field numbers: envoy/service/discovery/v3/discovery.proto.
// Empty strings and empty lists are omitted, as proto3 allows. Knows nothing of streams, versions
// or gRPC calls.
import type { DeltaDiscoveryResponse, DeltaResource, DiscoveryResponse } from './discovery-messages.ts';
import { GRPC_FRAME_PREFIX_BYTES, writeFramePrefix } from './grpc-frames.ts';
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
 * small buffers, so a push to thousands of proxies does not pay one ArrayBuffer allocation per
 * response. Slabs are recycled once every frame carved out of them was written (releaseFrame): a
 * fresh 512 KiB slab is memory the kernel must map and zero on first touch, which cost more than
 * the copying the encoder does (about 20 us per 4.6 KB response on this project's VMs, against
 * 0.5 us to fill recycled memory). Larger responses get their own buffer.
 */
const SLAB_BYTES = 512 * 1024;
const MAX_SLAB_SLICE_BYTES = 32 * 1024;
/** Free slabs kept for reuse (8 MiB); a push that needs more allocates, and the extra slabs go to the collector. */
const MAX_FREE_SLABS = 16;

/** ControlPlane.identifier. */
const CONTROL_PLANE_IDENTIFIER_FIELD = 1;
const LENGTH_DELIMITED = 2;
const EMPTY_BUFFER = Buffer.alloc(0);

export function encodeDiscoveryResponse(response: DiscoveryResponse): Buffer {
  return writeDiscoveryResponse(response, 0);
}

/** The response as one gRPC message frame (prefix included). */
export function frameDiscoveryResponse(response: DiscoveryResponse): Buffer {
  return writeDiscoveryResponse(response, GRPC_FRAME_PREFIX_BYTES);
}

export function encodeDeltaDiscoveryResponse(response: DeltaDiscoveryResponse): Buffer {
  return writeDeltaDiscoveryResponse(response, 0);
}

/** The response as one gRPC message frame (prefix included). */
export function frameDeltaDiscoveryResponse(response: DeltaDiscoveryResponse): Buffer {
  return writeDeltaDiscoveryResponse(response, GRPC_FRAME_PREFIX_BYTES);
}

function writeDiscoveryResponse(response: DiscoveryResponse, prefixBytes: number): Buffer {
  let size = stringFieldSize(DiscoveryResponseField.VersionInfo, response.version_info);
  for (const resource of response.resources) size += fieldSize(DiscoveryResponseField.Resources, anySize(resource));
  size += stringFieldSize(DiscoveryResponseField.TypeUrl, response.type_url);
  size += stringFieldSize(DiscoveryResponseField.Nonce, response.nonce);
  size += fieldSize(DiscoveryResponseField.ControlPlane, controlPlaneSize(response.control_plane.identifier));

  const writer = fieldWriter.begin(size, prefixBytes);
  writer.string(DiscoveryResponseField.VersionInfo, response.version_info);
  for (const resource of response.resources) writeAny(writer, DiscoveryResponseField.Resources, resource);
  writer.string(DiscoveryResponseField.TypeUrl, response.type_url);
  writer.string(DiscoveryResponseField.Nonce, response.nonce);
  writeControlPlane(writer, DiscoveryResponseField.ControlPlane, response.control_plane.identifier);
  return writer.finish();
}

function writeDeltaDiscoveryResponse(response: DeltaDiscoveryResponse, prefixBytes: number): Buffer {
  let size = stringFieldSize(DeltaDiscoveryResponseField.SystemVersionInfo, response.system_version_info);
  for (const resource of response.resources) size += fieldSize(DeltaDiscoveryResponseField.Resources, deltaResourceSize(resource));
  size += stringFieldSize(DeltaDiscoveryResponseField.TypeUrl, response.type_url);
  size += stringFieldSize(DeltaDiscoveryResponseField.Nonce, response.nonce);
  for (const name of response.removed_resources) size += stringFieldSize(DeltaDiscoveryResponseField.RemovedResources, name, KEEP_EMPTY);
  size += fieldSize(DeltaDiscoveryResponseField.ControlPlane, controlPlaneSize(response.control_plane.identifier));

  const writer = fieldWriter.begin(size, prefixBytes);
  writer.string(DeltaDiscoveryResponseField.SystemVersionInfo, response.system_version_info);
  for (const resource of response.resources) {
    writer.header(DeltaDiscoveryResponseField.Resources, deltaResourceSize(resource));
    writer.string(ResourceField.Name, resource.name);
    writer.string(ResourceField.Version, resource.version);
    writeAny(writer, ResourceField.Resource, resource.resource);
  }
  writer.string(DeltaDiscoveryResponseField.TypeUrl, response.type_url);
  writer.string(DeltaDiscoveryResponseField.Nonce, response.nonce);
  for (const name of response.removed_resources) writer.string(DeltaDiscoveryResponseField.RemovedResources, name, KEEP_EMPTY);
  writeControlPlane(writer, DeltaDiscoveryResponseField.ControlPlane, response.control_plane.identifier);
  return writer.finish();
}

function anySize(resource: PackedAny): number {
  return stringFieldSize(AnyField.TypeUrl, resource.type_url) + fieldSize(AnyField.Value, resource.value.length);
}

function writeAny(writer: FieldWriter, field: number, resource: PackedAny): void {
  writer.header(field, anySize(resource));
  writer.string(AnyField.TypeUrl, resource.type_url);
  writer.bytes(AnyField.Value, resource.value);
}

function deltaResourceSize(resource: DeltaResource): number {
  return (
    stringFieldSize(ResourceField.Name, resource.name) +
    stringFieldSize(ResourceField.Version, resource.version) +
    fieldSize(ResourceField.Resource, anySize(resource.resource))
  );
}

function controlPlaneSize(identifier: string): number {
  return stringFieldSize(CONTROL_PLANE_IDENTIFIER_FIELD, identifier);
}

function writeControlPlane(writer: FieldWriter, field: number, identifier: string): void {
  writer.header(field, controlPlaneSize(identifier));
  writer.string(CONTROL_PLANE_IDENTIFIER_FIELD, identifier);
}

interface StringFieldOptions {
  /** Repeated string entries are written even when empty; singular proto3 strings are not. */
  keepEmpty?: boolean;
}

const KEEP_EMPTY: StringFieldOptions = { keepEmpty: true };
const OMIT_EMPTY: StringFieldOptions = {};

function stringFieldSize(field: number, value: string, options: StringFieldOptions = OMIT_EMPTY): number {
  if (value === '' && !options.keepEmpty) return 0;
  return fieldSize(field, Buffer.byteLength(value, 'utf8'));
}

/** Size of a length-delimited field (tag, length, body); nested messages are written even when empty. */
function fieldSize(field: number, length: number): number {
  return varintSize(tagOf(field)) + varintSize(length) + length;
}

/**
 * Writes length-delimited fields into a buffer allocated once at the final size, after
 * `prefixBytes` for gRPC's message prefix (0: the bare message). One writer serves every response
 * (encoding is synchronous and never nested): a writer per response died with its response, and
 * once none was alive a full collection dropped the object layout V8's optimized encoder code
 * relies on, so every policy change after one deoptimized and recompiled the encoder (seen with
 * --trace-deopt: "weak objects").
 */
class FieldWriter {
  #buffer: Buffer = EMPTY_BUFFER;
  #offset = 0;

  begin(size: number, prefixBytes: number): this {
    this.#buffer = slabs.allocate(prefixBytes + size);
    if (prefixBytes > 0) writeFramePrefix(this.#buffer, size);
    this.#offset = prefixBytes;
    return this;
  }

  string(field: number, value: string, options: StringFieldOptions = OMIT_EMPTY): void {
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
    const buffer = this.#buffer;
    this.#buffer = EMPTY_BUFFER;
    if (this.#offset !== buffer.length) {
      throw new Error(`response encoder wrote ${this.#offset} bytes into a ${buffer.length}-byte buffer; the size and write passes disagree`);
    }
    return buffer;
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

interface Slab {
  readonly buffer: Buffer;
  /** Slices handed out and not released yet. */
  outstanding: number;
  /** No more slices will be carved from it. */
  full: boolean;
}

/**
 * Hands out slices of a slab. A slice whose frame is never released (not written, or kept by its
 * caller) keeps its slab out of reuse for good; the slab then goes to the collector like any buffer.
 */
class SlabAllocator {
  #current: Slab | undefined;
  #offset = 0;
  readonly #free: Slab[] = [];
  readonly #slabOf = new WeakMap<ArrayBufferLike, Slab>();

  allocate(size: number): Buffer {
    if (size > MAX_SLAB_SLICE_BYTES) return Buffer.allocUnsafe(size);
    let slab = this.#current;
    if (!slab || this.#offset + size > slab.buffer.length) {
      if (slab) this.#retire(slab);
      slab = this.#free.pop() ?? this.#newSlab();
      this.#current = slab;
      this.#offset = 0;
    }
    const slice = slab.buffer.subarray(this.#offset, this.#offset + size);
    // Keep slices 8-byte aligned, as Node's pool does.
    this.#offset += (size + 7) & ~7;
    slab.outstanding += 1;
    return slice;
  }

  /** The frame's bytes are no longer read by anyone (HTTP/2 wrote them); its slab may be reused. */
  release(frame: Buffer): void {
    const slab = this.#slabOf.get(frame.buffer);
    if (!slab || slab.outstanding === 0) return;
    slab.outstanding -= 1;
    if (slab.full && slab.outstanding === 0) this.#recycle(slab);
  }

  #newSlab(): Slab {
    const slab: Slab = { buffer: Buffer.allocUnsafe(SLAB_BYTES), outstanding: 0, full: false };
    this.#slabOf.set(slab.buffer.buffer, slab);
    return slab;
  }

  #retire(slab: Slab): void {
    slab.full = true;
    if (slab.outstanding === 0) this.#recycle(slab);
  }

  #recycle(slab: Slab): void {
    if (this.#free.length >= MAX_FREE_SLABS) {
      this.#slabOf.delete(slab.buffer.buffer);
      return;
    }
    slab.full = false;
    this.#free.push(slab);
  }
}

const slabs = new SlabAllocator();
const fieldWriter = new FieldWriter();

/**
 * Tells the encoder that a frame from frameDiscoveryResponse or frameDeltaDiscoveryResponse was
 * written and will not be read again, so its memory may carry a later response. Call at most once
 * per frame, and only when nothing holds the frame any more; a frame never released is simply not
 * reused.
 */
export function releaseFrame(frame: Buffer): void {
  slabs.release(frame);
}

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
