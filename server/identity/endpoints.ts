// What Weir knows about a workload endpoint: name, namespace, service account, labels and IPs,
// whether from sidecar node metadata or from the store. Owns validating that description and
// turning it into the full label set identities are derived from (namespace and service account
// become Cilium's k8s labels; an endpoint whose labels are not known yet is `reserved:init`).
import { parseCidr } from './cidr.ts';
import { labelsFromMap, NAMESPACE_LABEL, SERVICE_ACCOUNT_LABEL, sortLabels, type Label } from './labels.ts';
import { reservedLabels } from './reserved-identities.ts';

export interface EndpointSpec {
  readonly name: string;
  readonly namespace?: string;
  readonly serviceAccount?: string;
  /** Pod-style labels; keys may carry a source (`k8s:app`), default k8s. Omit while labels are unknown. */
  readonly labels?: Readonly<Record<string, string>>;
  readonly ips: readonly string[];
}

export interface Endpoint {
  readonly name: string;
  readonly namespace: string | undefined;
  readonly labels: readonly Label[];
  readonly ips: readonly string[];
  /** False while the endpoint's labels are unknown: it then carries only reserved:init. */
  readonly labelsKnown: boolean;
}

/** One problem of an endpoint description: the EndpointSpec field (e.g. `ips[1]`) and why. */
export interface EndpointSpecProblem {
  field: string;
  reason: string;
}

/** Checks an endpoint description; returns every problem. */
export function validateEndpointSpec(spec: EndpointSpec): EndpointSpecProblem[] {
  const problems: EndpointSpecProblem[] = [];
  const add = (field: string, reason: string): void => {
    problems.push({ field, reason });
  };
  if (typeof spec.name !== 'string' || spec.name === '') add('name', 'required, a non-empty string');
  if (!Array.isArray(spec.ips)) add('ips', 'required, a list of IP addresses');
  else {
    spec.ips.forEach((ip, index) => {
      const parsed = typeof ip === 'string' ? parseCidr(ip) : undefined;
      if (parsed === undefined || !parsed.ok || ip.includes('/')) add(`ips[${index}]`, `${JSON.stringify(ip)} is not an IP address`);
    });
  }
  for (const field of ['namespace', 'serviceAccount'] as const) {
    if (spec[field] !== undefined && typeof spec[field] !== 'string') add(field, 'must be a string');
  }
  const labels: unknown = spec.labels;
  if (labels !== undefined && (typeof labels !== 'object' || labels === null || Array.isArray(labels))) add('labels', 'must be a map of string values');
  else {
    for (const [key, value] of Object.entries(spec.labels ?? {})) {
      if (typeof value !== 'string') add(`labels.${key}`, 'must be a string');
    }
  }
  return problems;
}

export function endpointFromSpec(spec: EndpointSpec): Endpoint {
  if (spec.labels === undefined) {
    return { name: spec.name, namespace: spec.namespace, labels: reservedLabels('init'), ips: [...spec.ips], labelsKnown: false };
  }
  const labels: Label[] = labelsFromMap(spec.labels);
  if (spec.namespace !== undefined) labels.push({ source: 'k8s', key: NAMESPACE_LABEL, value: spec.namespace });
  if (spec.serviceAccount !== undefined) labels.push({ source: 'k8s', key: SERVICE_ACCOUNT_LABEL, value: spec.serviceAccount });
  return { name: spec.name, namespace: spec.namespace, labels: sortLabels(labels), ips: [...spec.ips], labelsKnown: true };
}
