// The etcd store (Cilium's kvstore mode, without Kubernetes): several `weir serve` replicas share
// policy files, endpoints and identities through one etcd. Keys under the prefix (default /weir/):
//   files/<name>          a policy file (YAML/JSON, as in the directory store); weir policy import writes it
//   endpoints/<name>      an EndpointSpec (JSON), under the lease of the replica that registered it
//   identities/id/<n>     the canonical label text that holds identity n (claimed by a transaction)
//   identities/key/<hash> n, so a replica finds a label set's identity without probing
//   replicas/<name>       a replica's API address and node (JSON), under its lease (etcd-replicas.ts)
// One consistent read of the prefix, then a watch from the revision after it: every replica sees
// every change in etcd's order. etcd unreachable: the policy in force stays, writes fail with a
// message naming etcd, and the watch resumes where it stopped when etcd is back.
import { createHash } from 'node:crypto';
import { Etcd3, type IKeyValue, type Watcher } from 'etcd3';
import type { Logger } from 'pino';
import type { EndpointSpec } from '../identity/endpoints.ts';
import { sharedIdentityTable, type IdentityClaims } from '../identity/identity-table.ts';
import type { L7RuleRegistry } from '../policy/l7-rule-keys.ts';
import type { EnforcementMode } from '../policy/policy-model.ts';
import { ObjectSetStore } from './object-set-store.ts';
import { checkStoreFileName } from './policy-store.ts';

export interface EtcdStoreOptions {
  /** Client URLs, e.g. http://127.0.0.1:2379; the client fails over between them. */
  readonly endpoints: readonly string[];
  /** Default `/weir/`. */
  readonly prefix?: string;
  readonly enforcementMode: EnforcementMode;
  readonly registry?: L7RuleRegistry;
  readonly logger: Logger;
  /** Per request (not for watches). Default 5 s. */
  readonly requestTimeoutMs?: number;
}

export interface OpenEtcdStore {
  readonly store: ObjectSetStore;
  readonly client: Etcd3;
  readonly prefix: string;
}

export const DEFAULT_ETCD_PREFIX = '/weir/';

/** Connects, reads everything under the prefix and starts watching; the store's load() resolves once compiled. */
export function openEtcdStore(options: EtcdStoreOptions): OpenEtcdStore {
  const prefix = options.prefix ?? DEFAULT_ETCD_PREFIX;
  const timeoutMs = options.requestTimeoutMs ?? 5_000;
  const client = new Etcd3({
    hosts: [...options.endpoints],
    dialTimeout: timeoutMs,
    // A request to an etcd that is down fails after timeoutMs with a message, never hangs; watches stay open.
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeoutMs }),
  });
  const sourceName = `etcd ${options.endpoints.join(',')}`;
  const store = new ObjectSetStore({
    enforcementMode: options.enforcementMode,
    ...(options.registry === undefined ? {} : { registry: options.registry }),
    identities: sharedIdentityTable(etcdIdentityClaims(client, prefix)),
    logger: options.logger,
    sourceName,
    writer: {
      kind: 'writable',
      put: async (name, text) => {
        if (checkStoreFileName(name) !== undefined) throw new Error(`invalid file name "${name}"`);
        await client.put(`${prefix}files/${name}`).value(text).exec();
      },
      delete: async (name) => Number((await client.delete().key(`${prefix}files/${name}`).exec()).deleted) > 0,
    },
  });
  const source = new EtcdSource(client, prefix, store, options.logger, sourceName);
  void source.start();
  store.onClose(async () => {
    await source.stop();
    client.close();
  });
  return { store, client, prefix };
}

class EtcdSource {
  readonly #endpoints = new Map<string, EndpointSpec>();
  #watcher: Watcher | undefined;
  #stopped = false;

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    private readonly store: ObjectSetStore,
    private readonly logger: Logger,
    private readonly sourceName: string,
  ) {}

  async start(): Promise<void> {
    for (let attempt = 1; !this.#stopped; attempt++) {
      try {
        const snapshot = await this.client.getAll().prefix(this.prefix).exec();
        for (const kv of snapshot.kvs) this.#put(kv);
        this.#endpointsChanged();
        this.store.markSynced();
        const revision = BigInt(snapshot.header.revision) + 1n;
        this.#watcher = await this.client.watch().prefix(this.prefix).startRevision(revision.toString()).create();
        this.#watcher.on('put', (kv) => this.#changed(() => this.#put(kv)));
        this.#watcher.on('delete', (kv) => this.#changed(() => this.#delete(kv)));
        this.#watcher.on('disconnected', (error) => this.logger.warn({ source: this.sourceName, error: error.message }, 'etcd watch interrupted; the policy in force stays, resuming when etcd answers'));
        this.#watcher.on('connected', () => this.logger.info({ source: this.sourceName }, 'etcd watch connected'));
        this.#watcher.on('error', (error) => this.logger.error({ source: this.sourceName, error: error.message }, 'etcd watch failed'));
        return;
      } catch (error) {
        this.logger.warn({ source: this.sourceName, attempt, error: error instanceof Error ? error.message : String(error) }, 'cannot read the policy from etcd yet; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.min(250 * attempt, 2_000)));
      }
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#watcher?.cancel().catch(() => undefined);
  }

  #changed(apply: () => boolean): void {
    if (apply()) this.#endpointsChanged();
  }

  /** Applies one key; true when it was an endpoint. */
  #put(kv: IKeyValue): boolean {
    const key = kv.key.toString('utf8').slice(this.prefix.length);
    if (key.startsWith('files/')) {
      this.store.setObject(key.slice('files/'.length), kv.value.toString('utf8'), String(kv.mod_revision));
      return false;
    }
    if (key.startsWith('endpoints/')) {
      const name = key.slice('endpoints/'.length);
      try {
        this.#endpoints.set(name, { ...(JSON.parse(kv.value.toString('utf8')) as EndpointSpec), name });
      } catch (error) {
        this.logger.warn({ source: this.sourceName, key: kv.key.toString('utf8'), error: String(error) }, 'endpoint key is not JSON; ignored');
      }
      return true;
    }
    return false;
  }

  #delete(kv: IKeyValue): boolean {
    const key = kv.key.toString('utf8').slice(this.prefix.length);
    if (key.startsWith('files/')) this.store.removeObject(key.slice('files/'.length));
    if (key.startsWith('endpoints/')) return this.#endpoints.delete(key.slice('endpoints/'.length));
    return false;
  }

  #endpointsChanged(): void {
    this.store.setEndpoints([...this.#endpoints.values()]);
  }
}

/** Identity claims as etcd transactions: a number is claimed only if no key holds it yet. */
export function etcdIdentityClaims(client: Etcd3, prefix: string): IdentityClaims {
  const idKey = (identity: number): string => `${prefix}identities/id/${identity}`;
  const indexKey = (key: string): string => `${prefix}identities/key/${createHash('sha256').update(key).digest('hex')}`;
  return {
    async lookup(key) {
      const value = await client.get(indexKey(key)).string();
      return value === null ? undefined : Number(value);
    },
    async claim(identity, key) {
      const result = await client
        .if(idKey(identity), 'Create', '==', 0)
        .then(client.put(idKey(identity)).value(key), client.put(indexKey(key)).value(String(identity)))
        .else(client.get(idKey(identity)))
        .commit();
      if (result.succeeded) return key;
      const holder = result.responses[0]?.response_range?.kvs[0]?.value.toString('utf8');
      if (holder === undefined) throw new Error(`etcd: identity ${identity} is claimed but its key cannot be read`);
      return holder;
    },
  };
}
