// Entry point of policy import: file text in, validated rules or every problem out. Accepts
// `cilium.io/v2` CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy documents (`spec` and/or
// `specs`; several YAML documents per file) and the plain JSON list of rules `cilium policy
// import` takes. Regexes are compiled to DFAs here, so a policy that validates can be enforced.
import { defaultL7RuleRegistry, type L7RuleRegistry } from './l7-rule-keys.ts';
import { readPolicyDocuments, type RawPolicyDocument } from './policy-documents.ts';
import type { PolicyRule, RuleOrigin } from './policy-model.ts';
import { joinPath, ProblemList, type PolicyProblem } from './policy-problems.ts';
import { checkFields, isPresent, readList, readObject, readString, type RawObject } from './raw-fields.ts';
import { validateRule } from './validate-rule.ts';

export const CILIUM_API_VERSION = 'cilium.io/v2';
export const POLICY_KINDS = ['CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy'] as const;

export interface ImportedPolicy {
  readonly file: string;
  readonly document: number | undefined;
  /** metadata.name; undefined for a plain rule list. */
  readonly name: string | undefined;
  readonly namespace: string | undefined;
  readonly rules: readonly PolicyRule[];
}

export interface ValidatePolicyOptions {
  /** Name used in messages, e.g. `policies/db.yaml`. */
  readonly file: string;
  readonly text: string;
  readonly registry?: L7RuleRegistry;
}

export type ValidatePolicyResult = { ok: true; policies: ImportedPolicy[] } | { ok: false; problems: PolicyProblem[] };

export function validatePolicyText(options: ValidatePolicyOptions): ValidatePolicyResult {
  const read = readPolicyDocuments(options.file, options.text);
  if (!read.ok) return read;
  return validatePolicyDocuments(options.file, read.documents, options.registry);
}

/** Validates documents already read from a file (e.g. after a store set its own documents aside). */
export function validatePolicyDocuments(file: string, documents: readonly RawPolicyDocument[], registry: L7RuleRegistry = defaultL7RuleRegistry()): ValidatePolicyResult {
  const problems: PolicyProblem[] = [];
  const policies: ImportedPolicy[] = [];
  for (const document of documents) {
    const list = new ProblemList(file, document.document);
    const policy = validateDocument(document, file, list, registry);
    problems.push(...list.problems);
    if (policy !== undefined) policies.push(policy);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, policies };
}

function validateDocument(document: RawPolicyDocument, file: string, problems: ProblemList, registry: L7RuleRegistry): ImportedPolicy | undefined {
  const base = { file, document: document.document };
  if (Array.isArray(document.value)) {
    const rules = validateRules(document.value, (index) => ({ ...base, path: `[${index}]` }), problems, registry);
    return { ...base, name: undefined, namespace: undefined, rules };
  }
  const object = readObject(document.value, '', problems, `a ${POLICY_KINDS[0]} (apiVersion: ${CILIUM_API_VERSION}) or a list of rules`);
  if (object === undefined) return undefined;
  // Rules are validated even when the envelope is wrong, so one pass reports every problem.
  const envelope = validateEnvelope(object, problems);
  const origin = (path: string): RuleOrigin => ({
    ...base,
    path,
    ...(envelope.name === undefined ? {} : { policyName: envelope.name }),
    ...(envelope.namespace === undefined ? {} : { namespace: envelope.namespace }),
  });
  const rules: PolicyRule[] = [];
  if (isPresent(object, 'spec')) {
    const rule = validateRule(object['spec'], origin('spec'), problems, registry);
    if (rule !== undefined) rules.push(rule);
  }
  if (isPresent(object, 'specs')) {
    const specs = readList(object['specs'], 'specs', problems, 'a list of rules') ?? [];
    rules.push(...validateRules(specs, (index) => origin(`specs[${index}]`), problems, registry));
  }
  return { ...base, name: envelope.name, namespace: envelope.namespace, rules };
}

function validateRules(items: readonly unknown[], origin: (index: number) => RuleOrigin, problems: ProblemList, registry: L7RuleRegistry): PolicyRule[] {
  const rules: PolicyRule[] = [];
  items.forEach((item, index) => {
    const rule = validateRule(item, origin(index), problems, registry);
    if (rule !== undefined) rules.push(rule);
  });
  return rules;
}

function validateEnvelope(object: RawObject, problems: ProblemList): { name: string | undefined; namespace: string | undefined } {
  checkFields(object, '', { known: ['apiVersion', 'kind', 'metadata', 'spec', 'specs', 'description', 'status'] }, problems);
  const apiVersion = readString(object['apiVersion'], 'apiVersion', problems, CILIUM_API_VERSION);
  if (apiVersion !== undefined && apiVersion !== CILIUM_API_VERSION) problems.add('apiVersion', `unsupported apiVersion ${JSON.stringify(apiVersion)}; expected ${CILIUM_API_VERSION}`);
  const kind = readString(object['kind'], 'kind', problems, POLICY_KINDS.join(' or '));
  if (kind !== undefined && !(POLICY_KINDS as readonly string[]).includes(kind)) problems.add('kind', `unsupported kind ${JSON.stringify(kind)}; expected ${POLICY_KINDS.join(' or ')}`);
  const metadata = readObject(object['metadata'], 'metadata', problems, 'a map with name (and namespace)');
  const name = metadata === undefined ? undefined : readString(metadata['name'], joinPath('metadata', 'name'), problems, 'the policy name');
  if (name === '') problems.add('metadata.name', 'must not be empty');
  let namespace: string | undefined;
  if (metadata !== undefined && isPresent(metadata, 'namespace')) {
    namespace = readString(metadata['namespace'], 'metadata.namespace', problems);
    if (kind === POLICY_KINDS[1]) problems.add('metadata.namespace', `a ${POLICY_KINDS[1]} is cluster-wide and takes no namespace`);
  }
  if (!isPresent(object, 'spec') && !isPresent(object, 'specs')) problems.add('', 'needs spec (one rule) or specs (a list of rules)');
  if (isPresent(object, 'description')) readString(object['description'], 'description', problems);
  return { name, namespace };
}
