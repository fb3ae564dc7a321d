// A small Prometheus registry: counters and gauges with labels, plus collectors that compute
// samples at scrape time (e.g. from the proxy status registry), written in the text exposition
// format 0.0.4. Owns naming checks, label escaping and rendering; which metrics Weir has is
// decided in weir-metrics.ts. No global default registry: each server makes its own.

export type MetricType = 'counter' | 'gauge';
export type LabelValues = Readonly<Record<string, string>>;

export interface MetricSample {
  labels: LabelValues;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: MetricType;
  samples: MetricSample[];
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A counter or gauge whose samples are kept here, one per distinct label combination. */
export class StoredMetric {
  readonly #values = new Map<string, MetricSample>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    readonly labelNames: readonly string[],
  ) {}

  /** Adds `amount` (default 1); counters refuse to go down. */
  inc(labels: LabelValues = {}, amount = 1): void {
    if (this.type === 'counter' && !(amount >= 0)) {
      throw new Error(`counter ${this.name}: cannot add ${amount}; counters only go up`);
    }
    const sample = this.#sample(labels);
    sample.value += amount;
  }

  set(labels: LabelValues, value: number): void {
    if (this.type === 'counter') throw new Error(`counter ${this.name}: set() is for gauges; use inc()`);
    this.#sample(labels).value = value;
  }

  value(labels: LabelValues = {}): number {
    return this.#values.get(this.#key(labels))?.value ?? 0;
  }

  samples(): MetricSample[] {
    return [...this.#values.values()].map((sample) => ({ labels: { ...sample.labels }, value: sample.value }));
  }

  #sample(labels: LabelValues): MetricSample {
    const key = this.#key(labels);
    let sample = this.#values.get(key);
    if (!sample) {
      sample = { labels: { ...labels }, value: 0 };
      this.#values.set(key, sample);
    }
    return sample;
  }

  #key(labels: LabelValues): string {
    const names = Object.keys(labels);
    const unexpected = names.filter((name) => !this.labelNames.includes(name));
    const missing = this.labelNames.filter((name) => labels[name] === undefined);
    if (unexpected.length > 0 || missing.length > 0) {
      throw new Error(`metric ${this.name}: labels must be exactly {${this.labelNames.join(',')}}, got {${names.join(',')}}`);
    }
    return JSON.stringify(this.labelNames.map((name) => labels[name]));
  }
}

interface CollectedFamily {
  name: string;
  help: string;
  type: MetricType;
  collect: () => MetricSample[];
}

export class MetricsRegistry {
  readonly #families = new Map<string, StoredMetric | CollectedFamily>();

  counter(name: string, help: string, labelNames: readonly string[] = []): StoredMetric {
    return this.#add(new StoredMetric(name, help, 'counter', labelNames), labelNames);
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): StoredMetric {
    return this.#add(new StoredMetric(name, help, 'gauge', labelNames), labelNames);
  }

  /** A family whose samples `collect` computes at each scrape. */
  collected(name: string, help: string, type: MetricType, collect: () => MetricSample[]): void {
    this.#add({ name, help, type, collect }, []);
  }

  families(): MetricFamily[] {
    return [...this.#families.values()].map((family) => ({
      name: family.name,
      help: family.help,
      type: family.type,
      samples: family instanceof StoredMetric ? family.samples() : family.collect(),
    }));
  }

  /** The Prometheus text exposition of every family. */
  exposition(): string {
    return this.families().map(renderFamily).join('');
  }

  #add<T extends StoredMetric | CollectedFamily>(family: T, labelNames: readonly string[]): T {
    if (!METRIC_NAME.test(family.name)) throw new Error(`metric name "${family.name}" is not a valid Prometheus name`);
    const badLabel = labelNames.find((label) => !LABEL_NAME.test(label) || label.startsWith('__'));
    if (badLabel !== undefined) throw new Error(`metric ${family.name}: label name "${badLabel}" is not valid`);
    if (this.#families.has(family.name)) throw new Error(`metric ${family.name} is registered twice`);
    this.#families.set(family.name, family);
    return family;
  }
}

export function renderFamily(family: MetricFamily): string {
  const lines = [`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`];
  for (const sample of family.samples) lines.push(`${family.name}${renderLabels(sample.labels)} ${renderValue(sample.value)}`);
  return `${lines.join('\n')}\n`;
}

function renderLabels(labels: LabelValues): string {
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabelValue(value)}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

function renderValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
