// Turns per-node redirects (listen here, parse with this parser, forward there) into the listeners
// and clusters of a snapshot: listener `weir-<name>` runs the parser's Wasm filter then tcp_proxy to
// cluster `weir-<name>-backend`. Reads each parser module once from the filters directory.
import fs from 'node:fs';
import path from 'node:path';
import { Snapshot } from './snapshot.ts';
import { buildStaticCluster, type SocketAddressSpec } from './resources/cluster.ts';
import { buildRedirectListener } from './resources/listener.ts';
import { buildParserFilterConfig } from './resources/wasm-filter.ts';
import type { EncodedResource } from './resources/encoded-resource.ts';

export interface RedirectSpec {
  name: string;
  listen: SocketAddressSpec;
  parser: string;
  upstream: SocketAddressSpec;
  /** Per-connection buffer cap handed to the parser. Default 1 MiB. */
  maxBufferBytes?: number;
}

export interface RedirectSnapshotOptions {
  redirects: readonly RedirectSpec[];
  /** Directory holding `<parser>.wasm`. */
  filtersDir: string;
  /** Reads a module file; tests may substitute. Default: fs.readFileSync. */
  readModule?: (file: string) => Uint8Array;
}

export function listenerNameOf(redirectName: string): string {
  return `weir-${redirectName}`;
}

export function clusterNameOf(redirectName: string): string {
  return `weir-${redirectName}-backend`;
}

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
    resources.push(buildStaticCluster({ name: cluster, endpoints: [redirect.upstream] }));
    const parserFilter = buildParserFilterConfig({
      redirectName: redirect.name,
      parser: redirect.parser,
      moduleBytes: moduleFor(redirect.parser),
      ...(redirect.maxBufferBytes !== undefined ? { maxBufferBytes: redirect.maxBufferBytes } : {}),
    });
    resources.push(
      buildRedirectListener({ name: listenerNameOf(redirect.name), listen: redirect.listen, parserFilter, upstreamCluster: cluster }),
    );
  }
  return new Snapshot(resources);
}

function readParserModule(filtersDir: string, parser: string, readModule: (file: string) => Uint8Array): Uint8Array {
  const file = path.join(filtersDir, `${parser}.wasm`);
  try {
    return readModule(file);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`parser "${parser}": cannot read filter module ${file} (${reason}); run \`npm run build:filters\` or fix filters.dir`);
  }
}
