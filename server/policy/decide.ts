// The reference matcher: what compiled policy means for one connection or request. Filters must
// reach the same verdicts (their tests compare against this); it is never on the data path.
import type { CompiledDirectionPolicy, CompiledEndpointPolicy, CompiledL7RuleSet, CompiledPortRule } from './compiled-policy.ts';
import { defaultL7RuleRegistry, type L7Request, type L7RuleRegistry } from './l7-rule-keys.ts';
import type { Direction } from './policy-model.ts';

export interface DecisionQuery {
  readonly direction: Direction;
  readonly port: number;
  /** Default TCP. */
  readonly protocol?: 'TCP' | 'UDP';
  readonly remoteIdentity: number;
  /** The decoded request; omit for the connection-level (L3/L4) decision. */
  readonly l7Request?: L7Request;
}

export interface Decision {
  readonly verdict: 'allow' | 'deny';
  readonly reason: string;
  /** Where the deciding rule came from (e.g. `secure-fleet.yaml specs[0].ingress[0]`); empty for defaults. */
  readonly origins?: readonly string[];
  /** Set when L4 allowed the connection but each request must match these L7 rules. */
  readonly l7Pending?: readonly CompiledL7RuleSet[];
}

export function decide(compiled: CompiledEndpointPolicy, query: DecisionQuery, registry: L7RuleRegistry = defaultL7RuleRegistry()): Decision {
  const direction: CompiledDirectionPolicy = compiled[query.direction];
  if (direction.enforcement === 'none') return { verdict: 'allow', reason: 'policy enforcement is off (mode never)' };
  const applicable = applicableRules(direction, query);
  const denied = applicable.find((rule) => rule.verdict === 'deny');
  if (denied !== undefined) return { verdict: 'deny', reason: `denied by deny rule ${denied.origins.join(', ')}`, origins: denied.origins };
  const allows = applicable.filter((rule) => rule.verdict === 'allow');
  const l4Allow = allows.find((rule) => rule.l7 === undefined);
  if (l4Allow !== undefined) return { verdict: 'allow', reason: `allowed at L3/L4 by ${l4Allow.origins.join(', ')}`, origins: l4Allow.origins };
  const l7Rules = allows.filter((rule): rule is CompiledPortRule & { l7: CompiledL7RuleSet } => rule.l7 !== undefined);
  const l7Sets = l7Rules.map((rule) => rule.l7);
  if (l7Sets.length === 0) {
    return direction.enforcement === 'default-deny'
      ? { verdict: 'deny', reason: `no rule allows identity ${query.remoteIdentity} on ${query.direction} port ${query.port}` }
      : { verdict: 'allow', reason: `${query.direction} is not default-deny for this endpoint` };
  }
  const origins = l7Rules.flatMap((rule) => rule.origins);
  if (query.l7Request === undefined) return { verdict: 'allow', reason: `allowed at L3/L4 by ${origins.join(', ')}; each request must match the L7 rules`, origins, l7Pending: l7Sets };
  return decideL7(l7Rules, query.l7Request, registry);
}

function applicableRules(direction: CompiledDirectionPolicy, query: DecisionQuery): CompiledPortRule[] {
  const protocol = query.protocol ?? 'TCP';
  return direction.ports
    .filter((port) => (port.port === 0 || (query.port >= port.port && query.port <= port.endPort)) && (port.protocol === 'ANY' || port.protocol === protocol))
    .flatMap((port) => port.rules)
    .filter((rule) => rule.remotes === 'any' || rule.remotes.includes(query.remoteIdentity));
}

function decideL7(rules: ReadonlyArray<CompiledPortRule & { l7: CompiledL7RuleSet }>, request: L7Request, registry: L7RuleRegistry): Decision {
  for (const { l7: set, origins } of rules) {
    const parser = registry.get(set.l7proto);
    if (parser === undefined) return { verdict: 'deny', reason: `no parser rules registered for l7proto "${set.l7proto}"` };
    const index = set.rules.findIndex((rule) => parser.matches(rule, request));
    if (index >= 0) return { verdict: 'allow', reason: `allowed by ${set.l7proto} rule ${index} of ${origins.join(', ')}`, origins };
  }
  return { verdict: 'deny', reason: `no ${rules[0]?.l7.l7proto ?? 'L7'} rule of ${rules.flatMap((rule) => rule.origins).join(', ')} matches the request` };
}
