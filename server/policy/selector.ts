// Decides whether a label selector from a policy matches a label set (an endpoint's or an
// identity's), with Kubernetes semantics and Cilium's label sources: a requirement with source
// `any` matches a label of any source, otherwise the sources must be equal.
import type { Label } from '../identity/labels.ts';
import type { LabelSelector, SelectorRequirement } from './policy-model.ts';

export function selectorMatches(selector: LabelSelector, labels: readonly Label[]): boolean {
  return selector.requirements.every((requirement) => requirementHolds(requirement, labels));
}

function requirementHolds(requirement: SelectorRequirement, labels: readonly Label[]): boolean {
  const candidates = labels.filter(
    (label) => label.key === requirement.key && (requirement.source === 'any' || requirement.source === label.source),
  );
  switch (requirement.operator) {
    case 'In':
      return candidates.some((label) => requirement.values.includes(label.value));
    case 'NotIn':
      return !candidates.some((label) => requirement.values.includes(label.value));
    case 'Exists':
      return candidates.length > 0;
    case 'DoesNotExist':
      return candidates.length === 0;
  }
}
