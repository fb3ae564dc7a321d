// Writes back into each policy object's status what this node does with it, as Cilium mirrors
// enforcement per node, so `kubectl get cnp NAME -o yaml` answers "is it valid, is it enforced,
// and where?":
//   status.conditions[type=Valid]  True, or False with Weir's exact error (the previous valid
//                                  generation stays in force); the same on every replica
//   status.nodes.<node>            { ok, enforcing, revision, proxies, lastUpdated, error? }:
//                                  `revision` is the object generation that every proxy of this node
//                                  has ACKed (the oldest one while they differ), `enforcing` is true
//                                  once that is the newest valid generation
// Merge patches on the status subresource touch only this node's entry. A patch that fails (API
// server gone) is retried on the next change and every 5 s until it succeeds.
import type { Logger } from 'pino';
import type { ObjectOutcome, ObjectSetStore } from '../store/object-set-store.ts';
import type { KubeClient } from './kube-client.ts';
import { policyStatusPath, type PolicyObjectRef } from './kubernetes-store.ts';

export interface PolicyStatusWriterOptions {
  readonly client: KubeClient;
  readonly store: ObjectSetStore;
  readonly policyObjects: () => ReadonlyMap<string, PolicyObjectRef>;
  readonly node: string;
  /** The store revision each policy-subscribed proxy of this node enforces (undefined: none yet). */
  readonly enforcedRevisions: () => ReadonlyArray<string | undefined>;
  /** Subscribes to proxy ACKs/connects; returns an unsubscribe function. */
  readonly onProxyChange: (listener: () => void) => () => void;
  readonly logger: Logger;
}

interface NodeStatus {
  ok: boolean;
  enforcing: boolean;
  revision?: number;
  proxies: number;
  error?: string;
}

export class PolicyStatusWriter {
  /** Store revision -> object name -> generation of that object in it. */
  readonly #revisions = new Map<string, ReadonlyMap<string, string>>();
  /** What was last written per object (JSON), so unchanged status is not patched again. */
  readonly #written = new Map<string, string>();
  readonly #unsubscribe: Array<() => void> = [];
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(private readonly options: PolicyStatusWriterOptions) {
    this.#remember();
    this.#unsubscribe.push(
      options.store.watch((event) => {
        if (event.kind === 'updated') this.#remember();
        this.#schedule();
      }),
      options.store.watchOutcomes(() => {
        // A new generation can compile to the revision in force (a no-op change): remember its versions too.
        this.#remember();
        this.#schedule();
      }),
      options.onProxyChange(() => this.#schedule()),
    );
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    await this.#running;
  }

  /** Resolves once everything known now has been written (or a write failed). */
  async flushed(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  #remember(): void {
    this.#revisions.set(this.options.store.current().revision, this.options.store.enforcedVersions());
    // Only revisions some proxy may still enforce matter; keep the last 100.
    while (this.#revisions.size > 100) this.#revisions.delete(this.#revisions.keys().next().value as string);
  }

  #schedule(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    // Coalesces a burst of ACKs into one round of patches.
    this.#timer = setTimeout(() => this.#run(), 50);
    this.#timer.unref();
  }

  #run(): void {
    if (this.#running !== undefined) {
      this.#again = true;
      return;
    }
    this.#running = this.#writeAll().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        this.#schedule();
      }
    });
  }

  async #writeAll(): Promise<void> {
    const enforced = this.options.enforcedRevisions();
    let failed = false;
    for (const [name, ref] of this.options.policyObjects()) {
      const outcome = this.options.store.objectStatus(name);
      if (outcome === undefined) continue;
      const status = { conditions: [validCondition(outcome)], nodes: { [this.options.node]: this.#nodeStatus(name, outcome, enforced) } };
      const text = JSON.stringify(status);
      if (this.#written.get(name) === text) continue;
      const stamped = { ...status, nodes: { [this.options.node]: { ...status.nodes[this.options.node], lastUpdated: new Date().toISOString() } } };
      try {
        await this.options.client.mergePatch(policyStatusPath(ref), { status: stamped });
        this.#written.set(name, text);
      } catch (error) {
        failed = true;
        this.options.logger.warn({ object: name, error: error instanceof Error ? error.message : String(error) }, 'cannot write the policy status; retrying');
      }
    }
    for (const name of [...this.#written.keys()]) if (!this.options.policyObjects().has(name)) this.#written.delete(name);
    if (failed && !this.#stopped) {
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.#run(), 5_000);
      this.#timer.unref();
    }
  }

  #nodeStatus(name: string, outcome: ObjectOutcome, enforced: ReadonlyArray<string | undefined>): NodeStatus {
    const latestValid = outcome.ok ? outcome.version : outcome.enforcedVersion;
    const generations = enforced.map((revision) => (revision === undefined ? undefined : this.#revisions.get(revision)?.get(name)));
    const known = generations.filter((generation): generation is string => generation !== undefined).map(Number);
    const status: NodeStatus = {
      ok: outcome.ok,
      enforcing: enforced.length > 0 && known.length === enforced.length && latestValid !== undefined && known.every((generation) => generation === Number(latestValid)),
      proxies: enforced.length,
    };
    if (known.length > 0) status.revision = Math.min(...known);
    if (!outcome.ok) status.error = outcome.problems.map((problem) => `${problem.path === '' ? '' : `${problem.path}: `}${problem.message}`).join('; ');
    return status;
  }
}

function validCondition(outcome: ObjectOutcome): Record<string, unknown> {
  return outcome.ok
    ? { type: 'Valid', status: 'True', reason: 'Accepted', message: 'Weir accepted the policy', observedGeneration: Number(outcome.version) }
    : {
        type: 'Valid',
        status: 'False',
        reason: 'Invalid',
        message: `${outcome.problems.map((problem) => `${problem.path === '' ? '' : `${problem.path}: `}${problem.message}`).join('; ')}${outcome.enforcedVersion === undefined ? '' : ` (generation ${outcome.enforcedVersion} stays in force)`}`,
        observedGeneration: Number(outcome.version),
      };
}
