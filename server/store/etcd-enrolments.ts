// Node enrolments shared by the `weir serve` replicas of an etcd store, under
// `<prefix>enrolments/<node id>` (JSON EnrolmentRecord). A proxy enrolled at one replica, or
// revoked at one, is honoured or refused the same way by every replica, so a proxy that fails over
// is accepted by the next replica and a revoked one by none. Records merge (node-enrolments.ts
// merge(): the later enrolment and the later revocation win), written by a compare-and-swap on the
// key's revision, so concurrent writers from several replicas never lose each other's change.
// The replicas must also share the CA (pki.ca, docs/cluster.md): this shares which certificates
// are honoured, not the key that signs them.
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import type { NodeAuthority } from '../pki/node-authority.ts';
import { mergeEnrolmentRecords, sameEnrolmentRecord, type EnrolmentRecord } from '../pki/node-enrolments.ts';

export class EtcdEnrolments {
  readonly #pending = new Map<string, Promise<void>>();
  #watcher: Watcher | undefined;
  #stopped = false;

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    private readonly authority: NodeAuthority,
    private readonly logger: Logger,
  ) {
    authority.enrolments.onChange((nodeId, record) => {
      const previous = this.#pending.get(nodeId) ?? Promise.resolve();
      const next = previous.catch(() => undefined).then(() => this.#publish(nodeId, record));
      this.#pending.set(nodeId, next);
      next.catch((error: unknown) => this.logger.error({ nodeId, error: messageOf(error) }, 'cannot write this node enrolment to etcd: other replicas do not know of it yet'));
    });
  }

  /**
   * Adopts every record in etcd, publishes the records only this replica has (enrolled before it
   * joined), then follows changes. Retries while etcd is unreachable.
   */
  async start(): Promise<void> {
    for (let attempt = 1; !this.#stopped; attempt++) {
      try {
        const snapshot = await this.client.getAll().prefix(this.#keyPrefix).exec();
        const known = new Set<string>();
        for (const kv of snapshot.kvs) known.add(this.#adopt(kv));
        for (const enrolment of this.authority.enrolments.list()) {
          const record = this.authority.enrolments.record(enrolment.nodeId);
          if (record !== undefined) await this.#publish(enrolment.nodeId, record);
        }
        this.#watcher = await this.client.watch().prefix(this.#keyPrefix).startRevision((BigInt(snapshot.header.revision) + 1n).toString()).create();
        this.#watcher.on('put', (kv) => this.#adopt(kv));
        this.#watcher.on('error', (error) => this.logger.error({ error: error.message }, 'etcd watch of node enrolments failed'));
        return;
      } catch (error) {
        if (attempt === 1) this.logger.warn({ error: messageOf(error) }, 'cannot read the node enrolments from etcd yet; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(250 * attempt, 2_000)));
      }
    }
  }

  /** Resolves once this replica's last change of `nodeId` is in etcd; rejects naming etcd if it could not be written. */
  async settled(nodeId: string): Promise<void> {
    await this.#pending.get(nodeId);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#watcher?.cancel().catch(() => undefined);
  }

  get #keyPrefix(): string {
    return `${this.prefix}enrolments/`;
  }

  /** Adopts one key's record; returns its node id. */
  #adopt(kv: IKeyValue): string {
    const nodeId = kv.key.toString('utf8').slice(this.#keyPrefix.length);
    const record = parseRecord(kv.value.toString('utf8'));
    if (record === undefined) this.logger.warn({ key: kv.key.toString('utf8') }, 'node enrolment in etcd is not {"enrolledAtMs": number, "revokedAtMs"?: number}; ignored');
    else this.authority.adoptEnrolment(nodeId, record);
    return nodeId;
  }

  /** Merges `record` into etcd's record of `nodeId` (compare-and-swap on its revision, retried on a race). */
  async #publish(nodeId: string, record: EnrolmentRecord): Promise<void> {
    const key = `${this.#keyPrefix}${nodeId}`;
    for (;;) {
      const current = (await this.client.get(key).exec()).kvs[0];
      const stored = current === undefined ? undefined : parseRecord(current.value.toString('utf8'));
      const merged = mergeEnrolmentRecords(stored, record);
      if (stored !== undefined && sameEnrolmentRecord(stored, merged)) return;
      const result = await this.client
        .if(key, 'Mod', '==', current === undefined ? 0 : current.mod_revision)
        .then(this.client.put(key).value(JSON.stringify(merged)))
        .commit();
      if (result.succeeded) return;
    }
  }
}

function parseRecord(text: string): EnrolmentRecord | undefined {
  try {
    const { enrolledAtMs, revokedAtMs } = JSON.parse(text) as Partial<EnrolmentRecord>;
    if (typeof enrolledAtMs !== 'number' || (revokedAtMs !== undefined && typeof revokedAtMs !== 'number')) return undefined;
    return revokedAtMs === undefined ? { enrolledAtMs } : { enrolledAtMs, revokedAtMs };
  } catch {
    return undefined;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
