// One view of the fleet, as Hubble Relay gives one view of the flows: when several `weir serve`
// replicas share a store, the replica a CLI talks to answers `?scope=fleet` requests for all of
// them. It finds the replicas through the shared store (Fleet.members()), asks each one's REST API
// for its local answer, and merges: proxies gain a `replica` field; a wait succeeds when every
// replica's proxies enforce the revision and each named proxy is connected to some replica and
// enforces it there (its Envoy's own stream may be at another replica: then its config is checked
// there). A replica that cannot be reached is reported by name, never silently skipped.
import type { ApiErrorBody, ProxiesView, ProxyView, WaitResultBody } from './api-types.ts';
import { ENVOY_CONFIG_TYPES, holdsWhatWasSent } from './revision-wait.ts';

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
    const { located, split } = await locate(members, options.nodeIds);
    const missing = options.nodeIds.filter((nodeId) => !located.has(nodeId));
    const unsettled = [...split].filter(([, envoy]) => !envoy.settled);
    if (missing.length === 0 && unsettled.length > 0) {
      lastProblem = unsettled.map(([nodeId, envoy]) => `${nodeId}: its Envoy has not ACKed its listeners and clusters from ${envoy.replica}, where its own xDS stream is`).join('; ');
    } else if (missing.length === 0) {
      // A proxy whose agent and Envoy streams went to different replicas (each reconnects on its
      // own) is asked of its agent's replica for the policy only; its Envoy config was checked above.
      const asks = members.flatMap((member) =>
        [false, true].map((forSplit) => ({ member, forSplit, nodeIds: options.nodeIds.filter((nodeId) => located.get(nodeId) === member.name && split.has(nodeId) === forSplit) })),
      ).filter((ask) => !ask.forSplit || ask.nodeIds.length > 0);
      const answers = await Promise.all(
        asks.map(async ({ member, forSplit, nodeIds }) => {
          const query = new URLSearchParams({ revision: options.revision, timeout: String(Math.max(0, Math.floor((deadline - Date.now()) / 1000))) });
          for (const nodeId of nodeIds) query.append('node', nodeId);
          if (options.policyOnly || forSplit) query.set('policyOnly', 'true');
          return { member, answer: await member.get(`/v1/policies/wait?${query.toString()}`, deadline - Date.now() + 10_000).catch((error: unknown) => errorAnswer(error)) };
        }),
      );
      const failed = answers.find(({ answer }) => answer.status !== 200 && answer.status !== 404 && !('unreachable' in answer));
      if (failed !== undefined) return { status: failed.answer.status, body: { error: `replica ${failed.member.name}: ${errorText(failed.answer.body)}` } satisfies ApiErrorBody };
      // Not published yet (404: it follows the shared store shortly), or not reachable (a replica
      // that died stays listed until its lease expires, 10 s): asked again until the deadline.
      const lagging = answers.filter(({ answer }) => answer.status !== 200);
      if (lagging.length === 0) {
        const seen = new Set<string>();
        const proxies = answers
          .flatMap(({ member, answer }) => (answer.body as WaitResultBody).proxies.map((proxy) => ({ ...proxy, replica: member.name })))
          .filter((proxy) => !seen.has(`${proxy.replica}/${proxy.nodeId}`) && seen.add(`${proxy.replica}/${proxy.nodeId}`));
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

/**
 * Which replica each named proxy's agent is connected to now, and, for a proxy whose Envoy has its
 * own xDS stream (listeners, clusters) at another replica, where that is and whether its Envoy
 * holds the config that replica last sent.
 */
async function locate(members: readonly FleetMember[], nodeIds: readonly string[]): Promise<{ located: Map<string, string>; split: Map<string, { replica: string; settled: boolean }> }> {
  const located = new Map<string, string>();
  const envoyAt = new Map<string, { replica: string; settled: boolean }>();
  if (nodeIds.length === 0) return { located, split: new Map() };
  await Promise.all(
    members.map(async (member) => {
      const answer = await member.get('/v1/proxies', 10_000).catch((error: unknown) => errorAnswer(error));
      if (answer.status !== 200) return;
      for (const proxy of (answer.body as ProxiesView).proxies) {
        if (!proxy.connected || !nodeIds.includes(proxy.nodeId)) continue;
        if (proxy.policyAgent) located.set(proxy.nodeId, member.name);
        else if (proxy.types.some((type) => ENVOY_CONFIG_TYPES.has(type.typeUrl))) envoyAt.set(proxy.nodeId, { replica: member.name, settled: envoyConfigSettled(proxy) });
      }
    }),
  );
  const split = new Map([...envoyAt].filter(([nodeId, envoy]) => located.has(nodeId) && located.get(nodeId) !== envoy.replica));
  return { located, split };
}

/** Listeners and clusters present, and every type held at the version last sent (as revision-wait.ts asks of one replica). */
function envoyConfigSettled(proxy: ProxyView): boolean {
  if (![...ENVOY_CONFIG_TYPES].every((typeUrl) => proxy.types.some((type) => type.typeUrl === typeUrl))) return false;
  return proxy.types.every(holdsWhatWasSent);
}

/** The answer made here for a replica that could not be asked. */
function errorAnswer(error: unknown): { status: number; body: unknown; unreachable: true } {
  return { status: 503, body: { error: `not reachable (${error instanceof Error ? error.message : String(error)})` }, unreachable: true };
}

function errorText(body: unknown): string {
  return typeof body === 'object' && body !== null && 'error' in body ? String((body as { error: unknown }).error) : JSON.stringify(body);
}
