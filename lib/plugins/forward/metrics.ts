/**
 * The metrics of `forward` (CoreDNS plugin/forward/metrics.go and plugin/pkg/proxy/metrics.go): the proxy metrics
 * with `proxy_name="forward"` and the two forward counters. The handlers count in ForwardStats on the query path;
 * the metrics read those at scrape time. They are registered once per registry — a reload builds new handlers but
 * keeps the registry — and sum every live handler with the final counts of the stopped ones, so nothing goes
 * backwards across a reload.
 */
import { Counter, type Metric, type Registry } from 'prom-client';
import { rcodeName } from '../../dns/constants.js';
import type { PluginEnv } from '../../plugin.js';
import type { ForwardHandler } from './handler.js';
import { DURATION_BUCKETS, ForwardStats, type Histogram } from './stats.js';

/** CoreDNS's proxy package labels its metrics with the plugin that owns the proxy. */
const PROXY_NAME = 'forward';

interface Sample {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

function bump(m: Map<string, number>, k: string, by: number): void {
  m.set(k, (m.get(k) ?? 0) + by);
}

function addHistogram(to: Histogram, from: Histogram): void {
  for (let i = 0; i < from.counts.length; i++) to.counts[i] = (to.counts[i] ?? 0) + from.counts[i]!;
  to.sum += from.sum;
  to.count += from.count;
}

// Add every counter and histogram of `from` into `to`.
function mergeStats(to: ForwardStats, from: ForwardStats): void {
  for (const [k, v] of from.requests) bump(to.requests, k, v);
  for (const [k, v] of from.healthcheckFailures) bump(to.healthcheckFailures, k, v);
  for (const [k, v] of from.connCacheHits) bump(to.connCacheHits, k, v);
  for (const [k, v] of from.connCacheMisses) bump(to.connCacheMisses, k, v);
  to.healthcheckBroken += from.healthcheckBroken;
  to.maxConcurrentRejects += from.maxConcurrentRejects;
  for (const [upstream, byRcode] of from.responses) {
    let mine = to.responses.get(upstream);
    if (mine === undefined) to.responses.set(upstream, (mine = new Map()));
    for (const [rcode, h] of byRcode) {
      let acc = mine.get(rcode);
      if (acc === undefined) mine.set(rcode, (acc = { counts: new Array<number>(h.counts.length).fill(0), sum: 0, count: 0 }));
      addHistogram(acc, h);
    }
  }
}

/**
 * coredns_proxy_request_duration_seconds as a registry metric: prom-client's Histogram can only observe, while the
 * buckets already exist in ForwardStats, so this renders them directly (as lib/plugins/prometheus/vec.ts does).
 */
class DurationHistogram {
  readonly name = 'coredns_proxy_request_duration_seconds';
  readonly help = 'Histogram of the time each request took.';
  readonly type = 'histogram';
  readonly aggregator = 'sum';

  constructor(
    reg: Registry,
    private readonly read: () => ForwardStats,
  ) {
    // The registry only calls name/help/type/get(); prom-client's types accept only its own classes.
    reg.registerMetric(this as unknown as Metric);
  }

  /** Nothing to clear: the values belong to the handlers. */
  reset(): void {}

  /** Samples for the registry's text rendering: cumulative `_bucket`s, `_sum`, `_count` per upstream and rcode. */
  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const values: Sample[] = [];
    for (const [to, byRcode] of this.read().responses) {
      for (const [rcode, h] of byRcode) {
        if (h.count === 0) continue;
        // Label names sorted, `le` last, as Go's client prints them.
        const labels = { proxy_name: PROXY_NAME, rcode: rcodeName(rcode), to };
        let acc = 0;
        for (let i = 0; i < DURATION_BUCKETS.length; i++) {
          acc += h.counts[i]!;
          values.push({ metricName: `${this.name}_bucket`, value: acc, labels: { ...labels, le: DURATION_BUCKETS[i]! } });
        }
        values.push({ metricName: `${this.name}_bucket`, value: h.count, labels: { ...labels, le: '+Inf' } });
        values.push({ metricName: `${this.name}_sum`, value: h.sum, labels });
        values.push({ metricName: `${this.name}_count`, value: h.count, labels });
      }
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

/** Split a conn-cache key `${to}|${proto}` (the upstream label has no `|`). */
function splitConnKey(key: string): { to: string; proto: string } {
  const i = key.lastIndexOf('|');
  return { to: key.slice(0, i), proto: key.slice(i + 1) };
}

/** The forward metrics of one registry: the live handlers' stats and what the stopped ones counted. */
export class ForwardMetrics {
  private readonly live = new Set<ForwardStats>();
  private readonly retired = new ForwardStats();

  constructor(reg: Registry) {
    const total = (): ForwardStats => this.totals();
    // CoreDNS's two forward counters are plain counters: exported, at 0, from the start.
    new Counter({
      name: 'coredns_forward_healthcheck_broken_total',
      help: 'Counter of the number of complete failures of the healthchecks.',
      registers: [reg],
      collect() {
        this.reset();
        this.inc(total().healthcheckBroken);
      },
    });
    new Counter({
      name: 'coredns_forward_max_concurrent_rejects_total',
      help: 'Counter of the number of queries rejected because the concurrent queries were at maximum.',
      registers: [reg],
      collect() {
        this.reset();
        this.inc(total().maxConcurrentRejects);
      },
    });
    new DurationHistogram(reg, total);
    // The proxy vectors have a series once it was incremented, i.e. once it is above 0.
    new Counter({
      name: 'coredns_proxy_healthcheck_failures_total',
      help: 'Counter of the number of failed healthchecks.',
      labelNames: ['proxy_name', 'to'],
      registers: [reg],
      collect() {
        this.reset();
        for (const [to, n] of total().healthcheckFailures) if (n > 0) this.labels({ proxy_name: PROXY_NAME, to }).inc(n);
      },
    });
    for (const [name, pick] of [
      ['hits', (s: ForwardStats) => s.connCacheHits],
      ['misses', (s: ForwardStats) => s.connCacheMisses],
    ] as const) {
      new Counter({
        name: `coredns_proxy_conn_cache_${name}_total`,
        help: `Counter of connection cache ${name} per upstream and protocol.`,
        labelNames: ['proto', 'proxy_name', 'to'],
        registers: [reg],
        collect() {
          this.reset();
          for (const [key, n] of pick(total())) {
            const { to, proto } = splitConnKey(key);
            if (n > 0) this.labels({ proto, proxy_name: PROXY_NAME, to }).inc(n);
          }
        },
      });
    }
  }

  /**
   * Export `h`'s counters from now on. Returns the function to call when its server instance stops (reload or
   * shutdown, from its onShutdown hook): it keeps the final counts, so the totals carry on in the next instance.
   */
  add(h: ForwardHandler): () => void {
    const stats = h.stats;
    this.live.add(stats);
    return () => {
      if (this.live.delete(stats)) mergeStats(this.retired, stats);
    };
  }

  /** Retired counts plus every live handler's, in a fresh ForwardStats. */
  private totals(): ForwardStats {
    const sum = new ForwardStats();
    mergeStats(sum, this.retired);
    for (const s of this.live) mergeStats(sum, s);
    return sum;
  }
}

const BY_REGISTRY = new WeakMap<Registry, ForwardMetrics>();

/** The forward metrics of `env`'s registry, registered on first use (once per registry, across reloads). */
export function forwardMetrics(env: PluginEnv): ForwardMetrics {
  let m = BY_REGISTRY.get(env.metrics);
  if (m === undefined) BY_REGISTRY.set(env.metrics, (m = new ForwardMetrics(env.metrics)));
  return m;
}
