// Custom metrics as Envoy keeps them for one plugin: counters, gauges and histograms by name, with
// ids that carry the type in their low two bits (Envoy: id & 3 = type, ids step by 4). The registry
// outlives VM reloads, like Envoy's stats scope. Tests read values by name.
import { MetricType, Status, type StatusCode } from './abi.ts';

export type MetricKind = 'counter' | 'gauge' | 'histogram';

export interface MetricValue {
  kind: MetricKind;
  value: bigint; // counters and gauges
  samples: bigint[]; // histograms
}

const kindByType: Record<number, MetricKind> = {
  [MetricType.Counter]: 'counter',
  [MetricType.Gauge]: 'gauge',
  [MetricType.Histogram]: 'histogram',
};

export class MetricRegistry {
  private readonly byName = new Map<string, MetricValue>();
  private readonly nameById = new Map<number, string>();
  private readonly nextIdByType = new Map<number, number>([
    [MetricType.Counter, MetricType.Counter],
    [MetricType.Gauge, MetricType.Gauge],
    [MetricType.Histogram, MetricType.Histogram],
  ]);

  define(type: number, name: string): { status: StatusCode; id?: number } {
    const kind = kindByType[type];
    const previous = this.nextIdByType.get(type);
    if (kind === undefined || previous === undefined) return { status: Status.BadArgument };
    const id = previous + 4;
    this.nextIdByType.set(type, id);
    this.nameById.set(id, name);
    if (!this.byName.has(name)) this.byName.set(name, { kind, value: 0n, samples: [] });
    return { status: Status.Ok, id };
  }

  increment(id: number, offset: bigint): StatusCode {
    const metric = this.lookup(id);
    if (metric === undefined) return (id & 3) === MetricType.Histogram ? Status.BadArgument : Status.NotFound;
    if (metric.kind === 'counter') {
      if (offset <= 0n) return Status.BadArgument;
      metric.value += offset;
      return Status.Ok;
    }
    if (metric.kind === 'gauge') {
      metric.value += offset;
      return Status.Ok;
    }
    return Status.BadArgument;
  }

  record(id: number, value: bigint): StatusCode {
    const metric = this.lookup(id);
    if (metric === undefined) return Status.NotFound;
    const unsigned = BigInt.asUintN(64, value);
    if (metric.kind === 'counter') metric.value += unsigned;
    else if (metric.kind === 'gauge') metric.value = unsigned;
    else metric.samples.push(unsigned);
    return Status.Ok;
  }

  read(id: number): { status: StatusCode; value?: bigint } {
    const metric = this.lookup(id);
    if (metric === undefined) return { status: (id & 3) === MetricType.Histogram ? Status.BadArgument : Status.NotFound };
    if (metric.kind === 'histogram') return { status: Status.BadArgument };
    return { status: Status.Ok, value: metric.value };
  }

  // Test access by the name the filter defined.
  get(name: string): MetricValue | undefined {
    return this.byName.get(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  private lookup(id: number): MetricValue | undefined {
    const name = this.nameById.get(id >>> 0);
    return name === undefined ? undefined : this.byName.get(name);
  }
}
