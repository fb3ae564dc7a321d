// The policy a fuzz case runs under, built the way a user's policy reaches a filter: a
// CiliumNetworkPolicy (YAML) compiled by the control server's compiler, the filter's `rules`
// taken from the server's own serialisation of the compiled endpoint policy, and the reference
// verdict from server/policy/decide.ts. So a disagreement between filter and reference is a
// disagreement between the filter and the server's meaning of the policy, not between two
// hand-written rule tables.
import { endpointFromSpec } from '../../../server/identity/endpoints.ts';
import { compilePolicies } from '../../../server/policy/compile.ts';
import type { CompiledEndpointPolicy } from '../../../server/policy/compiled-policy.ts';
import { decide } from '../../../server/policy/decide.ts';
import type { L7Request } from '../../../server/policy/l7/l7-rule-types.ts';
import { formatProblem } from '../../../server/policy/policy-problems.ts';
import { endpointPolicyJson, type JsonValue } from '../../../server/policy/serialize.ts';
import { validatePolicyText } from '../../../server/policy/validate-policy.ts';

export const SERVER_IP = '10.77.0.1';
export const FUZZ_PORT = 7000;

/** One client of a fuzz policy: its address and what it may do, as the policy author wrote it. */
export interface FuzzClient {
  /** The `app` label and endpoint name. */
  readonly app: string;
  readonly ip: string;
}

export interface FuzzPolicySpec {
  readonly name: string;
  readonly l7proto: string;
  readonly clients: readonly FuzzClient[];
  /** The CiliumNetworkPolicy's `ingress` rules as YAML, each `- fromEndpoints: ...` item indented 4. */
  readonly ingressYaml: string;
}

export interface ReferencePolicy {
  readonly spec: FuzzPolicySpec;
  /** The filter's plugin configuration for `client` (static rules, as the agent would bind them). */
  pluginConfig(client: FuzzClient): string;
  /** The control server's verdict for one decoded request of `client`. */
  verdict(client: FuzzClient, request: L7Request): 'allow' | 'deny';
  identityOf(client: FuzzClient): number;
}

export function buildReferencePolicy(spec: FuzzPolicySpec): ReferencePolicy {
  const yaml = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: ${spec.name} }
spec:
  endpointSelector: { matchLabels: { app: fuzz-server } }
  ingress:
${spec.ingressYaml}`;
  const validated = validatePolicyText({ file: `fuzz/${spec.name}.yaml`, text: yaml });
  if (!validated.ok) throw new Error(`fuzz policy ${spec.name}:\n${validated.problems.map(formatProblem).join('\n')}`);
  const endpoints = [{ name: 'fuzz-server', labels: { app: 'fuzz-server' }, ips: [SERVER_IP] }, ...spec.clients.map((client) => ({ name: client.app, labels: { app: client.app }, ips: [client.ip] }))];
  const compiled = compilePolicies({ rules: validated.policies.flatMap((policy) => policy.rules), endpoints: endpoints.map(endpointFromSpec), enforcementMode: 'default' });
  if (!compiled.ok) throw new Error(`fuzz policy ${spec.name}:\n${compiled.problems.map(formatProblem).join('\n')}`);
  const server = compiled.policySet.endpoints.find((endpoint) => endpoint.endpoint === 'fuzz-server');
  if (server === undefined) throw new Error(`fuzz policy ${spec.name}: the server endpoint did not compile`);
  const identityOf = (client: FuzzClient): number => {
    const found = compiled.policySet.endpoints.find((endpoint) => endpoint.endpoint === client.app);
    if (found === undefined) throw new Error(`fuzz policy ${spec.name}: no endpoint ${client.app}`);
    return found.identity;
  };
  // Serialising the compiled DFAs is costly and every case asks: once per client.
  const configs = new Map<string, string>();
  return {
    spec,
    identityOf,
    pluginConfig: (client) => {
      let config = configs.get(client.app);
      if (config === undefined) configs.set(client.app, (config = pluginConfigFor(server, spec.l7proto, identityOf(client))));
      return config;
    },
    verdict: (client, request) => decide(server, { direction: 'ingress', port: FUZZ_PORT, remoteIdentity: identityOf(client), l7Request: request }).verdict,
  };
}

// The rules of every ingress port rule on FUZZ_PORT that admits `identity`, in the server's
// serialised shape (what the agent publishes); no L7 rules at all means allowed at L3/L4.
function pluginConfigFor(server: CompiledEndpointPolicy, l7proto: string, identity: number): string {
  const json = endpointPolicyJson(server) as { ingress: { ports: { port: number; endPort: number; rules: { verdict: string; remotes: 'any' | number[]; l7?: { rules: JsonValue[] } }[] }[] } };
  const rules: JsonValue[] = [];
  let l4Allowed = false;
  for (const port of json.ingress.ports) {
    if (port.port !== 0 && (FUZZ_PORT < port.port || FUZZ_PORT > port.endPort)) continue;
    for (const rule of port.rules) {
      if (rule.verdict !== 'allow' || (rule.remotes !== 'any' && !rule.remotes.includes(identity))) continue;
      if (rule.l7 === undefined) l4Allowed = true;
      else rules.push(...rule.l7.rules);
    }
  }
  return JSON.stringify(l4Allowed ? { parser: l7proto } : { parser: l7proto, rules });
}
