/**
 * Counters of one forward instance, kept as plain numbers so the prometheus plugin can export them under CoreDNS's
 * names (coredns_forward_* and coredns_proxy_*, plugin/forward/metrics.go and plugin/pkg/proxy/metrics.go).
 */

/** CoreDNS plugin.TimeBuckets: prometheus.ExponentialBuckets(0.00025, 2, 16), in seconds. */
export const DURATION_BUCKETS: readonly number[] = Array.from({ length: 16 }, (_, i) => 0.00025 * 2 ** i);

/** A cumulative-ready histogram: per-bucket counts (not cumulative), the sum and the count. */
export interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

function bump<K>(m: Map<K, number>, k: K, by = 1): void {
  m.set(k, (m.get(k) ?? 0) + by);
}

/** The counters one forward handler keeps. Keys `to` are upstream labels (`1.2.3.4:53`). */
export class ForwardStats {
  /** Exchanges started per upstream (CoreDNS's deprecated coredns_forward_requests_total{to}). */
  readonly requests = new Map<string, number>();
  /** coredns_proxy_request_duration_seconds{to,rcode} / responses per upstream and (numeric) rcode. */
  readonly responses = new Map<string, Map<number, Histogram>>();
  /** coredns_proxy_healthcheck_failures_total{to}. */
  readonly healthcheckFailures = new Map<string, number>();
  /** coredns_forward_healthcheck_broken_total: all upstreams were down. */
  healthcheckBroken = 0;
  /** coredns_forward_max_concurrent_rejects_total. */
  maxConcurrentRejects = 0;
  /** coredns_proxy_conn_cache_hits_total{to,proto}: key `${to}|${proto}`. */
  readonly connCacheHits = new Map<string, number>();
  /** coredns_proxy_conn_cache_misses_total{to,proto}: key `${to}|${proto}`. */
  readonly connCacheMisses = new Map<string, number>();

  /** Count one exchange sent to `to`. */
  request(to: string): void {
    bump(this.requests, to);
  }

  /** Record a reply from `to` with `rcode` after `seconds`. */
  response(to: string, rcode: number, seconds: number): void {
    let byRcode = this.responses.get(to);
    if (byRcode === undefined) this.responses.set(to, (byRcode = new Map()));
    let h = byRcode.get(rcode);
    if (h === undefined) byRcode.set(rcode, (h = { counts: new Array<number>(DURATION_BUCKETS.length + 1).fill(0), sum: 0, count: 0 }));
    let i = 0;
    while (i < DURATION_BUCKETS.length && seconds > DURATION_BUCKETS[i]!) i++;
    h.counts[i]!++;
    h.sum += seconds;
    h.count++;
  }

  /** Count a failed health probe of `to`. */
  healthcheckFailure(to: string): void {
    bump(this.healthcheckFailures, to);
  }

  /** Count a connection reuse (hit) or a new connection (miss). */
  connCache(to: string, proto: string, hit: boolean): void {
    bump(hit ? this.connCacheHits : this.connCacheMisses, `${to}|${proto}`);
  }

  /** Total replies received from `to` with `rcode` (tests, debugging). */
  responseCount(to: string, rcode: number): number {
    return this.responses.get(to)?.get(rcode)?.count ?? 0;
  }
}
