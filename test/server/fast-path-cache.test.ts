// The fast path in blocks with `cache` and `loadbalance` (the kubeadm Corefile's plugin set): replayed replies are
// byte-for-byte what the general path writes, TTLs counting down included, for cluster names (passed through the
// cache unstored, or cached) and forwarded ones; the cache counts every replayed query as its general path would;
// replies loadbalance shuffles are replayed with a new, uniform draw; prefetching caches and expired entries stay on
// the general path.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import dnsPacket from 'dns-packet';
import t, { type Test } from 'tap';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { parseCorefile } from '../../lib/corefile/parser.js';
import { cacheClock } from '../../lib/plugins/cache/handler.js';
import { planServers } from '../../lib/server/plan.js';
import { DnsServer } from '../../lib/server/server.js';
import { clusterQuestions, readList, type Question } from '../support/cluster-names.js';
import { DEMO_DIR, REPO_ROOT, tempDir } from '../support/e2e-cluster.js';
import { FakeUpstream } from '../support/fake-upstream.js';
import { Client, Counting, query, sample, type Wire } from '../support/wire-client.js';

// Both servers' caches read this clock, so their TTLs count down together and deterministically.
let clock = 1_000_000;
const realClock = cacheClock.now;
cacheClock.now = () => clock;
t.teardown(() => void (cacheClock.now = realClock));

interface Running {
  server: DnsServer;
  port: number;
  seen: Counting;
}

const KUBEADM_CACHE = '{\n        disable success cluster.local\n        disable denial cluster.local\n    }';

const corefile = (upstream: string, cacheArgs: string): string => `.:0 {
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        fixture ${DEMO_DIR}
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    forward . ${upstream}
    cache 30 ${cacheArgs}
    loadbalance
}
`;

async function run(text: string, fastPath: boolean): Promise<Running> {
  const plan = planServers(parseCorefile(text, 'Corefile', {}), 53);
  const server = new DnsServer(plan, pino({ level: 'silent' }), { exit: () => undefined, fastPath, metrics: new Registry() });
  const seen = new Counting();
  server.observe(seen);
  const bound = await server.start();
  return { server, port: bound[0]!.port, seen };
}

/** A fast-path server and a general-path reference on the same Corefile, with equal SOA serials. */
async function pair(t: Test, text: string): Promise<{ fast: Running; ref: Running }> {
  for (let attempt = 0; ; attempt++) {
    const [fast, ref] = await Promise.all([run(text, true), run(text, false)]);
    const c1 = new Client(fast.port);
    const c2 = new Client(ref.port);
    // Asked with CD so that these two askings fill cache entries no walk below uses.
    const soa = query('cluster.local.', 'SOA', { id: 7, cd: true });
    const same = (await c1.ask(soa))!.equals((await c2.ask(soa))!);
    c1.close();
    c2.close();
    if (same || attempt >= 4) {
      t.teardown(async () => {
        await fast.server.stop();
        await ref.server.stop();
      });
      return { fast, ref };
    }
    await Promise.all([fast.server.stop(), ref.server.stop()]);
  }
}

// Forwarded names: single answers (memoizable hits), several addresses (shuffled by loadbalance, redrawn on replay),
// a CNAME with its target, NXDOMAIN and SERVFAIL.
const FORWARDED: Question[] = [
  { name: 'api.example.com.', type: 'A' },
  { name: 'api.example.com.', type: 'AAAA' },
  { name: 'www.example.org.', type: 'A' },
  { name: 'multi.example.org.', type: 'A' },
  { name: 'alias.example.net.', type: 'A' },
  { name: 'gone.example.net.', type: 'A' },
  { name: 'broken.example.net.', type: 'A' },
];

async function upstream(t: Test): Promise<FakeUpstream> {
  const up = await FakeUpstream.start((q) => {
    if (q.name === 'multi.example.org' && q.type === 'A') {
      return { answers: ['192.0.2.10', '192.0.2.11', '192.0.2.12'].map((data) => ({ type: 'A' as const, name: q.name, ttl: 120, data })) };
    }
    if (q.name === 'alias.example.net') {
      return { answers: [{ type: 'CNAME', name: q.name, ttl: 300, data: 'edge.cdn.example' }, { type: 'A', name: 'edge.cdn.example', ttl: 20, data: '198.51.100.7' }] };
    }
    if (q.name === 'api.example.com' && q.type === 'AAAA') return { answers: [{ type: 'AAAA', name: q.name, ttl: 90, data: '2001:db8::1' }] };
    if (q.name === 'gone.example.net') return { rcode: 3 };
    if (q.name === 'broken.example.net') return { rcode: 2 };
    return undefined;
  });
  t.teardown(() => up.close());
  return up;
}

// dns-packet's view of a reply with the records of every section sorted: equal for two replies that differ only
// in loadbalance's shuffle.
function canonical(b: Buffer): string {
  const p = dnsPacket.decode(b);
  const sort = (rrs: unknown[] | undefined): string[] => (rrs ?? []).map((r) => JSON.stringify(r)).sort();
  return JSON.stringify([p.id, p.flags, p.questions, sort(p.answers), sort(p.authorities), sort(p.additionals)]);
}

interface Round {
  bad: string[];
  /** Replies equal only once sorted (loadbalance shuffled them). */
  shuffled: number;
  replayed: number;
  asked: number;
}

/** Ask every question of both servers in shape `shape`; compare the replies byte for byte. */
async function round(fast: Running, ref: Running, questions: readonly Question[], shape: Omit<Wire, 'id'>): Promise<Round> {
  const cf = new Client(fast.port);
  const cr = new Client(ref.port);
  const out: Round = { bad: [], shuffled: 0, replayed: 0, asked: questions.length };
  const before = fast.seen.replays;
  let id = 1;
  for (let i = 0; i < questions.length; i += 32) {
    await Promise.all(
      questions.slice(i, i + 32).map(async (q) => {
        id = (id % 65000) + 1;
        const wire = query(q.name, q.type, { ...shape, id });
        const [x, y] = await Promise.all([cf.ask(wire), cr.ask(wire)]);
        if (x === null || y === null) out.bad.push(`${q.name} ${q.type}: no reply (${x === null ? 'fast' : 'ref'})`);
        else if (x.equals(y)) return;
        else if (canonical(x) === canonical(y)) out.shuffled++;
        else out.bad.push(`${q.name} ${q.type} ${JSON.stringify(shape)}: ${x.toString('hex')} != ${y.toString('hex')}`);
      }),
    );
  }
  cf.close();
  cr.close();
  out.replayed = fast.seen.replays - before;
  return out;
}

const CACHE_METRICS: Array<[string, Record<string, string>]> = [
  ['coredns_cache_requests_total', {}],
  ['coredns_cache_hits_total', { type: 'success' }],
  ['coredns_cache_hits_total', { type: 'denial' }],
  ['coredns_cache_misses_total', {}],
  ['coredns_cache_entries', { type: 'success' }],
  ['coredns_cache_entries', { type: 'denial' }],
  ['coredns_cache_evictions_total', { type: 'success' }],
];

async function cacheCounts(s: Running): Promise<Record<string, number | undefined>> {
  const text = await s.server.metrics.metrics();
  return Object.fromEntries(CACHE_METRICS.map(([m, l]) => [`${m}${JSON.stringify(l)}`, sample(text, m, l)]));
}

const cluster = clusterQuestions(readList(path.join(DEMO_DIR, 'cluster.yaml')));

for (const [what, cacheArgs] of [
  ['kubeadm cache (cluster.local disabled)', KUBEADM_CACHE],
  ['cache 30 (cluster answers cached too)', ''],
  ['cache 30 with keepttl', '{\n        keepttl\n    }'],
] as const) {
  t.test(`byte-for-byte through cache and loadbalance: ${what}`, async (t) => {
    const up = await upstream(t);
    const { fast, ref } = await pair(t, corefile(up.addr, cacheArgs));
    const questions = [...cluster, ...FORWARDED];
    for (const shape of [{ rd: true }, { rd: false, cd: true }, { edns: 1232, do: true }, { edns: 512 }] as Array<Omit<Wire, 'id'>>) {
      const label = JSON.stringify(shape);
      const fill = await round(fast, ref, questions, shape);
      t.same(fill.bad.slice(0, 5), [], `${label}, first asking: identical replies`);
      // Second asking: cache hits on both, memoized by the fast server; third: replayed.
      await round(fast, ref, questions, shape);
      const replay = await round(fast, ref, questions, shape);
      t.same(replay.bad.slice(0, 5), [], `${label}, replayed: identical replies`);
      t.ok(replay.replayed > questions.length * 0.5, `${label}: ${replay.replayed}/${questions.length} replayed`);
      // Seven and a half seconds later every cached TTL is 7 lower, on both paths.
      clock += 7_500;
      const later = await round(fast, ref, questions, shape);
      t.same(later.bad.slice(0, 5), [], `${label}, TTLs counted down: identical replies`);
      t.ok(later.replayed > questions.length * 0.5, `${label}: ${later.replayed}/${questions.length} replayed later`);
      t.ok(later.shuffled + replay.shuffled + fill.shuffled > 0, `${label}: shuffled replies seen (general path on both)`);
      // Past every TTL: expired entries go back to the chain on both servers, and are replayed again after.
      clock += 400_000;
      const expired = await round(fast, ref, questions, shape);
      t.same(expired.bad.slice(0, 5), [], `${label}, after expiry: identical replies`);
      await round(fast, ref, questions, shape);
      const again = await round(fast, ref, questions, shape);
      t.same(again.bad.slice(0, 5), [], `${label}, replayed again: identical replies`);
    }
    t.same(await cacheCounts(fast), await cacheCounts(ref), 'cache metrics equal on both servers');
    const hits = (await cacheCounts(fast))['coredns_cache_hits_total{"type":"success"}'] ?? 0;
    t.ok(hits > 0, `the cache was hit (${hits} success hits)`);
    t.equal(fast.seen.general + fast.seen.replays, ref.seen.general, 'every query observed once, on either path');
    t.equal(ref.seen.replays, 0, 'the reference never replays');
  });
}

t.test('replayed cache hits: forwarded names leave the upstream alone; counters and plugin label as the general path', async (t) => {
  const up = await upstream(t);
  const { fast } = await pair(t, corefile(up.addr, KUBEADM_CACHE));
  const c = new Client(fast.port);
  t.teardown(() => c.close());
  const before = fast.seen.replays;
  for (let i = 0; i < 10; i++) t.ok(await c.ask(query('www.example.org.', 'A', { id: 100 + i })), `asking ${i + 1}`);
  t.equal(up.count(undefined, 'www.example.org'), 1, 'one upstream query');
  t.equal(fast.seen.replays - before, 8, 'first a miss, then a general-path hit, then eight replays');
  const text = await fast.server.metrics.metrics();
  t.equal(sample(text, 'coredns_cache_hits_total', { type: 'success' }), 9, 'nine hits counted');
  t.equal(sample(text, 'coredns_cache_misses_total', {}), 2, 'the miss and the SOA probe of pair()');
});

t.test('shuffled replies are replayed with a new draw each time, every order alike', async (t) => {
  const up = await upstream(t);
  const { fast } = await pair(t, corefile(up.addr, KUBEADM_CACHE));
  const c = new Client(fast.port);
  t.teardown(() => c.close());
  const orders = new Map<string, number>();
  const before = fast.seen.replays;
  const N = 600;
  for (let i = 0; i < N + 2; i++) {
    const reply = (await c.ask(query('multi.example.org.', 'A', { id: 500 + i })))!;
    const p = dnsPacket.decode(reply);
    t.equal(p.answers?.length, 3, 'three addresses every time');
    if (i < 2) continue;
    const order = (p.answers ?? []).map((a) => String((a as { data: unknown }).data)).join(' ');
    orders.set(order, (orders.get(order) ?? 0) + 1);
  }
  t.equal(fast.seen.replays - before, N, 'a miss, a general-path hit, then replays');
  t.equal(up.count(undefined, 'multi.example.org'), 1, 'one upstream query');
  t.equal(orders.size, 6, `all six orders seen: ${JSON.stringify([...orders])}`);
  // Each order is expected 100 times; below 50 or above 160 happens by chance with odds under 1e-6.
  for (const [order, n] of orders) t.ok(n > 50 && n < 160, `${order}: ${n} of ${N}`);
});

t.test('headless Services answered by kubernetes: shuffled on replay too', async (t) => {
  const up = await upstream(t);
  const { fast, ref } = await pair(t, corefile(up.addr, KUBEADM_CACHE));
  const multi = cluster.filter((q) => q.type === 'A' || q.type === 'AAAA' || q.type === 'SRV');
  const c = new Client(ref.port);
  const wide: Question[] = [];
  for (const q of multi) {
    const p = dnsPacket.decode((await c.ask(query(q.name, q.type, { id: 9 })))!);
    const addresses = [...(p.answers ?? []), ...(p.additionals ?? [])].filter((r) => r.type === 'A' || r.type === 'AAAA');
    if (addresses.length > 1) wide.push(q);
  }
  c.close();
  t.ok(wide.length >= 3, `${wide.length} questions of the demo cluster have several addresses`);
  await round(fast, ref, wide, { rd: true });
  const again = await round(fast, ref, wide, { rd: true });
  t.same(again.bad, [], 'same records as the general path, in some order');
  t.equal(again.replayed, wide.length, 'every one replayed');
  // And the order is drawn anew on each replay: 30 askings of one wide question see more than one order.
  const f = new Client(fast.port);
  t.teardown(() => f.close());
  const before = fast.seen.replays;
  const orders = new Set<string>();
  for (let i = 0; i < 30; i++) {
    const p = dnsPacket.decode((await f.ask(query(wide[0]!.name, wide[0]!.type, { id: 300 + i })))!);
    orders.add([...(p.answers ?? []), ...(p.additionals ?? [])].map((r) => String(r.data)).join(' '));
  }
  t.equal(fast.seen.replays - before, 30, 'all 30 replayed');
  t.ok(orders.size > 1, `${orders.size} orders of ${wide[0]!.name} in 30 replays`);
});

t.test('a cache smaller than what is asked: every asking a miss, replayed with the store redone', async (t) => {
  const tmp = tempDir('fastpath-thrash');
  t.teardown(tmp.cleanup);
  execFileSync(process.execPath, [path.join(REPO_ROOT, 'bench', 'gen-cluster.mjs'), '--services', '1000', '--endpoints', '4000', '--max-queries', '1500', '--out', tmp.dir]);
  const up = await upstream(t);
  // The smallest capacity the cache takes (1024 per cache): 1,500 reverse names asked in a cycle never hit.
  const text = corefile(up.addr, '{\n        success 1024\n        denial 1024\n    }').replace(DEMO_DIR, path.join(tmp.dir, 'cluster'));
  const { fast, ref } = await pair(t, text);
  // The benchmark's PTR mix: cluster and endpoint addresses, answered by kubernetes.
  const ptrs: Question[] = readFileSync(path.join(tmp.dir, 'queries', 'ptr.txt'), 'utf8').trim().split('\n').map((l) => {
    const [name, type] = l.split(' ');
    return { name: `${name}.`, type: type! };
  });
  t.equal(ptrs.length, 1500);
  for (let cycle = 1; cycle <= 3; cycle++) {
    const r = await round(fast, ref, ptrs, { rd: true });
    t.same(r.bad.slice(0, 5), [], `cycle ${cycle}: identical replies`);
    if (cycle === 3) t.ok(r.replayed > ptrs.length * 0.9, `cycle ${cycle}: ${r.replayed}/${ptrs.length} misses replayed`);
  }
  const counts = await cacheCounts(fast);
  t.same(counts, await cacheCounts(ref), 'cache metrics equal on both servers, evictions included');
  t.ok((counts['coredns_cache_evictions_total{"type":"success"}'] ?? 0) > 3000, 'the cache was evicting all along');
  t.equal(counts['coredns_cache_entries{"type":"success"}'], 1024, 'and is full');
});

t.test('left to the general path: prefetch, stale entries', async (t) => {
  const up = await upstream(t);
  const { fast } = await pair(t, corefile(up.addr, '{\n        prefetch 2\n    }'));
  const c = new Client(fast.port);
  t.teardown(() => c.close());
  const before = fast.seen.replays;
  for (let i = 0; i < 5; i++) await c.ask(query('www.example.org.', 'A', { id: 200 + i }));
  t.equal(fast.seen.replays - before, 0, 'prefetch on: every hit goes through its bookkeeping');

  const plain = await pair(t, corefile(up.addr, '{\n        serve_stale 1h\n    }'));
  const c2 = new Client(plain.fast.port);
  t.teardown(() => c2.close());
  for (let i = 0; i < 3; i++) await c2.ask(query('www.example.org.', 'A', { id: 400 + i }));
  const b3 = plain.fast.seen.replays;
  clock += 60_000;
  const stale = (await c2.ask(query('www.example.org.', 'A', { id: 410 })))!;
  t.equal(plain.fast.seen.replays, b3, 'an expired entry is served stale by the general path');
  t.equal(stale.readUInt32BE(stale.length - 10), 0, 'with TTL 0');
});
