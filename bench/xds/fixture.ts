// The configuration the xDS fan-out benchmark serves, shaped like a per-node Weir deployment: three
// redirects (memcache, cassandra, r2d2), each a listener, a cluster and an ECDS Wasm filter with a
// ~60 KB module, one shared weir.IdentityMap, and one weir.NetworkPolicy per proxy (its endpoint,
// with L7 rules and a keyRegex DFA). A "policy change" is a new revision of every proxy's
// NetworkPolicy (one rule admits one more identity), as when a policy selecting every endpoint is
// edited. Shared resources are encoded once and shared by every per-node snapshot.
import { buildStaticCluster, CLUSTER_TYPE_URL } from '../../server/xds/resources/cluster.ts';
import { buildExtensionConfig, EXTENSION_CONFIG_TYPE_URL } from '../../server/xds/resources/extension-config.ts';
import { encodeIdentityMap, IDENTITY_MAP_RESOURCE_NAME, IDENTITY_MAP_TYPE_URL } from '../../server/xds/resources/identity-map.ts';
import { buildRedirectListener, LISTENER_TYPE_URL } from '../../server/xds/resources/listener.ts';
import { encodeNetworkPolicy, NETWORK_POLICY_TYPE_URL } from '../../server/xds/resources/network-policy.ts';
import type { EncodedResource } from '../../server/xds/resources/encoded-resource.ts';
import { buildParserFilterConfig } from '../../server/xds/resources/wasm-filter.ts';
import { Snapshot } from '../../server/xds/snapshot.ts';

export const BENCH_PARSERS = ['memcache', 'cassandra', 'r2d2'] as const;
export const WASM_MODULE_BYTES = 60 * 1024;
const IDENTITY_MAP_ENTRIES = 256;
const DFA_STATES = 3;

/** One subscription an Envoy-like client opens on its ADS stream, in the order Envoy opens them. */
export interface BenchSubscription {
  typeUrl: string;
  /** Empty: wildcard (Envoy's CDS and LDS). */
  resourceNames: readonly string[];
}

export function benchNodeId(index: number): string {
  return `bench-node-${index}`;
}

/** The endpoint id (resource name of its NetworkPolicy) of a benchmark proxy. */
export function benchEndpointId(index: number): string {
  return String(1000 + index);
}

/** What proxy `index` subscribes to: CDS and LDS wildcard, then ECDS, its policy and the identity map by name. */
export function benchSubscriptions(index: number): BenchSubscription[] {
  return [
    { typeUrl: CLUSTER_TYPE_URL, resourceNames: [] },
    { typeUrl: LISTENER_TYPE_URL, resourceNames: [] },
    { typeUrl: EXTENSION_CONFIG_TYPE_URL, resourceNames: BENCH_PARSERS.map(filterConfigName) },
    { typeUrl: NETWORK_POLICY_TYPE_URL, resourceNames: [benchEndpointId(index)] },
    { typeUrl: IDENTITY_MAP_TYPE_URL, resourceNames: [IDENTITY_MAP_RESOURCE_NAME] },
  ];
}

export const CHANGED_TYPE_URL = NETWORK_POLICY_TYPE_URL;

/** Listeners, clusters, ECDS filters and the identity map every proxy shares. */
export function buildSharedResources(): EncodedResource[] {
  const resources: EncodedResource[] = [];
  BENCH_PARSERS.forEach((parser, index) => {
    const cluster = `weir-${parser}-backend`;
    resources.push(buildStaticCluster({ name: cluster, endpoints: [{ address: '127.0.0.1', port: 20_000 + index }] }));
    resources.push(
      buildRedirectListener({
        name: `weir-${parser}`,
        listen: { address: '127.0.0.1', port: 21_000 + index },
        parserFilter: { kind: 'ecds', resourceName: filterConfigName(parser) },
        upstreamCluster: cluster,
      }),
    );
    const moduleBytes = syntheticWasmModule(WASM_MODULE_BYTES, index + 1);
    resources.push(buildExtensionConfig(filterConfigName(parser), buildParserFilterConfig({ redirectName: parser, parser, moduleBytes })));
  });
  const entries = Array.from({ length: IDENTITY_MAP_ENTRIES }, (_, index) => ({
    cidr: `10.${Math.floor(index / 250)}.${index % 250}.0/24`,
    identity: 256 + index,
  }));
  resources.push(encodeIdentityMap({ entries }));
  return resources;
}

/**
 * Proxy `index`'s NetworkPolicy at `revision`; each revision admits one more remote identity. The
 * compiled JSON stands in for serializeEndpointPolicy()'s output: ports, L7 rules and a keyRegex
 * DFA table (about 3 KB in all).
 */
export function buildNodePolicy(index: number, revision: number): EncodedResource {
  const remoteIdentities = Array.from({ length: 4 + revision }, (_, offset) => 256 + offset);
  const compiled = JSON.stringify({
    endpoint: benchEndpointId(index),
    ingress: {
      enforced: true,
      ports: [
        {
          port: 11211,
          protocol: 'TCP',
          rules: [
            {
              remoteIdentities,
              l7proto: 'memcache',
              l7: [{ command: 'get' }, { command: 'set', keyRegex: syntheticDfa(DFA_STATES) }],
            },
          ],
        },
        { port: 9042, protocol: 'TCP', rules: [{ remoteIdentities, l7proto: 'cassandra' }] },
      ],
    },
    egress: { enforced: false, ports: [] },
  });
  return encodeNetworkPolicy({
    endpoint: benchEndpointId(index),
    endpointIps: [`10.${Math.floor(index / 250) % 250}.${index % 250}.10`],
    identity: 256 + index,
    compiled,
  });
}

/** One proxy's whole config: the shared resources plus its own policy. */
export function buildNodeSnapshot(shared: readonly EncodedResource[], index: number, revision: number): Snapshot {
  return new Snapshot([...shared, buildNodePolicy(index, revision)]);
}

function filterConfigName(parser: string): string {
  return `weir.${parser}`;
}

/** Deterministic, incompressible bytes behind a Wasm header: the server never inspects modules. */
function syntheticWasmModule(size: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(size);
  bytes.set([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  let state = seed * 2_654_435_761;
  for (let offset = 8; offset < size; offset += 1) {
    state = (state * 1_103_515_245 + 12_345) >>> 0;
    bytes[offset] = state >>> 24;
  }
  return bytes;
}

function syntheticDfa(stateCount: number): { states: number; start: number; transitions: string; accepting: number[] } {
  const transitions = new Uint8Array(stateCount * 256 * 4);
  const view = new DataView(transitions.buffer);
  for (let state = 0; state < stateCount; state += 1) {
    for (let byte = 0; byte < 256; byte += 1) {
      const next = byte >= 0x61 && byte <= 0x7a ? Math.min(state + 1, stateCount - 1) : stateCount;
      view.setUint32((state * 256 + byte) * 4, next, true);
    }
  }
  return { states: stateCount, start: 0, transitions: Buffer.from(transitions).toString('base64'), accepting: [stateCount - 1] };
}
