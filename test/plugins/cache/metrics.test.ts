/**
 * coredns_cache_* metrics: built through the plugin with a real registry, driven by queries, read back from the
 * registry's text output (names, label sets, values), across a simulated reload and with two caches.
 */
import { Registry } from 'prom-client';
import t from 'tap';
import { parseCorefile } from '../../../lib/corefile/parser.js';
import type { Directive } from '../../../lib/corefile/types.js';
import { TYPE } from '../../../lib/dns/constants.js';
import type { Message } from '../../../lib/dns/message.js';
import type { Handler, PluginEnv, Served } from '../../../lib/plugin.js';
import { CacheHandler } from '../../../lib/plugins/cache/handler.js';
import { cache } from '../../../lib/plugins/cache/index.js';
import { cacheMetrics } from '../../../lib/plugins/cache/metrics.js';
import type { Query } from '../../../lib/query.js';
import { sample, samples } from '../../support/http.js';
import { NextRecorder, serve, testEnv } from '../../support/query.js';
import { rrs } from '../../support/rr.js';

const SOA = 'example.org. 60 IN SOA ns.example.org. hostmaster.example.org. 1 7200 1800 86400 30';

/**
 * The rest of the chain: `nx*` names get NXDOMAIN with an SOA, `bad*` a reply for another question (a drop),
 * `short*` an A record with TTL 5, anything else an A record with TTL 300.
 */
class Backend implements Handler {
  readonly name = 'backend';
  calls = 0;
  serve(q: Query): Served {
    this.calls++;
    const label = q.name.split('.')[0]!;
    let m: Message;
    if (label.startsWith('nx')) {
      m = q.newReply(3, true);
      m.authority = rrs(SOA);
    } else if (label.startsWith('bad')) {
      m = q.newReply(0, true);
      m.question = [{ name: 'other.example.org.', type: TYPE.A, class: 1 }];
      m.answer = rrs('other.example.org. 300 IN A 10.0.0.9');
    } else {
      m = q.newReply(0, true);
      m.answer = rrs(`${q.name} ${label.startsWith('short') ? 5 : 300} IN A 10.0.0.1`);
    }
    return q.reply(m, this.name);
  }
}

type Env = ReturnType<typeof testEnv>;

/** A test env on `reg` for a block `zones` on `port` (a new server instance each call, as a reload makes). */
function envOn(reg: Registry, zones: string[], port: number, hosts: string[] = []): Env {
  return { ...testEnv(zones), metrics: reg, instance: {}, hosts, keys: zones.map((zone) => ({ scheme: 'dns', zone, port })) };
}

/** Build `cache <args> { <body> }` in `env`'s block through the plugin definition. */
function build(env: PluginEnv, args: string, body: string[] = [], next: Handler = new Backend()): CacheHandler {
  const text = `${env.zones.join(' ')} {\ncache ${args} {\n${body.join('\n')}\n}\n}\n`;
  const d = parseCorefile(text, 'Corefile', {})[0]!.directives.find((x: Directive) => x.name.text === 'cache')!;
  const h = cache.build(cache.parse(d, { zones: env.zones, keys: env.keys }), next, env);
  return h as CacheHandler;
}

async function shutdown(env: Env): Promise<void> {
  for (const fn of env.shutdowns) await fn();
}

const NAMES = [
  'coredns_cache_entries',
  'coredns_cache_requests_total',
  'coredns_cache_hits_total',
  'coredns_cache_misses_total',
  'coredns_cache_prefetch_total',
  'coredns_cache_drops_total',
  'coredns_cache_served_stale_total',
  'coredns_cache_evictions_total',
];

t.test('every cache metric with its exact name, type, labels and value', async (t) => {
  const reg = new Registry();
  const env = envOn(reg, ['example.org.'], 1053);
  const h = build(env, '', ['success 1024', 'prefetch 1 1m 90%']);
  const before = await reg.metrics();
  for (const name of NAMES) {
    const type = name === 'coredns_cache_entries' ? 'gauge' : 'counter';
    t.match(before, `# TYPE ${name} ${type}\n`, `${name} registered as a ${type}`);
    t.same(samples(before, name), [], `${name}: no series before any query`);
  }

  await serve(h, 'a.example.org', TYPE.A); // miss, stored
  await serve(h, 'a.example.org', TYPE.A); // success hit
  await serve(h, 'nx.example.org', TYPE.A); // miss, stored as denial
  await serve(h, 'nx.example.org', TYPE.A); // denial hit
  await serve(h, 'bad.example.org', TYPE.A); // miss, not stored: question mismatch
  await serve(h, 'www.example.net', TYPE.A); // outside the cache's zones: not counted at all
  await serve(h, 'short.example.org', TYPE.A); // miss, stored with TTL 5
  await serve(h, 'short.example.org', TYPE.A); // hit with 5 s left of 5: prefetched in the background
  await h.whenIdle();
  // 1024 more names into a success cache of 1024 that holds 2 already: the 2 least recent are evicted.
  for (let i = 0; i < 1024; i++) await serve(h, `n${i}.example.org`, TYPE.A);

  const text = await reg.metrics();
  const base = { server: 'dns://:1053', view: '', zones: 'example.org.' };
  t.equal(sample(text, 'coredns_cache_requests_total', base), 1031);
  t.equal(sample(text, 'coredns_cache_misses_total', base), 1028);
  t.equal(sample(text, 'coredns_cache_hits_total', { ...base, type: 'success' }), 2);
  t.equal(sample(text, 'coredns_cache_hits_total', { ...base, type: 'denial' }), 1);
  t.equal(sample(text, 'coredns_cache_drops_total', base), 1);
  t.equal(sample(text, 'coredns_cache_prefetch_total', base), 1);
  t.equal(sample(text, 'coredns_cache_entries', { ...base, type: 'success' }), 1024);
  t.equal(sample(text, 'coredns_cache_entries', { ...base, type: 'denial' }), 1);
  t.equal(sample(text, 'coredns_cache_evictions_total', { ...base, type: 'success' }), 2);
  // Series exist only once counted, like CoreDNS's counter vectors: no stale serves, no denial evictions.
  t.same(samples(text, 'coredns_cache_served_stale_total'), []);
  t.same(samples(text, 'coredns_cache_evictions_total').length, 1);
  t.same(samples(text, 'coredns_cache_requests_total').length, 1);
  t.match(text, 'coredns_cache_hits_total{server="dns://:1053",type="success",view="",zones="example.org."} 2\n', 'labels in name order');
  t.match(text, '# HELP coredns_cache_misses_total The count of cache misses. Deprecated, derive misses from cache hits/requests counters.\n');
  // The stats the handler keeps and what is exported agree.
  t.equal(h.stats.requests, 1031);
});

t.test('served_stale, a bind address, the bound listener label and two caches side by side', async (t) => {
  const reg = new Registry();
  const env = envOn(reg, ['example.org.', 'example.net.'], 0, ['127.0.0.1']);
  let listening: ((bound: readonly { host: string; port: number }[]) => void) | undefined;
  env.onListening = (fn) => void (listening = fn);
  // A handler with a fake clock, hooked up as build does.
  const [block] = parseCorefile('example.org example.net {\ncache {\nserve_stale 1h\n}\n}\n', 'Corefile', {});
  const cfg = cache.parse(block!.directives[0]!, { zones: env.zones, keys: env.keys });
  const clock = { now: 1_000_000 };
  const h = new CacheHandler(cfg, new Backend(), { now: () => clock.now });
  cacheMetrics(env).add(h, cfg.zones, env);
  await serve(h, 'a.example.org', TYPE.A);
  clock.now += 301_000;
  await serve(h, 'a.example.org', TYPE.A); // expired, served stale with a background refresh
  await h.whenIdle();
  const zones = 'example.org.,example.net.';
  let text = await reg.metrics();
  t.equal(sample(text, 'coredns_cache_served_stale_total', { server: 'dns://127.0.0.1:0', view: '', zones }), 1, 'configured address');
  t.equal(sample(text, 'coredns_cache_prefetch_total', { server: 'dns://127.0.0.1:0', view: '', zones }), 1, 'the refresh');

  listening!([{ host: '127.0.0.1', port: 5353 }, { host: '127.0.0.1', port: 5354 }]);
  // A second block's cache on another port: its own series.
  const other = envOn(reg, ['.'], 53);
  const h2 = build(other, '30', [], new NextRecorder());
  await serve(h2, 'x.test', TYPE.A);
  text = await reg.metrics();
  t.same(
    samples(text, 'coredns_cache_requests_total').map((s) => `${s.labels.server} ${s.labels.zones} ${s.value}`).sort(),
    ['dns://127.0.0.1:5353 example.org.,example.net. 2', 'dns://:53 . 1'],
    'one series per cache, labelled with its first bound listener',
  );
});

t.test('a reload on the same registry keeps counters monotonic; entries follow the live cache', async (t) => {
  const reg = new Registry();
  const env1 = envOn(reg, ['example.org.'], 1053);
  const h1 = build(env1, '');
  await serve(h1, 'a.example.org', TYPE.A);
  await serve(h1, 'a.example.org', TYPE.A);
  await serve(h1, 'b.example.org', TYPE.A);
  const base = { server: 'dns://:1053', view: '', zones: 'example.org.' };
  let text = await reg.metrics();
  t.equal(sample(text, 'coredns_cache_requests_total', base), 3);
  t.equal(sample(text, 'coredns_cache_entries', { ...base, type: 'success' }), 2);

  // The new instance is built while the old one still runs; both count until the old one stops.
  const env2 = envOn(reg, ['example.org.'], 1053);
  const h2 = build(env2, '');
  await serve(h2, 'a.example.org', TYPE.A);
  text = await reg.metrics();
  t.equal(sample(text, 'coredns_cache_requests_total', base), 4);
  t.equal(sample(text, 'coredns_cache_misses_total', base), 3);

  await shutdown(env1);
  await serve(h1, 'late.example.org', TYPE.A); // a straggler after its instance stopped is not exported
  text = await reg.metrics();
  t.equal(sample(text, 'coredns_cache_requests_total', base), 4, 'the stopped cache still counts in the totals');
  t.equal(sample(text, 'coredns_cache_hits_total', { ...base, type: 'success' }), 1);
  t.equal(sample(text, 'coredns_cache_entries', { ...base, type: 'success' }), 1, "only the live cache's entries");

  await serve(h2, 'a.example.org', TYPE.A);
  text = await reg.metrics();
  t.equal(sample(text, 'coredns_cache_requests_total', base), 5);
  t.equal(sample(text, 'coredns_cache_hits_total', { ...base, type: 'success' }), 2);
  await shutdown(env2);
  await shutdown(env2); // a second stop changes nothing
  text = await reg.metrics();
  t.equal(sample(text, 'coredns_cache_requests_total', base), 5);
  t.equal(sample(text, 'coredns_cache_entries', { ...base, type: 'success' }), 0, 'a gauge once shown stays, at 0');
  t.equal(samples(text, 'coredns_cache_requests_total').length, 1, 'one series across the reload');
});
