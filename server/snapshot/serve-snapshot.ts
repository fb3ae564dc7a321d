// Builds the xDS snapshot `weir serve` gives every proxy, from the config's redirects and the
// policy store's state, in one place:
// - the redirects (listen here, parse with this parser, forward there) become listeners, clusters
//   (endpoints inline or over EDS) and extension configs: listener `weir-<name>` runs the parser's
//   Wasm filter then tcp_proxy to cluster `weir-<name>-backend`. The Wasm filter travels over ECDS
//   as `weir.<name>` (default) or inline in the listener. A redirect that guards an endpoint gets a
//   filter that decides with the policy the Weir agent publishes (vm_id `weir`, "policy":"agent").
//   A redirect with parser `http` gets Envoy's HTTP connection manager instead, with Weir's HTTP
//   Wasm filter (http.wasm) before the router, and a cluster that speaks the downstream's HTTP
//   version (xds/resources/http-listener.ts). Reads each parser module once.
// - the store's compiled state becomes the two Weir resource types the agent subscribes to
//   (docs/policy-wire.md): one weir.NetworkPolicy per endpoint, whose `compiled` bytes are the
//   canonical JSON of serializeEndpointPolicy(), and the weir.IdentityMap `default`. Both carry the
//   store revision, so "a proxy ACKed a version containing revision R" can be read from its ACKed
//   versions.
// The protobuf encoding of each resource belongs to server/xds/resources; the xDS server only
// serves what this module built, and never reads policy or the store itself.
import fs from 'node:fs';
import path from 'node:path';
import type { WeirConfig } from '../config/weir-config.ts';
import { serializeEndpointPolicy } from '../policy/serialize.ts';
import type { PolicyStoreState } from '../store/policy-store.ts';
import { Snapshot } from '../xds/snapshot.ts';
import { buildEdsCluster, buildStaticCluster, type SocketAddressSpec } from '../xds/resources/cluster.ts';
import { buildLoadAssignment } from '../xds/resources/endpoint.ts';
import { buildRedirectListener, type FilterDelivery, type ParserFilterDelivery } from '../xds/resources/listener.ts';
import { buildHttpRedirectListener, HTTP_WASM_TYPE_URL } from '../xds/resources/http-listener.ts';
import { buildExtensionConfig } from '../xds/resources/extension-config.ts';
import { buildAgentPolicyFilterConfig, buildParserFilterConfig, DEFAULT_MAX_BUFFER_BYTES, type AgentPolicyPluginConfiguration } from '../xds/resources/wasm-filter.ts';
import type { EncodedResource } from '../xds/resources/encoded-resource.ts';
import { encodeIdentityMap } from '../xds/resources/identity-map.ts';
import { encodeNetworkPolicy } from '../xds/resources/network-policy.ts';

export interface RedirectSpec {
  name: string;
  listen: SocketAddressSpec;
  parser: string;
  upstream: SocketAddressSpec;
  /** Per-connection buffer cap handed to the parser. Default 1 MiB. */
  maxBufferBytes?: number;
  /**
   * The endpoint whose port this redirect proxies. Set: the parser enforces that endpoint's policy
   * as published by the Weir agent (ingress, port = endpointPort), and denies until it has one.
   * Unset: the parser's own built-in rules.
   */
  endpoint?: string;
  /** The endpoint's port as its policies name it; default upstream.port (they differ behind a NAT or port-forward). */
  endpointPort?: number;
}

export interface RedirectSnapshotOptions {
  redirects: readonly RedirectSpec[];
  /** Directory holding `<parser>.wasm`. */
  filtersDir: string;
  /** 'ecds' (default): the listener asks for the Wasm filter by name; 'inline': it is in the listener. */
  filterDelivery?: FilterDelivery;
  /** 'inline' (default): clusters carry their endpoints; 'eds': endpoints travel over EDS. */
  endpointDelivery?: EndpointDelivery;
  /** Reads a module file; tests may substitute. Default: fs.readFileSync. */
  readModule?: (file: string) => Uint8Array;
  /** More resources served beside the redirects', e.g. weir.NetworkPolicy and weir.IdentityMap. */
  extraResources?: readonly EncodedResource[];
}

export type EndpointDelivery = 'inline' | 'eds';

/** The snapshot for every proxy: the redirects' resources plus the policy resources of the store state. */
export function buildServeSnapshot(config: WeirConfig, state: PolicyStoreState): Snapshot {
  return buildRedirectSnapshot({
    redirects: config.redirects,
    filtersDir: config.filtersDir,
    filterDelivery: config.xds.filterDelivery,
    endpointDelivery: config.xds.endpointDelivery,
    extraResources: buildPolicyResources(state),
  });
}

/** weir.NetworkPolicy per endpoint and the weir.IdentityMap, both carrying the store revision. */
export function buildPolicyResources(state: PolicyStoreState): EncodedResource[] {
  const policies = state.policySet.endpoints.map((policy) =>
    encodeNetworkPolicy({
      endpoint: policy.endpoint,
      endpointIps: policy.ips,
      identity: policy.identity,
      revision: state.revision,
      compiled: serializeEndpointPolicy(policy).json,
    }),
  );
  const identityMap = encodeIdentityMap({ revision: state.revision, entries: state.policySet.ipIdentities });
  return [...policies, identityMap];
}

export function listenerNameOf(redirectName: string): string {
  return `weir-${redirectName}`;
}

/** The plugin name and, with ECDS, the TypedExtensionConfig resource name. */
export function filterConfigNameOf(redirectName: string): string {
  return `weir.${redirectName}`;
}

export function clusterNameOf(redirectName: string): string {
  return `weir-${redirectName}-backend`;
}

/** The parser name that selects the HTTP connection manager and Weir's HTTP filter. */
export const HTTP_PARSER = 'http';

export function buildRedirectSnapshot(options: RedirectSnapshotOptions): Snapshot {
  const readModule = options.readModule ?? ((file: string) => fs.readFileSync(file));
  const modules = new Map<string, Uint8Array>();
  const moduleFor = (parser: string): Uint8Array => {
    let bytes = modules.get(parser);
    if (!bytes) {
      bytes = readParserModule(options.filtersDir, parser, readModule);
      modules.set(parser, bytes);
    }
    return bytes;
  };
  const resources: EncodedResource[] = [];
  for (const redirect of options.redirects) {
    const cluster = clusterNameOf(redirect.name);
    const http = redirect.parser === HTTP_PARSER;
    if (http && redirect.endpoint === undefined) {
      throw new Error(`redirect "${redirect.name}": the http filter enforces an endpoint's policy; give the redirect an endpoint`);
    }
    const httpProtocol = http ? { httpProtocol: 'downstream' as const } : {};
    if (options.endpointDelivery === 'eds') {
      resources.push(buildEdsCluster({ name: cluster, ...httpProtocol }), buildLoadAssignment({ clusterName: cluster, endpoints: [redirect.upstream] }));
    } else {
      resources.push(buildStaticCluster({ name: cluster, endpoints: [redirect.upstream], ...httpProtocol }));
    }
    const typedConfig = redirect.endpoint === undefined
      ? buildParserFilterConfig({
          redirectName: redirect.name,
          parser: redirect.parser,
          moduleBytes: moduleFor(redirect.parser),
          ...(redirect.maxBufferBytes !== undefined ? { maxBufferBytes: redirect.maxBufferBytes } : {}),
        })
      : buildAgentPolicyFilterConfig({
          pluginName: filterConfigNameOf(redirect.name),
          moduleBytes: moduleFor(redirect.parser),
          configuration: agentPolicyPluginConfiguration(redirect, redirect.endpoint),
          ...(http ? { wasmTypeUrl: HTTP_WASM_TYPE_URL } : {}),
        });
    let parserFilter: ParserFilterDelivery = { kind: 'inline', typedConfig };
    if ((options.filterDelivery ?? 'ecds') === 'ecds') {
      parserFilter = { kind: 'ecds', resourceName: filterConfigNameOf(redirect.name) };
      resources.push(buildExtensionConfig(parserFilter.resourceName, typedConfig));
    }
    const listener = { name: listenerNameOf(redirect.name), listen: redirect.listen, upstreamCluster: cluster };
    resources.push(http ? buildHttpRedirectListener({ ...listener, httpFilter: parserFilter }) : buildRedirectListener({ ...listener, parserFilter }));
  }
  resources.push(...(options.extraResources ?? []));
  return new Snapshot(resources);
}

export function agentPolicyPluginConfiguration(redirect: RedirectSpec, endpoint: string): AgentPolicyPluginConfiguration {
  return {
    parser: redirect.parser,
    maxBufferBytes: redirect.maxBufferBytes ?? DEFAULT_MAX_BUFFER_BYTES,
    policy: 'agent',
    endpoint,
    direction: 'ingress',
    port: redirect.endpointPort ?? redirect.upstream.port,
  };
}

/** Reads `<filtersDir>/<parser>.wasm`, with an error that says what to do when it is missing. */
export function readParserModule(filtersDir: string, parser: string, readModule: (file: string) => Uint8Array): Uint8Array {
  const file = path.join(filtersDir, `${parser}.wasm`);
  try {
    return readModule(file);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`parser "${parser}": cannot read filter module ${file} (${reason}); run \`npm run build:filters\` or fix filters.dir`);
  }
}
