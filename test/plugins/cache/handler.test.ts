/**
 * The cache handler against a scripted backend and a fake clock: every row of coredns-behaviour §9 (what is cached,
 * TTLs, keys, hit replies, prefetch, serve_stale, disable, keepttl), purge, stats and eviction.
 */
import t from 'tap';
import { parseCorefile } from '../../../lib/corefile/parser.js';
import type { Directive } from '../../../lib/corefile/types.js';
import { FLAG, RCODE, TYPE } from '../../../lib/dns/constants.js';
import type { Message } from '../../../lib/dns/message.js';
import type { Handler, Served } from '../../../lib/plugin.js';
import { CacheHandler } from '../../../lib/plugins/cache/handler.js';
import { parse } from '../../../lib/plugins/cache/setup.js';
import type { Query } from '../../../lib/query.js';
import { rrs } from '../../support/rr.js';
import { makeQuery, serve, type QueryOpts } from '../../support/query.js';

/** The rest of the chain: answers with `answer(q)` (a number = return that rcode without writing). */
class Backend implements Handler {
  readonly name = 'backend';
  calls = 0;
  answer: (q: Query) => Message | number;
  delayMs = -1;
  constructor(answer: (q: Query) => Message | number) {
    this.answer = answer;
  }
  serve(q: Query): Served {
    this.calls++;
    const run = (): number => {
      const r = this.answer(q);
      return typeof r === 'number' ? r : q.reply(r, this.name);
    };
    if (this.delayMs < 0) return run();
    return new Promise((resolve) => setTimeout(() => resolve(run()), this.delayMs));
  }
}

/** A reply to q: the given rcode, AA, records from zone-file lines for each section. */
function reply(q: Query, rcode: number, answer: string[], authority: string[] = [], additional: string[] = []): Message {
  const m = q.newReply(rcode, true);
  m.answer = rrs(...answer);
  m.authority = rrs(...authority);
  m.additional = rrs(...additional);
  return m;
}

const SOA = 'example.org. 60 IN SOA ns.example.org. hostmaster.example.org. 1 7200 1800 86400 30';

interface Rig {
  h: CacheHandler;
  be: Backend;
  clock: { now: number };
  ask(name: string, type?: number, o?: QueryOpts): Promise<{ rcode: number; msg: Message; q: Query }>;
}

/** A cache configured by `cache <args> { <body> }` in an `example.org` block, in front of `be`. */
function rig(args: string, body: string | undefined, answer: (q: Query) => Message | number): Rig {
  const text = body === undefined ? `example.org {\ncache ${args}\n}\n` : `example.org {\ncache ${args} {\n${body}\n}\n}\n`;
  const [block] = parseCorefile(text, 'Corefile', {});
  const d = block!.directives.find((x: Directive) => x.name.text === 'cache')!;
  const cfg = parse(d, { zones: ['example.org.'], keys: [] });
  const be = new Backend(answer);
  // Not 0: a clock reading of 0 must not be special (it is for lru-cache's own TTLs, which we do not use).
  const clock = { now: 1_000_000 };
  const h = new CacheHandler(cfg, be, { now: () => clock.now });
  return {
    h,
    be,
    clock,
    ask: async (name, type = TYPE.A, o = {}) => {
      const r = await serve(h, name, type, o);
      return { rcode: r.rcode, msg: r.msg!, q: r.q };
    },
  };
}

const ttls = (m: Message): number[] => [...m.answer, ...m.authority, ...m.additional].map((rr) => rr.ttl);

t.test('miss then hit: TTL counts down, the backend is reached once', async (t) => {
  const r = rig('', undefined, (q) =>
    reply(q, 0, ['example.org. 300 IN A 10.0.0.1', 'example.org. 400 IN A 10.0.0.2'], [], ['ns.example.org. 900 IN A 10.0.0.53']),
  );
  const first = await r.ask('example.org', TYPE.A, { id: 1 });
  t.equal(first.q.writtenBy, 'backend');
  t.strictSame(ttls(first.msg), [300, 300, 300], 'every TTL rewritten to the minimum');
  t.equal(r.be.calls, 1);

  r.clock.now += 10_999;
  const hit = await r.ask('example.org', TYPE.A, { id: 2 });
  t.equal(r.be.calls, 1, 'answered from the cache');
  t.equal(hit.q.writtenBy, 'cache');
  t.equal(hit.rcode, RCODE.NOERROR);
  t.equal(hit.msg.id, 2, 'ID of the current query');
  t.ok(hit.msg.flags & FLAG.AA, 'AA set');
  t.ok(hit.msg.flags & FLAG.QR, 'QR set');
  t.ok(hit.msg.flags & FLAG.RD, 'RD copied from the query');
  t.strictSame(ttls(hit.msg), [290, 290, 290], 'whole seconds elapsed are subtracted');
  t.strictSame(
    hit.msg.answer.map((rr) => rr.data),
    first.msg.answer.map((rr) => rr.data),
    'same records',
  );
  t.strictSame(hit.msg.additional.map((rr) => rr.data), ['10.0.0.53']);

  r.clock.now += 289_000; // 299.999 s after storing: 1 s left
  t.strictSame(ttls((await r.ask('example.org')).msg), [1, 1, 1]);
  t.equal(r.be.calls, 1);
  r.clock.now += 1; // 300 s: TTL 0 is expired
  const again = await r.ask('example.org');
  t.equal(r.be.calls, 2, 'expired entries go to the backend');
  t.equal(again.q.writtenBy, 'backend');

  const s = r.h.stats;
  t.equal(s.requests, 4);
  t.equal(s.hits.success, 2);
  t.equal(s.misses, 2);
  t.equal(s.entries.success, 1);
  t.equal(s.entries.denial, 0);
});

t.test('records handed in and stored are never modified', async (t) => {
  const shared = rrs('example.org. 0 IN A 10.0.0.1', 'example.org. 7200 IN TXT "x"');
  const r = rig('', undefined, (q) => {
    const m = q.newReply(0, true);
    m.answer = shared;
    return m;
  });
  const first = await r.ask('example.org');
  t.strictSame(ttls(first.msg), [5, 5], 'TTL 0 is raised to the 5 s minimum');
  t.equal(shared[0]!.ttl, 0, 'the backend records keep their TTL');
  t.equal(shared[1]!.ttl, 7200);
  t.not(first.msg.answer, shared, 'a new array was sent');
  first.msg.answer[0]!.ttl = 999; // a later plugin scribbling on what it got
  r.clock.now += 2000;
  const hit = await r.ask('example.org');
  t.strictSame(ttls(hit.msg), [3, 3], 'the stored copy was not affected');
  hit.msg.answer[0]!.ttl = 777;
  hit.msg.answer.length = 0;
  t.strictSame(ttls((await r.ask('example.org')).msg), [3, 3], 'hits hand out copies');
});

t.test('hit reply: question case, owner case, RA and AD', async (t) => {
  const r = rig('', undefined, (q) => {
    const m = reply(q, 0, [`${q.question.name} 60 IN A 10.0.0.1`]);
    m.flags |= FLAG.RA | FLAG.AD;
    return m;
  });
  const first = await r.ask('Example.ORG');
  t.notOk(first.msg.flags & FLAG.AD, 'AD cleared for a client without DO or AD');
  const hit = await r.ask('eXample.org');
  t.equal(r.be.calls, 1, 'the key is case-insensitive');
  t.equal(hit.msg.question[0]!.name, 'eXample.org.', 'question in the current query case');
  t.equal(hit.msg.answer[0]!.name, 'Example.ORG.', 'owner names as stored');
  t.ok(hit.msg.flags & FLAG.RA, 'RA as stored');
  t.notOk(hit.msg.flags & FLAG.AD, 'AD cleared');

  const withDo = await r.ask('example.org', TYPE.A, { edns: 1232, do: true });
  t.equal(r.be.calls, 2, 'DO is part of the key');
  t.ok(withDo.msg.flags & FLAG.AD, 'AD kept with DO on a miss');
  const hitDo = await r.ask('example.org', TYPE.A, { edns: 1232, do: true });
  t.equal(r.be.calls, 2);
  t.ok(hitDo.msg.flags & FLAG.AD, 'AD kept with DO on a hit');
  t.equal(hitDo.msg.edns?.do, true, 'OPT echoed');

  const { q } = makeQuery('example.org', TYPE.A);
  q.req.flags |= FLAG.CD;
  await r.h.serve(q);
  t.equal(r.be.calls, 3, 'CD is part of the key');
  t.ok(q.response!.flags & FLAG.CD, 'CD echoed');
  const { q: q2 } = makeQuery('example.org', TYPE.A);
  q2.req.flags |= FLAG.CD | FLAG.AD;
  await r.h.serve(q2);
  t.equal(r.be.calls, 3, 'CD hit');
  t.equal(q2.writtenBy, 'cache');
  t.ok(q2.response!.flags & FLAG.AD, 'AD kept when the query set AD');

  await r.ask('example.org', TYPE.AAAA);
  t.equal(r.be.calls, 4, 'qtype is part of the key');
  await r.ask('example.org', TYPE.A, { qclass: 3 });
  t.equal(r.be.calls, 5, 'qclass is part of the key');
});

t.test('denial: NXDOMAIN and NODATA with SOA, clamped TTLs', async (t) => {
  const r = rig('', undefined, (q) =>
    q.qtype === TYPE.A ? reply(q, RCODE.NXDOMAIN, [], [SOA]) : reply(q, 0, [], [SOA.replace(' 60 ', ' 1 ')]),
  );
  const nx = await r.ask('nope.example.org');
  t.equal(nx.rcode, RCODE.NXDOMAIN);
  t.strictSame(ttls(nx.msg), [60]);
  r.clock.now += 20_000;
  const hit = await r.ask('nope.example.org');
  t.equal(r.be.calls, 1);
  t.equal(hit.rcode, RCODE.NXDOMAIN);
  t.equal(hit.q.writtenBy, 'cache');
  t.strictSame(ttls(hit.msg), [40]);
  t.equal(hit.msg.authority[0]!.type, TYPE.SOA, 'SOA kept');

  const nodata = await r.ask('nope.example.org', TYPE.AAAA);
  t.strictSame(ttls(nodata.msg), [5], 'NODATA with SOA TTL 1 raised to the 5 s minimum');
  await r.ask('nope.example.org', TYPE.AAAA);
  t.equal(r.be.calls, 2, 'NODATA cached');
  t.equal(r.h.stats.entries.denial, 2);
  t.equal(r.h.stats.hits.denial, 2);

  const capped = rig('', 'denial 100 30', (q) => reply(q, RCODE.NXDOMAIN, [], [SOA.replace(' 60 ', ' 3000 ')]));
  t.strictSame(ttls((await capped.ask('a.example.org')).msg), [30], 'denial max TTL');
  const low = rig('', 'denial 100 1800 0', (q) => reply(q, RCODE.NXDOMAIN, [], [SOA.replace(' 60 ', ' 0 ')]));
  t.strictSame(ttls((await low.ask('a.example.org')).msg), [0], 'MINTTL 0 lets TTL 0 through');
  await low.ask('a.example.org');
  t.equal(low.be.calls, 2, '...and a 0 duration is not stored');
  const big = rig('', undefined, (q) => reply(q, RCODE.NXDOMAIN, [], [SOA.replace(' 60 ', ' 7200 ')]));
  t.strictSame(ttls((await big.ask('a.example.org')).msg), [1800], 'default denial cap 1800');
  const pos = rig('', undefined, (q) => reply(q, 0, ['example.org. 86400 IN A 10.0.0.1']));
  t.strictSame(ttls((await pos.ask('example.org')).msg), [3600], 'default success cap 3600');
  const n = rig('20', undefined, (q) => reply(q, 0, ['example.org. 86400 IN A 10.0.0.1']));
  t.strictSame(ttls((await n.ask('example.org')).msg), [20], '`cache N` caps');
  const min = rig('', 'success 100 3600 60', (q) => reply(q, 0, ['example.org. 10 IN A 10.0.0.1']));
  t.strictSame(ttls((await min.ask('example.org')).msg), [60], 'success MINTTL');
});

t.test('denial is checked before success', async (t) => {
  const r = rig('', 'serve_stale 1h', (q) => reply(q, 0, ['example.org. 60 IN A 10.0.0.1']));
  await r.ask('example.org');
  r.clock.now += 61_000; // the positive entry is stale but servable
  // A SERVFAIL stored next to the stale positive entry, as a reply passing the cache hook would be.
  const { q } = makeQuery('example.org', TYPE.A);
  r.h.onReply(q, reply(q, RCODE.SERVFAIL, []), 'client');
  const hit = await r.ask('example.org');
  t.equal(hit.rcode, RCODE.SERVFAIL, 'the fresh denial entry wins');
  t.equal(hit.q.writtenBy, 'cache');
});

t.test('what is not cached', async (t) => {
  const cases: [label: string, make: (q: Query) => Message | number, ttl?: number[]][] = [
    ['TC', (q) => {
      const m = reply(q, 0, ['example.org. 60 IN A 10.0.0.1']);
      m.flags |= FLAG.TC;
      return m;
    }, [60]],
    ['REFUSED', (q) => reply(q, RCODE.REFUSED, [])],
    ['FORMERR', (q) => reply(q, RCODE.FORMERR, [])],
    ['NXDOMAIN without SOA', (q) => reply(q, RCODE.NXDOMAIN, [])],
    ['SERVFAIL the server writes', () => RCODE.SERVFAIL],
    ['mismatched question', (q) => {
      const m = reply(q, 0, ['other.example.org. 60 IN A 10.0.0.1']);
      m.question = [{ name: 'other.example.org.', type: TYPE.A, class: 1 }];
      return m;
    }, [60]],
    ['CNAME chain not reaching the type, no SOA', (q) => reply(q, 0, ['example.org. 60 IN CNAME elsewhere.example.net.']), [5]],
  ];
  for (const [label, make, want] of cases) {
    const r = rig('', undefined, make);
    const a = await r.ask('example.org');
    await r.ask('example.org');
    t.equal(r.be.calls, 2, `${label}: not cached`);
    if (want) t.strictSame(ttls(a.msg), want, `${label}: TTL still rewritten`);
    t.equal(r.h.stats.entries.success + r.h.stats.entries.denial, 0, `${label}: no entries`);
  }
  const mm = rig('', undefined, cases[5]![1]);
  await mm.ask('example.org');
  t.equal(mm.h.stats.drops, 1, 'a mismatched question counts as a drop');

  const axfr = rig('', undefined, (q) => reply(q, 0, [SOA, 'example.org. 60 IN A 10.0.0.1', SOA]));
  await axfr.ask('example.org', TYPE.AXFR, { proto: 'tcp' });
  await axfr.ask('example.org', TYPE.AXFR, { proto: 'tcp' });
  t.equal(axfr.be.calls, 2, 'AXFR not cached');

  const chainSoa = rig('', undefined, (q) => reply(q, 0, ['example.org. 60 IN CNAME x.example.org.'], [SOA]));
  await chainSoa.ask('example.org');
  await chainSoa.ask('example.org');
  t.equal(chainSoa.be.calls, 1, 'a CNAME chain ending in NODATA (SOA) is cached as denial');
  t.equal(chainSoa.h.stats.entries.denial, 1);

  const deleg = rig('', undefined, (q) =>
    reply(q, 0, [], ['example.org. 600 IN NS ns1.example.org.'], ['ns1.example.org. 600 IN A 10.0.0.53']),
  );
  const dl = await deleg.ask('example.org');
  t.strictSame(ttls(dl.msg), [5, 5], 'a delegation counts as 5 s (CoreDNS MinimalTTL)');
  await deleg.ask('example.org');
  t.equal(deleg.be.calls, 1, 'delegations are cached as success');
  t.equal(deleg.h.stats.entries.success, 1);

  const empty = rig('', undefined, (q) => reply(q, 0, []));
  await empty.ask('example.org');
  await empty.ask('example.org');
  t.equal(empty.be.calls, 1, 'NOERROR without records or SOA is cached as success (CoreDNS Typify)');

  const outside = rig('', undefined, (q) => reply(q, 0, [`${q.question.name} 600 IN A 10.0.0.1`]));
  const o = await outside.ask('example.net');
  await outside.ask('example.net');
  t.equal(outside.be.calls, 2, 'names outside the cache zones are not cached');
  t.strictSame(ttls(o.msg), [600], '...nor rewritten');
  t.equal(outside.h.stats.requests, 0, '...nor counted');
});

t.test('SERVFAIL is cached for the servfail duration', async (t) => {
  const r = rig('', undefined, (q) => reply(q, RCODE.SERVFAIL, []));
  await r.ask('example.org');
  r.clock.now += 4999;
  const hit = await r.ask('example.org');
  t.equal(r.be.calls, 1, 'cached 5 s by default');
  t.equal(hit.rcode, RCODE.SERVFAIL);
  t.equal(hit.q.writtenBy, 'cache');
  r.clock.now += 1;
  await r.ask('example.org');
  t.equal(r.be.calls, 2, 'gone after 5 s');

  const long = rig('', 'servfail 1m', (q) => reply(q, RCODE.SERVFAIL, []));
  await long.ask('example.org');
  long.clock.now += 59_000;
  await long.ask('example.org');
  t.equal(long.be.calls, 1, 'servfail 1m');
  t.equal(long.h.stats.entries.denial, 1, 'in the denial cache');

  const off = rig('', 'servfail 0', (q) => reply(q, RCODE.SERVFAIL, []));
  await off.ask('example.org');
  await off.ask('example.org');
  t.equal(off.be.calls, 2, 'servfail 0 turns it off');

  const notimp = rig('', undefined, (q) => reply(q, RCODE.NOTIMP, []));
  await notimp.ask('example.org');
  await notimp.ask('example.org');
  t.equal(notimp.be.calls, 1, 'NOTIMP counts as a server error too');
});

t.test('disable success|denial for zones', async (t) => {
  const answer = (q: Query): Message =>
    q.qtype === TYPE.A ? reply(q, 0, [`${q.question.name} 600 IN A 10.0.0.1`]) : reply(q, RCODE.NXDOMAIN, [], [SOA]);
  const r = rig('30', 'disable success sub.example.org\ndisable denial sub.example.org', answer);
  const a = await r.ask('x.sub.example.org');
  await r.ask('x.sub.example.org');
  t.equal(r.be.calls, 2, 'success not stored in the disabled zone');
  t.strictSame(ttls(a.msg), [30], 'but the TTL is still capped (kubeadm cache 30 + disable)');
  await r.ask('x.sub.example.org', TYPE.AAAA);
  await r.ask('x.sub.example.org', TYPE.AAAA);
  t.equal(r.be.calls, 4, 'denial not stored in the disabled zone');
  await r.ask('x.example.org');
  await r.ask('x.example.org');
  t.equal(r.be.calls, 5, 'other names still cached');

  const onlyDenial = rig('', 'disable denial', answer);
  await onlyDenial.ask('x.example.org', TYPE.AAAA);
  await onlyDenial.ask('x.example.org', TYPE.AAAA);
  t.equal(onlyDenial.be.calls, 2, '`disable denial` alone covers the root');
  await onlyDenial.ask('x.example.org');
  await onlyDenial.ask('x.example.org');
  t.equal(onlyDenial.be.calls, 3, 'success still cached');
});

t.test('keepttl serves the stored TTL', async (t) => {
  const r = rig('', 'keepttl', (q) => reply(q, 0, ['example.org. 100 IN A 10.0.0.1']));
  await r.ask('example.org');
  r.clock.now += 50_000;
  const hit = await r.ask('example.org');
  t.equal(hit.q.writtenBy, 'cache');
  t.strictSame(ttls(hit.msg), [100]);
  r.clock.now += 50_000;
  await r.ask('example.org');
  t.equal(r.be.calls, 2, 'still expires');
});

t.test('prefetch refreshes popular entries once, in the background', async (t) => {
  let addr = '10.0.0.1';
  const r = rig('', 'prefetch 2 1m 50%', (q) => reply(q, 0, [`example.org. 10 IN A ${addr}`]));
  await r.ask('example.org');
  r.clock.now += 2000;
  await r.ask('example.org'); // hit 1, 8 s left > 5
  r.clock.now += 4000;
  addr = '10.0.0.2';
  const trigger = await r.ask('example.org'); // hit 2, 4 s left <= ceil(50% of 10)
  t.equal(trigger.q.writtenBy, 'cache', 'the client is answered from the cache');
  t.equal(trigger.msg.answer[0]!.data, '10.0.0.1');
  t.strictSame(ttls(trigger.msg), [4]);
  await r.ask('example.org'); // a refresh is already pending for this key
  t.equal(r.be.calls, 1, 'the refresh runs after the reply');
  await r.h.whenIdle();
  t.equal(r.be.calls, 2, 'exactly one background refresh');
  t.equal(r.h.stats.prefetches, 1);
  const fresh = await r.ask('example.org');
  t.equal(fresh.msg.answer[0]!.data, '10.0.0.2', 'the refreshed answer is served');
  t.strictSame(ttls(fresh.msg), [10]);
  t.equal(r.be.calls, 2);

  // Hits only count while no gap between them exceeds the window (CoreDNS pkg/freq).
  const cold = rig('', 'prefetch 2 10s 50%', (q) => reply(q, 0, ['example.org. 100 IN A 10.0.0.1']));
  await cold.ask('example.org');
  cold.clock.now += 51_000;
  await cold.ask('example.org'); // hit 1, 49 s left
  cold.clock.now += 11_000;
  await cold.ask('example.org'); // 11 s gap: the run restarts at 1
  await cold.h.whenIdle();
  t.equal(cold.h.stats.prefetches, 0, 'a gap longer than DURATION resets the count');
  cold.clock.now += 1000;
  await cold.ask('example.org'); // hit 2 within the window
  await cold.h.whenIdle();
  t.equal(cold.h.stats.prefetches, 1, 'two close hits prefetch');
  t.equal(cold.be.calls, 2);
});

t.test('serve_stale immediate serves TTL 0 and refreshes', async (t) => {
  let addr = '10.0.0.1';
  const r = rig('', 'serve_stale 1h', (q) => reply(q, 0, [`example.org. 10 IN A ${addr}`]));
  await r.ask('example.org');
  r.clock.now += 20_000;
  addr = '10.0.0.2';
  const stale = await r.ask('example.org');
  t.equal(stale.q.writtenBy, 'cache');
  t.equal(stale.msg.answer[0]!.data, '10.0.0.1', 'the stale answer');
  t.strictSame(ttls(stale.msg), [0], 'with TTL 0');
  t.equal(r.h.stats.servedStale, 1);
  await r.h.whenIdle();
  t.equal(r.be.calls, 2, 'refreshed in the background');
  const fresh = await r.ask('example.org');
  t.equal(fresh.msg.answer[0]!.data, '10.0.0.2');
  t.strictSame(ttls(fresh.msg), [10]);

  r.clock.now += 3_600_000 + 10_000;
  const gone = await r.ask('example.org');
  t.equal(gone.q.writtenBy, 'backend', 'past the stale window it is a miss');
  t.equal(r.be.calls, 3);

  const off = rig('', undefined, (q) => reply(q, 0, ['example.org. 10 IN A 10.0.0.1']));
  await off.ask('example.org');
  off.clock.now += 20_000;
  t.equal((await off.ask('example.org')).q.writtenBy, 'backend', 'without serve_stale expired entries are misses');
});

t.test('serve_stale verify asks first', async (t) => {
  let mode: 'ok' | 'fail' | 'silent' = 'ok';
  let addr = '10.0.0.1';
  const r = rig('', 'serve_stale 1h verify', (q) =>
    mode === 'ok' ? reply(q, 0, [`example.org. 10 IN A ${addr}`]) : mode === 'fail' ? reply(q, RCODE.SERVFAIL, []) : RCODE.SERVFAIL,
  );
  r.be.delayMs = 1;
  await r.ask('example.org');
  r.clock.now += 20_000;
  addr = '10.0.0.2';
  const v = await r.ask('example.org', TYPE.A, { id: 77 });
  t.equal(v.q.writtenBy, 'backend', 'a good refresh is sent');
  t.equal(v.msg.id, 77);
  t.equal(v.msg.answer[0]!.data, '10.0.0.2');
  t.strictSame(ttls(v.msg), [10]);
  t.equal(r.h.stats.servedStale, 0);

  r.clock.now += 20_000;
  mode = 'fail';
  const s = await r.ask('example.org');
  t.equal(s.q.writtenBy, 'cache', 'a failed refresh falls back to the stale entry');
  t.equal(s.rcode, RCODE.NOERROR);
  t.equal(s.msg.answer[0]!.data, '10.0.0.2');
  t.strictSame(ttls(s.msg), [0]);
  t.equal(r.h.stats.entries.denial, 0, 'the SERVFAIL was not stored');
  mode = 'silent';
  const s2 = await r.ask('example.org');
  t.equal(s2.q.writtenBy, 'cache', 'so does an error the server would write');
  t.equal(r.h.stats.servedStale, 2);
});

t.test('purge and purgeSuffix', async (t) => {
  const r = rig('', undefined, (q) =>
    q.qtype === TYPE.A ? reply(q, 0, [`${q.question.name} 60 IN A 10.0.0.1`]) : reply(q, RCODE.NXDOMAIN, [], [SOA]),
  );
  const names = ['web.ns.example.org', 'db.ns.example.org', 'other.example.org'];
  for (const n of names) {
    await r.ask(n);
    await r.ask(n, TYPE.AAAA);
    await r.ask(n, TYPE.A, { edns: 1232, do: true });
  }
  t.equal(r.h.stats.entries.success, 6);
  t.equal(r.h.stats.entries.denial, 3);
  r.h.purge('web.ns.example.org.');
  t.equal(r.h.stats.entries.success, 4, 'A and A+DO entries gone');
  t.equal(r.h.stats.entries.denial, 2, 'the NXDOMAIN entry gone');
  const calls = r.be.calls;
  await r.ask('WEB.ns.example.org', TYPE.AAAA);
  t.equal(r.be.calls, calls + 1, 'a purged name goes to the backend');
  await r.ask('db.ns.example.org', TYPE.AAAA);
  t.equal(r.be.calls, calls + 1, 'other names stay');
  r.h.purgeSuffix('ns.example.org.');
  t.equal(r.h.stats.entries.success, 2);
  t.equal(r.h.stats.entries.denial, 1);
  await r.ask('other.example.org');
  t.equal(r.be.calls, calls + 1, 'names outside the suffix stay');
  r.h.purgeSuffix('.');
  t.equal(r.h.stats.entries.success + r.h.stats.entries.denial, 0, 'the root purges everything');
});

t.test('purges find entries by name after evictions and replacements', async (t) => {
  const r = rig('', 'success 1', (q) => reply(q, 0, [`${q.question.name} 60 IN A 10.0.0.1`]));
  for (let i = 0; i < 1100; i++) await r.ask(`n${i}.${i % 2 ? 'odd' : 'even'}.example.org`);
  t.equal(r.h.stats.entries.success, 1024, '76 evicted');
  r.h.purgeSuffix('odd.example.org.');
  t.equal(r.h.stats.entries.success, 512, 'only the even names are left');
  r.h.purge('n0.even.example.org.');
  t.equal(r.h.stats.entries.success, 512, 'purging an evicted name finds nothing');
  r.h.purge('n1098.even.example.org.');
  t.equal(r.h.stats.entries.success, 511);
  // An expired entry asked again is replaced under the same key: it must stay findable.
  r.clock.now += 61_000;
  const calls = r.be.calls;
  await r.ask('n1096.even.example.org');
  t.equal(r.be.calls, calls + 1, 'fetched again');
  t.equal(r.h.stats.entries.success, 511, 'replaced, not added');
  r.h.purge('n1096.even.example.org.');
  t.equal(r.h.stats.entries.success, 510, 'the replacement is purged by name');
  r.h.purgeSuffix('example.org.');
  t.equal(r.h.stats.entries.success, 0);
});

t.test('capacity: the least recently used entry is evicted', async (t) => {
  const r = rig('', 'success 1', (q) => reply(q, 0, [`${q.question.name} 60 IN A 10.0.0.1`]));
  for (let i = 0; i < 1025; i++) await r.ask(`n${i}.example.org`);
  const s = r.h.stats;
  t.equal(s.entries.success, 1024, 'capacity 1 means 1024 (CoreDNS minimum)');
  t.equal(s.evictions.success, 1);
  t.equal(s.evictions.denial, 0);
  await r.ask('n1024.example.org');
  t.equal(r.be.calls, 1025, 'the newest is cached');
  await r.ask('n0.example.org');
  t.equal(r.be.calls, 1026, 'the oldest was evicted');
});
