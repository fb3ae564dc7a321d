// The default PolicyStore: a directory of YAML/JSON files. Writes go to a temporary file that is
// renamed into place, so readers never see half a file. The directory is watched: a file edited
// by hand is picked up, and if the new set does not compile the previous state stays in force
// and the problems are reported to watchers. Endpoints that sidecars announce are compiled in with
// the files (one compile per change): an import that does not compile with them is refused, and
// a sidecar whose endpoint does not compile with the files is reported like a bad hand edit, the
// previous state staying in force. Operations run one at a time, in call order.
import { watch, type FSWatcher } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { createIdentityAllocators, type IdentityAllocators } from '../policy/identity-universe.ts';
import type { L7RuleRegistry } from '../policy/l7-rule-keys.ts';
import type { EnforcementMode } from '../policy/policy-model.ts';
import { checkStoreFileName, STORE_FILE_NAME, type PolicyStore, type StoreChangeResult, type StoreCompileSettings, type StoreEvent } from './policy-store.ts';
import { compileStoreFiles, emptyStoreState, SidecarClashLog, type CompileStoreResult, type PolicyStoreState, type SidecarEndpointFeed, type StoredFileSummary } from './store-contents.ts';

export interface DirectoryStoreOptions {
  readonly directory: string;
  readonly enforcementMode: EnforcementMode;
  readonly registry?: L7RuleRegistry;
  /** Watch the directory for changes made outside the store. Default true. */
  readonly watchDirectory?: boolean;
  /** Quiet time after the last file event before reloading. Default 100 ms. */
  readonly debounceMs?: number;
  /** Endpoints of connected sidecars, compiled with the files' own; a change recompiles. */
  readonly sidecars?: SidecarEndpointFeed;
  /** Warnings (a sidecar endpoint whose name is taken). Default: none. */
  readonly logger?: Logger;
}

export class DirectoryStore implements PolicyStore {
  private state: PolicyStoreState;
  private files = new Map<string, string>();
  private readonly allocators: IdentityAllocators = createIdentityAllocators();
  private readonly listeners = new Set<(event: StoreEvent) => void>();
  private queue: Promise<unknown> = Promise.resolve();
  private watcher: FSWatcher | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly clashes: SidecarClashLog;
  private readonly unwatchSidecars: () => void;

  constructor(private readonly options: DirectoryStoreOptions) {
    this.state = emptyStoreState(this.compileOptions());
    this.clashes = new SidecarClashLog(options.logger);
    this.unwatchSidecars = options.sidecars?.watch(() => void this.recompileForSidecars()) ?? (() => undefined);
  }

  load(): Promise<StoreChangeResult> {
    return this.serialized(async () => {
      await mkdir(this.options.directory, { recursive: true });
      const result = this.apply(await this.readDirectory());
      if ((this.options.watchDirectory ?? true) && this.watcher === undefined && !this.closed) this.startWatching();
      return result;
    });
  }

  current(): PolicyStoreState {
    return this.state;
  }

  list(): readonly StoredFileSummary[] {
    return this.state.files;
  }

  async read(name: string): Promise<string | undefined> {
    return this.files.get(name);
  }

  put(name: string, text: string): Promise<StoreChangeResult> {
    return this.serialized(async () => {
      const badName = checkStoreFileName(name);
      if (badName !== undefined) return { ok: false, problems: [badName] };
      const candidate = new Map(this.files).set(name, text);
      const result = this.compile(candidate);
      if (!result.ok) return result;
      await this.writeAtomically(name, text);
      return this.swap(candidate, result.state);
    });
  }

  delete(name: string): Promise<StoreChangeResult> {
    return this.serialized(async () => {
      if (!this.files.has(name)) return { ok: false, problems: [{ file: name, path: '', message: 'no such file in the store' }] };
      const candidate = new Map(this.files);
      candidate.delete(name);
      const result = this.compile(candidate);
      if (!result.ok) return result;
      await rm(join(this.options.directory, name), { force: true });
      return this.swap(candidate, result.state);
    });
  }

  watch(listener: (event: StoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unwatchSidecars();
    clearTimeout(this.reloadTimer);
    this.watcher?.close();
    this.watcher = undefined;
    this.listeners.clear();
    await this.queue.catch(() => undefined);
  }

  compileSettings(): StoreCompileSettings {
    return { enforcementMode: this.options.enforcementMode, allocators: this.allocators };
  }

  private compileOptions() {
    return {
      ...this.compileSettings(),
      ...(this.options.registry === undefined ? {} : { registry: this.options.registry }),
      ...(this.options.sidecars === undefined ? {} : { sidecarEndpoints: this.options.sidecars.list() }),
    };
  }

  /** The one compile of a change: the files with the sidecars' endpoints, as it would be enforced. */
  private compile(files: ReadonlyMap<string, string>): CompileStoreResult {
    const result = compileStoreFiles(files, this.compileOptions());
    if (result.ok) this.clashes.report(result.sidecarsLeftOut);
    return result;
  }

  /** Compiles `files` and makes them current if they compile; the caller decides what to report. */
  private apply(files: Map<string, string>): StoreChangeResult {
    const result = this.compile(files);
    return result.ok ? this.swap(files, result.state) : result;
  }

  /** A sidecar came or went: the same files over the new endpoints, or the previous state and a report. */
  private recompileForSidecars(): Promise<unknown> {
    return this.serialized(async () => {
      if (this.closed) return;
      const result = this.apply(this.files);
      if (!result.ok) this.emit({ kind: 'rejected', problems: [...result.problems, { file: '(sidecars)', path: '', message: SIDECARS_DO_NOT_COMPILE }] });
    });
  }

  private swap(files: Map<string, string>, state: PolicyStoreState): StoreChangeResult {
    this.files = files;
    // Rules count too: a rule that selects no endpoint yet (a sidecar may announce one later) leaves
    // the compiled revision unchanged.
    const changed = state.revision !== this.state.revision || !sameSummaries(state.files, this.state.files) || JSON.stringify(state.rules) !== JSON.stringify(this.state.rules);
    this.state = state;
    if (changed) this.emit({ kind: 'updated', state });
    return { ok: true, state };
  }

  private async readDirectory(): Promise<Map<string, string>> {
    const names = (await readdir(this.options.directory)).filter((name) => STORE_FILE_NAME.test(name)).sort();
    const files = new Map<string, string>();
    for (const name of names) {
      try {
        files.set(name, await readFile(join(this.options.directory, name), 'utf8'));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error; // deleted between readdir and read
      }
    }
    return files;
  }

  private async writeAtomically(name: string, text: string): Promise<void> {
    const temporary = join(this.options.directory, `.${name}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    await writeFile(temporary, text, 'utf8');
    await rename(temporary, join(this.options.directory, name));
  }

  private startWatching(): void {
    this.watcher = watch(this.options.directory, { persistent: false }, () => this.scheduleReload());
    this.watcher.on('error', (error) => this.emit({ kind: 'rejected', problems: [{ file: this.options.directory, path: '', message: `watching the directory failed: ${error.message}` }] }));
  }

  private scheduleReload(): void {
    if (this.closed) return;
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => void this.reloadFromDisk(), this.options.debounceMs ?? 100);
  }

  private reloadFromDisk(): Promise<unknown> {
    return this.serialized(async () => {
      if (this.closed) return;
      const files = await this.readDirectory();
      if (sameFiles(files, this.files)) return;
      const result = this.apply(files);
      if (!result.ok) this.emit({ kind: 'rejected', problems: result.problems });
    });
  }

  private emit(event: StoreEvent): void {
    for (const listener of this.listeners) listener(event);
  }

  private serialized<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.queue.then(operation, operation);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

const SIDECARS_DO_NOT_COMPILE =
  "the policy does not compile with the endpoints the connected sidecars announce; the previous policy stays in force. Fix the sidecars' weir.endpoint metadata or the policy";

function sameFiles(a: ReadonlyMap<string, string>, b: ReadonlyMap<string, string>): boolean {
  return a.size === b.size && [...a].every(([name, text]) => b.get(name) === text);
}

function sameSummaries(a: readonly StoredFileSummary[], b: readonly StoredFileSummary[]): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
