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
      this.#types.set(typeUrl, { typeUrl, version: versionOf(ofType), resources: ofType });
    }
  }

  /** The resources of one type; an empty set (with its own stable version) if there are none. */
  forType(typeUrl: string): TypeSnapshot {
    return this.#types.get(typeUrl) ?? { typeUrl, version: versionOf(new Map()), resources: new Map() };
  }

  typeUrls(): string[] {
    return [...this.#types.keys()];
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
