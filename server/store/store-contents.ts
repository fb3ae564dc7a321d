// Turns the files of a store (name -> YAML/JSON text) into one compiled state, all or nothing:
// policy documents are validated, `kind: Endpoint` documents become endpoints, and the whole set
// is compiled, together with the endpoints sidecars announce, in one compile: what a change is
// checked against is what is enforced. Any problem in any file rejects the whole set. Knows nothing
// of directories or etcd.
import type { Logger } from 'pino';
import { endpointFromSpec, validateEndpointSpec, type Endpoint, type EndpointSpec } from '../identity/endpoints.ts';
import { sidecarEndpointSource, type SidecarEndpoint, type SidecarEndpointRegistry } from '../identity/sidecar-endpoints.ts';
import type { CompiledPolicySet } from '../policy/compiled-policy.ts';
import { compilePolicies } from '../policy/compile.ts';
import type { IdentityAllocators } from '../policy/identity-universe.ts';
import type { L7RuleRegistry } from '../policy/l7-rule-keys.ts';
import { readPolicyDocuments, type RawPolicyDocument } from '../policy/policy-documents.ts';
import type { EnforcementMode, PolicyRule } from '../policy/policy-model.ts';
import { ProblemList, type PolicyProblem } from '../policy/policy-problems.ts';
import { serializePolicySet } from '../policy/serialize.ts';
import { validatePolicyDocuments } from '../policy/validate-policy.ts';

export const ENDPOINT_API_VERSION = 'weir.dev/v1';
export const ENDPOINT_KIND = 'Endpoint';

export interface StoredFileSummary {
  readonly name: string;
  /** metadata.name of each policy in the file (undefined entries are plain rule lists). */
  readonly policies: ReadonlyArray<string | undefined>;
  readonly endpoints: readonly string[];
}

export interface PolicyStoreState {
  /** Content hash of the compiled set (serialize.ts); changes whenever enforcement would. */
  readonly revision: string;
  readonly files: readonly StoredFileSummary[];
  readonly rules: readonly PolicyRule[];
  readonly endpoints: readonly Endpoint[];
  readonly policySet: CompiledPolicySet;
  /** Endpoint name -> `sidecar:<node id>` for endpoints from sidecar node metadata; others come from the store. */
  readonly endpointSources?: ReadonlyMap<string, string>;
}

export interface CompileStoreOptions {
  readonly enforcementMode: EnforcementMode;
  readonly registry?: L7RuleRegistry;
  readonly allocators: IdentityAllocators;
  /** Endpoints from outside the files (Pods, leased etcd keys), compiled beside the files' own. */
  readonly endpoints?: readonly Endpoint[];
  /**
   * Endpoints sidecars announce in their node metadata, compiled with everything else. A name the
   * files or `endpoints` (or an earlier sidecar, by node id) already use stays with its owner; the
   * sidecar's endpoint is left out and listed in the result's `sidecarsLeftOut`.
   */
  readonly sidecarEndpoints?: readonly SidecarEndpoint[];
}

/** A sidecar endpoint left out because its name was taken. */
export interface SidecarLeftOut {
  readonly nodeId: string;
  readonly endpoint: string;
  /** `store`, or `sidecar:<node id>` of the sidecar that has the name. */
  readonly keptFrom: string;
}

export type CompileStoreResult =
  | { ok: true; state: PolicyStoreState; sidecarsLeftOut: readonly SidecarLeftOut[] }
  | { ok: false; problems: PolicyProblem[] };

/** Where a store gets sidecar endpoints from: serve's registry of connected sidecars. */
export type SidecarEndpointFeed = Pick<SidecarEndpointRegistry, 'list' | 'watch'>;

export function compileStoreFiles(files: ReadonlyMap<string, string>, options: CompileStoreOptions): CompileStoreResult {
  const problems: PolicyProblem[] = [];
  const rules: PolicyRule[] = [];
  const endpoints: Endpoint[] = [];
  const summaries: StoredFileSummary[] = [];
  endpoints.push(...(options.endpoints ?? []));
  for (const name of [...files.keys()].sort()) {
    const read = readPolicyDocuments(name, files.get(name) ?? '');
    if (!read.ok) {
      problems.push(...read.problems);
      continue;
    }
    const endpointDocuments = read.documents.filter(isEndpointDocument);
    const fileEndpoints = endpointDocuments.map((document) => readEndpoint(name, document, problems)).filter((e): e is Endpoint => e !== undefined);
    const policyDocuments = read.documents.filter((document) => !isEndpointDocument(document));
    const validated = policyDocuments.length === 0 ? { ok: true as const, policies: [] } : validatePolicyDocuments(name, policyDocuments, options.registry);
    if (!validated.ok) problems.push(...validated.problems);
    else rules.push(...validated.policies.flatMap((policy) => policy.rules));
    endpoints.push(...fileEndpoints);
    summaries.push({ name, policies: validated.ok ? validated.policies.map((p) => p.name) : [], endpoints: fileEndpoints.map((e) => e.name) });
  }
  checkUniqueEndpointNames(endpoints, problems);
  if (problems.length > 0) return { ok: false, problems };
  const { added, endpointSources, sidecarsLeftOut } = sidecarEndpointsBeside(endpoints, options.sidecarEndpoints ?? []);
  endpoints.push(...added);
  const compiled = compilePolicies({ rules, endpoints, enforcementMode: options.enforcementMode, allocators: options.allocators });
  if (!compiled.ok) return compiled;
  const revision = serializePolicySet(compiled.policySet).revision;
  const state = { revision, files: summaries, rules, endpoints, policySet: compiled.policySet, ...(endpointSources.size > 0 ? { endpointSources } : {}) };
  return { ok: true, state, sidecarsLeftOut };
}

function sidecarEndpointsBeside(
  endpoints: readonly Endpoint[],
  sidecars: readonly SidecarEndpoint[],
): { added: Endpoint[]; endpointSources: Map<string, string>; sidecarsLeftOut: SidecarLeftOut[] } {
  const taken = new Map(endpoints.map((endpoint) => [endpoint.name, 'store']));
  const added: Endpoint[] = [];
  const endpointSources = new Map<string, string>();
  const sidecarsLeftOut: SidecarLeftOut[] = [];
  for (const sidecar of sidecars) {
    const owner = taken.get(sidecar.endpoint.name);
    if (owner !== undefined) {
      sidecarsLeftOut.push({ nodeId: sidecar.nodeId, endpoint: sidecar.endpoint.name, keptFrom: owner });
      continue;
    }
    const source = sidecarEndpointSource(sidecar.nodeId);
    taken.set(sidecar.endpoint.name, source);
    endpointSources.set(sidecar.endpoint.name, source);
    added.push(sidecar.endpoint);
  }
  return { added, endpointSources, sidecarsLeftOut };
}

/** Logs each sidecar endpoint left out for its name, once per (node, name, owner). */
export class SidecarClashLog {
  readonly #warned = new Set<string>();

  constructor(private readonly logger: Logger | undefined) {}

  report(leftOut: readonly SidecarLeftOut[]): void {
    for (const { nodeId, endpoint, keptFrom } of leftOut) {
      const key = `${nodeId}\u0000${endpoint}\u0000${keptFrom}`;
      if (this.#warned.has(key)) continue;
      this.#warned.add(key);
      this.logger?.warn(
        { nodeId, endpoint, keptFrom },
        'sidecar announces an endpoint name that is already defined; the existing definition wins. Give the sidecar another --endpoint-name or remove the Endpoint document',
      );
    }
  }
}

export function emptyStoreState(options: CompileStoreOptions): PolicyStoreState {
  const result = compileStoreFiles(new Map(), options);
  if (!result.ok) throw new Error('unreachable: an empty store always compiles');
  return result.state;
}

function isEndpointDocument(document: RawPolicyDocument): boolean {
  const value = document.value;
  return typeof value === 'object' && value !== null && !Array.isArray(value) && (value as Record<string, unknown>)['kind'] === ENDPOINT_KIND;
}

/** `apiVersion: weir.dev/v1, kind: Endpoint, metadata: {name, namespace}, spec: {labels, serviceAccount, ips}`. */
function readEndpoint(file: string, document: RawPolicyDocument, problems: PolicyProblem[]): Endpoint | undefined {
  const list = new ProblemList(file, document.document);
  const value = document.value as Record<string, unknown>;
  if (value['apiVersion'] !== ENDPOINT_API_VERSION) list.add('apiVersion', `an ${ENDPOINT_KIND} needs apiVersion ${ENDPOINT_API_VERSION}`);
  const metadata = (typeof value['metadata'] === 'object' && value['metadata'] !== null ? value['metadata'] : {}) as Record<string, unknown>;
  const spec = (typeof value['spec'] === 'object' && value['spec'] !== null ? value['spec'] : {}) as Record<string, unknown>;
  const endpointSpec = {
    name: metadata['name'],
    namespace: metadata['namespace'],
    serviceAccount: spec['serviceAccount'],
    labels: spec['labels'],
    ips: spec['ips'],
  } as EndpointSpec;
  for (const { field, reason } of validateEndpointSpec(endpointSpec)) {
    list.add(field === 'name' || field === 'namespace' ? `metadata.${field}` : `spec.${field}`, reason);
  }
  problems.push(...list.problems);
  return list.count === 0 ? endpointFromSpec(endpointSpec) : undefined;
}

function checkUniqueEndpointNames(endpoints: readonly Endpoint[], problems: PolicyProblem[]): void {
  const seen = new Set<string>();
  for (const endpoint of endpoints) {
    if (seen.has(endpoint.name)) problems.push({ file: '(store)', path: '', message: `endpoint "${endpoint.name}" is defined twice; endpoint names must be unique` });
    seen.add(endpoint.name);
  }
}
