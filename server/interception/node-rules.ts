// The per-node proxy's capture rules (`weir node iptables`), for the namespace that routes between
// workloads (a host, or a test's node namespace): every TCP packet to or from a workload CIDR that
// is not addressed to the node itself goes to Envoy's transparent listener with TPROXY, so the
// client's address is kept (identities work by IP) and Envoy's own upstream connections, which
// leave from the client's address (original_src), get their replies back. Chains are named WEIR_*,
// so they never mix with a sidecar's ISTIO_* chains. With Envoy down the marked packets are
// delivered to a port nothing listens on: the client gets a reset, never a route around the proxy.
import type { OwnedRuleSet } from './capture-apply.ts';
import type { CaptureRule } from './capture-rules.ts';

export const NODE_CHAIN = 'WEIR_NODE';

export interface NodeCaptureOptions {
  /** The port of the node Envoy's transparent listener (weir bootstrap --mode node --listener-port). */
  port: number;
  /** The workloads' address ranges: connections from or to them are captured. */
  workloadCidrs: readonly string[];
  mark: string;
  table: string;
}

export const NODE_CAPTURE_DEFAULTS = { mark: '1337', table: '133' } as const;

export function buildNodeRules(options: NodeCaptureOptions): OwnedRuleSet {
  const rule = (chain: string, ...params: string[]): CaptureRule => ({ table: 'mangle', chain, params: ['-A', chain, ...params] });
  const tproxy = ['-j', 'TPROXY', '--on-port', String(options.port), '--tproxy-mark', `${options.mark}/0xffffffff`];
  const rules: CaptureRule[] = [
    rule('PREROUTING', '-p', 'tcp', '-j', NODE_CHAIN),
    // Connections to the node itself (its xDS server, its admin) are not workload traffic.
    rule(NODE_CHAIN, '-m', 'addrtype', '--dst-type', 'LOCAL', '-j', 'RETURN'),
    ...options.workloadCidrs.flatMap((cidr) => [rule(NODE_CHAIN, '-p', 'tcp', '-s', cidr, ...tproxy), rule(NODE_CHAIN, '-p', 'tcp', '-d', cidr, ...tproxy)]),
  ];
  return { chainPrefix: 'WEIR_', ipv4: rules, ipv6: [], families: ['ipv4'], policyRoute: { mark: options.mark, table: options.table } };
}
