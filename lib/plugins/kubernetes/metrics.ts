/**
 * coredns_kubernetes_dns_programming_duration_seconds: the time from a change in the cluster (the EndpointSlice
 * controller's last-change-trigger-time annotation) until this server serves it, for headless services with
 * selectors, as CoreDNS plugin/kubernetes/metrics.go records it (the Kubernetes DNS programming latency SLI).
 */
import { Histogram, type Registry } from 'prom-client';
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
