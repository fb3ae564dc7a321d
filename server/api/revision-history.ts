// Remembers which policy revisions this server has put in force, in order, and the weir.NetworkPolicy
// and weir.IdentityMap versions (content hashes) that carry each one. With the proxy status registry
// this answers "which revision does proxy P enforce?" (the revision whose versions its agent ACKed)
// and "is revision R, or a later one, enforced there?". Builds no resources and waits for nothing.
import type { ProxyStatus } from '../xds/proxy-status.ts';
import { IDENTITY_MAP_TYPE_URL } from '../xds/resources/identity-map.ts';
import { NETWORK_POLICY_TYPE_URL } from '../xds/resources/network-policy.ts';

/** The resource types whose ACK makes a revision enforced on a proxy. */
export const POLICY_TYPE_URLS = [NETWORK_POLICY_TYPE_URL, IDENTITY_MAP_TYPE_URL] as const;

export interface PublishedRevision {
  readonly revision: string;
  /** type URL -> the SotW version (content hash) that carries this revision. */
  readonly versions: ReadonlyMap<string, string>;
  readonly publishedAt: Date;
}

export interface RevisionHistoryOptions {
  /** Revisions remembered; older ones are forgotten. Default 1000. */
  limit?: number;
  now?: () => Date;
}

export class RevisionHistory {
  readonly #published: PublishedRevision[] = [];
  readonly #limit: number;
  readonly #now: () => Date;
  /** Revisions forgotten so far, so positions stay comparable after trimming. */
  #dropped = 0;

  constructor(options: RevisionHistoryOptions = {}) {
    this.#limit = options.limit ?? 1000;
    this.#now = options.now ?? (() => new Date());
  }

  /** Records that `revision` is now in force, carried by these versions (type URL -> version). */
  record(revision: string, versions: ReadonlyMap<string, string>): void {
    const latest = this.latest();
    if (latest?.revision === revision && sameVersions(latest.versions, versions)) return;
    this.#published.push({ revision, versions: new Map(versions), publishedAt: this.#now() });
    if (this.#published.length > this.#limit) {
      this.#published.shift();
      this.#dropped += 1;
    }
  }

  latest(): PublishedRevision | undefined {
    return this.#published.at(-1);
  }

  /** Position of the last publication of `revision` (comparable across calls), or undefined if unknown. */
  position(revision: string): number | undefined {
    for (let index = this.#published.length - 1; index >= 0; index -= 1) {
      if (this.#published[index]?.revision === revision) return index + this.#dropped;
    }
    return undefined;
  }

  at(position: number): PublishedRevision | undefined {
    return this.#published[position - this.#dropped];
  }

  /** The revision (and its position) whose versions the proxy has ACKed for every policy type. */
  enforcedBy(proxy: ProxyStatus): { revision: string; position: number } | undefined {
    const acked = new Map(proxy.types.map((state) => [state.typeUrl, state.ackedVersion]));
    for (let index = this.#published.length - 1; index >= 0; index -= 1) {
      const published = this.#published[index];
      if (published === undefined) continue;
      if (POLICY_TYPE_URLS.every((typeUrl) => acked.get(typeUrl) !== undefined && acked.get(typeUrl) === published.versions.get(typeUrl))) {
        return { revision: published.revision, position: index + this.#dropped };
      }
    }
    return undefined;
  }

  /**
   * A NACK by this proxy of a version that carries `position` or a later revision: such content is
   * never resent, so the proxy stays behind until a newer revision comes.
   */
  rejectionAtOrAfter(proxy: ProxyStatus, position: number): { typeUrl: string; version: string; message: string; revision: string } | undefined {
    for (const state of proxy.types) {
      const nack = state.lastNack;
      if (nack === undefined) continue;
      for (let index = Math.max(0, position - this.#dropped); index < this.#published.length; index += 1) {
        const published = this.#published[index];
        if (published?.versions.get(state.typeUrl) === nack.version) {
          return { typeUrl: state.typeUrl, version: nack.version, message: nack.message, revision: published.revision };
        }
      }
    }
    return undefined;
  }
}

/** A proxy runs the Weir agent once it has subscribed to weir.NetworkPolicy on some stream. */
export function runsPolicyAgent(proxy: ProxyStatus): boolean {
  return proxy.types.some((state) => state.typeUrl === NETWORK_POLICY_TYPE_URL);
}

function sameVersions(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  return a.size === b.size && [...a].every(([typeUrl, version]) => b.get(typeUrl) === version);
}
