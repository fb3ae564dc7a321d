// Writes the benchmark fixture (fixture.ts) at one policy revision into a record file that the
// go-control-plane anchor (gcp-anchor/main.go) loads, so both servers serve the same encoded bytes
// and the same SotW type versions (taken from Weir's Snapshot). Shared resources and type versions
// are written once (node -1), then each proxy's own. Little-endian records:
//   u8 kind (1 resource, 2 type version) | i32 node | u32 len, type URL | u32 len, name or version
//   | u32 len, value (resources only)
import fs from 'node:fs';
import { benchNodeId, buildNodeSnapshot, CHANGED_TYPE_URL } from './fixture.ts';
import type { EncodedResource } from '../../server/xds/resources/encoded-resource.ts';

const enum RecordKind {
  Resource = 1,
  TypeVersion = 2,
}

const EVERY_NODE = -1;

/** Writes every proxy's config at `revision` to `file`; `shared` from buildSharedResources(). */
export function writeFixtureFile(file: string, shared: readonly EncodedResource[], nodeCount: number, revision: number): void {
  const out = fs.openSync(file, 'w');
  try {
    const records = new RecordBuffer((chunk) => fs.writeSync(out, chunk));
    const first = buildNodeSnapshot(shared, 0, revision);
    for (const resource of shared) records.resource(EVERY_NODE, resource);
    for (const typeUrl of first.typeUrls()) {
      if (typeUrl !== CHANGED_TYPE_URL) records.typeVersion(EVERY_NODE, typeUrl, first.forType(typeUrl).version);
    }
    for (let index = 0; index < nodeCount; index += 1) {
      const own = buildNodeSnapshot(shared, index, revision).forType(CHANGED_TYPE_URL);
      for (const resource of own.resources.values()) records.resource(index, resource);
      records.typeVersion(index, CHANGED_TYPE_URL, own.version);
    }
    records.flush();
  } catch (error) {
    throw new Error(`cannot write the go-control-plane fixture ${file} (nodes ${benchNodeId(0)}..${benchNodeId(nodeCount - 1)}): ${String(error)}`);
  } finally {
    fs.closeSync(out);
  }
}

/** Collects records and hands them to `write` in chunks of about 1 MiB. */
class RecordBuffer {
  readonly #parts: Buffer[] = [];
  #bytes = 0;

  constructor(private readonly write: (chunk: Buffer) => void) {}

  resource(node: number, resource: EncodedResource): void {
    this.#record(RecordKind.Resource, node, resource.typeUrl, resource.name, resource.value);
  }

  typeVersion(node: number, typeUrl: string, version: string): void {
    this.#record(RecordKind.TypeVersion, node, typeUrl, version, undefined);
  }

  flush(): void {
    if (this.#parts.length === 0) return;
    this.write(Buffer.concat(this.#parts));
    this.#parts.length = 0;
    this.#bytes = 0;
  }

  #record(kind: RecordKind, node: number, typeUrl: string, name: string, value: Uint8Array | undefined): void {
    const head = Buffer.alloc(5);
    head.writeUInt8(kind, 0);
    head.writeInt32LE(node, 1);
    this.#push(head);
    this.#field(Buffer.from(typeUrl, 'utf8'));
    this.#field(Buffer.from(name, 'utf8'));
    if (value) this.#field(value);
    if (this.#bytes >= 1024 * 1024) this.flush();
  }

  #field(bytes: Uint8Array): void {
    const length = Buffer.alloc(4);
    length.writeUInt32LE(bytes.length, 0);
    this.#push(length);
    this.#push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
  }

  #push(part: Buffer): void {
    this.#parts.push(part);
    this.#bytes += part.length;
  }
}
