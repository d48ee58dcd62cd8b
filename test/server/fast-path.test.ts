// The fast path (issue 5 item 2): replayed replies are byte-for-byte what the general path writes, over every
// name/type of the demo cluster and of a generated one; what it must leave to the general path; invalidation;
// metrics; and the request reader, wire router and memo on their own.
import { execFileSync } from 'node:child_process';
import { copyFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { parseCorefile } from '../../lib/corefile/parser.js';
import { TYPE } from '../../lib/dns/constants.js';
import type { MemoGuard, QueryFacts } from '../../lib/plugin.js';
import { DnsMetrics } from '../../lib/plugins/prometheus/dns.js';
import { FastQuestion, questionKey, readFastQuestion, replyVariant, WireRouter } from '../../lib/server/fast-question.js';
import { planServers } from '../../lib/server/plan.js';
import { ReplyMemo, replyBytes } from '../../lib/server/reply-memo.js';
import { DnsServer } from '../../lib/server/server.js';
import { sendTcp } from '../support/client.js';
import { clusterQuestions, readList, type Question } from '../support/cluster-names.js';
import { DEMO_DIR, REPO_ROOT, pollUntil, tempDir } from '../support/e2e-cluster.js';
import { Client, Counting, query, sample, type Wire } from '../support/wire-client.js';

interface Running {
  server: DnsServer;
  port: number;
  seen: Counting;
  stop(): Promise<void>;
}

async function run(corefile: string, fastPath: boolean, memoEntries?: number): Promise<Running> {
  const plan = planServers(parseCorefile(corefile, 'Corefile', {}), 53);
  const server = new DnsServer(plan, pino({ level: 'silent' }), { exit: () => undefined, fastPath, memoEntries, metrics: new Registry() });
  const seen = new Counting();
  server.observe(seen);
  const bound = await server.start();
  return { server, port: bound[0]!.port, seen, stop: () => server.stop() };
}

const corefileFor = (dir: string, extra = ''): string => `.:0 {
    errors
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        fixture ${dir}
        pods insecure
        ttl 30
    }
${extra}}
example.org:0 {
    whoami
}
`;

/** A fast-path server and a general-path reference over the same fixture, with equal SOA serials. */
async function pair(dir: string): Promise<{ fast: Running; ref: Running; stop: () => Promise<void> }> {
  for (let attempt = 0; ; attempt++) {
    const [fast, ref] = await Promise.all([run(corefileFor(dir), true), run(corefileFor(dir), false)]);
    // The SOA serial is the load time in seconds: two loads may straddle a second. Retry until they agree.
    const c1 = new Client(fast.port);
    const c2 = new Client(ref.port);
    const soa = query('cluster.local.', 'SOA', { id: 7 });
    const same = (await c1.ask(soa))!.equals((await c2.ask(soa))!);
    c1.close();
    c2.close();
    if (same || attempt >= 4) return { fast, ref, stop: async () => (await fast.stop(), await ref.stop()) };
    await Promise.all([fast.stop(), ref.stop()]);
  }
}

/** Mixed-case spelling, deterministic per name. */
function mixCase(name: string): string {
  let out = '';
  for (let i = 0; i < name.length; i++) out += i % 3 === 0 ? name[i]!.toUpperCase() : name[i]!;
  return out;
}

/**
 * Ask every question twice of both servers: first shape `a` (general path on both), then shape `b` (replayed by
 * the fast server where memoized). Returns the mismatches and how many of the second round were replayed.
 */
async function walk(fast: Running, ref: Running, questions: readonly Question[], a: Omit<Wire, 'id'>, b: Omit<Wire, 'id'>, spell = (n: string) => n): Promise<{ bad: string[]; replayed: number; asked: number }> {
  const cf = new Client(fast.port);
  const cr = new Client(ref.port);
  const bad: string[] = [];
  const before = fast.seen.replays;
  let id = 1;
  for (const shape of [a, b]) {
    for (let i = 0; i < questions.length; i += 64) {
      await Promise.all(
        questions.slice(i, i + 64).map(async (q) => {
          id = (id % 65000) + 1;
          const wire = query(spell(q.name), q.type, { ...shape, id });
          const [x, y] = await Promise.all([cf.ask(wire), cr.ask(wire)]);
          if (x === null || y === null) bad.push(`${q.name} ${q.type}: no reply (${x === null ? 'fast' : 'ref'})`);
          else if (!x.equals(y)) bad.push(`${q.name} ${q.type} ${JSON.stringify(shape)}: ${x.toString('hex')} != ${y.toString('hex')}`);
        }),
      );
    }
  }
  cf.close();
  cr.close();
  return { bad, replayed: fast.seen.replays - before, asked: questions.length };
}

t.test('byte-for-byte: every name and type of the demo cluster, through both paths', async (t) => {
  const { fast, ref, stop } = await pair(DEMO_DIR);
  t.teardown(stop);
  const questions = clusterQuestions(readList(path.join(DEMO_DIR, 'cluster.yaml')));
  t.ok(questions.length > 1000, `${questions.length} questions`);
  const shapes: Array<[string, Omit<Wire, 'id'>, Omit<Wire, 'id'>]> = [
    ['no EDNS, RD then CD', { rd: true }, { rd: false, cd: true }],
    ['EDNS 1232', { edns: 1232 }, { edns: 1232, rd: false }],
    ['EDNS 4096 + DO, CD', { edns: 4096, do: true }, { edns: 4096, do: true, cd: true }],
    ['EDNS 512 (truncation)', { edns: 512, rd: false }, { edns: 512, cd: true }],
  ];
  for (const [what, a, b] of shapes) {
    const r = await walk(fast, ref, questions, a, b);
    t.same(r.bad.slice(0, 5), [], `${what}: identical bytes`);
    // Every question the kubernetes plugin answers for good is replayed on its second asking; only AXFR/IXFR
    // (REFUSED, written by the server) and fallthrough names are not.
    t.ok(r.replayed > r.asked * 0.8, `${what}: ${r.replayed}/${r.asked} replayed`);
  }
  const mixed = await walk(fast, ref, questions, {}, { cd: true }, mixCase);
  t.same(mixed.bad.slice(0, 5), [], 'mixed-case spellings: identical bytes (each spelling is its own entry)');
  t.ok(mixed.replayed > mixed.asked * 0.8, `mixed case: ${mixed.replayed}/${mixed.asked} replayed`);

  // TCP: never truncated, its own variant.
  const some = questions.filter((_, i) => i % 13 === 0);
  const before = fast.seen.replays;
  for (const q of some) {
    for (const round of [0, 1]) {
      const wire = query(q.name, q.type, { id: 100 + round, edns: round ? 1232 : 1232, rd: round === 0 });
      const [x, y] = await Promise.all([sendTcp(fast.port, wire), sendTcp(ref.port, wire)]);
      if (!x || !y || !x.equals(y)) t.fail(`TCP ${q.name} ${q.type} differs`);
    }
  }
  t.ok(fast.seen.replays - before > some.length * 0.8, 'TCP replays too');
  t.equal(ref.seen.replays, 0, 'the reference never replays');
  t.equal(fast.seen.general + fast.seen.replays, ref.seen.general, 'every query was observed once, on either path');
});

t.test('byte-for-byte: a generated cluster (bench/gen-cluster.mjs), sampled', async (t) => {
  const tmp = tempDir('fastpath-gen');
  t.teardown(tmp.cleanup);
  execFileSync(process.execPath, [path.join(REPO_ROOT, 'bench', 'gen-cluster.mjs'), '--services', '300', '--endpoints', '3000', '--pods', '--max-queries', '500', '--out', tmp.dir]);
  const { fast, ref, stop } = await pair(path.join(tmp.dir, 'cluster'));
  t.teardown(stop);
  const all = clusterQuestions(readList(path.join(tmp.dir, 'cluster', 'cluster.json')));
  const step = Math.max(1, Math.floor(all.length / 6000));
  const questions = all.filter((_, i) => i % step === 0);
  for (const [a, b] of [
    [{}, { rd: false, cd: true }],
    [{ edns: 1232, do: true }, { edns: 1232, do: true, rd: false }],
  ] as Array<[Omit<Wire, 'id'>, Omit<Wire, 'id'>]>) {
    const r = await walk(fast, ref, questions, a, b);
    t.same(r.bad.slice(0, 5), [], `${questions.length} of ${all.length} questions, ${JSON.stringify(a)}: identical bytes`);
    t.ok(r.replayed > r.asked * 0.8, `${r.replayed}/${r.asked} replayed`);
  }
});

t.test('left to the general path: EDNS options, other blocks, opaque plugins, non-IN, DS, compressed names', async (t) => {
  const { fast, stop } = await pair(DEMO_DIR);
  t.teardown(stop);
  const c = new Client(fast.port);
  t.teardown(() => c.close());
  const name = 'nginx-basic.default.svc.cluster.local.';
  const twice = async (wire: Buffer): Promise<number> => {
    const before = fast.seen.replays;
    await c.ask(wire);
    const w2 = Buffer.from(wire);
    w2.writeUInt16BE(wire.readUInt16BE(0) + 1, 0);
    t.ok(await c.ask(w2), 'answered');
    return fast.seen.replays - before;
  };
  t.equal(await twice(query(name, 'A', { id: 10 })), 1, 'plain query: replayed the second time');
  t.equal(await twice(query(name, 'A', { id: 20, edns: 1232, options: [[10, Buffer.alloc(8, 1)]] })), 0, 'EDNS cookie: general path');
  t.equal(await twice(query(name, 'A', { id: 30, edns: 1232, options: [[8, Buffer.from([0, 1, 24, 0, 10, 0, 0])]] })), 0, 'ECS: general path');
  t.equal(await twice(query('who.example.org.', 'A', { id: 40 })), 0, 'whoami block: never memoized');
  t.equal(await twice(query(name, 'DS', { id: 50 })), 0, 'DS: routed to the parent, general path');
  const ch = query(name, 'A', { id: 60 });
  ch.writeUInt16BE(3, ch.length - 2);
  t.equal(await twice(ch), 0, 'class CH: general path');
  // The same question with its name compressed: a pointer to... itself is invalid, so point the qname at a copy
  // of the name placed in the header's place is impossible; use a name the decoder refuses instead.
  const bad = query(name, 'A', { id: 70 });
  bad[12] = 0xc0;
  bad[13] = 0x0c;
  t.equal(await twice(bad), 0, 'pointer in the question: general path (FORMERR there)');
  const v1 = query(name, 'A', { id: 80, edns: 1232 });
  v1[v1.length - 5] = 1; // OPT version 1
  t.equal(await twice(v1), 0, 'EDNS version 1: general path (BADVERS)');
  const notify = query(name, 'SOA', { id: 90 });
  notify[2] |= 4 << 3;
  t.equal(await twice(notify), 0, 'NOTIFY opcode: general path');
});

t.test('a block with log (opaque) logs every query; the fast path is off there', async (t) => {
  const tmp = tempDir('fastpath-log');
  t.teardown(tmp.cleanup);
  const corefile = `.:0 {\n    log\n    kubernetes cluster.local {\n        fixture ${DEMO_DIR}\n    }\n}\n`;
  const s = await run(corefile, true);
  t.teardown(() => s.stop());
  const c = new Client(s.port);
  t.teardown(() => c.close());
  for (let i = 0; i < 3; i++) t.ok(await c.ask(query('nginx-basic.default.svc.cluster.local.', 'A', { id: 300 + i })));
  t.equal(s.seen.replays, 0, 'nothing replayed');
  t.equal(s.seen.general, 3);
});

t.test('invalidation: a fixture change is served at once, never a stale memo', async (t) => {
  const tmp = tempDir('fastpath-inval');
  t.teardown(tmp.cleanup);
  const yaml = (ip: string): string => `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata: { name: ns1 }
- apiVersion: v1
  kind: Service
  metadata: { name: web, namespace: ns1 }
  spec: { clusterIP: None, clusterIPs: [None], ports: [{ name: http, port: 80, protocol: TCP }] }
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: { name: web-1, namespace: ns1, labels: { kubernetes.io/service-name: web } }
  addressType: IPv4
  endpoints: [{ addresses: ["${ip}"], conditions: { ready: true } }]
  ports: [{ name: http, port: 80, protocol: TCP }]
`;
  const file = path.join(tmp.dir, 'cluster.yaml');
  writeFileSync(file, yaml('10.1.0.1'));
  const s = await run(corefileFor(tmp.dir), true);
  t.teardown(() => s.stop());
  const c = new Client(s.port);
  t.teardown(() => c.close());
  let id = 500;
  const a = async (name: string, type = 'A'): Promise<Buffer> => (await c.ask(query(name, type, { id: id++ })))!;
  const ipOf = (r: Buffer): string => [...r.subarray(r.length - 4)].join('.');
  t.equal(ipOf(await a('web.ns1.svc.cluster.local.')), '10.1.0.1');
  t.equal(ipOf(await a('web.ns1.svc.cluster.local.')), '10.1.0.1', 'second asking (replayed)');
  const nx = await a('other.ns1.svc.cluster.local.');
  t.equal(nx[3]! & 0xf, 3, 'NXDOMAIN memoized');
  await a('other.ns1.svc.cluster.local.');
  const replaysBefore = s.seen.replays;
  t.ok(replaysBefore >= 2, 'both replayed');
  // Change the endpoint address and add the `other` service: both names must change at once.
  writeFileSync(path.join(tmp.dir, '.tmp.yaml'), yaml('10.1.0.2') + `- apiVersion: v1
  kind: Service
  metadata: { name: other, namespace: ns1 }
  spec: { clusterIP: 10.96.7.7, clusterIPs: [10.96.7.7], ports: [{ name: http, port: 80, protocol: TCP }] }
`);
  renameSync(path.join(tmp.dir, '.tmp.yaml'), file);
  const changed = await pollUntil(async () => ipOf(await a('web.ns1.svc.cluster.local.')) === '10.1.0.2', 3000, 5);
  t.ok(changed.ok, 'new address served');
  t.equal(ipOf(await a('web.ns1.svc.cluster.local.')), '10.1.0.2', 'and replayed from then on');
  t.equal(ipOf(await a('other.ns1.svc.cluster.local.')), '10.96.7.7', 'the NXDOMAIN is gone');
  // The serial changed: a negative answer memoized before must carry the new SOA serial.
  const neg = await a('nope.ns1.svc.cluster.local.');
  const neg2 = await a('nope.ns1.svc.cluster.local.');
  t.same(neg.subarray(2), neg2.subarray(2), 'negative answer stable after the change');
});

t.test('metrics: replayed replies are counted like any query', async (t) => {
  const reg = new Registry();
  const m = new DnsMetrics(reg);
  m.zones.add('cluster.local.');
  const facts: QueryFacts = {
    server: 'dns://:53', zone: 'cluster.local.', proto: 'udp', remote: { family: 4 }, qtype: TYPE.A, do: true,
    start: process.hrtime.bigint(), raw: { length: 57 }, responseSize: 72, rcode: 0, writtenBy: 'kubernetes',
  };
  m.replayed(facts);
  m.replayed({ ...facts, rcode: 3, qtype: TYPE.SRV, proto: 'tcp' });
  const text = await reg.metrics();
  const z = { server: 'dns://:53', zone: 'cluster.local.' };
  t.equal(sample(text, 'coredns_dns_requests_total', { ...z, proto: 'udp', family: '1', type: 'A' }), 1);
  t.equal(sample(text, 'coredns_dns_requests_total', { ...z, proto: 'tcp', type: 'SRV' }), 1);
  t.equal(sample(text, 'coredns_dns_responses_total', { ...z, rcode: 'NOERROR', plugin: 'kubernetes' }), 1);
  t.equal(sample(text, 'coredns_dns_responses_total', { ...z, rcode: 'NXDOMAIN', plugin: 'kubernetes' }), 1);
  t.equal(sample(text, 'coredns_dns_do_requests_total', z), 2);
  t.equal(sample(text, 'coredns_dns_response_size_bytes_count', { ...z, proto: 'udp' }), 1);
  t.equal(sample(text, 'coredns_dns_response_size_bytes_sum', { ...z, proto: 'udp' }), 72);
  t.equal(sample(text, 'coredns_dns_request_size_bytes_sum', { ...z, proto: 'tcp' }), 57);
  t.equal(sample(text, 'coredns_dns_request_duration_seconds_count', z), 2);

  // End to end: a server with prometheus, the same name asked 5 times, 5 requests counted.
  const { dir, cleanup } = tempDir('fastpath-metrics');
  t.teardown(cleanup);
  copyFileSync(path.join(DEMO_DIR, 'cluster.yaml'), path.join(dir, 'cluster.yaml'));
  const s = await run(corefileFor(dir, '    prometheus 127.0.0.1:0\n'), true);
  t.teardown(() => s.stop());
  const c = new Client(s.port);
  t.teardown(() => c.close());
  for (let i = 0; i < 5; i++) await c.ask(query('nginx-basic.default.svc.cluster.local.', 'A', { id: 900 + i }));
  t.equal(s.seen.replays, 4, 'four replayed');
  const exported = await s.server.metrics.metrics();
  t.equal(sample(exported, 'coredns_dns_requests_total', { zone: '.', type: 'A', proto: 'udp' }), 5, 'all five counted by prometheus');
  t.equal(sample(exported, 'coredns_dns_responses_total', { zone: '.', rcode: 'NOERROR', plugin: 'kubernetes' }), 5);
  t.equal(sample(exported, 'coredns_dns_response_size_bytes_count', { zone: '.', proto: 'udp' }), 5);
});

t.test('readFastQuestion, WireRouter, ReplyMemo', async (t) => {
  const fq = new FastQuestion();
  const q = query('Web.NS1.svc.cluster.local.', 'A', { id: 1, edns: 1232, do: true });
  t.ok(readFastQuestion(q, fq));
  t.equal(fq.qtype, TYPE.A);
  t.equal(fq.udpSize, 1232);
  t.equal(fq.do, true);
  t.equal(fq.labelCount, 5);
  t.same(questionKey(q, fq), q.subarray(12, fq.nameEnd + 2));
  const hash = fq.hash;
  t.ok(readFastQuestion(query('web.ns1.svc.cluster.local.', 'A', { id: 9 }), fq));
  t.not(fq.hash, hash, 'the hash covers the case as sent');
  t.not(replyVariant(false, fq), replyVariant(true, fq), 'TCP is its own variant');
  t.ok(readFastQuestion(query('a.b.', 'A', { id: 1 }), fq));
  t.equal(fq.udpSize, -1);
  const withDot = query('a.b.', 'A', { id: 1 });
  withDot[13] = 0x2e;
  t.notOk(readFastQuestion(withDot, fq), 'a `.` byte inside a label');
  t.notOk(readFastQuestion(q.subarray(0, q.length - 1), fq), 'truncated OPT');
  const resp = Buffer.from(q);
  resp[2]! |= 0x80;
  t.notOk(readFastQuestion(resp, fq), 'a response');
  const two = Buffer.from(q);
  two[11] = 2;
  t.notOk(readFastQuestion(two, fq), 'two additional records');
  const long = query(`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}.`, 'A', { id: 1 });
  t.ok(readFastQuestion(long, fq), '255-octet name');
  const tooLong = query(`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}.`, 'A', { id: 1 });
  t.notOk(readFastQuestion(tooLong, fq), '256 octets');

  const router = WireRouter.of(new Map([['.', 'root'], ['cluster.local.', 'k8s'], ['svc.cluster.local.', 'svc'], ['org.', 'org']]))!;
  const route = (n: string): string | undefined => {
    const w = query(n, 'A', { id: 1 });
    t.ok(readFastQuestion(w, fq));
    return router.route(w, fq)?.value;
  };
  t.equal(route('a.Svc.Cluster.LOCAL.'), 'svc', 'longest suffix, any case');
  t.equal(route('a.b.cluster.local.'), 'k8s');
  t.equal(route('cluster.local.'), 'k8s');
  t.equal(route('xcluster.local.'), 'root', 'whole labels only');
  t.equal(route('.'), 'root');
  t.equal(WireRouter.of(new Map([['a\\.b.', 1]])), null, 'escaped zones are not routed on wire');
  t.equal(WireRouter.of(new Map([['org.', 1]]))!.route(query('example.com.', 'A', { id: 1 }), (readFastQuestion(query('example.com.', 'A', { id: 1 }), fq), fq)), undefined);

  let stamp = 1;
  const guard: MemoGuard = { stamp: () => stamp };
  const memo = new ReplyMemo(3);
  const wire = Buffer.from([0xab, 0xcd, 0x85, 0, 0, 1]);
  const k = (s: string): Buffer => Buffer.from(s, 'latin1');
  const get = (hash: number, key: string, variant: number) => memo.get(hash, k(`xx${key}`), 2, key.length + 2, variant);
  memo.set(1, k('k1'), 0, 'a.svc.cluster.local.', wire, guard, 0, 'kubernetes');
  t.same(replyBytes(get(1, 'k1', 0)!), Buffer.from([0, 0, 0x85, 0, 0, 1]), 'stored with the ID zeroed');
  t.equal(wire.readUInt16BE(0), 0xabcd, 'the original is untouched');
  t.equal(get(1, 'k9', 0), undefined, 'same hash, other key bytes: no hit');
  t.equal(get(1, 'k10', 0), undefined, 'same hash, longer key: no hit');
  memo.set(1, k('k1'), 1, 'a.svc.cluster.local.', wire, guard, 0, 'kubernetes');
  memo.set(1, k('k1'), 1, 'a.svc.cluster.local.', wire, guard, 0, 'kubernetes');
  t.equal(memo.size, 2, 'one entry per variant');
  t.equal(get(1, 'k1', 2), undefined);
  memo.set(2, k('k2'), 0, 'b.svc.cluster.local.', wire, guard, 0, 'kubernetes');
  t.equal(memo.size, 3);
  memo.set(3, k('k3'), 0, 'c.other.', wire, guard, 0, 'kubernetes');
  t.equal(memo.size, 2, 'bounded: the oldest question went, with both its variants');
  t.equal(get(1, 'k1', 0), undefined);
  t.equal(get(1, 'k1', 1), undefined);
  // A hash collision: two questions chained under one hash, invalidated one by one.
  memo.set(3, k('k4'), 0, 'd.svc.cluster.local.', wire, guard, 0, 'kubernetes');
  t.ok(get(3, 'k3', 0) && get(3, 'k4', 0), 'colliding keys both held');
  memo.invalidate('svc.cluster.local.');
  t.equal(get(2, 'k2', 0), undefined, 'invalidated below the suffix');
  t.equal(get(3, 'k4', 0), undefined, 'the colliding one too');
  t.ok(get(3, 'k3', 0), 'other names kept');
  stamp = 2;
  t.equal(get(3, 'k3', 0), undefined, 'a changed guard stamp drops the entry');
  t.equal(memo.size, 0);
  memo.set(4, k('k4'), 0, 'd.', wire, guard, 0, 'kubernetes');
  memo.invalidate('.');
  t.equal(memo.size, 0, "'.' clears everything");

  // Invalidations find their entries by name: many of them, for names not held, keep everything else.
  const big = new ReplyMemo(5000);
  for (let i = 0; i < 2000; i++) big.set(i, k(`q${i}`), 0, `n${i}.svc.cluster.local.`, wire, guard, 0, 'kubernetes');
  big.set(2000, k('q2000'), 0, '_http._tcp.n1.svc.cluster.local.', wire, guard, 0, 'kubernetes');
  big.invalidate('n1.svc.cluster.local.');
  t.equal(big.size, 1999, 'one name and the name below it invalidated');
  t.equal(big.get(1, k('xxq1'), 2, 4, 0), undefined);
  for (let i = 0; i < 5000; i++) big.invalidate(`other${i}.svc.cluster.local.`);
  t.equal(big.size, 1999, 'names not held: nothing dropped');
  big.invalidate('svc.cluster.local.');
  t.equal(big.size, 0, 'a suffix above them all');

  // The arena: churn through many entries; dropped bytes are reclaimed and live replies stay intact.
  const churn = new ReplyMemo(1000);
  const reply = (i: number): Buffer => {
    const b = Buffer.alloc(100 + (i % 50));
    b.writeUInt32BE(i, 4);
    return b;
  };
  for (let i = 0; i < 60000; i++) churn.set(i, k(`key-${i}`), 0, `n${i}.`, reply(i), guard, 0, 'kubernetes');
  t.equal(churn.size, 1000);
  t.ok(churn.arenaBytes <= 4 * 256 * 1024 + 2 * 1000 * 160, `arena bounded (${churn.arenaBytes} bytes)`);
  let intact = 0;
  for (let i = 59000; i < 60000; i++) {
    const e = churn.get(i, k(`xxkey-${i}`), 2, `key-${i}`.length + 2, 0);
    if (e && replyBytes(e).readUInt32BE(4) === i && replyBytes(e).length === 100 + (i % 50)) intact++;
  }
  t.equal(intact, 1000, 'the last 1000 replies read back exactly');
});
