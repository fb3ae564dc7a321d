// The boundary between Weir's state and where it is kept. A store holds named policy files (YAML
// or JSON, CiliumNetworkPolicy and Endpoint documents) and the compiled state they produce; every
// change is validated and compiled as a whole before it replaces the previous state, so a bad
// file never weakens or breaks enforcement. The watched directory (directory-store.ts) is the
// default; an etcd store implements the same interface.
import type { IdentityAllocators } from '../policy/identity-universe.ts';
import type { EnforcementMode } from '../policy/policy-model.ts';
import type { PolicyProblem } from '../policy/policy-problems.ts';
import type { PolicyStoreState, StoredFileSummary } from './store-contents.ts';

export type { PolicyStoreState, StoredFileSummary } from './store-contents.ts';

export type StoreChangeResult = { ok: true; state: PolicyStoreState } | { ok: false; problems: readonly PolicyProblem[] };

export type StoreEvent =
  /** A new state is in force. */
  | { readonly kind: 'updated'; readonly state: PolicyStoreState }
  /** A change made outside the store (e.g. a file edited by hand) was rejected; the previous state stays. */
  | { readonly kind: 'rejected'; readonly problems: readonly PolicyProblem[] };

export interface StoreCompileSettings {
  readonly enforcementMode: EnforcementMode;
  readonly allocators: IdentityAllocators;
}

export interface PolicyStore {
  /** Reads everything the store holds and makes it the current state (or reports why not). */
  load(): Promise<StoreChangeResult>;
  /** The state in force now; empty until load() succeeds. */
  current(): PolicyStoreState;
  list(): readonly StoredFileSummary[];
  /** Source text of one stored file, or undefined. */
  read(name: string): Promise<string | undefined>;
  /** Adds or replaces one file atomically; on any problem nothing is written. */
  put(name: string, text: string): Promise<StoreChangeResult>;
  /** Removes one file; refused if the remaining set would not compile. */
  delete(name: string): Promise<StoreChangeResult>;
  /**
   * What current() is compiled with, so that a preview compiling the same rules over one more
   * endpoint (an Istio workload's layout, server/istio/workload-layout.ts) gets the same
   * enforcement and keeps every endpoint's identity.
   */
  compileSettings(): StoreCompileSettings;
  /** Calls `listener` on every state change or rejected outside change; returns an unsubscribe function. */
  watch(listener: (event: StoreEvent) => void): () => void;
  close(): Promise<void>;
}

/** File names a store accepts: no paths, no hidden files, a YAML or JSON extension. */
export const STORE_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*\.(yaml|yml|json)$/;

export function checkStoreFileName(name: string): PolicyProblem | undefined {
  if (STORE_FILE_NAME.test(name)) return undefined;
  return { file: name, path: '', message: 'invalid file name; use letters, digits, ".", "_" or "-" and end in .yaml, .yml or .json' };
}
