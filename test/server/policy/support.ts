// Helpers for policy tests: validate YAML text and get either the rules or the formatted problems.
import { formatProblem } from '../../../server/policy/policy-problems.ts';
import type { PolicyRule } from '../../../server/policy/policy-model.ts';
import { validatePolicyText } from '../../../server/policy/validate-policy.ts';

export function problemsOf(text: string, file = 'policies/db.yaml'): string[] {
  const result = validatePolicyText({ file, text });
  return result.ok ? [] : result.problems.map(formatProblem);
}

export function rulesOf(text: string, file = 'policies/test.yaml'): PolicyRule[] {
  const result = validatePolicyText({ file, text });
  if (!result.ok) throw new Error(`expected a valid policy, got:\n${result.problems.map(formatProblem).join('\n')}`);
  return result.policies.flatMap((policy) => policy.rules);
}

/** A one-rule CiliumNetworkPolicy around an ingress rule body given as YAML lines (indented 4). */
export function ingressPolicy(ingressYaml: string, selector = '{ matchLabels: { app: db } }'): string {
  return `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: test }
specs:
  - endpointSelector: ${selector}
    ingress:
${ingressYaml}`;
}

export function l7Policy(l7proto: string, l7Yaml: string, port = '11211'): string {
  return ingressPolicy(`      - toPorts:
          - ports: [{ port: "${port}", protocol: TCP }]
            rules:
              l7proto: ${l7proto}
              l7: ${l7Yaml}
`);
}
