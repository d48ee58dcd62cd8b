/**
 * `forward` against fake upstreams on real 127.0.0.1 sockets: transports, ID handling, reply checks, truncation,
 * failover, health checks, policies, except, max_concurrent, next, connection reuse and failure reporting.
 */
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import dnsPacket from 'dns-packet';
import { pino } from 'pino';
import t from 'tap';
import { parseCorefile } from '../../../lib/corefile/parser.js';
import { FLAG, RCODE, TYPE } from '../../../lib/dns/constants.js';
import type { Handler } from '../../../lib/plugin.js';
import { ErrorsHandler } from '../../../lib/plugins/errors/handler.js';
import { buildForward, type ForwardHandler } from '../../../lib/plugins/forward/index.js';
import { Dispatcher } from '../../../lib/server/dispatcher.js';
import { parse } from '../../../lib/plugins/forward/setup.js';
import { FakeUpstream, until, type Script } from '../../support/fake-upstream.js';
import { makeQuery, NextRecorder, serve } from '../../support/query.js';

const handlers: ForwardHandler[] = [];
const upstreams: FakeUpstream[] = [];
t.teardown(async () => {
  for (const h of handlers) h.close();
  for (const u of upstreams) await u.close();
});

async function upstream(script?: Script): Promise<FakeUpstream> {
  const u = await FakeUpstream.start(script);
  upstreams.push(u);
  return u;
}

/** A forward handler from `forward FROM <to> { <body lines> }`. */
function fwd(to: string, body: string[] = [], next: Handler | null = new NextRecorder(), from = '.'): ForwardHandler {
  const text = `. {\nforward ${from} ${to} {\n${body.join('\n')}\n}\n}\n`;
  const d = parseCorefile(text, 'Corefile', {})[0]!.directives[0]!;
  const h = buildForward(parse(d), next);
  handlers.push(h);
  return h;
}

function a(msg: { answer: { type: number; data: unknown }[] } | undefined): unknown[] {
  return (msg?.answer ?? []).filter((r) => r.type === TYPE.A).map((r) => r.data);
}


t.test('forwards over the client transport and restores the client ID', async (t) => {
  const u = await upstream();
  const h = fwd(u.addr);
  for (const proto of ['udp', 'tcp'] as const) {
    const { q, sink } = makeQuery('Www.Example.ORG', TYPE.A, { proto, id: 4242 });
    const rcode = await h.serve(q);
    t.equal(rcode, RCODE.NOERROR, proto);
    t.equal(q.writtenBy, 'forward');
    t.strictSame(a(q.response), ['192.0.2.1']);
    t.equal(q.response!.question[0]!.name, 'Www.Example.ORG.', 'question as the client spelled it');
    t.equal(sink.wire!.readUInt16BE(0), 4242, 'client ID on the wire');
    t.equal(u.queries.at(-1)!.proto, proto, `upstream asked over ${proto}`);
  }
  for (let i = 0; i < 20; i++) await h.serve(makeQuery('example.org', TYPE.A, { id: 4242 }).q);
  const ids = u.queries.map((x) => x.id);
  t.ok(new Set(ids).size >= 18, 'a fresh random ID per exchange');
  t.ok(ids.filter((x) => x === 4242).length <= 1, 'the client ID is not reused upstream');
  t.equal(h.stats.requests.get(u.addr), 22);
  t.equal(h.stats.responseCount(u.addr, RCODE.NOERROR), 22);
  t.ok((h.stats.connCacheHits.get(`${u.addr}|udp`) ?? 0) >= 20, 'the UDP socket is reused');
  t.equal(h.stats.connCacheMisses.get(`${u.addr}|udp`), 1);
});

t.test('the client EDNS record goes upstream; an oversized UDP reply becomes empty with TC', async (t) => {
  const many = Array.from({ length: 60 }, (_, i) => ({ type: 'A' as const, name: 'big.example', ttl: 60, data: `10.0.0.${i}` }));
  const u = await upstream((q) => (q.name === 'big.example' ? { answers: many } : undefined));
  const h = fwd(u.addr);
  await serve(h, 'example.org', TYPE.A, { edns: 1232 });
  t.equal(u.queries[0]!.udpSize, 1232, 'OPT forwarded');
  const small = await serve(h, 'big.example', TYPE.A);
  t.equal(small.rcode, RCODE.NOERROR);
  t.ok(small.msg!.flags & FLAG.TC, 'TC set');
  t.strictSame(a(small.msg), [], 'no records');
  const tcp = await serve(h, 'big.example', TYPE.A, { proto: 'tcp' });
  t.equal(a(tcp.msg).length, 60, 'over TCP everything comes through');
});

t.test('replies with another ID are ignored; a spoof before the real reply does not win', async (t) => {
  const u = await upstream((q) => (q.name === 'spoof.example' ? { spoofFirst: true, delayMs: 20 } : q.name === 'lost.example' ? { wrongId: true } : undefined));
  const h = fwd(u.addr, ['read_timeout 150ms', 'max_connect_attempts 1', 'max_fails 0']);
  const r = await serve(h, 'spoof.example', TYPE.A);
  t.strictSame(a(r.msg), ['192.0.2.1'], 'the real answer, not 6.6.6.6');
  const lost = await serve(h, 'lost.example', TYPE.A);
  t.equal(lost.rcode, RCODE.SERVFAIL, 'only wrong-ID replies: timeout');
  t.notOk(lost.q.written, 'the server writes the SERVFAIL');
  t.match(lost.q.error?.message, /^read udp 127\.0\.0\.1:\d+->127\.0\.0\.1:\d+: i\/o timeout$/);
});

t.test('a reply for another question is answered with FORMERR', async (t) => {
  const u = await upstream(() => ({ wrongQuestion: true }));
  const h = fwd(u.addr);
  const r = await serve(h, 'example.org', TYPE.A);
  t.equal(r.rcode, RCODE.FORMERR);
  t.ok(r.q.written, 'written by forward');
  t.equal(r.q.writtenBy, 'forward');
  t.equal(r.msg!.question[0]!.name, 'example.org.');
  t.strictSame(a(r.msg), []);
});

t.test('truncation: passed through, or retried over TCP with prefer_udp; force_tcp', async (t) => {
  const u = await upstream(() => ({ truncate: true }));
  const plain = fwd(u.addr);
  const r = await serve(plain, 'example.org', TYPE.A);
  t.ok(r.msg!.flags & FLAG.TC, 'TC reply passed to the client');
  t.strictSame(a(r.msg), []);
  t.equal(u.count('tcp'), 0, 'no TCP retry without prefer_udp');

  const prefer = fwd(u.addr, ['prefer_udp']);
  const p = await serve(prefer, 'example.org', TYPE.A, { proto: 'tcp' });
  t.strictSame(a(p.msg), ['192.0.2.1'], 'full answer after the TCP retry');
  t.notOk(p.msg!.flags & FLAG.TC);
  t.equal(u.count('udp'), 2, 'prefer_udp asked over UDP first, even for a TCP client');
  t.equal(u.count('tcp'), 1);

  const force = fwd(u.addr, ['force_tcp', 'prefer_udp']);
  const f = await serve(force, 'example.org', TYPE.A);
  t.strictSame(a(f.msg), ['192.0.2.1']);
  t.equal(u.count('udp'), 2, 'force_tcp wins over prefer_udp');
  t.equal(u.count('tcp'), 2);
});

t.test('TCP connections are pooled, and a connection the upstream closed is replaced', async (t) => {
  let hangUps = 1;
  const u = await upstream((q) => (q.name === 'hangup.example' && hangUps-- > 0 ? { hangUp: true } : undefined));
  const h = fwd(u.addr, ['force_tcp']);
  await serve(h, 'one.example', TYPE.A);
  await serve(h, 'two.example', TYPE.A);
  t.equal(h.proxies[0]!.tcpConns, 1, 'one connection for sequential queries');
  t.equal(h.stats.connCacheHits.get(`${u.addr}|tcp`), 1);
  const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => serve(h, `b${i}.example`, TYPE.A)));
  t.ok(burst.every((r) => r.rcode === RCODE.NOERROR && a(r.msg).length === 1), 'pipelined queries all answered');
  u.dropConnections();
  await sleep(20);
  const again = await serve(h, 'three.example', TYPE.A);
  t.strictSame(a(again.msg), ['192.0.2.1'], 'answered on a fresh connection');
  const misses = h.stats.connCacheMisses.get(`${u.addr}|tcp`)!;
  const hung = await serve(h, 'hangup.example', TYPE.A);
  t.strictSame(a(hung.msg), ['192.0.2.1'], 'a reused connection closed by the peer is retried on a new one');
  t.equal(u.count('tcp', 'hangup.example'), 2);
  t.equal(h.stats.connCacheMisses.get(`${u.addr}|tcp`), misses + 1);
  t.notOk(h.proxies[0]!.probing, 'not a failure of the upstream');
  h.close();
  t.equal(h.proxies[0]!.tcpConns, 0, 'close() closes the pool');
});

t.test('failover to the next upstream on network errors', async (t) => {
  const dead = await upstream(() => ({ drop: true }));
  const good = await upstream();
  const h = fwd(`${dead.addr} ${good.addr}`, ['policy sequential', 'read_timeout 150ms', 'health_check 10s']);
  const r = await serve(h, 'example.org', TYPE.A);
  t.strictSame(a(r.msg), ['192.0.2.1']);
  t.equal(dead.count(undefined, 'example.org'), 1);
  t.equal(good.count(), 1);
  t.ok(h.proxies[0]!.probing, 'the failed upstream is being probed');

  const closed = await upstream();
  await closed.close();
  const h2 = fwd(`${closed.addr} ${good.addr}`, ['policy sequential', 'max_fails 0']);
  const t0 = Date.now();
  const r2 = await serve(h2, 'example.org', TYPE.A, { proto: 'tcp' });
  t.strictSame(a(r2.msg), ['192.0.2.1'], 'a refused TCP connection moves on at once');
  t.ok(Date.now() - t0 < 1000);
});

t.test('an upstream goes down after max_fails failed probes and comes back when a probe succeeds', async (t) => {
  let broken = true;
  const flaky = await upstream(() => (broken ? { drop: true } : undefined));
  const good = await upstream();
  const h = fwd(`${flaky.addr} ${good.addr}`, ['policy sequential', 'read_timeout 100ms', 'max_fails 1', 'health_check 20ms']);
  const p = h.proxies[0]!;
  await serve(h, 'example.org', TYPE.A);
  t.ok(await until(() => p.down()), 'down once fails > max_fails');
  t.ok((h.stats.healthcheckFailures.get(flaky.addr) ?? 0) >= 2);
  t.ok(flaky.queries.some((q) => q.name === '.' && q.type === 'NS' && q.rd), 'probes are . IN NS with RD');
  const before = flaky.count(undefined, 'example.org');
  const r = await serve(h, 'example.org', TYPE.A);
  t.strictSame(a(r.msg), ['192.0.2.1']);
  t.equal(flaky.count(undefined, 'example.org'), before, 'a down upstream is skipped');
  broken = false;
  t.ok(await until(() => !p.down() && !p.probing), 'a successful probe brings it back');
  t.equal(p.fails, 0);
  const n = flaky.count(undefined, 'example.org');
  await serve(h, 'example.org', TYPE.A);
  t.equal(flaky.count(undefined, 'example.org'), n + 1, 'used again');
});

t.test('policies', async (t) => {
  const us = [await upstream(), await upstream(), await upstream()];
  const addrs = us.map((u) => u.addr).join(' ');
  const seenBy = async (h: ForwardHandler, n: number): Promise<number[]> => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const before = us.map((u) => u.count());
      await serve(h, 'example.org', TYPE.A);
      out.push(us.findIndex((u, k) => u.count() > before[k]!));
    }
    return out;
  };
  t.strictSame(await seenBy(fwd(addrs, ['policy sequential']), 3), [0, 0, 0], 'sequential: always the first');
  t.strictSame(await seenBy(fwd(addrs, ['policy round_robin']), 4), [0, 1, 2, 0], 'round_robin: rotating start');
  t.ok(new Set(await seenBy(fwd(addrs), 30)).size > 1, 'random spreads the queries');
});

t.test('FROM and except decide what is forwarded', async (t) => {
  const u = await upstream();
  const next = new NextRecorder();
  const h = fwd(u.addr, ['except internal.example.org'], next, 'example.org');
  await serve(h, 'a.example.org', TYPE.A);
  t.equal(u.count(), 1);
  await serve(h, 'example.com', TYPE.A);
  await serve(h, 'x.internal.example.org', TYPE.A);
  await serve(h, 'internal.example.org', TYPE.A);
  t.equal(next.reached, 3, 'outside FROM and below except go to the next plugin');
  t.equal(u.count(), 1);
  const alone = fwd(u.addr, [], null, 'example.org');
  const r = await serve(alone, 'example.com', TYPE.A);
  t.equal(r.rcode, RCODE.SERVFAIL);
  t.equal(r.q.error?.message, 'plugin/forward: no next plugin found');
  const self = fwd(u.addr, ['except example.org'], undefined, 'example.org');
  await serve(self, 'example.org', TYPE.A);
  t.equal(u.count(), 2, 'FROM itself is never excluded');
});

t.test('max_concurrent refuses queries above the limit', async (t) => {
  const u = await upstream(() => ({ delayMs: 150 }));
  const h = fwd(u.addr, ['max_concurrent 1']);
  const [first, second] = await Promise.all([serve(h, 'one.example', TYPE.A), serve(h, 'two.example', TYPE.A)]);
  t.equal(first.rcode, RCODE.NOERROR);
  t.equal(second.rcode, RCODE.REFUSED);
  t.notOk(second.q.written, 'REFUSED is written by the server');
  t.equal(second.q.error?.message, 'concurrent queries exceeded maximum 1');
  t.equal(h.stats.maxConcurrentRejects, 1);
  t.notOk(h.proxies[0]!.probing, 'not a health failure');
  t.equal((await serve(h, 'three.example', TYPE.A)).rcode, RCODE.NOERROR, 'the slot is free again');
});

t.test('next RCODE hands the query to the following forward; failover RCODE tries the next upstream', async (t) => {
  const nx = await upstream(() => ({ rcode: RCODE.NXDOMAIN, answers: [] }));
  const good = await upstream();
  const second = fwd(good.addr);
  const first = fwd(nx.addr, ['next NXDOMAIN'], second);
  const r = await serve(first, 'example.org', TYPE.A);
  t.equal(r.rcode, RCODE.NOERROR);
  t.strictSame(a(r.msg), ['192.0.2.1'], 'answered by the second forward');
  const without = fwd(nx.addr, [], second);
  t.equal((await serve(without, 'example.org', TYPE.A)).rcode, RCODE.NXDOMAIN, 'without next the NXDOMAIN is written');
  const toRecorder = fwd(nx.addr, ['next NXDOMAIN'], new NextRecorder());
  t.equal((await serve(toRecorder, 'example.org', TYPE.A)).rcode, RCODE.NXDOMAIN, 'next only chains to a forward');

  const sf = await upstream(() => ({ rcode: RCODE.SERVFAIL, answers: [] }));
  const fo = fwd(`${sf.addr} ${good.addr}`, ['policy sequential', 'failover SERVFAIL']);
  t.strictSame(a((await serve(fo, 'example.org', TYPE.A)).msg), ['192.0.2.1'], 'failover to the healthy upstream');
  const noFo = fwd(`${sf.addr} ${good.addr}`, ['policy sequential']);
  const s = await serve(noFo, 'example.org', TYPE.A);
  t.equal(s.rcode, RCODE.SERVFAIL);
  t.ok(s.q.written, 'an upstream SERVFAIL is a reply, written by forward');
  const sf2 = await upstream(() => ({ rcode: RCODE.SERVFAIL, answers: [] }));
  const allFail = fwd(`${sf.addr} ${sf2.addr}`, ['failover SERVFAIL']);
  const before = sf.count() + sf2.count();
  const last = await serve(allFail, 'example.org', TYPE.A);
  t.equal(last.rcode, RCODE.SERVFAIL, 'the last reply once every upstream was tried');
  t.equal(sf.count() + sf2.count() - before, 2);
});

t.test('nothing answers: SERVFAIL with the error recorded; all down', async (t) => {
  const dead = await upstream(() => ({ drop: true }));
  const h = fwd(dead.addr, ['read_timeout 100ms', 'health_check 10s']);
  const t0 = Date.now();
  const r = await serve(h, 'example.org', TYPE.A);
  t.equal(r.rcode, RCODE.SERVFAIL);
  t.notOk(r.q.written);
  t.match(r.q.error?.message, /^read udp 127\.0\.0\.1:\d+->127\.0\.0\.1:\d+: i\/o timeout$/);
  t.equal(dead.count(undefined, 'example.org'), 2, 'connect attempts capped at 2 × upstreams');
  t.ok(Date.now() - t0 < 1000);

  const tcpErr = await serve(h, 'example.org', TYPE.A, { proto: 'tcp' });
  t.match(tcpErr.q.error?.message, /^read tcp 127\.0\.0\.1:\d+->127\.0\.0\.1:\d+: i\/o timeout$/);

  const failfast = fwd(dead.addr, ['read_timeout 50ms', 'max_fails 1', 'health_check 10ms', 'failfast_all_unhealthy_upstreams']);
  await serve(failfast, 'example.org', TYPE.A);
  t.ok(await until(() => failfast.proxies[0]!.down()));
  const n = dead.count(undefined, 'example.org');
  const ff = await serve(failfast, 'example.org', TYPE.A);
  t.equal(ff.rcode, RCODE.SERVFAIL);
  t.equal(ff.q.error?.message, 'no healthy proxies');
  t.equal(dead.count(undefined, 'example.org'), n, 'failfast: nothing sent');
  t.equal(failfast.stats.healthcheckBroken, 1);

  // Probes (. NS) and one name go unanswered, so the upstream is marked down while it still answers other names.
  const odd = await upstream((q) => (q.type === 'NS' || q.name === 'fail.example' ? { drop: true } : undefined));
  const broken = fwd(odd.addr, ['read_timeout 50ms', 'max_fails 1', 'health_check 10ms']);
  await serve(broken, 'fail.example', TYPE.A);
  t.ok(await until(() => broken.proxies[0]!.down()), 'down');
  const anyway = await serve(broken, 'example.org', TYPE.A);
  t.strictSame(a(anyway.msg), ['192.0.2.1'], 'all down: a random upstream is tried anyway');
  t.equal(broken.stats.healthcheckBroken, 1, 'counted as healthcheck broken');
});

t.test('through the server core: wire bytes in, wire bytes out, errors logged', async (t) => {
  const lines: string[] = [];
  const log = pino({ level: 'info', base: undefined }, new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  }));
  const good = await upstream();
  const dead = await upstream(() => ({ drop: true }));
  // errors → forward . dead (except example.org) → forward example.org good.
  const ok = fwd(good.addr, [], null, 'example.org');
  const badExcept = fwd(dead.addr, ['read_timeout 50ms', 'max_fails 0', 'except example.org'], ok);
  const chain = new ErrorsHandler({ stacktrace: false, consolidate: [] }, badExcept, log);
  const d = new Dispatcher('dns://:53', new Map([['.', { chain, anyClass: true }]]), log);
  const ask = (name: string, opts: { edns?: boolean; id: number }): Promise<dnsPacket.DecodedPacket> =>
    new Promise((resolve) => {
      const raw = dnsPacket.encode({
        type: 'query',
        id: opts.id,
        flags: dnsPacket.RECURSION_DESIRED,
        questions: [{ name, type: 'A', class: 'IN' }],
        additionals: opts.edns ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0 } as dnsPacket.Answer] : [],
      });
      d.handle(raw, 'udp', { address: '10.0.0.9', port: 5000, family: 4 }, { send: (wire) => resolve(dnsPacket.decode(wire)) });
    });
  const r = await ask('www.example.org', { edns: true, id: 777 });
  t.equal(r.id, 777, 'client ID restored');
  t.equal(r.rcode, 'NOERROR');
  t.strictSame(r.answers!.map((x) => x.data), ['192.0.2.1']);
  const opt = r.additionals!.find((x) => x.type === 'OPT') as { udpPayloadSize: number } | undefined;
  t.equal(opt?.udpPayloadSize, 1232, 'OPT echoed with the client size');
  const f = await ask('www.example.com', { id: 778 });
  t.equal(f.id, 778);
  t.equal(f.rcode, 'SERVFAIL', 'SERVFAIL written by the server');
  t.strictSame(f.answers, []);
  t.strictSame(f.authorities, [], 'no SOA');
  t.ok(
    lines.some((l) => /"msg":"2 www\.example\.com\. A: read udp 127\.0\.0\.1:\d+->127\.0\.0\.1:\d+: i\/o timeout"/.test(l)),
    'errors logs the upstream error like CoreDNS',
  );
});
