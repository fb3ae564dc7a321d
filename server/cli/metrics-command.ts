// `weir metrics list [--api ADDR] [-o json]`: reads `/metrics` from a running server and prints
// one row per sample (metric, labels, value), as `cilium metrics list` does. Owns parsing the
// Prometheus text format back into samples (the subset metrics-registry.ts writes).
import { METRICS_PATH } from '../observability/http.ts';
import { apiGetText, type ApiTarget } from './api-client.ts';

export interface MetricsListOptions {
  api: ApiTarget;
  output?: 'table' | 'json';
}

export interface ParsedSample {
  metric: string;
  labels: Record<string, string>;
  value: number;
}

export async function metricsList(options: MetricsListOptions): Promise<string> {
  const samples = parsePrometheusText(await apiGetText(options.api, METRICS_PATH));
  return options.output === 'json' ? JSON.stringify(samples, null, 2) : formatMetricsTable(samples);
}

export function formatMetricsTable(samples: readonly ParsedSample[]): string {
  if (samples.length === 0) return 'no metrics';
  const rows = samples.map((sample) => [
    sample.metric,
    Object.entries(sample.labels).map(([name, value]) => `${name}=${value}`).join(' '),
    String(sample.value),
  ]);
  const header = ['METRIC', 'LABELS', 'VALUE'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  return [header, ...rows].map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('  ')).join('\n');
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parsePrometheusText(text: string): ParsedSample[] {
  const samples: ParsedSample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = SAMPLE_LINE.exec(line);
    if (!match?.[1] || match[3] === undefined) throw new Error(`cannot read Prometheus sample line "${line}"`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(LABEL_PAIR)) {
      if (pair[1] !== undefined) labels[pair[1]] = unescapeLabelValue(pair[2] ?? '');
    }
    samples.push({ metric: match[1], labels, value: Number(match[3] === '+Inf' ? Infinity : match[3] === '-Inf' ? -Infinity : match[3]) });
  }
  return samples;
}

function unescapeLabelValue(value: string): string {
  return value.replace(/\\(.)/g, (_all, escaped: string) => (escaped === 'n' ? '\n' : escaped));
}
