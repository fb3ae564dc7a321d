// One view of the fleet, as Hubble Relay gives one view of the flows: when several `weir serve`
// replicas share a store, the replica a CLI talks to answers `?scope=fleet` requests for all of
// them. It finds the replicas through the shared store (Fleet.members()), asks each one's REST API
// for its local answer, and merges: proxies gain a `replica` field; a wait succeeds when every
// replica's proxies enforce the revision and each named proxy is connected to some replica and
// enforces it there. A replica that cannot be reached is reported by name, never silently skipped.
import type { ApiErrorBody, ProxiesView, ProxyView, WaitResultBody } from './api-types.ts';

export interface FleetMember {
  /** The replica's node name. */
  readonly name: string;
  /** GET a path of this replica's REST API (for the replica answering: its own routes). */
  get(pathAndQuery: string, timeoutMs: number): Promise<{ status: number; body: unknown }>;
}

export interface Fleet {
  members(): Promise<readonly FleetMember[]>;
}

export interface FleetAnswer {
  status: number;
  body: unknown;
}

/** GET /v1/proxies?scope=fleet */
export async function fleetProxies(fleet: Fleet): Promise<FleetAnswer> {
  const members = await fleet.members();
  const answers = await Promise.all(members.map(async (member) => ({ member, answer: await member.get('/v1/proxies', 10_000).catch((error: unknown) => errorAnswer(error)) })));
  const proxies: ProxyView[] = [];
  const unreachable: string[] = [];
  for (const { member, answer } of answers) {
    if (answer.status !== 200) {
      unreachable.push(`${member.name}: ${errorText(answer.body)}`);
      continue;
    }
    for (const proxy of (answer.body as ProxiesView).proxies) proxies.push({ ...proxy, replica: member.name });
  }
  return { status: 200, body: { proxies, replicas: members.map((member) => member.name), unreachable } satisfies ProxiesView };
}

export interface FleetWaitOptions {
  revision: string;
  timeoutMs: number;
  nodeIds: readonly string[];
  policyOnly: boolean;
  signal?: AbortSignal;
}

/** GET /v1/policies/wait?scope=fleet: every replica's proxies, and every named proxy wherever it is connected. */
export async function fleetWait(fleet: Fleet, options: FleetWaitOptions): Promise<FleetAnswer> {
  const deadline = Date.now() + options.timeoutMs;
  let lastProblem = '';
  while (!options.signal?.aborted) {
    const remainingMs = deadline - Date.now();
    if (remainingMs <= 0) break;
    const members = await fleet.members();
    const located = await locate(members, options.nodeIds);
    const missing = options.nodeIds.filter((nodeId) => !located.has(nodeId));
    if (missing.length === 0) {
      const answers = await Promise.all(
        members.map(async (member) => {
          const query = new URLSearchParams({ revision: options.revision, timeout: String(Math.max(0, Math.floor((deadline - Date.now()) / 1000))) });
          for (const nodeId of options.nodeIds) if (located.get(nodeId) === member.name) query.append('node', nodeId);
          if (options.policyOnly) query.set('policyOnly', 'true');
          return { member, answer: await member.get(`/v1/policies/wait?${query.toString()}`, deadline - Date.now() + 10_000).catch((error: unknown) => errorAnswer(error)) };
        }),
      );
      const failed = answers.find(({ answer }) => answer.status !== 200 && answer.status !== 404);
      if (failed !== undefined) return { status: failed.answer.status, body: { error: `replica ${failed.member.name}: ${errorText(failed.answer.body)}` } satisfies ApiErrorBody };
      const lagging = answers.filter(({ answer }) => answer.status === 404);
      if (lagging.length === 0) {
        const proxies = answers.flatMap(({ member, answer }) => (answer.body as WaitResultBody).proxies.map((proxy) => ({ ...proxy, replica: member.name })));
        return { status: 200, body: { revision: options.revision, proxies } };
      }
      // A replica that has not published the revision yet follows the shared store shortly.
      lastProblem = lagging.map(({ member, answer }) => `${member.name}: ${errorText(answer.body)}`).join('; ');
    } else {
      lastProblem = `${missing.join(', ')} not connected to any replica (${members.map((member) => member.name).join(', ')})`;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(200, Math.max(1, deadline - Date.now()))));
  }
  return { status: 504, body: { error: `timed out after ${options.timeoutMs / 1000} s waiting for revision ${options.revision} across the fleet: ${lastProblem}` } satisfies ApiErrorBody };
}

/** Which replica each named proxy is connected to now. */
async function locate(members: readonly FleetMember[], nodeIds: readonly string[]): Promise<Map<string, string>> {
  const located = new Map<string, string>();
  if (nodeIds.length === 0) return located;
  await Promise.all(
    members.map(async (member) => {
      const answer = await member.get('/v1/proxies', 10_000).catch((error: unknown) => errorAnswer(error));
      if (answer.status !== 200) return;
      for (const proxy of (answer.body as ProxiesView).proxies) if (proxy.connected && proxy.policyAgent && nodeIds.includes(proxy.nodeId)) located.set(proxy.nodeId, member.name);
    }),
  );
  return located;
}

function errorAnswer(error: unknown): { status: number; body: unknown } {
  return { status: 503, body: { error: `not reachable (${error instanceof Error ? error.message : String(error)})` } };
}

function errorText(body: unknown): string {
  return typeof body === 'object' && body !== null && 'error' in body ? String((body as { error: unknown }).error) : JSON.stringify(body);
}
