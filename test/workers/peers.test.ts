// What the primary worker's HTTP plugins make of the other workers' parts: readiness combined (lib/plugins/ready)
// and metrics summed (lib/plugins/prometheus/aggregate.ts), with real registries.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import t from 'tap';
import { combine } from '../../lib/util/readiness.js';
import { aggregatedMetrics } from '../../lib/plugins/prometheus/aggregate.js';
import type { MetricsJson } from '../../lib/util/worker-peers.js';

t.test('readiness: ready only when every worker is; names of what is not, once, sorted', async (t) => {
  const ok = { ready: true, notReady: '' };
  const cases: Array<[string, Array<{ ready: boolean; notReady: string }>, { ready: boolean; notReady: string }]> = [
    ['all ready', [ok, ok, ok], ok],
    ['one not', [ok, { ready: false, notReady: 'kubernetes' }], { ready: false, notReady: 'kubernetes' }],
    ['union', [{ ready: false, notReady: 'kubernetes' }, { ready: false, notReady: 'kubernetes,other' }, { ready: false, notReady: 'worker2' }], { ready: false, notReady: 'kubernetes,other,worker2' }],
  ];
  for (const [what, verdicts, want] of cases) t.same(combine(verdicts), want, what);
});

/** A worker's registry: one query counter, the constant build gauge, and (primary only) the process collectors. */
function worker(queries: number, primary: boolean): Registry {
  const reg = new Registry();
  new Counter({ name: 'coredns_dns_requests_total', help: 'h', labelNames: ['zone'], registers: [reg] }).labels('.').inc(queries);
  new Gauge({ name: 'coredns_build_info', help: 'h', labelNames: ['version'], registers: [reg], aggregator: 'max' }).labels('1').set(1);
  new Gauge({ name: 'clusterdns_kubernetes_synced', help: 'h', registers: [reg], aggregator: 'min' }).set(queries > 0 ? 1 : 0);
  if (primary) collectDefaultMetrics({ register: reg });
  return reg;
}

t.test('metrics: counters summed over workers, constant gauges once, the process collectors kept', async (t) => {
  const primary = worker(5, true);
  const others = [(await worker(7, false).getMetricsAsJSON()) as MetricsJson, (await worker(0, false).getMetricsAsJSON()) as MetricsJson];
  const text = await aggregatedMetrics(primary, others);
  t.match(text, /^coredns_dns_requests_total\{zone="\."\} 12$/m, '5 + 7 + 0');
  t.match(text, /^coredns_build_info\{version="1"\} 1$/m, 'max, not the sum of three');
  t.match(text, /^clusterdns_kubernetes_synced 0$/m, 'min: not synced until every worker is');
  t.match(text, /^process_start_time_seconds \d+$/m, "an 'omit' process series stays (the primary's)");
  t.match(text, /^# TYPE coredns_dns_requests_total counter$/m);
  const alone = await aggregatedMetrics(primary, []);
  t.match(alone, /^coredns_dns_requests_total\{zone="\."\} 5$/m, 'with no other worker: the primary alone');
});
