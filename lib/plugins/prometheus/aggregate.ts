/**
 * `/metrics` of a process serving with several workers (lib/workers): every worker counts its own queries in its
 * own registry, and the primary's listener sums them with prom-client's aggregator, each metric by its
 * `aggregator` (counters and histograms: sum; the constant info gauges: max). Process-wide collectors exist only in
 * the primary, so 'omit' (meant for one series per process of a cluster) keeps the primary's series instead.
 */
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { MetricsJson } from '../../util/worker-peers.js';

const keepOmitted = (list: MetricsJson): MetricsJson =>
  list.map((m) => (m.aggregator === 'omit' ? { ...m, aggregator: 'first' } : m));

/** The text exposition of `reg` summed with the other workers' metrics. */
export async function aggregatedMetrics(reg: Registry, others: readonly MetricsJson[]): Promise<string> {
  const own = (await reg.getMetricsAsJSON()) as MetricsJson;
  return AggregatorRegistry.aggregate([own, ...others].map(keepOmitted)).metrics();
}
