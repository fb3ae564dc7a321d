// Builds compiled policy from YAML and endpoint specs for compile/decide tests.
import { endpointFromSpec, type EndpointSpec } from '../../../server/identity/endpoints.ts';
import type { CompiledEndpointPolicy, CompiledPolicySet } from '../../../server/policy/compiled-policy.ts';
import { compilePolicies } from '../../../server/policy/compile.ts';
import { decide, type DecisionQuery } from '../../../server/policy/decide.ts';
import type { EnforcementMode } from '../../../server/policy/policy-model.ts';
import { formatProblem } from '../../../server/policy/policy-problems.ts';
import { rulesOf } from './support.ts';

export class CompiledFixture {
  readonly policySet: CompiledPolicySet;

  constructor(policies: readonly string[], endpoints: readonly EndpointSpec[], mode: EnforcementMode = 'default') {
    const result = compilePolicies({
      rules: policies.flatMap((text, index) => rulesOf(text, `policies/p${index}.yaml`)),
      endpoints: endpoints.map(endpointFromSpec),
      enforcementMode: mode,
    });
    if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
    this.policySet = result.policySet;
  }

  endpoint(name: string): CompiledEndpointPolicy {
    const found = this.policySet.endpoints.find((endpoint) => endpoint.endpoint === name);
    if (found === undefined) throw new Error(`no endpoint ${name}`);
    return found;
  }

  identity(name: string): number {
    return this.endpoint(name).identity;
  }

  identityOfIp(ip: string): number {
    const entry = this.policySet.ipIdentities.find((e) => e.cidr === `${ip}/32`);
    return entry?.identity ?? 2;
  }

  /** Verdict for `to` receiving from `from` (an endpoint name or a numeric identity). */
  verdict(to: string, query: Omit<DecisionQuery, 'remoteIdentity'> & { from: string | number }): 'allow' | 'deny' {
    const remoteIdentity = typeof query.from === 'number' ? query.from : this.identity(query.from);
    return decide(this.endpoint(to), { ...query, remoteIdentity }).verdict;
  }
}
