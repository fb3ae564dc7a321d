// Each `weir serve` replica of an etcd store announces itself under `<prefix>replicas/<node>`:
// its node name, where its REST API listens (unix socket, and TCP URL when configured) and its
// xDS address, under a lease it keeps alive. A replica that dies disappears when its lease
// expires (TTL 10 s); one that loses its lease (etcd was away too long) announces itself again.
// Other replicas read the list to answer for the whole fleet (server/api/fleet.ts). The endpoints
// this replica's sidecars announce (their Envoy node metadata) go under `<prefix>endpoints/<name>`
// with the same lease, so every replica sees them, and they vanish with the replica.
import type { Etcd3, Lease } from 'etcd3';
import type { Logger } from 'pino';
import type { EndpointSpec } from '../identity/endpoints.ts';

export interface ReplicaRecord {
  readonly node: string;
  /** Absolute path of the replica's API socket (reachable from the same host). */
  readonly apiSocket: string;
  /** `http(s)://host:port` of its TCP API, if it has one. */
  readonly apiUrl?: string;
  readonly xds: { readonly address: string; readonly port: number };
}

export const REPLICA_LEASE_TTL_SECONDS = 10;

export class EtcdReplicaRegistry {
  #lease: Lease | undefined;
  #stopped = false;
  /** Endpoint name -> what is (to be) written under the lease. */
  #endpoints = new Map<string, string>();
  #written = new Map<string, string>();
  #syncing: Promise<void> | undefined;
  #resync = false;

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: string,
    private readonly record: ReplicaRecord,
    private readonly logger: Logger,
  ) {}

  /** Announces this replica; keeps trying in the background while etcd is unreachable. */
  start(): void {
    void this.#announce(1);
  }

  async list(): Promise<ReplicaRecord[]> {
    const values = await this.client.getAll().prefix(`${this.prefix}replicas/`).strings();
    return Object.values(values).map((value) => JSON.parse(value) as ReplicaRecord).sort((a, b) => a.node.localeCompare(b.node));
  }

  /** The endpoints this replica announces (its sidecars'); written under its lease, stale ones deleted. */
  setEndpoints(specs: readonly EndpointSpec[]): void {
    this.#endpoints = new Map(specs.map((spec) => [spec.name, JSON.stringify(spec)]));
    void this.#syncEndpoints();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#lease?.revoke().catch(() => undefined);
  }

  async #announce(attempt: number): Promise<void> {
    if (this.#stopped) return;
    const lease = this.client.lease(REPLICA_LEASE_TTL_SECONDS, { autoKeepAlive: true });
    this.#lease = lease;
    lease.on('lost', (error) => {
      // Only the lease in use is announced again: one released after a failed put (below) also
      // reports 'lost', and answering that too would start a second announcing loop each time.
      if (this.#stopped || this.#lease !== lease) return;
      this.#lease = undefined;
      this.logger.warn({ node: this.record.node, error: error.message }, 'the replica lease in etcd was lost; announcing this replica again');
      void this.#announce(1);
    });
    try {
      await lease.put(`${this.prefix}replicas/${this.record.node}`).value(JSON.stringify(this.record)).exec();
      // A new lease holds none of the endpoints the lost one did.
      this.#written = new Map();
      void this.#syncEndpoints();
    } catch (error) {
      if (this.#lease === lease) this.#lease = undefined;
      lease.release();
      if (this.#stopped) return;
      if (attempt === 1) this.logger.warn({ node: this.record.node, error: error instanceof Error ? error.message : String(error) }, 'cannot announce this replica in etcd yet; retrying');
      await new Promise((resolve) => setTimeout(resolve, Math.min(500 * attempt, 5_000)));
      await this.#announce(attempt + 1);
    }
  }


  async #syncEndpoints(): Promise<void> {
    if (this.#syncing !== undefined) {
      this.#resync = true;
      return;
    }
    const lease = this.#lease;
    if (lease === undefined || this.#stopped) return;
    this.#syncing = (async () => {
      try {
        for (const [name, value] of this.#endpoints) {
          if (this.#written.get(name) === value) continue;
          await lease.put(`${this.prefix}endpoints/${name}`).value(value).exec();
          this.#written.set(name, value);
        }
        for (const name of [...this.#written.keys()]) {
          if (this.#endpoints.has(name)) continue;
          await this.client.delete().key(`${this.prefix}endpoints/${name}`).exec();
          this.#written.delete(name);
        }
      } catch (error) {
        this.logger.warn({ node: this.record.node, error: error instanceof Error ? error.message : String(error) }, 'cannot write the sidecar endpoints to etcd; retrying');
        this.#resync = true;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    })();
    await this.#syncing;
    this.#syncing = undefined;
    if (this.#resync && !this.#stopped) {
      this.#resync = false;
      await this.#syncEndpoints();
    }
  }
}
