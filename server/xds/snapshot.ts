// An immutable set of encoded resources for one proxy (or a group of proxies sharing config), with
// a version per type URL derived from content. Content-hash versions never collide across server
// restarts: the same version string always means the same bytes. Holds no stream state.
import { createHash } from 'node:crypto';
import type { EncodedResource } from './resources/encoded-resource.ts';

export interface TypeSnapshot {
  readonly typeUrl: string;
  /** Content hash of every resource of this type (names and bytes). */
  readonly version: string;
  readonly resources: ReadonlyMap<string, EncodedResource>;
  /** name -> content hash of every resource, built once and shared by every stream sent all of them. */
  readonly hashes: ReadonlyMap<string, string>;
}

export class Snapshot {
  readonly #types = new Map<string, TypeSnapshot>();

  constructor(resources: Iterable<EncodedResource>) {
    const grouped = new Map<string, Map<string, EncodedResource>>();
    for (const resource of resources) {
      const ofType = grouped.get(resource.typeUrl) ?? new Map<string, EncodedResource>();
      if (ofType.has(resource.name)) {
        throw new Error(`snapshot has two ${resource.typeUrl} resources named "${resource.name}"; names must be unique per type`);
      }
      ofType.set(resource.name, resource);
      grouped.set(resource.typeUrl, ofType);
    }
    for (const [typeUrl, ofType] of grouped) {
      this.#types.set(typeUrl, new TypeResources(typeUrl, versionOf(ofType), ofType));
    }
  }

  /** The resources of one type; an empty set (with its own stable version) if there are none. */
  forType(typeUrl: string): TypeSnapshot {
    return this.#types.get(typeUrl) ?? new TypeResources(typeUrl, EMPTY_VERSION, NO_RESOURCES);
  }

  typeUrls(): string[] {
    return [...this.#types.keys()];
  }
}

class TypeResources implements TypeSnapshot {
  #hashes: ReadonlyMap<string, string> | undefined;

  constructor(
    readonly typeUrl: string,
    readonly version: string,
    readonly resources: ReadonlyMap<string, EncodedResource>,
  ) {}

  get hashes(): ReadonlyMap<string, string> {
    this.#hashes ??= new Map([...this.resources.values()].map((resource) => [resource.name, resource.hash]));
    return this.#hashes;
  }
}

function versionOf(resources: ReadonlyMap<string, EncodedResource>): string {
  const digest = createHash('sha256');
  for (const name of [...resources.keys()].sort()) {
    const resource = resources.get(name);
    digest.update(name).update('\0').update(resource ? resource.hash : '').update('\n');
  }
  return digest.digest('hex').slice(0, 16);
}

const NO_RESOURCES: ReadonlyMap<string, EncodedResource> = new Map();
/** The version of a type with no resources, hashed once: every watch on an absent type asks for it on every flush. */
const EMPTY_VERSION = versionOf(NO_RESOURCES);
