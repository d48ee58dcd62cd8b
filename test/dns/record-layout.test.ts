// Record layout of wire replies: TTL offsets (cache hits replayed with TTLs counting down) and the runs loadbalance
// shuffles (replays redraw them), checked against the decoder on messages our encoder writes.
import t from 'tap';
import { CLASS, TYPE } from '../../lib/dns/constants.js';
import type { Message } from '../../lib/dns/message.js';
import { readLayout, redrawRuns, ttlOffsets } from '../../lib/dns/record-layout.js';
import { decodeMessage, encodeMessage } from '../../lib/dns/wire.js';
import { replayRuns } from '../../lib/plugins/loadbalance/handler.js';
import { rrToText } from '../../lib/dns/text.js';
import { rrs } from '../support/rr.js';
import { replyMessage } from '../support/message.js';
import { seededRandom } from '../support/random.js';

const msg = replyMessage;

const EDNS = { udpSize: 1232, extRcode: 0, version: 0, do: false, z: 0, options: [] };

const headless = msg({
  answer: rrs(
    'web.default.svc.cluster.local. 5 IN A 10.1.0.1',
    'web.default.svc.cluster.local. 5 IN A 10.1.0.2',
    'web.default.svc.cluster.local. 5 IN AAAA fd00::3',
    'web.default.svc.cluster.local. 5 IN A 10.1.0.4',
  ),
  edns: EDNS,
});

/** Every section as zone-file lines, sorted: what must not change when records are redrawn. */
function recordSet(wire: Buffer): string[] {
  const m = decodeMessage(wire);
  return [...m.answer, ...m.authority, ...m.additional].map(rrToText).sort();
}

t.test('readLayout and ttlOffsets', async (t) => {
  const wire = encodeMessage(headless);
  const l = readLayout(wire)!;
  t.same(l.types, [TYPE.A, TYPE.A, TYPE.AAAA, TYPE.A, TYPE.OPT], 'every record, OPT last');
  t.same(l.sections, [0, 0, 0, 0, 2]);
  t.equal(l.ends.at(-1), wire.length, 'the last record ends the message');
  t.notOk(l.truncated);
  const at = ttlOffsets(wire)!;
  t.equal(at.length, 4, 'OPT has no TTL');
  for (const o of at) t.equal(wire.readUInt32BE(o), 5, `TTL at ${o}`);
  const patched = Buffer.from(wire);
  for (const o of at) patched.writeUInt32BE(77, o);
  t.same(decodeMessage(patched).answer.map((r) => r.ttl), [77, 77, 77, 77], 'patching them sets every TTL');
  t.equal(decodeMessage(patched).edns?.udpSize, 1232, 'the OPT untouched');

  const soa = encodeMessage(msg({ authority: rrs('cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5') }));
  t.same(readLayout(soa)!.types, [TYPE.SOA], 'names inside SOA rdata are walked');
  t.ok(readLayout(soa)!.pointerTargets.length > 0, 'and their pointers noted');

  t.equal(readLayout(wire.subarray(0, wire.length - 3)), null, 'a cut message is malformed');
  t.equal(readLayout(Buffer.alloc(5)), null, 'shorter than a header');
  t.equal(ttlOffsets(wire.subarray(0, 30)), null);
});

/** `m` encoded within `size` octets, and loadbalance's replay plan for it. */
function planOf(m: Message, size?: number): { wire: Buffer; plan: Uint16Array | null } {
  const wire = encodeMessage(m, size);
  return { wire, plan: replayRuns(wire, m) };
}

const srvQuestion = { question: [{ name: '_http._tcp.web.default.svc.cluster.local.', type: TYPE.SRV, class: CLASS.IN }] };

t.test('shuffleRuns: the plan of a loadbalanced reply', async (t) => {
  const { wire, plan } = planOf(headless);
  const l = readLayout(wire)!;
  t.same([...plan!], [4, l.starts[0], l.starts[1], l.starts[2], l.starts[3], l.ends[3]], 'one run of four addresses, A and AAAA together');

  t.same([...planOf(msg({ answer: rrs('web.default.svc.cluster.local. 5 IN A 10.1.0.1'), edns: EDNS })).plan!], [], 'a single address: nothing to redraw');

  // SRV: targets in the answer, their addresses in additional.
  const sp = planOf(msg({
    ...srvQuestion,
    answer: rrs(
      '_http._tcp.web.default.svc.cluster.local. 5 IN SRV 0 50 80 a.web.default.svc.cluster.local.',
      '_http._tcp.web.default.svc.cluster.local. 5 IN SRV 0 50 80 b.web.default.svc.cluster.local.',
    ),
    additional: rrs('a.web.default.svc.cluster.local. 5 IN A 10.1.0.1', 'b.web.default.svc.cluster.local. 5 IN A 10.1.0.2'),
  })).plan!;
  t.same([sp[0], sp.length], [2, 4], 'the additional addresses form a run (the SRV records are not shuffled)');

  // MX answers to the owner asked: owners point at the question, exchanges at its name.
  const mxq = { question: [{ name: 'example.', type: TYPE.MX, class: CLASS.IN }] };
  const mp = planOf(msg({ ...mxq, answer: rrs('example. 5 IN MX 10 mx1.example.', 'example. 5 IN MX 20 mx2.example.', 'example. 5 IN A 192.0.2.1') })).plan!;
  t.same([mp[0], mp.length], [2, 4], 'the MX records form a run; the one address does not');
  // Owned by another name than the question, the second MX's owner points into the first MX.
  t.equal(planOf(msg({ ...mxq, answer: rrs('other.example. 5 IN MX 10 mx1.example.', 'other.example. 5 IN MX 20 mx2.example.') })).plan, null, 'a pointer into the MX run');

  // The second A's owner points into the first A (inside the run): moving them would break the pointer.
  t.equal(planOf(msg({ answer: rrs('x.example. 5 IN A 192.0.2.1', 'x.example. 5 IN A 192.0.2.2') })).plan, null, 'a pointer into the run');

  const split = msg({ answer: rrs('web.default.svc.cluster.local. 5 IN A 10.1.0.1', 'web.default.svc.cluster.local. 5 IN TXT "x"', 'web.default.svc.cluster.local. 5 IN A 10.1.0.2') });
  t.equal(planOf(split).plan, null, 'addresses split by another type: not what loadbalance writes');
});

t.test('shuffleRuns: truncated replies', async (t) => {
  t.ok(planOf(headless, 512).plan, 'fits in 512: a plan');
  const big = msg({ answer: rrs(...Array.from({ length: 40 }, (_, i) => `web.default.svc.cluster.local. 5 IN A 10.1.0.${i + 1}`)) });
  t.equal(planOf(big, 512).plan, null, 'cut inside the run: which records made it in depended on the draw');

  const srvOf = (n: number, extra: string[] = []): Message =>
    msg({
      ...srvQuestion,
      answer: rrs(...Array.from({ length: n }, (_, i) => `_http._tcp.web.default.svc.cluster.local. 5 IN SRV 0 2 80 h${i}.web.default.svc.cluster.local.`)),
      additional: rrs(...Array.from({ length: n }, (_, i) => `h${i}.web.default.svc.cluster.local. 5 IN A 10.1.0.${i + 1}`), ...extra),
    });
  // A big SRV answer cut in its answer section (SRV records are not shuffled): the addresses never made it in.
  const bigSrv = planOf(srvOf(40), 512);
  t.ok(readLayout(bigSrv.wire)!.truncated, 'the SRV answer is truncated');
  t.same([...bigSrv.plan!], [], 'cut among the SRV records: nothing the draw decided, nothing to redraw');
  const cutInRun = planOf(srvOf(8), 512);
  t.ok(readLayout(cutInRun.wire)!.truncated && readLayout(cutInRun.wire)!.types.at(-1) === TYPE.A, 'cut among the addresses');
  t.equal(cutInRun.plan, null, 'which addresses made it in depended on the draw');

  // Cut exactly before the first address of a run of different sizes: with AAAA (28 octets) drawn first nothing
  // fits, with A (16) drawn first the A does. The wire keeps no address either way; the message says what was cut.
  const mixed = (aaaaFirst: boolean): Message => {
    const aaaa = 'h0.web.default.svc.cluster.local. 5 IN AAAA fd00::1';
    const a = 'h0.web.default.svc.cluster.local. 5 IN A 10.1.0.1';
    const m = msg({ ...srvQuestion, answer: rrs('_http._tcp.web.default.svc.cluster.local. 5 IN SRV 0 2 80 h0.web.default.svc.cluster.local.') });
    // Pad the answer with TXT so that 20 octets are left when the additional section starts.
    const room = 512 - encodeMessage(m).length;
    // A TXT record of 2 (owner pointer) + 10 + RDATA octets, its RDATA strings of at most 1 + 255 octets.
    let rdata = room - 20 - 12;
    const strings: string[] = [];
    for (; rdata > 0; rdata -= 256) strings.push(`"${'x'.repeat(Math.min(255, rdata - 1))}"`);
    m.answer.push(...rrs(`_http._tcp.web.default.svc.cluster.local. 5 IN TXT ${strings.join(' ')}`));
    m.additional = rrs(...(aaaaFirst ? [aaaa, a] : [a, aaaa]));
    return m;
  };
  const first = planOf(mixed(true), 512);
  t.equal(512 - first.wire.length, 20, 'the answer leaves 20 octets: an A fits, an AAAA does not');
  t.same(decodeMessage(first.wire).additional, [], 'AAAA drawn first: no address kept');
  t.equal(first.plan, null, 'so the draw decided: not memoized');
  const aFirst = planOf(mixed(false), 512);
  t.equal(decodeMessage(aFirst.wire).additional.length, 1, 'A drawn first: it is kept');
  t.equal(aFirst.plan, null, 'cut inside the run: not memoized either');
});

t.test('redrawRuns: every order, the same records, the rest of the message untouched', async (t) => {
  const { wire, plan: p } = planOf(headless);
  const plan = p!;
  const scratch = Buffer.alloc(65536);
  const want = recordSet(wire);
  const orders = new Set<string>();
  // Seeded: the test is about placement, not about the generator.
  const rand = seededRandom(7);
  for (let i = 0; i < 400; i++) {
    const b = Buffer.from(wire);
    redrawRuns(b, plan, scratch, rand);
    t.equal(b.length, wire.length);
    const m = decodeMessage(b);
    orders.add(m.answer.map((r) => String(r.data)).join(' '));
    if (i < 20) {
      t.same(recordSet(b), want, 'the same records');
      t.equal(m.edns?.udpSize, 1232, 'OPT in place');
      t.same(b.subarray(0, plan[1]!), wire.subarray(0, plan[1]!), 'header and question untouched');
    }
  }
  t.equal(orders.size, 24, 'all 24 orders of four records reached');

  // Runs longer than the index buffer's first size.
  const many = msg({ answer: rrs(...Array.from({ length: 300 }, (_, i) => `web.default.svc.cluster.local. 5 IN A 10.1.${i >> 8}.${i & 255}`)) });
  const mw = encodeMessage(many);
  const mb = Buffer.from(mw);
  redrawRuns(mb, replayRuns(mw, many)!, scratch, rand);
  t.same(recordSet(mb), recordSet(mw), '300 records redrawn, none lost');
  t.notSame(mb, mw, 'and reordered');
});
