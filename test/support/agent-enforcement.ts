// Waiting until a proxy's Weir agent enforces what `weir serve` serves: it ACKed the versions of
// weir.NetworkPolicy and weir.IdentityMap that carry the latest revision. Until then the proxy
// denies (fail closed): first for want of a policy, then, between the two ACKs, because the policy
// names identities the proxy cannot resolve yet. Traffic that must be allowed waits for this.
import type { RunningServe } from '../../server/cli/serve-command.ts';
import { waitFor } from '../filters/envoy-harness.ts';

/** Resolves with the revision the agent of `nodeId` enforces once it is the latest one. */
export async function waitForAgentEnforcing(serve: RunningServe, nodeId: string, context?: () => string, timeoutMs = 20_000): Promise<string> {
  return waitFor(
    () => {
      const proxy = serve.controlServer.status.get(nodeId);
      const latest = serve.history.latest()?.revision;
      return proxy !== undefined && latest !== undefined && serve.history.enforcedBy(proxy)?.revision === latest ? latest : undefined;
    },
    timeoutMs,
    `the Weir agent of ${nodeId} to ACK the policy and identities of the latest revision`,
    context,
  );
}
