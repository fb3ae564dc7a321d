// Validates one CiliumNetworkPolicy rule (a `spec`, an element of `specs`, or of a plain rule
// list): endpointSelector, the four rule lists, enableDefaultDeny, labels and description.
import type { L7RuleRegistry } from './l7-rule-keys.ts';
import type { Direction, PeerRule, PolicyRule, RuleOrigin } from './policy-model.ts';
import { joinPath, type ProblemList } from './policy-problems.ts';
import { checkFields, isPresent, readList, readObject, readString, type RawObject } from './raw-fields.ts';
import { validatePeerRule } from './validate-peer-rule.ts';
import { restrictToNamespace, validateSelector } from './validate-selector.ts';

const RULE_FIELDS = {
  known: ['endpointSelector', 'ingress', 'egress', 'ingressDeny', 'egressDeny', 'enableDefaultDeny', 'labels', 'description'],
  unsupported: { nodeSelector: 'host policies (nodeSelector) are not implemented; select endpoints with endpointSelector' },
};

export function validateRule(value: unknown, origin: RuleOrigin, problems: ProblemList, registry: L7RuleRegistry): PolicyRule | undefined {
  const path = origin.path;
  const object = readObject(value, path, problems, 'a rule (a map with endpointSelector, ingress, egress, ...)');
  if (object === undefined) return undefined;
  checkFields(object, path, RULE_FIELDS, problems);
  const before = problems.count;
  if (!isPresent(object, 'endpointSelector')) problems.add(path, 'endpointSelector is required (use {} to select every endpoint)');
  const selector = isPresent(object, 'endpointSelector') ? validateSelector(object['endpointSelector'], joinPath(path, 'endpointSelector'), problems) : undefined;
  const lists = {
    ingress: peerRules(object, 'ingress', 'ingress', false, origin, problems, registry),
    egress: peerRules(object, 'egress', 'egress', false, origin, problems, registry),
    ingressDeny: peerRules(object, 'ingressDeny', 'ingress', true, origin, problems, registry),
    egressDeny: peerRules(object, 'egressDeny', 'egress', true, origin, problems, registry),
  };
  const defaultDeny = readDefaultDeny(object, path, problems);
  const labels = readRuleLabels(object, path, problems);
  const description = isPresent(object, 'description') ? readString(object['description'], joinPath(path, 'description'), problems) : undefined;
  if (problems.count !== before || selector === undefined) return undefined;
  const rule: PolicyRule = {
    origin,
    endpointSelector: restrictToNamespace(selector, origin.namespace),
    ...lists,
    defaultDeny,
    labels,
  };
  return description === undefined ? rule : { ...rule, description };
}

function peerRules(
  object: RawObject,
  field: string,
  direction: Direction,
  deny: boolean,
  origin: RuleOrigin,
  problems: ProblemList,
  registry: L7RuleRegistry,
): PeerRule[] {
  if (!isPresent(object, field)) return [];
  const listPath = joinPath(origin.path, field);
  const items = readList(object[field], listPath, problems, `a list of ${field} rules`) ?? [];
  const rules: PeerRule[] = [];
  items.forEach((item, index) => {
    const rule = validatePeerRule(item, joinPath(listPath, index), problems, { direction, deny, namespace: origin.namespace, registry });
    if (rule !== undefined) rules.push(rule);
  });
  return rules;
}

function readDefaultDeny(object: RawObject, path: string, problems: ProblemList): PolicyRule['defaultDeny'] {
  const result = { ingress: true, egress: true };
  if (!isPresent(object, 'enableDefaultDeny')) return result;
  const fieldPath = joinPath(path, 'enableDefaultDeny');
  const settings = readObject(object['enableDefaultDeny'], fieldPath, problems, 'a map {ingress: bool, egress: bool}');
  if (settings === undefined) return result;
  checkFields(settings, fieldPath, { known: ['ingress', 'egress'] }, problems);
  for (const direction of ['ingress', 'egress'] as const) {
    const setting = settings[direction];
    if (setting === undefined) continue;
    if (typeof setting === 'boolean') result[direction] = setting;
    else problems.add(joinPath(fieldPath, direction), `expected true or false, got ${JSON.stringify(setting)}`);
  }
  return result;
}

/** Rule labels: a map of strings, or Cilium's list form [{key, value, source}]. */
function readRuleLabels(object: RawObject, path: string, problems: ProblemList): Record<string, string> {
  if (!isPresent(object, 'labels')) return {};
  const fieldPath = joinPath(path, 'labels');
  const value = object['labels'];
  const labels: Record<string, string> = {};
  const entries: Array<[string, unknown, string]> = Array.isArray(value)
    ? value.map((item, index) => {
        const entry = readObject(item, joinPath(fieldPath, index), problems, 'a label {key, value, source}') ?? {};
        const source = typeof entry['source'] === 'string' && entry['source'] !== '' ? `${entry['source']}:` : '';
        return [`${source}${String(entry['key'] ?? '')}`, entry['value'] ?? '', joinPath(fieldPath, index)];
      })
    : Object.entries(readObject(value, fieldPath, problems, 'a map of labels') ?? {}).map(([key, item]) => [key, item, joinPath(fieldPath, key)]);
  for (const [key, item, itemPath] of entries) {
    if (typeof item === 'string') labels[key] = item;
    else problems.add(itemPath, `expected a string label value, got ${JSON.stringify(item)}`);
  }
  return labels;
}
