// Waiting, in process, until a proxy's Weir agent enforces what `weir serve` serves: what
// `weir policy wait --node ID` does over the API (server/api/revision-wait.ts). Until then the
// proxy denies (fail closed): first for want of a policy, then, between the ACKs of
// weir.NetworkPolicy and weir.IdentityMap, because it cannot resolve remote identities yet.
import type { RunningServe } from '../../server/cli/serve-command.ts';
import { waitForRevision } from '../../server/api/revision-wait.ts';

/** Resolves once the agent of `nodeId` enforces the revision in force. */
export async function waitForAgentEnforcing(serve: RunningServe, nodeId: string, context?: () => string, timeoutMs = 20_000): Promise<void> {
  const revision = serve.store.current().revision;
  const outcome = await waitForRevision({ revision, nodeIds: [nodeId], timeoutMs, status: serve.controlServer.status, history: serve.history });
  if (outcome.kind === 'enforced') return;
  throw new Error(`the Weir agent of ${nodeId} did not enforce revision ${revision}: ${JSON.stringify(outcome)}${context === undefined ? '' : `\n${context().slice(-4000)}`}`);
}
