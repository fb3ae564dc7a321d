// The public face of the policy package for the rest of the server (API, xDS wiring, CLI):
// validate policy text, compile rules and endpoints, decide, serialise. Internals stay importable
// for tests, but other packages should need only these.
export { validatePolicyText, validatePolicyDocuments, type ImportedPolicy, type ValidatePolicyResult } from './validate-policy.ts';
export { compilePolicies, type CompilePolicyOptions, type CompilePolicyResult } from './compile.ts';
export { createIdentityAllocators, type IdentityAllocators } from './identity-universe.ts';
export { decide, type Decision, type DecisionQuery } from './decide.ts';
export { serializeEndpointPolicy, serializePolicySet, endpointPolicyJson, canonicalJson, POLICY_FORMAT, type SerializedPolicy } from './serialize.ts';
export { formatProblem, PolicyImportError, type PolicyProblem } from './policy-problems.ts';
export { defaultL7RuleRegistry, createL7RuleRegistry, registryWithDeclaredParsers, type L7RuleRegistry, type L7Request } from './l7-rule-keys.ts';
export type * from './compiled-policy.ts';
export type { EnforcementMode, PolicyRule, Direction } from './policy-model.ts';
export { ENFORCEMENT_MODES } from './policy-model.ts';
