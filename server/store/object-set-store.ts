// A PolicyStore fed by a source that holds many independent objects (CiliumNetworkPolicy objects in
// Kubernetes, policy files in etcd) plus endpoints (Pods, leased etcd keys). Unlike a directory,
// where an import is all or nothing, each object stands alone: an object that does not validate
// is reported (objectStatus) and its previous valid content stays in force, while every other
// object's change goes ahead. Endpoint identities come from a shared table when one is given, so
// every replica numbers label sets alike. Knows nothing of etcd or Kubernetes: the source calls
// setObject/removeObject/setEndpoints and markSynced.
import type { Logger } from 'pino';
import { endpointFromSpec, validateEndpointSpec, type Endpoint, type EndpointSpec } from '../identity/endpoints.ts';
import type { SharedIdentityTable } from '../identity/identity-table.ts';
import { labelSetKey } from '../identity/labels.ts';
import { createIdentityAllocators, type IdentityAllocators } from '../policy/identity-universe.ts';
import type { L7RuleRegistry } from '../policy/l7-rule-keys.ts';
import type { EnforcementMode } from '../policy/policy-model.ts';
import { formatProblem, type PolicyProblem } from '../policy/policy-problems.ts';
import type { PolicyStore, StoreChangeResult, StoreCompileSettings, StoreEvent } from './policy-store.ts';
import { compileStoreFiles, emptyStoreState, SidecarClashLog, type PolicyStoreState, type SidecarEndpointFeed, type StoredFileSummary } from './store-contents.ts';

/** What became of one object's latest content. */
export type ObjectOutcome =
  | { readonly ok: true; readonly version: string }
  /** Invalid: `enforcedVersion` is the earlier content still in force, if any. */
  | { readonly ok: false; readonly version: string; readonly problems: readonly PolicyProblem[]; readonly enforcedVersion: string | undefined };

/** Writes for the REST API (`weir policy import`), or a refusal when the source is read-only here. */
export type ObjectWriter =
  | { readonly kind: 'writable'; put(name: string, text: string): Promise<void>; delete(name: string): Promise<boolean> }
  | { readonly kind: 'read-only'; readonly refusal: string };

export interface ObjectSetStoreOptions {
  readonly enforcementMode: EnforcementMode;
  readonly registry?: L7RuleRegistry;
  readonly identities?: SharedIdentityTable;
  readonly writer: ObjectWriter;
  readonly logger: Logger;
  /** Where the objects come from, for messages: `Kubernetes https://...`, `etcd http://...`. */
  readonly sourceName: string;
  /** Endpoints of this replica's connected sidecars, compiled with the source's; a change recompiles. */
  readonly sidecars?: SidecarEndpointFeed;
}

interface StoredObject {
  text: string;
  /** The source's version of this content (resourceVersion, generation, etcd mod revision). */
  version: string;
}

export class ObjectSetStore implements PolicyStore {
  readonly #allocators: IdentityAllocators = createIdentityAllocators();
  readonly #listeners = new Set<(event: StoreEvent) => void>();
  readonly #outcomeListeners = new Set<(name: string, outcome: ObjectOutcome | undefined) => void>();
  /** Latest content per object, as the source has it. */
  readonly #objects = new Map<string, StoredObject>();
  /** Content in force per object: the latest valid one. */
  readonly #accepted = new Map<string, StoredObject>();
  readonly #outcomes = new Map<string, ObjectOutcome>();
  #endpointSpecs: readonly EndpointSpec[] = [];
  #state: PolicyStoreState;
  #synced = false;
  readonly #syncWaiters: Array<() => void> = [];
  #running: Promise<void> | undefined;
  #dirty = false;
  #closed = false;
  #retry: NodeJS.Timeout | undefined;
  readonly #closers: Array<() => Promise<void>> = [];
  readonly #clashes: SidecarClashLog;

  constructor(private readonly options: ObjectSetStoreOptions) {
    this.#state = emptyStoreState(this.compileSettings());
    this.#clashes = new SidecarClashLog(options.logger);
    const unwatch = options.sidecars?.watch(() => this.#schedule());
    if (unwatch !== undefined) this.#closers.push(async () => unwatch());
  }

  // --- the source's side -------------------------------------------------------------------

  setObject(name: string, text: string, version: string): void {
    const previous = this.#objects.get(name);
    if (previous?.text === text && previous.version === version) return;
    this.#objects.set(name, { text, version });
    this.#schedule();
  }

  removeObject(name: string): void {
    if (!this.#objects.delete(name)) return;
    this.#schedule();
  }

  /** Replaces every endpoint; invalid ones are logged and left out. */
  setEndpoints(specs: readonly EndpointSpec[]): void {
    this.#endpointSpecs = specs;
    this.#schedule();
  }

  /** The source has delivered everything it had at start; load() resolves once this state is compiled. */
  markSynced(): void {
    this.#synced = true;
    this.#schedule();
  }

  /** Stops the source with the store. */
  onClose(closer: () => Promise<void>): void {
    this.#closers.push(closer);
  }

  objectStatus(name: string): ObjectOutcome | undefined {
    return this.#outcomes.get(name);
  }

  /** Called with each object's outcome after every compile that looked at it (undefined: removed). */
  watchOutcomes(listener: (name: string, outcome: ObjectOutcome | undefined) => void): () => void {
    this.#outcomeListeners.add(listener);
    return () => this.#outcomeListeners.delete(listener);
  }

  /** The versions of the objects in force in `state` (the current one). */
  enforcedVersions(): ReadonlyMap<string, string> {
    return new Map([...this.#accepted].map(([name, object]) => [name, object.version]));
  }

  // --- PolicyStore -------------------------------------------------------------------------

  async load(): Promise<StoreChangeResult> {
    if (!this.#synced) await new Promise<void>((resolve) => this.#syncWaiters.push(resolve));
    await this.#settled();
    return { ok: true, state: this.#state };
  }

  current(): PolicyStoreState {
    return this.#state;
  }

  list(): readonly StoredFileSummary[] {
    return this.#state.files;
  }

  async read(name: string): Promise<string | undefined> {
    return this.#objects.get(name)?.text;
  }

  async put(name: string, text: string): Promise<StoreChangeResult> {
    const writer = this.options.writer;
    if (writer.kind === 'read-only') return { ok: false, problems: [{ file: name, path: '', message: writer.refusal }] };
    const candidate = new Map([...this.#accepted].map(([key, object]) => [key, object.text])).set(name, text);
    const checked = compileStoreFiles(candidate, { ...this.compileSettings(), allocators: createIdentityAllocators(), endpoints: this.#endpoints(), ...this.#sidecarEndpoints() });
    if (!checked.ok) return checked;
    try {
      await writer.put(name, text);
    } catch (error) {
      return { ok: false, problems: [{ file: name, path: '', message: `${this.options.sourceName}: the write failed (${errorText(error)}); the policy in force is unchanged. Try again once it is reachable` }] };
    }
    this.setObject(name, text, `local:${Date.now()}`);
    await this.#settled();
    return this.#outcomeAsResult(name);
  }

  async delete(name: string): Promise<StoreChangeResult> {
    const writer = this.options.writer;
    if (writer.kind === 'read-only') return { ok: false, problems: [{ file: name, path: '', message: writer.refusal }] };
    if (!this.#objects.has(name)) return { ok: false, problems: [{ file: name, path: '', message: 'no such file in the store' }] };
    try {
      await writer.delete(name);
    } catch (error) {
      return { ok: false, problems: [{ file: name, path: '', message: `${this.options.sourceName}: the delete failed (${errorText(error)}); the policy in force is unchanged` }] };
    }
    this.removeObject(name);
    await this.#settled();
    return { ok: true, state: this.#state };
  }

  compileSettings(): StoreCompileSettings {
    return { enforcementMode: this.options.enforcementMode, allocators: this.#allocators };
  }

  watch(listener: (event: StoreEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    for (const closer of this.#closers.splice(0).reverse()) await closer();
    await this.#running?.catch(() => undefined);
    this.#listeners.clear();
    this.#outcomeListeners.clear();
  }

  // --- compiling ---------------------------------------------------------------------------

  #schedule(): void {
    if (this.#closed || !this.#synced) return;
    this.#dirty = true;
    if (this.#running !== undefined) return;
    this.#running = (async () => {
      while (this.#dirty && !this.#closed) {
        this.#dirty = false;
        try {
          await this.#recompile();
        } catch (error) {
          this.options.logger.error({ source: this.options.sourceName, error: errorText(error) }, 'cannot compile the policy from the source; the previous policy stays in force, trying again in 2 s');
          clearTimeout(this.#retry);
          this.#retry = setTimeout(() => this.#schedule(), 2_000);
          this.#retry.unref();
        }
      }
      this.#running = undefined;
      for (const resolve of this.#syncWaiters.splice(0)) resolve();
    })();
  }

  async #settled(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  async #recompile(): Promise<void> {
    const changed: string[] = [];
    for (const [name, object] of this.#objects) {
      const outcome = this.#outcomes.get(name);
      if (outcome?.version === object.version && this.#accepted.get(name)?.text === object.text) continue;
      if (outcome !== undefined && !outcome.ok && outcome.version === object.version) continue;
      const alone = compileStoreFiles(new Map([[name, object.text]]), { ...this.compileSettings(), allocators: createIdentityAllocators() });
      if (alone.ok) {
        this.#accepted.set(name, object);
        this.#outcomes.set(name, { ok: true, version: object.version });
      } else {
        this.#outcomes.set(name, { ok: false, version: object.version, problems: alone.problems, enforcedVersion: this.#accepted.get(name)?.version });
        this.options.logger.error({ source: this.options.sourceName, object: name, problems: alone.problems.map(formatProblem) }, 'policy object rejected; its previous content (if any) stays in force');
      }
      changed.push(name);
    }
    for (const name of [...this.#accepted.keys()]) {
      if (this.#objects.has(name)) continue;
      this.#accepted.delete(name);
      this.#outcomes.delete(name);
      changed.push(name);
    }
    const endpoints = this.#endpoints();
    if (this.options.identities !== undefined) {
      const keys = endpoints.filter((endpoint) => endpoint.labelsKnown).map((endpoint) => labelSetKey(endpoint.labels));
      const shared = await this.options.identities.allocate(keys);
      for (const [key, identity] of shared) this.#allocators.workloads.adopt(key, identity);
    }
    const files = new Map([...this.#accepted].map(([name, object]) => [name, object.text]));
    const result = compileStoreFiles(files, { ...this.compileSettings(), endpoints, ...this.#sidecarEndpoints(), ...(this.options.registry === undefined ? {} : { registry: this.options.registry }) });
    if (!result.ok) {
      this.options.logger.error({ source: this.options.sourceName, problems: result.problems.map(formatProblem) }, 'the policy objects do not compile together; the previous policy stays in force');
      this.#emit({ kind: 'rejected', problems: result.problems });
      return;
    }
    this.#clashes.report(result.sidecarsLeftOut);
    const previous = this.#state;
    this.#state = result.state;
    for (const name of changed) for (const listener of this.#outcomeListeners) listener(name, this.#outcomes.get(name));
    if (result.state.revision !== previous.revision || JSON.stringify(result.state.files) !== JSON.stringify(previous.files)) this.#emit({ kind: 'updated', state: result.state });
  }

  #endpoints(): Endpoint[] {
    const endpoints: Endpoint[] = [];
    for (const spec of this.#endpointSpecs) {
      const problems = validateEndpointSpec(spec);
      if (problems.length > 0) {
        this.options.logger.warn({ source: this.options.sourceName, endpoint: spec.name, problems }, 'endpoint left out: its description is invalid');
        continue;
      }
      endpoints.push(endpointFromSpec(spec));
    }
    return endpoints;
  }

  #sidecarEndpoints(): { sidecarEndpoints?: ReturnType<SidecarEndpointFeed['list']> } {
    return this.options.sidecars === undefined ? {} : { sidecarEndpoints: this.options.sidecars.list() };
  }

  #outcomeAsResult(name: string): StoreChangeResult {
    const outcome = this.#outcomes.get(name);
    if (outcome !== undefined && !outcome.ok) return { ok: false, problems: outcome.problems };
    return { ok: true, state: this.#state };
  }

  #emit(event: StoreEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
