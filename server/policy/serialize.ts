// Deterministic JSON for compiled policy, and its content hash (the revision): equal policy gives
// equal bytes and an equal revision on every server. DFA tables are written in the filter SDK's
// shape (filters/sdk/rule-config.ts), memcached commands as their name plus the expanded sets.
import { createHash } from 'node:crypto';
import type { CompiledEndpointPolicy, CompiledPolicySet } from './compiled-policy.ts';
import type { CompiledL7Constraint, CompiledL7Rule } from './l7/l7-rule-types.ts';
import { toSdkDfaJson } from './regex/compile-regex.ts';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export const POLICY_FORMAT = 'weir.policy/v1';

export interface SerializedPolicy {
  readonly json: string;
  /** First 16 hex digits of the SHA-256 of `json`. */
  readonly revision: string;
}

export function serializeEndpointPolicy(policy: CompiledEndpointPolicy): SerializedPolicy {
  return withRevision({ format: POLICY_FORMAT, ...endpointPolicyJson(policy) });
}

export function serializePolicySet(policySet: CompiledPolicySet): SerializedPolicy {
  return withRevision({
    format: POLICY_FORMAT,
    enforcementMode: policySet.enforcementMode,
    identities: policySet.identities.map((identity) => ({ identity: identity.identity, labels: [...identity.labels] })),
    ipIdentities: policySet.ipIdentities.map((entry) => ({ cidr: entry.cidr, identity: entry.identity })),
    serviceAccountIdentities: policySet.serviceAccountIdentities.map((entry) => ({ namespace: entry.namespace, serviceAccount: entry.serviceAccount, identity: entry.identity })),
    endpoints: policySet.endpoints.map(endpointPolicyJson),
  });
}

/** JSON text with object keys sorted at every level. */
export function canonicalJson(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key] as JsonValue)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function endpointPolicyJson(policy: CompiledEndpointPolicy): { [key: string]: JsonValue } {
  const directions: { [key: string]: JsonValue } = {};
  for (const direction of ['ingress', 'egress'] as const) {
    const compiled = policy[direction];
    directions[direction] = {
      enforcement: compiled.enforcement,
      ports: compiled.ports.map((port) => ({
        port: port.port,
        endPort: port.endPort,
        protocol: port.protocol,
        rules: port.rules.map((rule) => {
          const json: { [key: string]: JsonValue } = {
            verdict: rule.verdict,
            remotes: rule.remotes === 'any' ? 'any' : [...rule.remotes],
            origins: [...rule.origins],
          };
          if (rule.l7 !== undefined) json['l7'] = { l7proto: rule.l7.l7proto, rules: rule.l7.rules.map(l7RuleJson) };
          return json;
        }),
      })),
    };
  }
  const json: { [key: string]: JsonValue } = { endpoint: policy.endpoint, identity: policy.identity, ips: [...policy.ips], ...directions };
  if (policy.namespace !== undefined) json['namespace'] = policy.namespace;
  return json;
}

/** One compiled L7 rule in the filter SDK's rule shape (filters/sdk/rule-config.ts). */
export function l7RuleJson(rule: CompiledL7Rule): JsonValue {
  const json: { [key: string]: JsonValue } = {};
  for (const [key, constraint] of Object.entries(rule)) json[key] = constraintJson(constraint);
  return json;
}

function constraintJson(constraint: CompiledL7Constraint): JsonValue {
  switch (constraint.match) {
    case 'exact':
      return constraint.value;
    case 'command':
      return { exact: constraint.value, textCommands: [...constraint.textCommands], binaryOpcodes: [...constraint.binaryOpcodes] };
    case 'set':
      return { exact: constraint.value, set: [...constraint.members] };
    case 'prefix':
      return { prefix: constraint.value, dfa: { ...toSdkDfaJson(constraint.dfa) } };
    case 'regex':
      return { regex: constraint.source, dfa: { ...toSdkDfaJson(constraint.dfa) } };
    case 'present':
      return { present: true };
  }
}

function withRevision(value: JsonValue): SerializedPolicy {
  const json = canonicalJson(value);
  return { json, revision: createHash('sha256').update(json).digest('hex').slice(0, 16) };
}
