// Endpoints that sidecars announce in their Envoy node metadata (`weir.endpoint`, docs/identity.md
// "Sidecar endpoints"; or Istio's keys, forwarded by the agent in an Istio sidecar: istio-endpoints.ts). Owns reading and checking that metadata and the registry of which node holds which
// endpoint: an endpoint lives while its node has a stream open, and for a grace period after the
// last one closes (so an Envoy restart or reconnect does not flap policy). The stores compile policy
// with these endpoints (server/store/store-contents.ts, sidecarEndpoints); the xDS streams only report
// connects and disconnects.
import type { Logger } from 'pino';
import { endpointFromSpec, validateEndpointSpec, type Endpoint, type EndpointSpec } from './endpoints.ts';
import { readIstioEndpoint } from './istio-endpoints.ts';

/** The node metadata key a sidecar's bootstrap puts its endpoint under (`weir bootstrap --endpoint-name ...`). */
export const SIDECAR_ENDPOINT_METADATA_KEY = 'weir.endpoint';

export const SIDECAR_ENDPOINT_DEFAULTS = {
  /** How long an endpoint outlives the last stream of its node. */
  graceMs: 30_000,
} as const;

export type SidecarEndpointRead =
  | { readonly kind: 'absent' }
  | { readonly kind: 'invalid'; readonly problems: readonly string[] }
  | { readonly kind: 'endpoint'; readonly spec: EndpointSpec };

export interface SidecarEndpoint {
  readonly nodeId: string;
  readonly endpoint: Endpoint;
}

/** `sidecar:<node id>`, as `weir endpoint list` shows it. */
export function sidecarEndpointSource(nodeId: string): string {
  return `sidecar:${nodeId}`;
}

/**
 * Reads `weir.endpoint` from node metadata already turned into plain JSON. Returns every problem as
 * `weir.endpoint.<field>: reason`; a node without the key announces no endpoint.
 */
export function readSidecarEndpoint(metadata: unknown): SidecarEndpointRead {
  if (!isPlainObject(metadata) || !(SIDECAR_ENDPOINT_METADATA_KEY in metadata)) return { kind: 'absent' };
  const raw = metadata[SIDECAR_ENDPOINT_METADATA_KEY];
  const at = (field: string, reason: string): string => `${SIDECAR_ENDPOINT_METADATA_KEY}.${field}: ${reason}`;
  if (!isPlainObject(raw)) return { kind: 'invalid', problems: [`${SIDECAR_ENDPOINT_METADATA_KEY}: must be a struct with name, labels, namespace, serviceAccount and ips`] };
  const problems: string[] = [];
  const known = new Set(['name', 'labels', 'namespace', 'serviceAccount', 'ips']);
  for (const field of Object.keys(raw)) if (!known.has(field)) problems.push(at(field, `unknown field; expected one of ${[...known].join(', ')}`));
  const spec = {
    name: raw['name'],
    ips: raw['ips'],
    ...(raw['namespace'] === undefined ? {} : { namespace: raw['namespace'] }),
    ...(raw['serviceAccount'] === undefined ? {} : { serviceAccount: raw['serviceAccount'] }),
    ...(raw['labels'] === undefined ? {} : { labels: raw['labels'] }),
  } as EndpointSpec;
  problems.push(...validateEndpointSpec(spec).map(({ field, reason }) => `${SIDECAR_ENDPOINT_METADATA_KEY}.${field}: ${reason}`));
  return problems.length > 0 ? { kind: 'invalid', problems } : { kind: 'endpoint', spec };
}

export interface SidecarEndpointRegistryOptions {
  readonly logger: Logger;
  /** Default SIDECAR_ENDPOINT_DEFAULTS.graceMs. */
  readonly graceMs?: number;
  /** Timers, replaceable in tests. */
  readonly timers?: { setTimeout: (run: () => void, ms: number) => unknown; clearTimeout: (timer: unknown) => void };
}

interface NodeRegistration {
  /** What each open stream of the node announced, in the order the streams opened. */
  streams: Map<number, Endpoint>;
  /** The first stream's endpoint with every open stream's IPs; kept through the grace period. */
  endpoint: Endpoint;
  removalTimer: unknown;
}

/** Which connected (or recently connected) node announces which endpoint. */
export class SidecarEndpointRegistry {
  readonly #nodes = new Map<string, NodeRegistration>();
  readonly #listeners = new Set<() => void>();
  readonly #graceMs: number;
  readonly #timers: NonNullable<SidecarEndpointRegistryOptions['timers']>;
  #nextStream = 1;

  constructor(private readonly options: SidecarEndpointRegistryOptions) {
    this.#graceMs = options.graceMs ?? SIDECAR_ENDPOINT_DEFAULTS.graceMs;
    this.#timers = options.timers ?? { setTimeout: (run, ms) => setTimeout(run, ms).unref(), clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout) };
  }

  /**
   * A stream of `nodeId` opened with this metadata: `weir.endpoint` (Weir's sidecars) or Istio's
   * keys forwarded by a Weir agent in an Istio sidecar (istio-endpoints.ts). Returns the function
   * to call when that stream closes. Invalid metadata is logged and registers nothing; the stream
   * is served all the same. Several streams of one node (the replicas of an Istio workload, which
   * share its credentials) make one endpoint with all their IPs.
   */
  streamOpened(nodeId: string, metadata: unknown): () => void {
    const read = readAnnouncedEndpoint(nodeId, metadata);
    if (read.kind === 'absent') return () => undefined;
    if (read.kind === 'invalid') {
      this.options.logger.error(
        { nodeId, problems: read.problems },
        `${read.source} announces an invalid endpoint; the proxy is served but its endpoint is not registered. ${read.source === 'istio' ? "Check the pod's Istio node metadata (NAMESPACE, LABELS, INSTANCE_IPS)" : 'Fix weir.endpoint in its bootstrap (weir bootstrap --endpoint-name/--label/--endpoint-ip)'}`,
      );
      return () => undefined;
    }
    const stream = this.#nextStream++;
    this.#register(nodeId, stream, endpointFromSpec(read.spec));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#streamClosed(nodeId, stream);
    };
  }

  /** Registered endpoints, ordered by node id. */
  list(): SidecarEndpoint[] {
    return [...this.#nodes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([nodeId, registration]) => ({ nodeId, endpoint: registration.endpoint }));
  }

  /** Calls `listener` whenever an endpoint is added, replaced or removed; returns an unsubscribe function. */
  watch(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    for (const registration of this.#nodes.values()) this.#timers.clearTimeout(registration.removalTimer);
    this.#nodes.clear();
    this.#listeners.clear();
  }

  #register(nodeId: string, stream: number, endpoint: Endpoint): void {
    const existing = this.#nodes.get(nodeId);
    if (existing === undefined) {
      this.#nodes.set(nodeId, { streams: new Map([[stream, endpoint]]), endpoint, removalTimer: undefined });
    } else {
      this.#timers.clearTimeout(existing.removalTimer);
      existing.removalTimer = undefined;
      existing.streams.set(stream, endpoint);
      if (!this.#remerge(existing)) return;
    }
    this.options.logger.info({ nodeId, endpoint: endpoint.name, ips: this.#nodes.get(nodeId)?.endpoint.ips }, 'sidecar endpoint registered from node metadata');
    this.#changed();
  }

  #streamClosed(nodeId: string, stream: number): void {
    const registration = this.#nodes.get(nodeId);
    if (registration === undefined || !registration.streams.delete(stream)) return;
    if (registration.streams.size > 0) {
      if (this.#remerge(registration)) this.#changed();
      return;
    }
    registration.removalTimer = this.#timers.setTimeout(() => {
      if (this.#nodes.get(nodeId) !== registration || registration.streams.size > 0) return;
      this.#nodes.delete(nodeId);
      this.options.logger.info({ nodeId, endpoint: registration.endpoint.name, graceMs: this.#graceMs }, 'sidecar endpoint removed: its node stayed disconnected past the grace period');
      this.#changed();
    }, this.#graceMs);
  }

  /** Recomputes the node's endpoint from its open streams; true when it changed. */
  #remerge(registration: NodeRegistration): boolean {
    const announced = [...registration.streams.values()];
    const first = announced[0];
    if (first === undefined) return false;
    const ips = [...new Set(announced.flatMap((endpoint) => endpoint.ips))];
    const merged: Endpoint = { ...first, ips };
    if (JSON.stringify(merged) === JSON.stringify(registration.endpoint)) return false;
    registration.endpoint = merged;
    return true;
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}

type AnnouncedEndpointRead =
  | { readonly kind: 'absent' }
  | { readonly kind: 'invalid'; readonly source: 'weir.endpoint' | 'istio'; readonly problems: readonly string[] }
  | { readonly kind: 'endpoint'; readonly spec: EndpointSpec };

function readAnnouncedEndpoint(nodeId: string, metadata: unknown): AnnouncedEndpointRead {
  const weir = readSidecarEndpoint(metadata);
  if (weir.kind === 'invalid') return { ...weir, source: 'weir.endpoint' };
  if (weir.kind === 'endpoint') return weir;
  const istio = readIstioEndpoint(nodeId, metadata);
  return istio.kind === 'invalid' ? { ...istio, source: 'istio' } : istio;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
