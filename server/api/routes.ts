// The REST API's route table (docs/api.md): policy import/get/delete/revision/wait, endpoints,
// identities, proxies, and node identity (node-routes.ts). Each handler turns a parsed request into a status and a JSON body using
// the policy store, the proxy status registry and the revision history. No HTTP plumbing here
// (api-server.ts) and no policy logic (server/policy, server/store).
import type { Logger } from 'pino';
import { formatProblem } from '../policy/policy-problems.ts';
import { readPolicyDocuments } from '../policy/policy-documents.ts';
import { tracePolicy } from '../policy/trace.ts';
import { workloadLayout, type IstioWorkload } from '../istio/workload-layout.ts';
import { STORE_FILE_NAME, type PolicyStore, type PolicyStoreState, type StoredFileSummary } from '../store/policy-store.ts';
import type { ProxyStatusRegistry } from '../xds/proxy-status.ts';
import type { ApiErrorBody, DeleteResultBody, ImportResultBody, TraceResultBody, WaitResultBody } from './api-types.ts';
import { endpointsView, identitiesView, policiesView, proxiesView, type RedirectLike } from './api-views.ts';
import { routeNodeRequest, type NodeApiContext } from './node-routes.ts';
import type { RevisionHistory } from './revision-history.ts';
import { waitForRevision } from './revision-wait.ts';
import { fleetProxies, fleetWait, type Fleet } from './fleet.ts';

export interface ApiContext {
  store: PolicyStore;
  status: ProxyStatusRegistry;
  history: RevisionHistory;
  logger: Logger;
  /** Node identity (CA, enrolment, revocation); without it the /v1/security and /v1/nodes routes are 404. */
  nodes?: NodeApiContext;
  /** Where a store state and the server's redirects do not fit together, as sentences (shown after an import). */
  wiring?: (state: PolicyStoreState) => readonly string[];
  /** The server's redirects, for the endpoint view. */
  redirects?: () => readonly RedirectLike[];
  /** Where the parser modules are (filters.dir): which ports a workload gets a parser on. */
  filtersDir?: string;
  /** The replicas sharing this server's store, for `?scope=fleet` (fleet.ts); absent: this server alone. */
  fleet?: Fleet;
}

export interface ApiRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: string;
  /** Aborted when the client disconnects. */
  signal: AbortSignal;
}

export interface ApiResponse {
  status: number;
  /** An object is sent as JSON; a string as text. */
  body: object | string;
  contentType?: string;
}

export const WAIT_DEFAULT_TIMEOUT_SECONDS = 30;
export const WAIT_MAX_TIMEOUT_SECONDS = 3600;

const POLICY_NAME_ROUTE = /^\/v1\/policies\/([^/]+)$/;

export async function routeRequest(request: ApiRequest, context: ApiContext): Promise<ApiResponse> {
  const route = `${request.method} ${request.path}`;
  switch (route) {
    case 'GET /v1/policies':
      return ok(policiesView(context.store.current()));
    case 'POST /v1/policies':
      return importPolicy(request, context);
    case 'GET /v1/policies/revision':
      return ok({ revision: context.store.current().revision });
    case 'GET /v1/policies/wait':
      return waitRoute(request, context);
    case 'GET /v1/policies/trace':
      return traceRoute(request, context);
    case 'GET /v1/endpoints':
      return ok(endpointsView(context.store.current(), context.redirects?.()));
    case 'GET /v1/identities':
      return ok(identitiesView(context.store.current()));
    case 'GET /v1/proxies':
      if (request.query.get('scope') === 'fleet' && context.fleet !== undefined) return asResponse(await fleetProxies(context.fleet));
      return ok(proxiesView(context.status.list(), context.history));
    case 'POST /v1/istio/layout':
      return istioLayoutRoute(request, context);
  }
  const nodeAnswer = context.nodes ? routeNodeRequest(request, context.nodes) : undefined;
  if (nodeAnswer !== undefined) return nodeAnswer;
  const named = POLICY_NAME_ROUTE.exec(request.path);
  if (named?.[1] !== undefined && (request.method === 'GET' || request.method === 'DELETE')) {
    const name = decodeURIComponent(named[1]);
    return request.method === 'GET' ? getPolicySource(name, context) : deletePolicy(name, context);
  }
  return failure(404, `no route ${request.method} ${request.path}; see docs/api.md for the routes`);
}

async function importPolicy(request: ApiRequest, context: ApiContext): Promise<ApiResponse> {
  const file = request.query.get('file') ?? fileNameFromPolicy(request.body);
  if (file === undefined) {
    return failure(400, 'cannot name the stored file: the policy has no metadata.name; pass ?file=NAME.yaml (weir policy import --name NAME)');
  }
  const result = await context.store.put(file, request.body);
  if (!result.ok) {
    const problems = result.problems.map(formatProblem);
    context.logger.warn({ file, problems }, 'policy import rejected; the previous policy stays in force');
    return { status: 400, body: { error: `policy rejected (${problems.length} problem${problems.length === 1 ? '' : 's'}); nothing was changed`, problems } satisfies ApiErrorBody };
  }
  const summary = result.state.files.find((candidate) => candidate.name === file);
  context.logger.info({ file, revision: result.state.revision }, 'policy imported');
  const warnings = context.wiring?.(result.state) ?? [];
  const body: ImportResultBody = {
    revision: result.state.revision,
    file,
    policies: (summary?.policies ?? []).map((name) => name ?? '(rule list)'),
    endpoints: [...(summary?.endpoints ?? [])],
    warnings: [...warnings],
  };
  return ok(body);
}

/** `<metadata.name>.yaml` of the first document, if it has a usable name. */
function fileNameFromPolicy(text: string): string | undefined {
  const read = readPolicyDocuments('(request)', text);
  if (!read.ok) return 'unnamed.yaml'; // let the store report the syntax errors with their lines
  const first = read.documents[0]?.value;
  if (typeof first !== 'object' || first === null || Array.isArray(first)) return undefined;
  const metadata = (first as Record<string, unknown>)['metadata'];
  const name = typeof metadata === 'object' && metadata !== null ? (metadata as Record<string, unknown>)['name'] : undefined;
  if (typeof name !== 'string') return undefined;
  const file = `${name}.yaml`;
  return STORE_FILE_NAME.test(file) ? file : undefined;
}

async function getPolicySource(name: string, context: ApiContext): Promise<ApiResponse> {
  const found = findPolicyFile(name, context.store.list());
  if ('problem' in found) return failure(found.status, found.problem);
  const text = await context.store.read(found.file.name);
  if (text === undefined) return failure(404, `policy file ${found.file.name} vanished from the store; list them with GET /v1/policies`);
  return { status: 200, body: text, contentType: 'application/yaml; charset=utf-8' };
}

async function deletePolicy(name: string, context: ApiContext): Promise<ApiResponse> {
  const found = findPolicyFile(name, context.store.list());
  if ('problem' in found) return failure(found.status, found.problem);
  const others = [...found.file.policies.filter((policy) => policy !== name), ...found.file.endpoints.map((endpoint) => `endpoint ${endpoint}`)];
  if (found.by === 'policy' && others.length > 0) {
    return failure(409, `policy "${name}" shares file ${found.file.name} with ${others.map((other) => other ?? '(rule list)').join(', ')}; delete the whole file (DELETE /v1/policies/${found.file.name}) or edit it and import it again`);
  }
  const result = await context.store.delete(found.file.name);
  if (!result.ok) {
    const problems = result.problems.map(formatProblem);
    return { status: 400, body: { error: `deleting ${found.file.name} would leave policies that do not compile; nothing was changed`, problems } satisfies ApiErrorBody };
  }
  context.logger.info({ file: found.file.name, revision: result.state.revision }, 'policy deleted');
  return ok({ revision: result.state.revision, deleted: found.file.name } satisfies DeleteResultBody);
}

type FoundFile = { file: StoredFileSummary; by: 'file' | 'policy' } | { status: number; problem: string };

/** A stored file by its name (with or without extension), or the one file holding a policy of that name. */
function findPolicyFile(name: string, files: readonly StoredFileSummary[]): FoundFile {
  const byFile = files.find((file) => file.name === name || file.name.replace(/\.(yaml|yml|json)$/, '') === name);
  if (byFile !== undefined) return { file: byFile, by: 'file' };
  const holding = files.filter((file) => file.policies.includes(name));
  const [only] = holding;
  if (holding.length === 1 && only !== undefined) return { file: only, by: 'policy' };
  if (holding.length > 1) return { status: 409, problem: `policy name "${name}" is in several files (${holding.map((file) => file.name).join(', ')}); name the file instead` };
  return { status: 404, problem: `no policy or policy file named "${name}"; list them with GET /v1/policies (weir policy get)` };
}

async function waitRoute(request: ApiRequest, context: ApiContext): Promise<ApiResponse> {
  const revision = request.query.get('revision') ?? context.store.current().revision;
  const timeoutText = request.query.get('timeout');
  const timeoutSeconds = timeoutText === null ? WAIT_DEFAULT_TIMEOUT_SECONDS : Number(timeoutText);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 0 || timeoutSeconds > WAIT_MAX_TIMEOUT_SECONDS) {
    return failure(400, `timeout=${timeoutText ?? ''}: expected seconds between 0 and ${WAIT_MAX_TIMEOUT_SECONDS}`);
  }
  const nodeIds = request.query.getAll('node');
  const policyOnly = request.query.get('policyOnly') === 'true';
  if (request.query.get('scope') === 'fleet' && context.fleet !== undefined) {
    return asResponse(await fleetWait(context.fleet, { revision, timeoutMs: timeoutSeconds * 1000, nodeIds, policyOnly, signal: request.signal }));
  }
  const outcome = await waitForRevision({ revision, timeoutMs: timeoutSeconds * 1000, nodeIds, policyOnly, status: context.status, history: context.history, signal: request.signal });
  switch (outcome.kind) {
    case 'enforced':
      return ok({ revision: outcome.revision, proxies: outcome.proxies } satisfies WaitResultBody);
    case 'unknown-revision':
      return failure(404, `revision ${revision} was never put in force by this server (current: ${outcome.current ?? 'none'}); pass a revision from weir policy import or omit it`);
    case 'rejected':
      return failure(409, `proxy ${outcome.nodeId} rejected ${outcome.typeUrl} version ${outcome.version} (revision ${revision} or later): ${outcome.message}; the previous policy stays in force there`);
    case 'timeout': {
      const behind = [
        ...outcome.behind.map((proxy) => `${proxy.nodeId} (enforces ${proxy.enforcedRevision ?? 'no revision yet'}${proxy.envoyConfigPending ? '; its Envoy has not ACKed its listeners and clusters from this server' : ''})`),
        ...outcome.absent.map((nodeId) => `${nodeId} (its Weir agent is not connected)`),
      ];
      return failure(504, `timed out after ${timeoutSeconds} s waiting for revision ${revision} on ${behind.join(', ')}`);
    }
  }
}

function traceRoute(request: ApiRequest, context: ApiContext): ApiResponse {
  const source = request.query.get('src');
  const destination = request.query.get('dst');
  const portText = request.query.get('dport');
  if (source === null || destination === null || portText === null) return failure(400, 'trace needs src, dst and dport, e.g. ?src=fleet-monitor&dst=memcached-server&dport=11211');
  const direction = request.query.get('direction') ?? 'ingress';
  if (direction !== 'ingress' && direction !== 'egress') return failure(400, `direction=${direction}: use ingress or egress`);
  const protocol = request.query.get('protocol') ?? 'TCP';
  if (protocol !== 'TCP' && protocol !== 'UDP') return failure(400, `protocol=${protocol}: use TCP or UDP`);
  const l7 = request.query.get('l7');
  const state = context.store.current();
  const outcome = tracePolicy(state.policySet, state.endpoints, { source, destination, port: Number(portText), direction, protocol, ...(l7 === null ? {} : { l7 }) });
  if (!outcome.ok) return failure(400, outcome.problem);
  return ok({ revision: state.revision, ...outcome.trace } satisfies TraceResultBody);
}

function asResponse(answer: { status: number; body: unknown }): ApiResponse {
  return { status: answer.status, body: typeof answer.body === 'object' && answer.body !== null ? answer.body : { error: String(answer.body) } };
}

function ok(body: object): ApiResponse {
  return { status: 200, body };
}

function failure(status: number, error: string): ApiResponse {
  return { status, body: { error } satisfies ApiErrorBody };
}

/** `POST /v1/istio/layout` with an Istio workload: the parsers its sidecar runs, per port and direction. */
function istioLayoutRoute(request: ApiRequest, context: ApiContext): ApiResponse {
  if (context.filtersDir === undefined) return failure(500, 'this server has no filters.dir; it cannot tell which parsers exist');
  let workload: IstioWorkload;
  try {
    workload = JSON.parse(request.body) as IstioWorkload;
  } catch {
    return failure(400, 'the body must be JSON: {"name": "memcd-server", "namespace": "default", "labels": {"app": "memcd-server"}, "serviceAccount": "memcd"}');
  }
  if (typeof workload !== 'object' || workload === null || typeof workload.name !== 'string' || typeof workload.namespace !== 'string' || typeof workload.labels !== 'object' || workload.labels === null) {
    return failure(400, 'the workload needs name, namespace and labels (a map), and optionally serviceAccount');
  }
  const result = workloadLayout(context.store.current(), context.store.compileSettings(), workload, context.filtersDir);
  if (!result.ok) return { status: 400, body: { error: `workload ${workload.namespace}/${workload.name} rejected`, problems: [...result.problems] } satisfies ApiErrorBody };
  return ok(result.layout);
}
