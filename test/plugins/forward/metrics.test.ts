/**
 * forward's metrics (coredns_proxy_* with proxy_name="forward", coredns_forward_*): built through the plugin with a
 * real registry against fake upstreams and read back from the registry's text output, across a simulated reload;
 * and end to end through a real server with prometheus, cache and forward, across a real reload.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Registry } from 'prom-client';
import t from 'tap';
import { parseCorefile } from '../../../lib/corefile/parser.js';
import { RCODE, TYPE } from '../../../lib/dns/constants.js';
import type { PluginEnv } from '../../../lib/plugin.js';
import { boundPort } from '../../../lib/util/http-endpoint.js';
import { forward, type ForwardHandler } from '../../../lib/plugins/forward/index.js';
import { ask, rcodeOf } from '../../support/client.js';
import { FakeUpstream, until, type Script } from '../../support/fake-upstream.js';
import { httpGet, sample, samples } from '../../support/http.js';
import { serve, testEnv } from '../../support/query.js';
import { startServer } from '../../support/server.js';

type Env = ReturnType<typeof testEnv>;

const upstreams: FakeUpstream[] = [];
const envs: Env[] = [];
t.teardown(async () => {
  for (const e of envs) await shutdown(e);
  for (const u of upstreams) await u.close();
});

async function upstream(script?: Script): Promise<FakeUpstream> {
  const u = await FakeUpstream.start(script);
  upstreams.push(u);
  return u;
}

/** A test env on `reg`: a new server instance each call, as a reload makes. */
function envOn(reg: Registry): Env {
  const env = { ...testEnv(['.']), metrics: reg, instance: {} };
  envs.push(env);
  return env;
}

async function shutdown(env: Env): Promise<void> {
  const hooks = env.shutdowns.splice(0);
  for (const fn of hooks) await fn();
}

/** Build `forward . <to> { <body> }` through the plugin definition. */
function build(env: PluginEnv, to: string, body: string[] = []): ForwardHandler {
  const d = parseCorefile(`. {\nforward . ${to} {\n${body.join('\n')}\n}\n}\n`, 'Corefile', {})[0]!.directives[0]!;
  return forward.build(forward.parse(d, { zones: env.zones, keys: env.keys }), null, env) as ForwardHandler;
}


/** CoreDNS plugin.TimeBuckets as Go prints the `le` labels. */
const LE = ['0.00025', '0.0005', '0.001', '0.002', '0.004', '0.008', '0.016', '0.032', '0.064', '0.128', '0.256', '0.512', '1.024', '2.048', '4.096', '8.192', '+Inf'];

t.test('every forward metric with its exact name, type, labels and value', async (t) => {
  const u = await upstream((q) => (q.name === 'nx.example' ? { rcode: RCODE.NXDOMAIN, answers: [] } : q.name === 'slow.example' ? { delayMs: 150 } : undefined));
  const reg = new Registry();
  const env = envOn(reg);
  const h = build(env, u.addr, ['max_concurrent 1']);
  let text = await reg.metrics();
  t.equal(sample(text, 'coredns_forward_healthcheck_broken_total'), 0, 'a plain counter: exported at 0 from the start');
  t.equal(sample(text, 'coredns_forward_max_concurrent_rejects_total'), 0);
  t.match(text, '# TYPE coredns_proxy_request_duration_seconds histogram\n');
  for (const name of ['coredns_proxy_healthcheck_failures_total', 'coredns_proxy_conn_cache_hits_total', 'coredns_proxy_conn_cache_misses_total']) {
    t.match(text, `# TYPE ${name} counter\n`);
    t.same(samples(text, name), [], `${name}: no series before any exchange`);
  }
  t.same(samples(text, 'coredns_proxy_request_duration_seconds_count'), []);

  for (const name of ['a.example', 'b.example', 'nx.example']) await serve(h, name, TYPE.A);
  await serve(h, 'c.example', TYPE.A, { proto: 'tcp' });
  const [slow, refused] = await Promise.all([serve(h, 'slow.example', TYPE.A), serve(h, 'd.example', TYPE.A)]);
  t.equal(slow.rcode, RCODE.NOERROR);
  t.equal(refused.rcode, RCODE.REFUSED);

  text = await reg.metrics();
  const to = u.addr;
  const ok = { proxy_name: 'forward', rcode: 'NOERROR', to };
  t.equal(sample(text, 'coredns_proxy_request_duration_seconds_count', ok), 4);
  t.equal(sample(text, 'coredns_proxy_request_duration_seconds_count', { ...ok, rcode: 'NXDOMAIN' }), 1);
  t.equal(sample(text, 'coredns_proxy_request_duration_seconds_sum', ok), h.stats.responses.get(to)!.get(RCODE.NOERROR)!.sum);
  const buckets = samples(text, 'coredns_proxy_request_duration_seconds_bucket').filter((s) => s.labels.rcode === 'NOERROR');
  t.same(buckets.map((b) => b.labels.le), LE, 'the 16 CoreDNS time buckets and +Inf');
  t.same(Object.keys(buckets[0]!.labels), ['proxy_name', 'rcode', 'to', 'le']);
  t.ok(buckets.every((b, i) => i === 0 || b.value >= buckets[i - 1]!.value), 'cumulative');
  t.equal(buckets.at(-1)!.value, 4);
  t.ok(buckets.find((b) => b.labels.le === '0.128')!.value <= 3, 'the 150 ms reply is above 0.128 s');
  t.equal(sample(text, 'coredns_proxy_conn_cache_misses_total', { proto: 'udp', proxy_name: 'forward', to }), 1);
  t.equal(sample(text, 'coredns_proxy_conn_cache_hits_total', { proto: 'udp', proxy_name: 'forward', to }), 3);
  t.equal(sample(text, 'coredns_proxy_conn_cache_misses_total', { proto: 'tcp', proxy_name: 'forward', to }), 1);
  t.equal(sample(text, 'coredns_proxy_conn_cache_hits_total', { proto: 'tcp', proxy_name: 'forward', to }), undefined);
  t.equal(sample(text, 'coredns_forward_max_concurrent_rejects_total'), 1);
  t.equal(sample(text, 'coredns_forward_healthcheck_broken_total'), 0);
  t.same(samples(text, 'coredns_proxy_healthcheck_failures_total'), [], 'no failed probe');
  t.notMatch(text, 'coredns_forward_requests_total', 'the deprecated per-upstream counters are gone, as in CoreDNS 1.11+');
});

t.test('health failures, two forwards and a reload on the same registry: counters never go backwards', async (t) => {
  const dead = await upstream(() => ({ drop: true }));
  const good = await upstream();
  const reg = new Registry();
  const env1 = envOn(reg);
  const h1 = build(env1, `${dead.addr} ${good.addr}`, ['policy sequential', 'read_timeout 100ms', 'max_fails 1', 'health_check 20ms']);
  t.equal((await serve(h1, 'example.org', TYPE.A)).rcode, RCODE.NOERROR, 'answered by the second upstream');
  t.ok(await until(() => (h1.stats.healthcheckFailures.get(dead.addr) ?? 0) >= 2), 'probes fail');
  const failures = { proxy_name: 'forward', to: dead.addr };
  const ok = { proxy_name: 'forward', rcode: 'NOERROR', to: good.addr };

  // The reloaded instance is built while the old one runs; both are exported until the old one stops.
  const env2 = envOn(reg);
  const h2 = build(env2, good.addr);
  await serve(h2, 'example.org', TYPE.A);
  let text = await reg.metrics();
  t.equal(sample(text, 'coredns_proxy_request_duration_seconds_count', ok), 2, 'summed over both forwards');
  const seen = sample(text, 'coredns_proxy_healthcheck_failures_total', failures)!;
  t.ok(seen >= 2);
  t.equal(sample(text, 'coredns_proxy_conn_cache_misses_total', { proto: 'udp', proxy_name: 'forward', to: good.addr }), 2, 'one socket each');

  await shutdown(env1);
  const final = h1.stats.healthcheckFailures.get(dead.addr)!;
  text = await reg.metrics();
  t.equal(sample(text, 'coredns_proxy_healthcheck_failures_total', failures), final, 'the stopped forward keeps its count');
  t.ok(final >= seen, 'monotonic');
  t.equal(sample(text, 'coredns_proxy_request_duration_seconds_count', ok), 2);
  await serve(h2, 'example.org', TYPE.A);
  await sleep(60);
  text = await reg.metrics();
  t.equal(sample(text, 'coredns_proxy_request_duration_seconds_count', ok), 3);
  t.equal(sample(text, 'coredns_proxy_request_duration_seconds_bucket', { ...ok, le: '+Inf' }), 3);
  t.equal(sample(text, 'coredns_proxy_healthcheck_failures_total', failures), final, 'no probes after the stop');
  t.equal(sample(text, 'coredns_proxy_conn_cache_misses_total', { proto: 'udp', proxy_name: 'forward', to: good.addr }), 2);
  t.equal(samples(text, 'coredns_proxy_request_duration_seconds_count').length, 1, 'one series across the reload');
});

t.test('end to end: cache and forward series on /metrics, across a reload', async (t) => {
  const u = await upstream();
  const corefile = (cache: string): string => `.:0 {\n  prometheus 127.0.0.1:0\n  ${cache}\n  forward . ${u.addr}\n}\n`;
  const srv = await startServer(corefile('cache'));
  t.teardown(() => srv.stop());
  const port = srv.port;
  const mport = boundPort(srv.inst.server.metrics, 'prometheus', '127.0.0.1:0')!;
  t.ok(mport > 0);
  t.equal(rcodeOf(await ask(port, 'www.example.org', 'A')), 'NOERROR');
  t.equal(rcodeOf(await ask(port, 'www.example.org', 'A')), 'NOERROR');
  t.equal(u.count(undefined, 'www.example.org'), 1, 'the second answer came from the cache');

  const scrape = async (): Promise<string> => {
    const res = await httpGet(mport, '/metrics');
    t.equal(res.status, 200);
    return res.body;
  };
  let text = await scrape();
  const server = `dns://:${port}`;
  t.same([...new Set(samples(text, 'coredns_dns_requests_total').map((s) => s.labels.server))], [server], 'the server label of the DNS metrics');
  const c = { server, view: '', zones: '.' };
  const p = { proxy_name: 'forward', rcode: 'NOERROR', to: u.addr };
  t.equal(sample(text, 'coredns_cache_requests_total', c), 2);
  t.equal(sample(text, 'coredns_cache_misses_total', c), 1);
  t.equal(sample(text, 'coredns_cache_hits_total', { ...c, type: 'success' }), 1);
  t.equal(sample(text, 'coredns_cache_entries', { ...c, type: 'success' }), 1);
  t.equal(sample(text, 'coredns_proxy_request_duration_seconds_count', p), 1);
  t.equal(sample(text, 'coredns_proxy_conn_cache_misses_total', { proto: 'udp', proxy_name: 'forward', to: u.addr }), 1);
  t.equal(sample(text, 'coredns_forward_healthcheck_broken_total'), 0);
  t.equal(sample(text, 'coredns_dns_responses_total', { server, zone: '.', view: '', rcode: 'NOERROR', plugin: 'cache' }), 1);

  t.equal(await srv.inst.reload(corefile('cache 30')), 'reloaded');
  t.equal(rcodeOf(await ask(port, 'www.example.org', 'A')), 'NOERROR');
  t.equal(u.count(undefined, 'www.example.org'), 2, 'the new instance starts with an empty cache');
  text = await scrape();
  t.equal(sample(text, 'coredns_cache_requests_total', c), 3, 'counters carry on across the reload');
  t.equal(sample(text, 'coredns_cache_misses_total', c), 2);
  t.equal(sample(text, 'coredns_cache_hits_total', { ...c, type: 'success' }), 1);
  // The replaced instance keeps running for its in-flight queries (RETIRE_GRACE_MS), so its cache still counts.
  t.equal(sample(text, 'coredns_cache_entries', { ...c, type: 'success' }), 2, 'old (retiring) and new cache entries');
  t.equal(sample(text, 'coredns_proxy_request_duration_seconds_count', p), 2);
  t.equal(samples(text, 'coredns_cache_requests_total').length, 1);
});
