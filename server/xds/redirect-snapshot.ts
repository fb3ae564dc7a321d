// Turns per-node redirects (listen here, parse with this parser, forward there) into the listeners,
// clusters (endpoints inline or over EDS) and extension configs of a snapshot: listener `weir-<name>` runs the parser's Wasm
// filter then tcp_proxy to cluster `weir-<name>-backend`. The Wasm filter travels over ECDS as
// `weir.<name>` (default) or inline in the listener. A redirect that guards an endpoint gets a
// filter that decides with the policy the Weir agent publishes (vm_id `weir`, "policy":"agent");
// the policy resources themselves are built elsewhere and only added here. A redirect with parser
// `http` gets Envoy's HTTP connection manager instead, with Weir's HTTP Wasm filter (http.wasm)
// before the router, and a cluster that speaks the downstream's HTTP version (resources/http-listener.ts).
// Reads each parser module once.
import fs from 'node:fs';
import path from 'node:path';
import { Snapshot } from './snapshot.ts';
import { buildEdsCluster, buildStaticCluster, type SocketAddressSpec } from './resources/cluster.ts';
import { buildLoadAssignment } from './resources/endpoint.ts';
import { buildRedirectListener, type ParserFilterDelivery } from './resources/listener.ts';
import { buildHttpRedirectListener, HTTP_WASM_TYPE_URL } from './resources/http-listener.ts';
import { buildExtensionConfig } from './resources/extension-config.ts';
import { buildAgentPolicyFilterConfig, buildParserFilterConfig, DEFAULT_MAX_BUFFER_BYTES, type AgentPolicyPluginConfiguration } from './resources/wasm-filter.ts';
import type { EncodedResource } from './resources/encoded-resource.ts';

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

export type FilterDelivery = 'ecds' | 'inline';
export type EndpointDelivery = 'inline' | 'eds';

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
