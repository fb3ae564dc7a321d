// A PolicyStore that adds the endpoints sidecars announce (server/identity/sidecar-endpoints.ts) to
// what the wrapped store holds: its current() is the store's rules compiled over store endpoints
// plus sidecar endpoints, so policy resources, the identity map and the REST API all see both.
// A store endpoint wins a name clash (logged). Writes, files and validation stay the wrapped
// store's; a sidecar joining or leaving only recompiles and tells watchers.
import type { Logger } from 'pino';
import type { Endpoint } from '../identity/endpoints.ts';
import { sidecarEndpointSource, type SidecarEndpointRegistry } from '../identity/sidecar-endpoints.ts';
import { compilePolicies } from '../policy/compile.ts';
import { formatProblem } from '../policy/policy-problems.ts';
import { serializePolicySet } from '../policy/serialize.ts';
import type { PolicyStore, PolicyStoreState, StoreCompileSettings, StoreChangeResult, StoreEvent, StoredFileSummary } from './policy-store.ts';

export interface SidecarAwareStoreOptions {
  readonly store: PolicyStore;
  readonly sidecars: SidecarEndpointRegistry;
  readonly logger: Logger;
}

export class SidecarAwareStore implements PolicyStore {
  readonly #listeners = new Set<(event: StoreEvent) => void>();
  readonly #unsubscribe: Array<() => void> = [];
  #merged: PolicyStoreState | undefined;
  #mergedFrom: PolicyStoreState | undefined;
  readonly #warnedClashes = new Set<string>();

  constructor(private readonly options: SidecarAwareStoreOptions) {
    this.#unsubscribe.push(
      options.store.watch((event) => this.#emit(event.kind === 'updated' ? { kind: 'updated', state: this.current() } : event)),
      options.sidecars.watch(() => this.#sidecarsChanged()),
    );
  }

  load(): Promise<StoreChangeResult> {
    return this.#merging(this.options.store.load());
  }

  compileSettings(): StoreCompileSettings {
    return this.options.store.compileSettings();
  }

  current(): PolicyStoreState {
    const base = this.options.store.current();
    if (this.#merged === undefined || this.#mergedFrom !== base) {
      this.#merged = this.#merge(base);
      this.#mergedFrom = base;
    }
    return this.#merged;
  }

  list(): readonly StoredFileSummary[] {
    return this.options.store.list();
  }

  read(name: string): Promise<string | undefined> {
    return this.options.store.read(name);
  }

  put(name: string, text: string): Promise<StoreChangeResult> {
    return this.#merging(this.options.store.put(name, text));
  }

  delete(name: string): Promise<StoreChangeResult> {
    return this.#merging(this.options.store.delete(name));
  }

  watch(listener: (event: StoreEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#listeners.clear();
    await this.options.store.close();
  }

  async #merging(change: Promise<StoreChangeResult>): Promise<StoreChangeResult> {
    const result = await change;
    return result.ok ? { ok: true, state: this.current() } : result;
  }

  #sidecarsChanged(): void {
    const previous = this.#merged;
    this.#merged = undefined;
    const state = this.current();
    if (previous?.revision === state.revision) return;
    this.#emit({ kind: 'updated', state });
  }

  /** The store's state with sidecar endpoints added; the store's own state when none apply or they do not compile. */
  #merge(base: PolicyStoreState): PolicyStoreState {
    const added = this.#sidecarEndpointsBeside(base.endpoints);
    if (added.length === 0) return base;
    const endpoints = [...base.endpoints, ...added.map((sidecar) => sidecar.endpoint)];
    // The wrapped store's settings: the same enforcement, and every endpoint keeps its identity
    // whether sidecar endpoints are merged in or not.
    const compiled = compilePolicies({ rules: base.rules, endpoints, ...this.options.store.compileSettings() });
    if (!compiled.ok) {
      this.options.logger.error(
        { nodeIds: added.map((sidecar) => sidecar.nodeId), problems: compiled.problems.map(formatProblem) },
        'policy does not compile with the sidecar endpoints added; enforcing the store endpoints only. Fix the sidecars\' weir.endpoint metadata',
      );
      return base;
    }
    const endpointSources = new Map(added.map((sidecar) => [sidecar.endpoint.name, sidecarEndpointSource(sidecar.nodeId)]));
    return { ...base, revision: serializePolicySet(compiled.policySet).revision, endpoints, policySet: compiled.policySet, endpointSources };
  }

  /** Sidecar endpoints whose name no store endpoint and no earlier sidecar (by node id) has taken. */
  #sidecarEndpointsBeside(storeEndpoints: readonly Endpoint[]): Array<{ nodeId: string; endpoint: Endpoint }> {
    const taken = new Map(storeEndpoints.map((endpoint) => [endpoint.name, 'store']));
    const added: Array<{ nodeId: string; endpoint: Endpoint }> = [];
    for (const sidecar of this.options.sidecars.list()) {
      const owner = taken.get(sidecar.endpoint.name);
      if (owner === undefined) {
        taken.set(sidecar.endpoint.name, sidecarEndpointSource(sidecar.nodeId));
        added.push(sidecar);
      } else {
        this.#warnClash(sidecar.nodeId, sidecar.endpoint.name, owner);
      }
    }
    return added;
  }

  #warnClash(nodeId: string, endpoint: string, owner: string): void {
    const key = `${nodeId}\u0000${endpoint}\u0000${owner}`;
    if (this.#warnedClashes.has(key)) return;
    this.#warnedClashes.add(key);
    this.options.logger.warn(
      { nodeId, endpoint, keptFrom: owner },
      'sidecar announces an endpoint name that is already defined; the existing definition wins. Give the sidecar another --endpoint-name or remove the Endpoint document',
    );
  }

  #emit(event: StoreEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}
