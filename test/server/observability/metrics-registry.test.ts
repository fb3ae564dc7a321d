import { describe, expect, it } from 'vitest';
import { MetricsRegistry } from '../../../server/observability/metrics-registry.ts';
import { formatMetricsTable, parsePrometheusText } from '../../../server/cli/metrics-command.ts';

describe('MetricsRegistry', () => {
  it('writes the Prometheus text format with HELP, TYPE, labels and escaping', () => {
    const registry = new MetricsRegistry();
    const requests = registry.counter('weir_test_total', 'Requests\nseen', ['proto', 'verdict']);
    requests.inc({ proto: 'r2d2', verdict: 'denied' });
    requests.inc({ proto: 'r2d2', verdict: 'denied' }, 2);
    requests.inc({ proto: 'say "hi"\\', verdict: 'x' });
    registry.gauge('weir_test_gauge', 'A gauge').set({}, 1.5);
    registry.collected('weir_test_collected', 'Computed', 'gauge', () => [{ labels: { node: 'a' }, value: 4 }]);
    expect(registry.exposition()).toBe(
      [
        '# HELP weir_test_total Requests\\nseen',
        '# TYPE weir_test_total counter',
        'weir_test_total{proto="r2d2",verdict="denied"} 3',
        'weir_test_total{proto="say \\"hi\\"\\\\",verdict="x"} 1',
        '# HELP weir_test_gauge A gauge',
        '# TYPE weir_test_gauge gauge',
        'weir_test_gauge 1.5',
        '# HELP weir_test_collected Computed',
        '# TYPE weir_test_collected gauge',
        'weir_test_collected{node="a"} 4',
        '',
      ].join('\n'),
    );
  });

  it('refuses wrong labels, negative counter increments, bad and duplicate names', () => {
    const registry = new MetricsRegistry();
    const counter = registry.counter('weir_x_total', 'x', ['proto']);
    expect(() => counter.inc({ protocol: 'r2d2' })).toThrow('metric weir_x_total: labels must be exactly {proto}, got {protocol}');
    expect(() => counter.inc({ proto: 'r2d2' }, -1)).toThrow(/counters only go up/);
    expect(() => registry.counter('weir_x_total', 'again')).toThrow(/registered twice/);
    expect(() => registry.gauge('9bad', 'x')).toThrow(/not a valid Prometheus name/);
  });

  it('parses its own exposition back into samples for `weir metrics list`', () => {
    const registry = new MetricsRegistry();
    registry.counter('weir_a_total', 'a', ['node']).inc({ node: 'n "1"' }, 5);
    registry.gauge('weir_b', 'b').set({}, 0);
    const samples = parsePrometheusText(registry.exposition());
    expect(samples).toEqual([
      { metric: 'weir_a_total', labels: { node: 'n "1"' }, value: 5 },
      { metric: 'weir_b', labels: {}, value: 0 },
    ]);
    expect(formatMetricsTable(samples)).toBe(['METRIC        LABELS      VALUE', 'weir_a_total  node=n "1"  5', 'weir_b                    0'].join('\n'));
  });
});
