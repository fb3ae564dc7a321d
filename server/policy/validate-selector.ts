// Validates a Kubernetes label selector (matchLabels, matchExpressions) from a policy into a
// LabelSelector, and adds the namespace requirement a namespaced CiliumNetworkPolicy implies.
import { NAMESPACE_LABEL, parseLabelKey } from '../identity/labels.ts';
import type { LabelSelector, SelectorOperator, SelectorRequirement } from './policy-model.ts';
import { joinPath, type ProblemList } from './policy-problems.ts';
import { checkFields, isPresent, readList, readObject, readString, readStringList, readStringMap } from './raw-fields.ts';

const OPERATORS: readonly SelectorOperator[] = ['In', 'NotIn', 'Exists', 'DoesNotExist'];

export function validateSelector(value: unknown, path: string, problems: ProblemList): LabelSelector | undefined {
  const object = readObject(value, path, problems, 'a label selector (matchLabels / matchExpressions)');
  if (object === undefined) return undefined;
  checkFields(object, path, { known: ['matchLabels', 'matchExpressions'] }, problems);
  const before = problems.count;
  const requirements: SelectorRequirement[] = [];
  if (isPresent(object, 'matchLabels')) {
    const labels = readStringMap(object['matchLabels'], joinPath(path, 'matchLabels'), problems) ?? {};
    for (const [rawKey, labelValue] of Object.entries(labels)) {
      requirements.push({ ...parseLabelKey(rawKey, 'any'), operator: 'In', values: [labelValue] });
    }
  }
  if (isPresent(object, 'matchExpressions')) {
    const expressionsPath = joinPath(path, 'matchExpressions');
    const expressions = readList(object['matchExpressions'], expressionsPath, problems) ?? [];
    expressions.forEach((expression, index) => {
      const requirement = validateExpression(expression, joinPath(expressionsPath, index), problems);
      if (requirement !== undefined) requirements.push(requirement);
    });
  }
  return problems.count === before ? { requirements } : undefined;
}

function validateExpression(value: unknown, path: string, problems: ProblemList): SelectorRequirement | undefined {
  const object = readObject(value, path, problems, 'a match expression {key, operator, values}');
  if (object === undefined) return undefined;
  checkFields(object, path, { known: ['key', 'operator', 'values'] }, problems);
  const key = readString(object['key'], joinPath(path, 'key'), problems, 'a label key');
  const operatorText = readString(object['operator'], joinPath(path, 'operator'), problems, `one of ${OPERATORS.join(', ')}`);
  const operator = OPERATORS.find((candidate) => candidate === operatorText);
  if (operatorText !== undefined && operator === undefined) {
    problems.add(joinPath(path, 'operator'), `unknown operator ${JSON.stringify(operatorText)}; expected one of ${OPERATORS.join(', ')}`);
  }
  const values = isPresent(object, 'values') ? readStringList(object['values'], joinPath(path, 'values'), problems) : [];
  if (operator === undefined || key === undefined || values === undefined) return undefined;
  const needsValues = operator === 'In' || operator === 'NotIn';
  if (needsValues && values.length === 0) {
    problems.add(joinPath(path, 'values'), `operator ${operator} needs at least one value`);
    return undefined;
  }
  if (!needsValues && values.length > 0) {
    problems.add(joinPath(path, 'values'), `operator ${operator} takes no values`);
    return undefined;
  }
  return { ...parseLabelKey(key, 'any'), operator, values };
}

/**
 * A CiliumNetworkPolicy is namespaced: its selectors only match endpoints in its namespace unless
 * they name a namespace themselves, or select reserved identities (host, world, init, ...).
 */
export function restrictToNamespace(selector: LabelSelector, namespace: string | undefined): LabelSelector {
  if (namespace === undefined) return selector;
  const mentions = selector.requirements.some((r) => r.key === NAMESPACE_LABEL || r.source === 'reserved');
  if (mentions) return selector;
  return { requirements: [...selector.requirements, { source: 'k8s', key: NAMESPACE_LABEL, operator: 'In', values: [namespace] }] };
}
