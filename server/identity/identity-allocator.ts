// Gives each distinct label set one numeric identity. The number is derived from a hash of the
// canonical (sorted) label text, so the same labels get the same identity on every server and
// after restarts; a collision probes to the next free number. Remembers what it handed out so an
// identity never changes while its label set exists. Knows nothing of endpoints or IPs.
import { createHash } from 'node:crypto';
import { labelSetKey, type Label } from './labels.ts';

export interface IdentityRange {
  readonly first: number;
  readonly last: number;
}

export class IdentityAllocator {
  private readonly byLabels = new Map<string, number>();
  private readonly byIdentity = new Map<number, string>();

  constructor(private readonly range: IdentityRange) {}

  /** The identity of this label set, allocating one if the set is new. */
  identityFor(labels: readonly Label[]): number {
    const key = labelSetKey(labels);
    const known = this.byLabels.get(key);
    if (known !== undefined) return known;
    const size = this.range.last - this.range.first + 1;
    if (this.byLabels.size >= size) {
      throw new Error(`identity range ${this.range.first}..${this.range.last} is exhausted; remove unused label sets`);
    }
    const start = hashToOffset(key, size);
    for (let step = 0; step < size; step++) {
      const candidate = this.range.first + ((start + step) % size);
      if (!this.byIdentity.has(candidate)) {
        this.byLabels.set(key, candidate);
        this.byIdentity.set(candidate, key);
        return candidate;
      }
    }
    throw new Error('unreachable: a free identity exists but none was found');
  }

  /** Allocates for several label sets in canonical order, so collisions resolve the same way everywhere. */
  identitiesFor(labelSets: ReadonlyArray<readonly Label[]>): Map<string, number> {
    const keys = [...new Set(labelSets.map(labelSetKey))].sort();
    const byKey = new Map(labelSets.map((labels) => [labelSetKey(labels), labels] as const));
    const result = new Map<string, number>();
    for (const key of keys) result.set(key, this.identityFor(byKey.get(key) ?? []));
    return result;
  }

  /**
   * Records an identity decided elsewhere (a table shared by every server, identity-table.ts). A
   * label set this allocator numbered on its own, holding that number or a different one, gives
   * way: the shared answer is the one every server agrees on.
   */
  adopt(key: string, identity: number): void {
    if (this.byLabels.get(key) === identity) return;
    const previous = this.byLabels.get(key);
    if (previous !== undefined) this.byIdentity.delete(previous);
    const holder = this.byIdentity.get(identity);
    if (holder !== undefined) this.byLabels.delete(holder);
    this.byLabels.set(key, identity);
    this.byIdentity.set(identity, key);
  }

  /** Forgets identities whose label sets are not in `liveKeys` (canonical label texts). */
  releaseAllExcept(liveKeys: ReadonlySet<string>): void {
    for (const [key, identity] of this.byLabels) {
      if (liveKeys.has(key)) continue;
      this.byLabels.delete(key);
      this.byIdentity.delete(identity);
    }
  }

  labelsOf(identity: number): string | undefined {
    return this.byIdentity.get(identity);
  }
}

/** Where probing for `key` starts in a range of `size` numbers: the SHA-256 of the canonical label text. */
export function hashToOffset(key: string, size: number): number {
  const digest = createHash('sha256').update(key).digest();
  return digest.readUInt32BE(0) % size;
}
