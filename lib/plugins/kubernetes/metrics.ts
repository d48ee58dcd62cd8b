/**
 * coredns_kubernetes_dns_programming_duration_seconds: the time from a change in the cluster (the EndpointSlice
 * controller's last-change-trigger-time annotation) until this server serves it, for headless services with
 * selectors, as CoreDNS plugin/kubernetes/metrics.go records it (the Kubernetes DNS programming latency SLI).
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { SourceObserver } from '../../kube/api/api-source.js';
import type { ChangeEvent, EndpointSlice, Service } from '../../kube/types.js';

/** 1 ms to ~17 minutes, as CoreDNS: ExponentialBuckets(0.001, 2, 20). */
export const PROGRAMMING_BUCKETS = Array.from({ length: 20 }, (_, k) => 0.001 * 2 ** k);

const HISTOGRAMS = new WeakMap<Registry, Histogram<'service_kind'>>();

/** The histogram on `reg`, registered once per registry (it survives reloads). */
export function programmingLatency(reg: Registry): Histogram<'service_kind'> {
  let h = HISTOGRAMS.get(reg);
  if (h === undefined) {
    h = new Histogram({
      name: 'coredns_kubernetes_dns_programming_duration_seconds',
      help: 'Histogram of the time (in seconds) it took to program a dns instance.',
      labelNames: ['service_kind'],
      buckets: PROGRAMMING_BUCKETS,
      registers: [reg],
    });
    HISTOGRAMS.set(reg, h);
  }
  return h;
}

/**
 * Observe every added or changed EndpointSlice in `events` that carries a trigger time and belongs to a headless
 * service (which then has a selector: only the controller sets the annotation). Call after the zone applied the
 * batch, so "now" is when the new answer is served.
 */
export function recordProgramming(
  events: readonly ChangeEvent[],
  serviceOf: (slice: EndpointSlice) => Service | undefined,
  h: Histogram<'service_kind'>,
  now: number = Date.now(),
): void {
  for (const e of events) {
    if (e.kind !== 'EndpointSlice' || e.type === 'deleted' || !e.obj) continue;
    const t = e.obj.lastChangeTriggerTime;
    if (!t) continue;
    const svc = serviceOf(e.obj);
    if (svc === undefined || !svc.headless) continue;
    h.labels('headless_with_selector').observe(Math.max(0, now - t) / 1000);
  }
}

/**
 * Metrics of the Kubernetes API source: CoreDNS's `coredns_kubernetes_rest_client_*` (client-go's request metrics,
 * same names and labels) plus clusterdns's own view of the watches: whether the first sync is done, when the last
 * event arrived, why watches were re-opened, and how long each batch of watch events took from its arrival until
 * the new answers were served (the zone and the caches are updated synchronously with the model).
 */
export function apiSourceMetrics(reg: Registry): SourceObserver {
  let m = API_METRICS.get(reg);
  if (m === undefined) {
    m = makeApiMetrics(reg);
    API_METRICS.set(reg, m);
  }
  return m;
}

const API_METRICS = new WeakMap<Registry, SourceObserver>();

// client-go's request latency buckets (k8s.io/client-go/tools/metrics via component-base): 5 ms to 60 s.
const REQUEST_BUCKETS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60];
// Watch event → served: sub-millisecond normally; 0.1 ms to ~3 s.
const APPLY_BUCKETS = Array.from({ length: 16 }, (_, k) => 0.0001 * 2 ** k);

function makeApiMetrics(reg: Registry): SourceObserver {
  const registers = [reg];
  const requests = new Counter({
    name: 'coredns_kubernetes_rest_client_requests_total',
    help: 'Number of HTTP requests, partitioned by status code, method, and host.',
    labelNames: ['code', 'method', 'host'],
    registers,
  });
  const duration = new Histogram({
    name: 'coredns_kubernetes_rest_client_request_duration_seconds',
    help: 'Request latency in seconds. Broken down by verb and host.',
    labelNames: ['verb', 'host'],
    buckets: REQUEST_BUCKETS,
    registers,
  });
  const limiter = new Histogram({
    name: 'coredns_kubernetes_rest_client_rate_limiter_duration_seconds',
    help: 'Client side rate limiter latency in seconds. Broken down by verb and host.',
    labelNames: ['verb', 'host'],
    buckets: REQUEST_BUCKETS,
    registers,
  });
  const synced = new Gauge({
    name: 'clusterdns_kubernetes_synced',
    help: '1 once every watched Kubernetes collection has been listed, else 0.',
    registers,
    // With several workers (lib/workers), 1 only when every one has synced.
    aggregator: 'min',
  });
  const lastEvent = new Gauge({
    name: 'clusterdns_kubernetes_last_event_timestamp_seconds',
    help: 'Unix time of the last list or watch event received, by resource.',
    labelNames: ['resource'],
    registers,
    aggregator: 'max',
  });
  const restarts = new Counter({
    name: 'clusterdns_kubernetes_watch_restarts_total',
    help: 'Watches re-opened, by resource and reason (timeout, expired, stalled, error, apply).',
    labelNames: ['resource', 'reason'],
    registers,
  });
  const applied = new Histogram({
    name: 'clusterdns_kubernetes_event_programming_seconds',
    help: 'Time from the arrival of a batch of watch events until its answers are served, by resource.',
    labelNames: ['resource'],
    buckets: APPLY_BUCKETS,
    registers,
  });
  return {
    request(method, host, status, seconds) {
      requests.labels(status ? String(status) : '<error>', method, host).inc();
      duration.labels(method, host).observe(seconds);
    },
    rateLimited(method, host, seconds) {
      limiter.labels(method, host).observe(seconds);
    },
    synced(state) {
      synced.set(state ? 1 : 0);
    },
    listed(spec) {
      lastEvent.labels(spec.resource).set(Date.now() / 1000);
    },
    events(spec) {
      lastEvent.labels(spec.resource).set(Date.now() / 1000);
    },
    applied(spec, seconds) {
      applied.labels(spec.resource).observe(seconds);
    },
    restarted(spec, reason) {
      restarts.labels(spec.resource, reason).inc();
    },
  };
}
