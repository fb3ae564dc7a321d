// `weir istio manifests` and `weir istio image`: Weir's parsers inside the sidecars Istio injects
// (docs/istio.md). `manifests` asks `weir serve` which ports of a workload get which parser under
// the policy in force (POST /v1/istio/layout) and prints the WasmPlugins (or TrafficExtensions),
// the bootstrapOverride ConfigMap with the Weir agent, and the pod annotations; `image` writes a
// parser module as an OCI image layout in Istio's Wasm image format, for `oci://` URLs.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  istioManifestsYaml,
  moduleReference,
  renderIstioManifests,
  type IstioExtensionApi,
  type IstioFailStrategy,
  type ModuleReference,
  type SidecarMounts,
} from '../istio/istio-manifests.ts';
import { buildWasmImage, writeWasmImageLayout } from '../istio/wasm-image.ts';
import type { IstioWorkload, WorkloadLayout } from '../istio/workload-layout.ts';
import type { ApiErrorBody } from '../api/api-types.ts';
import { callApi, jsonOf, type ApiTarget } from './api-client.ts';
import { CommandFailure, EXIT_CODES } from './command-failure.ts';

/** The repository's build of the filters, where `npm run build:filters` writes them. */
export const DEFAULT_FILTERS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'build', 'filters');

export interface IstioManifestsCommand {
  readonly target: ApiTarget;
  readonly workload: IstioWorkload;
  /** `{parser}` is replaced by each parser's name. */
  readonly moduleUrl: string;
  readonly weirServe: { address: string; port: number };
  readonly api: IstioExtensionApi;
  readonly failStrategy: IstioFailStrategy;
  /** Where the modules (and agent.wasm) are read from, for checksums and the ConfigMap. */
  readonly filtersDir: string;
  /** Where the sidecar sees the override ConfigMap and the credentials Secret. */
  readonly mounts: SidecarMounts;
  /** Plaintext to a `weir serve --insecure`: no credentials Secret. */
  readonly insecure: boolean;
  /** Trust domains whose SPIFFE IDs name inbound mTLS peers. */
  readonly trustDomains: readonly string[];
}

export async function istioManifests(command: IstioManifestsCommand): Promise<string> {
  const reply = await callApi(command.target, { method: 'POST', path: '/v1/istio/layout', body: JSON.stringify(command.workload) });
  const body = jsonOf<WorkloadLayout>(reply);
  if (reply.status !== 200 || 'error' in body) {
    const failure = body as ApiErrorBody;
    throw new CommandFailure(`${failure.error}${failure.problems === undefined ? '' : `:\n  ${failure.problems.join('\n  ')}`}`, EXIT_CODES.failed);
  }
  const layout = body;
  const modules = new Map<string, ModuleReference>();
  for (const { parser } of [...layout.inbound, ...layout.outbound]) {
    if (!modules.has(parser)) modules.set(parser, moduleReference(command.moduleUrl, parser, readModule(command.filtersDir, parser)));
  }
  const options = {
    workload: command.workload,
    layout,
    modules,
    api: command.api,
    failStrategy: command.failStrategy,
    weirServe: command.weirServe,
    agentWasm: readModule(command.filtersDir, 'agent'),
    mounts: command.mounts,
    insecure: command.insecure,
    trustDomains: command.trustDomains,
  };
  return istioManifestsYaml(renderIstioManifests(options), options).trimEnd();
}

export interface IstioImageCommand {
  readonly parser: string;
  readonly outDir: string;
  readonly tag: string;
  readonly filtersDir: string;
}

/** Writes the layout; returns what to print: where, the tag, and the digest for the WasmPlugin's sha256. */
export function istioImage(command: IstioImageCommand): string {
  const image = buildWasmImage(readModule(command.filtersDir, command.parser));
  writeWasmImageLayout(command.outDir, image, command.tag);
  return [
    `OCI image layout of ${command.parser}.wasm written to ${command.outDir} (tag ${command.tag})`,
    `manifest digest ${image.manifest.digest}: a WasmPlugin with an oci:// URL of this image takes sha256: ${image.manifestSha256}`,
    `push it, e.g.: skopeo copy oci:${command.outDir}:${command.tag} docker://REGISTRY/weir/${command.parser}:${command.tag}`,
  ].join('\n');
}

function readModule(filtersDir: string, name: string): Uint8Array {
  const file = path.join(filtersDir, `${name}.wasm`);
  try {
    return fs.readFileSync(file);
  } catch (error) {
    throw new CommandFailure(`cannot read ${file} (${error instanceof Error ? error.message : String(error)}); build the filters (npm run build:filters) or pass --filters-dir DIR`, EXIT_CODES.failed);
  }
}
