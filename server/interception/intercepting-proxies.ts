// Proxies that intercept traffic transparently announce it in their node metadata, key
// `weir.interception` (written by `weir bootstrap --mode sidecar|node`): which layout they want
// (`sidecar`: Istio's virtualInbound/virtualOutbound for one workload; `node`: one TPROXY listener
// for every endpoint of the node), the capture mode, Envoy's admin port and the TPROXY mark. This
// module reads and checks that metadata and remembers which connected node asked for what, so
// `weir serve` can give each one its own snapshot. Invalid metadata is logged; the proxy then gets
// the shared snapshot like any other.
import type { Logger } from 'pino';
import { readSidecarEndpoint } from '../identity/sidecar-endpoints.ts';

export const INTERCEPTION_METADATA_KEY = 'weir.interception';

export interface InterceptionMetadata {
  readonly layout: 'sidecar' | 'node';
  readonly interceptionMode: 'REDIRECT' | 'TPROXY';
  readonly adminPort: number;
  readonly tproxyMark: number;
  /** `node` layout: the port of the TPROXY listener. */
  readonly listenerPort?: number;
}

export type InterceptionMetadataRead =
  | { readonly kind: 'absent' }
  | { readonly kind: 'invalid'; readonly problems: readonly string[] }
  | { readonly kind: 'proxy'; readonly metadata: InterceptionMetadata };

export function readInterceptionMetadata(metadata: unknown): InterceptionMetadataRead {
  if (!isRecord(metadata) || !(INTERCEPTION_METADATA_KEY in metadata)) return { kind: 'absent' };
  const raw = metadata[INTERCEPTION_METADATA_KEY];
  const at = (field: string, reason: string): string => `${INTERCEPTION_METADATA_KEY}.${field}: ${reason}`;
  if (!isRecord(raw)) return { kind: 'invalid', problems: [`${INTERCEPTION_METADATA_KEY}: must be a struct with layout, interceptionMode, adminPort and tproxyMark`] };
  const problems: string[] = [];
  const known = ['layout', 'interceptionMode', 'adminPort', 'tproxyMark', 'listenerPort'];
  for (const field of Object.keys(raw)) if (!known.includes(field)) problems.push(at(field, `unknown field; expected one of ${known.join(', ')}`));
  const layout = raw['layout'];
  if (layout !== 'sidecar' && layout !== 'node') problems.push(at('layout', 'must be "sidecar" or "node"'));
  const interceptionMode = raw['interceptionMode'] ?? 'REDIRECT';
  if (interceptionMode !== 'REDIRECT' && interceptionMode !== 'TPROXY') problems.push(at('interceptionMode', 'must be "REDIRECT" or "TPROXY"'));
  const number = (field: string, fallback: number | undefined, max: number): number | undefined => {
    const value = raw[field] ?? fallback;
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
      problems.push(at(field, `must be an integer 1-${max}`));
      return undefined;
    }
    return value;
  };
  const adminPort = number('adminPort', 15000, 65535);
  const tproxyMark = number('tproxyMark', 1337, 0xffffffff);
  const listenerPort = number('listenerPort', undefined, 65535);
  if (layout === 'node' && listenerPort === undefined && !problems.some((problem) => problem.includes('listenerPort'))) problems.push(at('listenerPort', 'required with layout "node"'));
  if (problems.length > 0) return { kind: 'invalid', problems };
  return {
    kind: 'proxy',
    metadata: {
      layout: layout as 'sidecar' | 'node',
      interceptionMode: interceptionMode as 'REDIRECT' | 'TPROXY',
      adminPort: adminPort!,
      tproxyMark: tproxyMark!,
      ...(listenerPort === undefined ? {} : { listenerPort }),
    },
  };
}

export interface InterceptingProxy {
  readonly nodeId: string;
  readonly metadata: InterceptionMetadata;
  /** `sidecar` layout: the endpoint its bootstrap announced (weir.endpoint.name). */
  readonly endpoint?: string;
}

/** The nodes that asked for an interception layout, by node id (the last metadata seen wins). */
export class InterceptingProxyRegistry {
  readonly #proxies = new Map<string, InterceptingProxy>();

  constructor(private readonly logger: Logger) {}

  /** Records the node if its metadata asks for a layout; returns it, or undefined. */
  streamOpened(nodeId: string, metadata: unknown): InterceptingProxy | undefined {
    const read = readInterceptionMetadata(metadata);
    if (read.kind === 'absent') return undefined;
    if (read.kind === 'invalid') {
      this.logger.error({ nodeId, problems: read.problems }, 'node metadata asks for transparent interception but is invalid; the proxy gets the shared snapshot. Fix weir.interception in its bootstrap (weir bootstrap --mode sidecar|node)');
      return undefined;
    }
    const endpoint = readSidecarEndpoint(metadata);
    if (read.metadata.layout === 'sidecar' && endpoint.kind !== 'endpoint') {
      this.logger.error({ nodeId }, 'a sidecar proxy must announce its endpoint (weir.endpoint); it gets the shared snapshot. Use weir bootstrap --mode sidecar --endpoint-name ...');
      return undefined;
    }
    const proxy: InterceptingProxy = { nodeId, metadata: read.metadata, ...(endpoint.kind === 'endpoint' ? { endpoint: endpoint.spec.name } : {}) };
    this.#proxies.set(nodeId, proxy);
    return proxy;
  }

  list(): InterceptingProxy[] {
    return [...this.#proxies.values()];
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
