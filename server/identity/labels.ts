// Labels as Cilium writes them: `source:key=value`, where the source (k8s, reserved, any, ...) says
// who attached the label. Owns parsing label keys, the canonical sorted form of a label set (what
// identities are derived from) and nothing else; selectors that match labels live in
// server/policy/selector.ts.

export const LABEL_SOURCES = ['k8s', 'reserved', 'any', 'container', 'cidr', 'unspec'] as const;
export type LabelSource = (typeof LABEL_SOURCES)[number];

export interface Label {
  readonly source: string;
  readonly key: string;
  readonly value: string;
}

/** Kubernetes labels Cilium attaches to every pod, with source k8s. */
export const NAMESPACE_LABEL = 'io.kubernetes.pod.namespace';
export const SERVICE_ACCOUNT_LABEL = 'io.cilium.k8s.policy.serviceaccount';
/** Cilium copies a pod's namespace's labels onto the pod under this prefix. */
export const NAMESPACE_LABELS_PREFIX = 'io.cilium.k8s.namespace.labels.';

/**
 * Splits `k8s:app`, `reserved.init` or `$host` into source and key. `:` always separates a source;
 * `.` only when the text before it is a known source (so `io.cilium.k8s.policy.serviceaccount`
 * stays one key); `$` is shorthand for `reserved:`. Without a source, `defaultSource` applies.
 */
export function parseLabelKey(raw: string, defaultSource: string): { source: string; key: string } {
  if (raw.startsWith('$')) return { source: 'reserved', key: raw.slice(1) };
  const colon = raw.indexOf(':');
  if (colon > 0) return { source: raw.slice(0, colon), key: raw.slice(colon + 1) };
  const dot = raw.indexOf('.');
  if (dot > 0 && isLabelSource(raw.slice(0, dot))) return { source: raw.slice(0, dot), key: raw.slice(dot + 1) };
  return { source: defaultSource, key: raw };
}

export function isLabelSource(text: string): text is LabelSource {
  return (LABEL_SOURCES as readonly string[]).includes(text);
}

/** Endpoint labels from a plain map; keys without a source get `k8s`, as Kubernetes pod labels do. */
export function labelsFromMap(map: Readonly<Record<string, string>>, defaultSource = 'k8s'): Label[] {
  return sortLabels(
    Object.entries(map).map(([rawKey, value]) => ({ ...parseLabelKey(rawKey, defaultSource), value })),
  );
}

export function formatLabel(label: Label): string {
  return label.value === '' ? `${label.source}:${label.key}` : `${label.source}:${label.key}=${label.value}`;
}

export function sortLabels(labels: readonly Label[]): Label[] {
  const unique = new Map<string, Label>();
  for (const label of labels) unique.set(`${label.source}:${label.key}`, label);
  return [...unique.values()].sort((a, b) => compareText(formatLabel(a), formatLabel(b)));
}

/** The canonical text of a label set (sorted, `;`-joined); equal sets give equal text. */
export function labelSetKey(labels: readonly Label[]): string {
  return sortLabels(labels).map(formatLabel).join(';');
}

export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
