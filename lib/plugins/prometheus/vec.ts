/**
 * Labelled counters and histograms for the per-query path. prom-client's own `labels().inc()` hashes the label
 * object on every call; these hand out a cell per label tuple once, and the caller keeps the cell, so a query
 * costs a few array increments. They register on a prom-client Registry and are rendered by it like its own.
 */
import type { Metric, Registry } from 'prom-client';

/** One label tuple's counter. */
export interface CounterCell {
  readonly labels: Record<string, string>;
  value: number;
}

/** One label tuple's histogram: per-bucket (not cumulative) counts, sum and count. */
export interface HistogramCell {
  readonly labels: Record<string, string>;
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

interface Sample {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/** Labels object with keys in name order, as Go's client_golang prints them. */
function labelObject(names: readonly string[], values: readonly string[]): Record<string, string> {
  const pairs = names.map((n, i) => [n, values[i] ?? ''] as const).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  return Object.fromEntries(pairs);
}

abstract class Vec<C> {
  readonly name: string;
  readonly help: string;
  readonly aggregator = 'sum';
  readonly labelNames: readonly string[];
  protected readonly cells = new Map<string, C>();

  constructor(reg: Registry, name: string, help: string, labelNames: readonly string[]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
    // The registry only calls name/help/type/get(); prom-client types accept only its own classes.
    reg.registerMetric(this as unknown as Metric);
  }

  /** The cell for these label values (in labelNames order), created on first use. Keep it; do not call per query. */
  cell(...values: string[]): C {
    const key = values.join('\u0000');
    let c = this.cells.get(key);
    if (c === undefined) this.cells.set(key, (c = this.create(labelObject(this.labelNames, values))));
    return c;
  }

  /** prom-client calls this when a registry is reset. */
  reset(): void {
    this.cells.clear();
  }

  protected abstract create(labels: Record<string, string>): C;
}

/** A counter vector. */
export class CounterVec extends Vec<CounterCell> {
  readonly type = 'counter';

  protected create(labels: Record<string, string>): CounterCell {
    return { labels, value: 0 };
  }

  /** Samples for the registry's text rendering. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const values: Sample[] = [];
    for (const c of this.cells.values()) values.push({ value: c.value, labels: c.labels });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** A histogram vector with fixed upper bounds (ascending, +Inf implied). */
export class HistogramVec extends Vec<HistogramCell> {
  readonly type = 'histogram';
  readonly bounds: readonly number[];

  constructor(reg: Registry, name: string, help: string, labelNames: readonly string[], bounds: readonly number[]) {
    super(reg, name, help, labelNames);
    this.bounds = bounds;
  }

  protected create(labels: Record<string, string>): HistogramCell {
    return { labels, counts: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 };
  }

  /** Record `v` in `cell` (the first bucket whose bound is ≥ v, as Prometheus `le` buckets). */
  observe(cell: HistogramCell, v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]!) i++;
    cell.counts[i]!++;
    cell.sum += v;
    cell.count++;
  }

  /** Samples for the registry's text rendering: cumulative `_bucket`s, `_sum`, `_count`. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const values: Sample[] = [];
    for (const c of this.cells.values()) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += c.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, value: acc, labels: { ...c.labels, le: this.bounds[i]! } });
      }
      values.push({ metricName: `${this.name}_bucket`, value: c.count, labels: { ...c.labels, le: '+Inf' } });
      values.push({ metricName: `${this.name}_sum`, value: c.sum, labels: c.labels });
      values.push({ metricName: `${this.name}_count`, value: c.count, labels: c.labels });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
