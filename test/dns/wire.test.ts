import t from 'tap';
import dnsPacket from 'dns-packet';
import { decodeMessage, encodeHeaderOnly, encodeMessage, readHeader, WireError } from '../../lib/dns/wire.js';
import { CLASS, FLAG, RCODE, TYPE } from '../../lib/dns/constants.js';
import { type Message, type RR, rcodeOf } from '../../lib/dns/message.js';
import { rrs } from '../support/rr.js';
import { replyMessage } from '../support/message.js';

// ---- byte builders for hand-made packets --------------------------------------------------------------------

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}
function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
}
function hdr(qd: number, an = 0, ns = 0, ar = 0, id = 0x1234, flags = 0x0100): Buffer {
  return Buffer.concat([u16(id), u16(flags), u16(qd), u16(an), u16(ns), u16(ar)]);
}
/** Uncompressed wire name from labels. */
function wname(...labels: string[]): Buffer {
  const parts: Buffer[] = [];
  for (const l of labels) parts.push(Buffer.from([l.length]), Buffer.from(l, 'latin1'));
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}
function ptr(off: number): Buffer {
  return Buffer.from([0xc0 | (off >> 8), off & 0xff]);
}
const Q_A = Buffer.concat([wname('a'), u16(TYPE.A), u16(CLASS.IN)]); // question at offset 12, 7 bytes
function rrBytes(name: Buffer, type: number, rdata: Buffer, cls: number = CLASS.IN, ttl = 60): Buffer {
  return Buffer.concat([name, u16(type), u16(cls), u32(ttl), u16(rdata.length), rdata]);
}
const OPT_RR = rrBytes(Buffer.from([0]), TYPE.OPT, Buffer.alloc(0), 1232, 0);

const msg = replyMessage;

/** The strict decoder (pointers must go backwards, inside the message) and dns-packet both accept `wire`. */
function pointersOk(wire: Buffer): boolean {
  decodeMessage(wire);
  dp.decode(wire);
  return true;
}

// dns-packet's typings lack UNKNOWN_n types, numeric EDNS option codes and the decoded rcode, so it is used
// untyped here: it is only the independent encoder/decoder the tests check against.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;
const dp = {
  encode: (p: Loose): Buffer => dnsPacket.encode(p),
  decode: (b: Buffer): Loose => dnsPacket.decode(b),
};

// ---- decode of packets built by dns-packet (an independent encoder) -----------------------------------------

t.test('decode: every record type from dns-packet', async (t) => {
  const wire = dp.encode({
    id: 4242,
    type: 'response',
    flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED | 3,
    questions: [{ name: 'Web.Default.svc.Cluster.local', type: 'A', class: 'IN' }],
    answers: [
      { name: 'Web.Default.svc.Cluster.local', type: 'A', ttl: 5, data: '10.0.0.1' },
      { name: 'v6.example.org', type: 'AAAA', ttl: 5, data: '2001:0db8:0000:0000:0000:0000:0000:0001' },
      { name: 'v6.example.org', type: 'AAAA', ttl: 5, data: '::ffff:1.2.3.4' },
      { name: 'example.org', type: 'NS', ttl: 7, data: 'ns1.example.org' },
      { name: 'alias.example.org', type: 'CNAME', ttl: 7, data: 'target.example.org' },
      { name: '1.0.0.10.in-addr.arpa', type: 'PTR', ttl: 7, data: 'web.default.svc.cluster.local' },
      { name: 'dns-version.cluster.local', type: 'TXT', ttl: 28800, data: ['1.1.0', Buffer.from([0, 0xff, 0x22])] },
      { name: '_http._tcp.web.example.org', type: 'SRV', ttl: 5, data: { priority: 1, weight: 50, port: 8080, target: 'web.example.org' } },
      { name: 'example.org', type: 'MX', ttl: 9, data: { preference: 10, exchange: 'mail.example.org' } },
      { name: 'raw.example.org', type: 'UNKNOWN_65534', ttl: 1, data: Buffer.from([1, 2, 3]) },
    ],
    authorities: [
      {
        name: 'cluster.local', type: 'SOA', ttl: 5,
        data: { mname: 'ns.dns.cluster.local', rname: 'hostmaster.cluster.local', serial: 4294967295, refresh: 7200, retry: 1800, expire: 86400, minimum: 5 },
      },
    ],
    additionals: [
      { name: 'ns1.example.org', type: 'A', ttl: 7, data: '192.0.2.53' },
      { type: 'OPT', name: '.', udpPayloadSize: 1232, flags: dnsPacket.DNSSEC_OK, options: [{ code: 10, data: Buffer.from('0102030405060708', 'hex') }, { code: 65001, data: Buffer.alloc(0) }] },
    ],
  });
  const m = decodeMessage(wire);
  t.equal(m.id, 4242);
  t.equal(m.flags, FLAG.QR | FLAG.AA | FLAG.RD | 3);
  t.same(m.question, [{ name: 'Web.Default.svc.Cluster.local.', type: TYPE.A, class: CLASS.IN }], 'case kept');
  t.strictSame(m.answer, [
    ...rrs(
      'Web.Default.svc.Cluster.local. 5 IN A 10.0.0.1',
      'v6.example.org. 5 IN AAAA 2001:db8::1',
      'v6.example.org. 5 IN AAAA ::ffff:1.2.3.4',
      'example.org. 7 IN NS ns1.example.org.',
      'alias.example.org. 7 IN CNAME target.example.org.',
      '1.0.0.10.in-addr.arpa. 7 IN PTR web.default.svc.cluster.local.',
      'dns-version.cluster.local. 28800 IN TXT "1.1.0" "\\000\\255\\""',
      '_http._tcp.web.example.org. 5 IN SRV 1 50 8080 web.example.org.',
      'example.org. 9 IN MX 10 mail.example.org.',
      'raw.example.org. 1 IN TYPE65534 \\# 3 010203',
    ),
  ]);
  t.strictSame(m.authority, rrs(
    'cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 4294967295 7200 1800 86400 5'));
  t.strictSame(m.additional, rrs('ns1.example.org. 7 IN A 192.0.2.53'), 'OPT is not in additional');
  t.strictSame(m.edns, {
    udpSize: 1232, extRcode: 0, version: 0, do: true, z: 0,
    options: [{ code: 10, data: Buffer.from('0102030405060708', 'hex') }, { code: 65001, data: Buffer.alloc(0) }],
  });
  const raw = m.answer[9]!.data as Buffer;
  t.not(raw.buffer, wire.buffer, 'raw rdata is a copy, not a view of the packet');
});

t.test('decode: EDNS version, extended rcode (BADVERS), Z bits, and a plain query', async (t) => {
  const wire = dp.encode({
    id: 1, type: 'response', flags: 0,
    questions: [{ name: 'example.org', type: 'A', class: 'IN' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 512, extendedRcode: 1, ednsVersion: 1, flags: 0x0001 }],
  });
  const m = decodeMessage(wire);
  t.strictSame(m.edns, { udpSize: 512, extRcode: 1, version: 1, do: false, z: 1, options: [] });
  t.equal(rcodeOf(m), RCODE.BADVERS);

  const q = decodeMessage(dp.encode({ id: 9, type: 'query', flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: '.', type: 'NS', class: 'IN' }] }));
  t.strictSame(q, { id: 9, flags: FLAG.RD, question: [{ name: '.', type: TYPE.NS, class: CLASS.IN }], answer: [], authority: [], additional: [] });
  t.notOk('edns' in q, 'no edns key without OPT');
});

t.test('decode: names escape special and unprintable bytes like miekg/dns', async (t) => {
  const odd = Buffer.concat([
    hdr(1), Buffer.from([3, 0x61, 0x2e, 0x62, 5, 0x20, 0x5c, 0x00, 0x7f, 0xe9, 1, 0x41, 0]), u16(TYPE.A), u16(CLASS.IN),
  ]);
  const m = decodeMessage(odd);
  t.equal(m.question[0]!.name, 'a\\.b.\\ \\\\\\000\\127\\233.A.');
  // …and the encoder reads the escapes back into the same bytes.
  const again = encodeMessage({ ...m, flags: 0 });
  t.same(again.subarray(12), odd.subarray(12));
});

t.test('decode: follows backward pointers, including pointer to pointer', async (t) => {
  // question "a.b." at 12; answer owner = "x" + ptr(14) ("b."); its CNAME data = ptr to the answer owner (a pointer chain).
  const q = Buffer.concat([Buffer.from([1, 0x61, 1, 0x62, 0]), u16(TYPE.A), u16(CLASS.IN)]); // 12..20
  const ownerAt = 12 + q.length; // 21
  const owner = Buffer.concat([Buffer.from([1, 0x78]), ptr(14)]);
  const rdata = ptr(ownerAt);
  const wire = Buffer.concat([hdr(1, 1), q, rrBytes(owner, TYPE.CNAME, rdata)]);
  const m = decodeMessage(wire);
  t.strictSame(m.answer, rrs('x.b. 60 IN CNAME x.b.'));
  t.same(dp.decode(wire).answers![0], { name: 'x.b', type: 'CNAME', ttl: 60, class: 'IN', flush: false, data: 'x.b' });
});

t.test('decode: trailing bytes after the counted records are ignored', async (t) => {
  const wire = Buffer.concat([hdr(1), Q_A, Buffer.from([0xde, 0xad, 0xbe])]);
  t.same(decodeMessage(wire).question, [{ name: 'a.', type: TYPE.A, class: CLASS.IN }]);
});

t.test('readHeader and encodeHeaderOnly', async (t) => {
  t.same(readHeader(hdr(1, 2, 3, 4, 0xbeef, 0x8180)), { id: 0xbeef, flags: 0x8180, qdcount: 1, ancount: 2, nscount: 3, arcount: 4 });
  t.throws(() => readHeader(Buffer.alloc(11)), WireError);
  const h = encodeHeaderOnly(0xabcd, FLAG.QR | FLAG.RD | RCODE.FORMERR);
  t.same([...h], [0xab, 0xcd, 0x81, 0x01, 0, 0, 0, 0, 0, 0, 0, 0]);
  const d = dp.decode(h);
  t.equal(d.id, 0xabcd);
  t.equal(d.rcode, 'FORMERR');
});

// ---- malformed input --------------------------------------------------------------------------------------

t.test('decode: malformed messages throw WireError', async (t) => {
  const long63 = 'x'.repeat(63);
  const cases: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['short header', Buffer.alloc(11)],
    ['question missing', hdr(1)],
    ['truncated name', Buffer.concat([hdr(1), Buffer.from([3, 0x61, 0x62])])],
    ['name without terminator', Buffer.concat([hdr(1), Buffer.from([1, 0x61])])],
    ['truncated question type/class', Buffer.concat([hdr(1), wname('a'), Buffer.from([0, 1, 0])])],
    ['label length 64 (0x40 type bits)', Buffer.concat([hdr(1), Buffer.from([64]), Buffer.alloc(64, 0x61), Buffer.from([0]), u16(1), u16(1)])],
    ['label type 0x80', Buffer.concat([hdr(1), Buffer.from([0x81, 0x61, 0]), u16(1), u16(1)])],
    ['name longer than 255 octets', Buffer.concat([hdr(1), wname(long63, long63, long63, long63), u16(1), u16(1)])],
    ['pointer to itself', Buffer.concat([hdr(1), ptr(12), u16(1), u16(1)])],
    ['forward pointer', Buffer.concat([hdr(1), ptr(14), wname('a'), u16(1), u16(1)])],
    ['pointer into its own labels (loop)', Buffer.concat([hdr(1), Buffer.from([1, 0x61]), ptr(12), u16(1), u16(1)])],
    ['pointer loop across names', Buffer.concat([hdr(2), ptr(20), u16(1), u16(1), Buffer.from([1, 0x62]), ptr(12), u16(1), u16(1)])],
    ['truncated pointer', Buffer.concat([hdr(1), Buffer.from([0xc0])])],
    ['RR header truncated', Buffer.concat([hdr(1, 1), Q_A, ptr(12), u16(TYPE.A), u16(1), Buffer.from([0, 0])])],
    ['rdlength overruns message', Buffer.concat([hdr(1, 1), Q_A, ptr(12), u16(TYPE.A), u16(1), u32(5), u16(4), Buffer.from([10, 0, 0])])],
    ['A rdata of 3 octets', Buffer.concat([hdr(1, 1), Q_A, rrBytes(ptr(12), TYPE.A, Buffer.from([10, 0, 0]))])],
    ['A rdata of 0 octets', Buffer.concat([hdr(1, 1), Q_A, rrBytes(ptr(12), TYPE.A, Buffer.alloc(0))])],
    ['AAAA rdata of 4 octets', Buffer.concat([hdr(1, 1), Q_A, rrBytes(ptr(12), TYPE.AAAA, Buffer.from([1, 2, 3, 4]))])],
    ['CNAME rdata longer than its name', Buffer.concat([hdr(1, 1), Q_A, rrBytes(ptr(12), TYPE.CNAME, Buffer.concat([wname('b'), Buffer.from([0])]))])],
    ['CNAME name runs past rdata', Buffer.concat([hdr(1, 1), Q_A, rrBytes(ptr(12), TYPE.CNAME, Buffer.from([1, 0x62])), Buffer.from([0])])],
    ['MX rdata truncated', Buffer.concat([hdr(1, 1), Q_A, rrBytes(ptr(12), TYPE.MX, Buffer.from([0]))])],
    ['SRV rdata without target', Buffer.concat([hdr(1, 1), Q_A, rrBytes(ptr(12), TYPE.SRV, Buffer.alloc(6))])],
    ['SOA rdata missing numbers', Buffer.concat([hdr(1, 1), Q_A, rrBytes(ptr(12), TYPE.SOA, Buffer.concat([ptr(12), ptr(12), Buffer.alloc(19)]))])],
    ['TXT string overruns rdata', Buffer.concat([hdr(1, 1), Q_A, rrBytes(ptr(12), TYPE.TXT, Buffer.from([5, 0x61, 0x62]))])],
    ['answer count larger than records', Buffer.concat([hdr(1, 2), Q_A, rrBytes(ptr(12), TYPE.A, Buffer.from([1, 2, 3, 4]))])],
    ['two OPT records', Buffer.concat([hdr(1, 0, 0, 2), Q_A, OPT_RR, OPT_RR])],
    ['OPT in the answer section', Buffer.concat([hdr(1, 1), Q_A, OPT_RR])],
    ['OPT in the authority section', Buffer.concat([hdr(1, 0, 1), Q_A, OPT_RR])],
    ['OPT owner not root', Buffer.concat([hdr(1, 0, 0, 1), Q_A, rrBytes(ptr(12), TYPE.OPT, Buffer.alloc(0), 1232, 0)])],
    ['EDNS option header truncated', Buffer.concat([hdr(1, 0, 0, 1), Q_A, rrBytes(Buffer.from([0]), TYPE.OPT, Buffer.from([0, 10, 0]), 1232, 0)])],
    ['EDNS option overruns OPT rdata', Buffer.concat([hdr(1, 0, 0, 1), Q_A, rrBytes(Buffer.from([0]), TYPE.OPT, Buffer.from([0, 10, 0, 8, 1, 2]), 1232, 0)])],
  ];
  for (const [what, wire] of cases) {
    t.throws(() => decodeMessage(wire), WireError, what);
  }
  // The valid neighbours of some of those cases decode, so the table tests the rule and not a broken builder.
  t.ok(decodeMessage(Buffer.concat([hdr(1), wname(long63, long63, long63, 'x'.repeat(61)), u16(1), u16(1)])), '255-octet name is fine');
  t.ok(decodeMessage(Buffer.concat([hdr(1, 1), Q_A, rrBytes(ptr(12), TYPE.A, Buffer.from([10, 0, 0, 1]))])), 'A rdata of 4');
  t.ok(decodeMessage(Buffer.concat([hdr(1, 0, 0, 1), Q_A, OPT_RR])).edns, 'one OPT in additional');
  let err: unknown;
  try {
    decodeMessage(Buffer.concat([hdr(1), ptr(12), u16(1), u16(1)]));
  } catch (e) {
    err = e;
  }
  if (!(err instanceof WireError)) throw new Error('expected a WireError');
  t.equal(err.name, 'WireError');
  t.equal(err.offset, 12);
  t.ok(err instanceof Error);
});

// ---- encode, checked by dns-packet (an independent decoder) ---------------------------------------------------

t.test('encode: every record type decodes with dns-packet', async (t) => {
  const m = msg({
    flags: FLAG.QR | FLAG.AA | FLAG.RD | RCODE.NXDOMAIN,
    answer: rrs(
      'web.default.svc.cluster.local. 5 IN A 10.0.0.1',
      'web.default.svc.cluster.local. 5 IN AAAA 2001:db8::1',
      'cluster.local. 5 IN NS ns.dns.cluster.local.',
      'alias.default.svc.cluster.local. 5 IN CNAME Target.Example.org.',
      '1.0.0.10.in-addr.arpa. 5 IN PTR web.default.svc.cluster.local.',
      'dns-version.cluster.local. 28800 IN TXT "1.1.0" "a b" ""',
      '_http._tcp.web.default.svc.cluster.local. 5 IN SRV 0 50 80 web.default.svc.cluster.local.',
      'example.org. 300 IN MX 10 mail.example.org.',
      'x.example.org. 1 IN TYPE65534 \\# 2 abcd',
    ),
    authority: rrs('cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1700000000 7200 1800 86400 5'),
    additional: rrs('ns.dns.cluster.local. 5 IN A 10.96.0.10'),
    edns: { udpSize: 4096, extRcode: 0, version: 0, do: true, z: 0, options: [{ code: 10, data: Buffer.from('cafe', 'hex') }] },
  });
  const wire = encodeMessage(m);
  const d = dp.decode(wire);
  t.equal(d.id, 42);
  t.equal(d.rcode, 'NXDOMAIN');
  t.ok(d.flag_aa && d.flag_rd && !d.flag_tc);
  t.same(d.questions, [{ name: 'web.default.svc.cluster.local', type: 'A', class: 'IN' }]);
  const got = d.answers.map((a: Loose) => ({ name: a.name, type: a.type, ttl: a.ttl, data: a.data }));
  t.same(got, [
    { name: 'web.default.svc.cluster.local', type: 'A', ttl: 5, data: '10.0.0.1' },
    { name: 'web.default.svc.cluster.local', type: 'AAAA', ttl: 5, data: '2001:db8::1' },
    { name: 'cluster.local', type: 'NS', ttl: 5, data: 'ns.dns.cluster.local' },
    { name: 'alias.default.svc.cluster.local', type: 'CNAME', ttl: 5, data: 'Target.Example.org' },
    { name: '1.0.0.10.in-addr.arpa', type: 'PTR', ttl: 5, data: 'web.default.svc.cluster.local' },
    { name: 'dns-version.cluster.local', type: 'TXT', ttl: 28800, data: [Buffer.from('1.1.0'), Buffer.from('a b'), Buffer.alloc(0)] },
    { name: '_http._tcp.web.default.svc.cluster.local', type: 'SRV', ttl: 5, data: { priority: 0, weight: 50, port: 80, target: 'web.default.svc.cluster.local' } },
    { name: 'example.org', type: 'MX', ttl: 300, data: { preference: 10, exchange: 'mail.example.org' } },
    { name: 'x.example.org', type: 'UNKNOWN_65534', ttl: 1, data: Buffer.from('abcd', 'hex') },
  ]);
  t.same(d.authorities![0]!.data, { mname: 'ns.dns.cluster.local', rname: 'hostmaster.cluster.local', serial: 1700000000, refresh: 7200, retry: 1800, expire: 86400, minimum: 5 });
  t.equal(d.additionals!.length, 2);
  t.same(d.additionals![0], { name: 'ns.dns.cluster.local', type: 'A', ttl: 5, class: 'IN', flush: false, data: '10.96.0.10' });
  const opt = d.additionals[1];
  t.equal(opt.type, 'OPT', 'OPT written last');
  t.equal(opt.udpPayloadSize, 4096);
  t.equal(opt.flag_do, true);
  t.equal(opt.extendedRcode, 0);
  t.same(opt.options.map((o: Loose) => ({ code: o.code, data: o.data })), [{ code: 10, data: Buffer.from('cafe', 'hex') }]);
  // And our own decoder gives back exactly what went in.
  const back = decodeMessage(wire);
  t.strictSame(back, m);
});

t.test('encode: extended rcode BADVERS and EDNS Z/version bits', async (t) => {
  const m = msg({ edns: { udpSize: 0, extRcode: 1, version: 0, do: false, z: 0x1234, options: [] } });
  const wire = encodeMessage(m);
  const opt = dp.decode(wire).additionals[0];
  t.equal(opt.extendedRcode, 1);
  t.equal(opt.ednsVersion, 0);
  t.equal(opt.flags, 0x1234);
  t.equal(opt.udpPayloadSize, 0);
  t.equal(rcodeOf(decodeMessage(wire)), RCODE.BADVERS);
  const v = decodeMessage(encodeMessage(msg({ edns: { udpSize: 1232, extRcode: 0xff, version: 0xff, do: true, z: 0x7fff, options: [] } })));
  t.strictSame(v.edns, { udpSize: 1232, extRcode: 0xff, version: 0xff, do: true, z: 0x7fff, options: [] });
});

t.test('encode: name compression', async (t) => {
  const five = msg({ answer: [1, 2, 3, 4, 5].map((i) => rrs(`web.default.svc.cluster.local. 5 IN A 10.0.0.${i}`)[0]!) });
  const wire = encodeMessage(five);
  // 12 header + 35 question + 5 × (2 pointer + 10 + 4).
  t.equal(wire.length, 127);
  const plain = dp.encode(dp.decode(wire));
  t.equal(plain.length, 272, 'dns-packet writes the same message uncompressed');
  t.same(dp.decode(wire).answers.map((a: Loose) => a.data), ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4', '10.0.0.5']);

  // Suffix compression: the SOA owner, mname and rname all point into the question name.
  const nx = encodeMessage(msg({
    question: [{ name: 'nope.default.svc.cluster.local.', type: TYPE.A, class: CLASS.IN }],
    authority: rrs('cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5'),
  }));
  // header 12 + question 32+4; owner ptr 2 + 10; mname 2+ns 3+dns +ptr(2) = 9; rname 11+ptr = 13; 20 numbers.
  t.equal(nx.length, 48 + 12 + 9 + 13 + 20);
  t.same(dp.decode(nx).authorities![0]!.data, { mname: 'ns.dns.cluster.local', rname: 'hostmaster.cluster.local', serial: 1, refresh: 7200, retry: 1800, expire: 86400, minimum: 5 });

  // Case: each name keeps its own spelling; a differently cased name is not compressed against it.
  const mixed = encodeMessage(msg({
    question: [{ name: 'WEB.default.svc.cluster.local.', type: TYPE.A, class: CLASS.IN }],
    answer: rrs('WEB.default.svc.cluster.local. 5 IN A 10.0.0.1', 'web.default.svc.cluster.local. 5 IN A 10.0.0.2'),
  }));
  t.same(dp.decode(mixed).answers.map((a: Loose) => a.name), ['WEB.default.svc.cluster.local', 'web.default.svc.cluster.local']);
  t.same(decodeMessage(mixed).answer.map((a) => a.name), ['WEB.default.svc.cluster.local.', 'web.default.svc.cluster.local.']);
  // second owner: "web" label (4) + pointer to "default.…" (2).
  t.equal(mixed.length, 12 + 35 + 16 + (6 + 14));
});

t.test('encode: SRV targets are never compressed but later names point at them (miekg/dns)', async (t) => {
  const m = msg({
    question: [{ name: '_http._tcp.web.default.svc.cluster.local.', type: TYPE.SRV, class: CLASS.IN }],
    answer: rrs('_http._tcp.web.default.svc.cluster.local. 5 IN SRV 0 100 80 web.default.svc.cluster.local.'),
    additional: rrs('web.default.svc.cluster.local. 5 IN A 10.0.0.1'),
  });
  const wire = encodeMessage(m);
  const question = 12;
  const qlen = 42 + 4; // "_http._tcp." (11) + 31
  const srvAt = question + qlen;
  const targetAt = srvAt + 2 + 10 + 6;
  t.same(wire.subarray(targetAt, targetAt + 31), Buffer.from('\x03web\x07default\x03svc\x07cluster\x05local\x00', 'latin1'),
    'target written in full although the question holds the same suffix');
  const aAt = targetAt + 31;
  t.same([...wire.subarray(aAt, aAt + 2)], [0xc0 | (targetAt >> 8), targetAt & 0xff], 'A owner points at the SRV target');
  t.equal(wire.length, aAt + 16);
  t.same(dp.decode(wire).additionals![0]!.name, 'web.default.svc.cluster.local');
});

t.test('encode: compressAbove keeps small replies uncompressed, like CoreDNS Scrub', async (t) => {
  const five = msg({ answer: [1, 2, 3, 4, 5].map((i) => rrs(`web.default.svc.cluster.local. 5 IN A 10.0.0.${i}`)[0]!) });
  t.equal(encodeMessage(five, 512, 512).length, 272, 'fits uncompressed in 512');
  t.same(encodeMessage(five, 512, 512), dp.encode(dp.decode(encodeMessage(five))), 'byte-identical to dns-packet');
  t.equal(encodeMessage(five, 512, 200).length, 127, 'over the threshold: compressed');
  const many = msg({ answer: Array.from({ length: 100 }, (_, i) => rrs(`web.default.svc.cluster.local. 5 IN A 10.0.${i >> 8}.${i & 255}`)[0]!) });
  const w = encodeMessage(many, 512, 512);
  t.equal(readHeader(w).ancount, 29, 'does not fit uncompressed: compressed and truncated');
});

t.test('encode: truncation like miekg/dns Msg.Truncate', async (t) => {
  const owner = 'web.default.svc.cluster.local.';
  const aRecords = (n: number): RR[] => Array.from({ length: n }, (_, i) => rrs(`${owner} 5 IN A 10.0.${i >> 8}.${i & 255}`)[0]!);

  t.test('512 without EDNS', async (t) => {
    const m = msg({ answer: aRecords(100) });
    const wire = encodeMessage(m, 512);
    // 47 bytes of header and question, 16 per record: 29 records = 511 bytes.
    t.equal(wire.length, 511);
    t.same(readHeader(wire), { id: 42, flags: FLAG.QR | FLAG.AA | FLAG.RD | FLAG.TC, qdcount: 1, ancount: 29, nscount: 0, arcount: 0 });
    t.ok(m.flags & FLAG.TC, 'TC also set on the message');
    t.equal(m.answer.length, 100, 'the message keeps its records');
    const d = dp.decode(wire);
    t.ok(d.flag_tc);
    t.equal(d.answers!.length, 29);
    t.equal(d.answers[28].data, '10.0.0.28', 'the first 29 are kept, in order');
  });

  t.test('sizes below 512 are raised to 512', async (t) => {
    t.equal(readHeader(encodeMessage(msg({ answer: aRecords(100) }), 100)).ancount, 29);
  });

  t.test('EDNS size, OPT kept and reserved first', async (t) => {
    const cookie = { code: 10, data: Buffer.alloc(8, 7) };
    const m = msg({ answer: aRecords(100), edns: { udpSize: 1232, extRcode: 0, version: 0, do: true, z: 0, options: [cookie] } });
    const wire = encodeMessage(m, 1232);
    // OPT = 11 + 4 + 8 = 23 bytes; (1232 - 23 - 47) / 16 = 72 records.
    t.equal(readHeader(wire).ancount, 72);
    t.equal(readHeader(wire).arcount, 1);
    t.equal(wire.length, 47 + 72 * 16 + 23);
    t.ok(wire.length <= 1232);
    const d = decodeMessage(wire);
    t.ok(d.flags & FLAG.TC);
    t.strictSame(d.edns, m.edns);
  });

  t.test('a record exactly filling the size is kept', async (t) => {
    // 47 + 29 × 16 = 511; a 17-byte record (owner pointer + 10 + 5-byte raw rdata) ends exactly at 512… with an
    // A record of 16 before it: use 28 A records (495) and one 17-byte record.
    const exact = rrs(`${owner} 5 IN TYPE65534 \\# 5 0102030405`)[0]!;
    const wire = encodeMessage(msg({ answer: [...aRecords(28), exact] }), 512);
    t.equal(wire.length, 512);
    t.equal(readHeader(wire).ancount, 29);
    t.notOk(readHeader(wire).flags & FLAG.TC);
  });

  t.test('after the first dropped record nothing more is added, in any section', async (t) => {
    const soa = rrs('cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5')[0]!;
    const m = msg({ answer: aRecords(28), authority: [soa], additional: rrs(`${owner} 5 IN A 10.9.9.9`) });
    const wire = encodeMessage(m, 512);
    // 28 answers end at 495: the SOA (> 17 bytes) does not fit; the 16-byte A would, but miekg stops at the SOA.
    t.same(readHeader(wire), { id: 42, flags: m.flags, qdcount: 1, ancount: 28, nscount: 0, arcount: 0 });
    t.ok(m.flags & FLAG.TC);
    t.equal(wire.length, 495);
  });

  t.test('authority and additional fill after a complete answer', async (t) => {
    const m = msg({ answer: aRecords(2), authority: rrs('cluster.local. 5 IN NS ns.dns.cluster.local.'), additional: aRecords(40) });
    const wire = encodeMessage(m, 512);
    const h = readHeader(wire);
    t.equal(h.ancount, 2);
    t.equal(h.nscount, 1);
    t.ok(h.arcount > 20 && h.arcount < 40);
    t.ok(h.flags & FLAG.TC);
  });

  t.test('TC already set is kept; nothing dropped leaves TC clear', async (t) => {
    const tc = msg({ flags: FLAG.QR | FLAG.TC, answer: aRecords(1) });
    t.ok(readHeader(encodeMessage(tc, 512)).flags & FLAG.TC);
    const ok = msg({ answer: aRecords(1) });
    t.notOk(readHeader(encodeMessage(ok, 512)).flags & FLAG.TC);
    t.notOk(ok.flags & FLAG.TC);
  });

  t.test('the question and OPT stay even when nothing else fits', async (t) => {
    const pad = { code: 12, data: Buffer.alloc(600) };
    const m = msg({ answer: aRecords(3), edns: { udpSize: 512, extRcode: 0, version: 0, do: false, z: 0, options: [pad] } });
    const wire = encodeMessage(m, 512);
    t.same(readHeader(wire), { id: 42, flags: m.flags, qdcount: 1, ancount: 0, nscount: 0, arcount: 1 });
    t.ok(m.flags & FLAG.TC);
    t.equal(decodeMessage(wire).edns!.options[0]!.data.length, 600);
  });

  t.test('a dropped record that introduced new suffixes leaves no pointer into cut bytes', async (t) => {
    // The CNAME that does not fit brings the new suffix "brand-new.example."; the OPT written after it and the
    // next encode must not see table entries for it.
    const cname = rrs(`${owner} 5 IN CNAME x.brand-new.example.`)[0]!;
    const m = msg({ answer: [...aRecords(28), cname, ...rrs('x.brand-new.example. 5 IN A 10.1.1.1')], edns: { udpSize: 512, extRcode: 0, version: 0, do: false, z: 0, options: [] } });
    const wire = encodeMessage(m, 512);
    t.equal(readHeader(wire).ancount, 28);
    t.ok(pointersOk(wire));
    // A following message that uses the same suffix early gets it written in full, not a stale pointer.
    const next = encodeMessage(msg({ question: [{ name: 'x.brand-new.example.', type: TYPE.A, class: CLASS.IN }], answer: rrs('x.brand-new.example. 5 IN A 10.1.1.1') }));
    t.same(decodeMessage(next).answer, rrs('x.brand-new.example. 5 IN A 10.1.1.1'));
  });

  t.test('TCP size: 65535', async (t) => {
    const m = msg({ answer: aRecords(5000) });
    const wire = encodeMessage(m);
    t.ok(wire.length <= 65535);
    t.equal(readHeader(wire).ancount, Math.floor((65535 - 47) / 16));
    t.ok(readHeader(wire).flags & FLAG.TC);
    t.ok(pointersOk(wire));
  });
});

t.test('encode: pointers only to offsets below 0x4000', async (t) => {
  // Distinct names push offsets past 16383; names first written there must not become pointer targets (a 14-bit
  // pointer to them would wrap to the wrong place), so their repeats are written with labels again.
  const answer: RR[] = [];
  const host = (i: number): string => `host-${i}.some-long-label-to-fill-space.example.org.`;
  for (let i = 0; i < 1000; i++) answer.push(rrs(`${host(i)} 5 IN A 10.0.${i >> 8}.${i & 255}`)[0]!);
  for (let i = 700; i < 1000; i++) answer.push(rrs(`${host(i)} 5 IN A 10.1.${i >> 8}.${i & 255}`)[0]!);
  const m = msg({ answer });
  const wire = encodeMessage(m);
  // 47 header+question; host-0 in full (64); host-1..9, -10..99, -100..999 as label + pointer (23, 24, 25 bytes).
  // host-700 starts at 47 + 64 + 9×23 + 90×24 + 600×25 = 17478 > 0x3fff, so repeats of 700..999 cannot point at
  // their first copies and cost 25 bytes each instead of 16.
  t.equal(wire.length, 47 + 64 + 9 * 23 + 90 * 24 + 900 * 25 + 300 * 25);
  t.strictSame(decodeMessage(wire).answer, answer);
  t.equal(dp.decode(wire).answers!.length, 1300);
});

t.test('encode: invalid input throws Error (a bug, not a client problem)', async (t) => {
  const rr = (over: Partial<RR>): RR => ({ ...rrs('a.example. 5 IN A 10.0.0.1')[0]!, ...over }) as RR;
  const cases: [string, Message, RegExp][] = [
    ['label of 64', msg({ question: [{ name: `${'x'.repeat(64)}.example.`, type: 1, class: 1 }] }), /label longer than 63/],
    ['name over 255', msg({ question: [{ name: `${'x'.repeat(63)}.`.repeat(4), type: 1, class: 1 }] }), /longer than 255/],
    ['empty label', msg({ answer: [rr({ name: 'a..example.' })] }), /empty label/],
    ['empty name', msg({ answer: [rr({ name: '' })] }), /empty name/],
    ['relative name', msg({ answer: [rr({ name: 'a.example' })] }), /not fully qualified/],
    ['bad escape', msg({ answer: [rr({ name: 'a\\25.example.' })] }), /bad escape/],
    ['escape over 255', msg({ answer: [rr({ name: 'a\\256.example.' })] }), /bad escape/],
    ['non-latin1 name', msg({ answer: [rr({ name: 'caf\u0113.example.' })] }), /outside latin1/],
    ['A not an IP', msg({ answer: [rr({ data: 'not-an-ip' })] }), /invalid address/],
    ['A with IPv6', msg({ answer: [rr({ data: '::1' })] }), /invalid address/],
    ['AAAA with IPv4', msg({ answer: [rr({ type: TYPE.AAAA, data: '10.0.0.1' })] }), /invalid address/],
    ['CNAME relative', msg({ answer: [rr({ type: TYPE.CNAME, data: 'b.example' })] }), /not fully qualified/],
    ['TXT string of 256', msg({ answer: [rr({ type: TYPE.TXT, data: ['x'.repeat(256)] })] }), /longer than 255/],
    ['TXT non-latin1', msg({ answer: [rr({ type: TYPE.TXT, data: ['\u20ac'] })] }), /outside latin1/],
    ['negative TTL', msg({ answer: [rr({ ttl: -1 })] }), /TTL/],
    ['fractional TTL', msg({ answer: [rr({ ttl: 1.5 })] }), /TTL/],
    ['type out of range', msg({ answer: [rr({ type: 70000, data: Buffer.alloc(0) })] }), /type/],
    ['unknown type without Buffer', msg({ answer: [rr({ type: 99, data: 'x' as unknown as Buffer })] }), /needs Buffer/],
    ['SRV port out of range', msg({ answer: [rr({ type: TYPE.SRV, data: { priority: 0, weight: 0, port: 65536, target: 'a.' } })] }), /SRV port/],
    ['EDNS version 256', msg({ edns: { udpSize: 512, extRcode: 0, version: 256, do: false, z: 0, options: [] } }), /version/],
    ['id out of range', msg({ id: 65536 }), /id/],
  ];
  for (const [what, m, re] of cases) t.throws(() => encodeMessage(m), re, what);
  // The encoder is usable after a throw (no state left behind).
  t.equal(encodeMessage(msg({ answer: rrs('web.default.svc.cluster.local. 5 IN A 10.0.0.1') })).length, 47 + 16);
});

t.test('round trip through our decoder for each section and shared suffixes', async (t) => {
  const m = msg({
    question: [{ name: 'A.Example.ORG.', type: TYPE.ANY, class: CLASS.IN }, { name: 'b.example.org.', type: TYPE.TXT, class: CLASS.CH }],
    answer: rrs('A.Example.ORG. 0 IN CNAME b.example.org.', 'b.example.org. 4294967295 CH TXT "x\\"y" "\\009"'),
    authority: rrs('example.org. 60 IN NS a.iana-servers.net.', 'example.org. 60 IN NS b.iana-servers.net.'),
    additional: rrs('a.iana-servers.net. 60 IN AAAA ::', 'b.iana-servers.net. 60 IN AAAA fe80::1:2'),
    edns: { udpSize: 65535, extRcode: 0, version: 0, do: false, z: 0, options: [] },
  });
  const wire = encodeMessage(m);
  t.strictSame(decodeMessage(wire), m);
  t.same(dp.decode(wire).questions, [{ name: 'A.Example.ORG', type: 'ANY', class: 'IN' }, { name: 'b.example.org', type: 'TXT', class: 'CH' }]);
  t.not(encodeMessage(m), encodeMessage(m), 'each call returns a fresh buffer');
});

// ---- fuzz ------------------------------------------------------------------------------------------------------

t.test('fuzz: mutated packets decode or throw WireError, and what decodes re-encodes', async (t) => {
  const seeds = [
    dp.encode({ id: 1, type: 'query', flags: 256, questions: [{ name: 'web.default.svc.cluster.local', type: 'A', class: 'IN' }], additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0x8000, options: [{ code: 10, data: Buffer.alloc(8, 3) }] }] }),
    encodeMessage(msg({
      question: [{ name: '_http._tcp.web.default.svc.cluster.local.', type: TYPE.SRV, class: CLASS.IN }],
      answer: rrs('_http._tcp.web.default.svc.cluster.local. 5 IN SRV 0 50 80 a.web.default.svc.cluster.local.',
        '_http._tcp.web.default.svc.cluster.local. 5 IN SRV 0 50 80 b.web.default.svc.cluster.local.'),
      authority: rrs('cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5'),
      additional: rrs('a.web.default.svc.cluster.local. 5 IN A 10.0.0.1', 'b.web.default.svc.cluster.local. 5 IN AAAA fd00::1',
        'x.cluster.local. 5 IN TXT "hello" "world"', 'x.cluster.local. 5 IN MX 1 web.default.svc.cluster.local.',
        'x.cluster.local. 5 IN PTR web.default.svc.cluster.local.', 'x.cluster.local. 5 IN TYPE99 \\# 3 c00c00'),
      edns: { udpSize: 4096, extRcode: 0, version: 0, do: true, z: 0, options: [{ code: 3, data: Buffer.from('id') }] },
    })),
  ];
  // A small deterministic PRNG so failures reproduce.
  let seed = 0x2545f491;
  const rand = (n: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  let decoded = 0;
  let rejected = 0;
  const started = Date.now();
  for (let i = 0; i < 20000; i++) {
    const src = seeds[i % seeds.length]!;
    let b = Buffer.from(src);
    const mutations = 1 + rand(4);
    for (let k = 0; k < mutations; k++) {
      const op = rand(10);
      if (op < 6) b[rand(b.length)] = rand(256);
      else if (op < 7) b[rand(b.length)] = 0xc0 | rand(4);
      else if (op < 8) b = b.subarray(0, rand(b.length + 1));
      else if (op < 9) b = Buffer.concat([b, Buffer.from([rand(256), rand(256), rand(256)])]);
      else {
        const at = rand(b.length + 1);
        b = Buffer.concat([b.subarray(0, at), Buffer.from([rand(256)]), b.subarray(at)]);
      }
      if (b.length === 0) break;
    }
    let m: Message;
    try {
      m = decodeMessage(b);
    } catch (err) {
      if (!(err instanceof WireError)) {
        t.fail(`non-WireError for ${b.toString('hex')}: ${String(err)}`);
        return;
      }
      rejected++;
      continue;
    }
    decoded++;
    let again: Message;
    try {
      again = decodeMessage(encodeMessage(m));
    } catch (err) {
      t.fail(`decoded message did not re-encode (${b.toString('hex')}): ${String(err)}`);
      return;
    }
    if (!(m.flags & FLAG.TC)) {
      // Stable: what we decode, encode and decode again is what we had.
      if (JSON.stringify(again) !== JSON.stringify(m)) {
        t.fail(`round trip changed the message for ${b.toString('hex')}`);
        return;
      }
    }
  }
  t.ok(decoded > 1000, `some mutants decode (${decoded})`);
  t.ok(rejected > 1000, `some mutants are rejected (${rejected})`);
  t.ok(Date.now() - started < 60000, 'no hang');
});
