import t from 'tap';
import { canonicalIP, formatIPv6, ipFamily, ipToBytes, writeIPv6 } from '../../lib/dns/ip.js';
import { dashedIP, ipFromDashed, ipFromReverseName, reverseName } from '../../lib/dns/reverse.js';
import {
  firstLabel, fqdn, isFqdn, isSubdomain, labelCount, nameWireLength, parentName, splitLabels, stripZone, validName,
} from '../../lib/dns/name.js';
import { messageToText, parseRRText, rrToText } from '../../lib/dns/text.js';
import { CLASS, FLAG, TYPE } from '../../lib/dns/constants.js';
import { expectLines, rrs, sectionLines } from '../support/rr.js';

t.test('canonicalIP / ipFamily', async (t) => {
  const cases: [string, string | null][] = [
    ['10.0.0.1', '10.0.0.1'],
    ['0.0.0.0', '0.0.0.0'],
    ['255.255.255.255', '255.255.255.255'],
    ['256.0.0.1', null],
    ['01.0.0.1', null],
    ['1.2.3.04', null],
    ['1.2.3', null],
    ['1.2.3.4.5', null],
    ['1.2.3.', null],
    ['1..2.3', null],
    [' 1.2.3.4', null],
    ['1.2.3.4 ', null],
    ['a.b.c.d', null],
    ['', null],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // tie: the first run is shortened (RFC 5952 §4.2.3)
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group stays (§4.2.2)
    ['fe80:0:0:0:1:0:0:0', 'fe80::1:0:0:0'],
    ['2001:db8:0:0:0:1:0:0', '2001:db8::1:0:0'], // the longest run wins
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['::1:2:3:4:5:6:7', '0:1:2:3:4:5:6:7'],
    ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'],
    ['::ffff:1.2.3.4', '::ffff:1.2.3.4'],
    ['::FFFF:102:304', '::ffff:1.2.3.4'],
    ['::1.2.3.4', '::102:304'],
    ['64:ff9b::192.0.2.1', '64:ff9b::c000:201'],
    ['1:2:3:4:5:6:7:8:9', null],
    ['1:2:3:4:5:6:7', null],
    ['1:2:3:4:5:6:7::8', null], // '::' must stand for at least one group
    ['1::2::3', null],
    [':1', null],
    ['1:', null],
    [':::1', null],
    ['12345::', null],
    ['g::', null],
    ['fe80::1%eth0', null],
    ['::ffff:1.2.3', null],
    ['1.2.3.4::', null],
    ['1:2:3:4:5:6:7:1.2.3.4', null],
  ];
  for (const [input, want] of cases) {
    t.equal(canonicalIP(input), want, `canonicalIP(${JSON.stringify(input)})`);
    t.equal(ipFamily(input), want === null ? 0 : input.includes(':') ? 6 : 4, `ipFamily(${JSON.stringify(input)})`);
  }
  t.same(ipToBytes('10.0.0.1'), Buffer.from([10, 0, 0, 1]));
  t.same(ipToBytes('::1'), Buffer.from('00000000000000000000000000000001', 'hex'));
  t.equal(ipToBytes('x'), null);
});

t.test('IPv6 formatting agrees with the WHATWG URL serializer on random addresses', async (t) => {
  const b = Buffer.alloc(16);
  let seed = 12345;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  let checked = 0;
  for (let i = 0; i < 3000; i++) {
    for (let g = 0; g < 8; g++) {
      // Many zero groups, so runs and ties are common.
      const v = rnd() % 3 === 0 ? rnd() & 0xffff : 0;
      b.writeUInt16BE(v, g * 2);
    }
    const text = formatIPv6(b, 0);
    if (text.startsWith('::ffff:') && text.includes('.')) continue; // URL prints mapped addresses in hex
    const url = new URL(`http://[${text}]/`).hostname.slice(1, -1);
    if (url !== text) t.fail(`${b.toString('hex')}: ours ${text}, URL ${url}`);
    const back = Buffer.alloc(16);
    if (!writeIPv6(text, back, 0) || !back.equals(b)) t.fail(`${text} does not parse back`);
    checked++;
  }
  t.ok(checked > 2500, `${checked} addresses checked`);
});

t.test('reverseName / ipFromReverseName', async (t) => {
  t.equal(reverseName('10.0.0.1'), '1.0.0.10.in-addr.arpa.');
  // RFC 3596 §2.5 example.
  t.equal(reverseName('4321:0:1:2:3:4:567:89ab'), 'b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa.');
  t.equal(reverseName('::ffff:10.0.0.1'), '1.0.0.10.in-addr.arpa.', 'IPv4-mapped like Go dns.ReverseAddr');
  t.throws(() => reverseName('not-an-ip'));
  const cases: [string, string | null][] = [
    ['1.0.0.10.in-addr.arpa.', '10.0.0.1'],
    ['0.0.0.0.in-addr.arpa.', '0.0.0.0'],
    ['0.0.10.in-addr.arpa.', null],
    ['5.1.0.0.10.in-addr.arpa.', null],
    ['1.0.0.256.in-addr.arpa.', null],
    ['1.0.0.010.in-addr.arpa.', null],
    ['1..0.10.in-addr.arpa.', null],
    ['x.0.0.10.in-addr.arpa.', null],
    ['in-addr.arpa.', null],
    ['1.0.0.10.in-addr.arpa', null],
    ['b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa.', '4321:0:1:2:3:4:567:89ab'],
    ['1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.', '2001:db8::1'],
    ['1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.ip6.arpa.', null], // 31 nibbles
    ['0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.', null], // 33 nibbles
    ['g.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.', null],
    ['10.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.', null],
    ['ip6.arpa.', null],
    ['1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.example.', null],
    [`1.0.0.0.0.0.a.0.f.f.f.f.${'0.'.repeat(20)}ip6.arpa.`, '10.0.0.1'], // ::ffff:10.0.0.1; CoreDNS gives IPv4
    ['web.default.svc.cluster.local.', null],
  ];
  for (const [name, want] of cases) t.equal(ipFromReverseName(name), want, `ipFromReverseName(${name})`);
  for (const ip of ['192.168.1.254', '2001:db8::', 'fd00::1:2', '::1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']) {
    t.equal(ipFromReverseName(reverseName(ip)), ip, `round trip ${ip}`);
  }
});

t.test('dashedIP / ipFromDashed (CoreDNS endpointHostname, findPods)', async (t) => {
  const dashed: [string, string][] = [
    ['172.0.0.2', '172-0-0-2'],
    ['2001:db8::', '2001-db8--0'],
    ['5678:abcd::1', '5678-abcd--1'],
    ['2001:DB8:0:0:0:0:0:1', '2001-db8--1'],
    ['fd00::', 'fd00--0'],
    ['::1', '--1'],
    ['::', '--0'],
    ['1:2:3:4:5:6:7:8', '1-2-3-4-5-6-7-8'],
  ];
  for (const [ip, want] of dashed) t.equal(dashedIP(ip), want, `dashedIP(${ip})`);
  const pods: [string, string | null][] = [
    ['10-0-0-1', '10.0.0.1'],
    ['172-0-0-2', '172.0.0.2'],
    ['fd00--1', 'fd00::1'],
    ['2001-db8--0', '2001:db8::'],
    ['5678-abcd--1', '5678:abcd::1'],
    ['1-2-3-4-5-6-7-8', '1:2:3:4:5:6:7:8'],
    ['10--0-1', '10::1'], // three dashes but a '--': IPv6
    ['10-0-0-256', null],
    ['10-0-0-01', null],
    ['a-b-c-d', null],
    ['1-2-3', null],
    ['x', null],
    ['', null],
  ];
  for (const [label, want] of pods) t.equal(ipFromDashed(label), want, `ipFromDashed(${label})`);
  for (const [ip] of dashed) t.equal(ipFromDashed(dashedIP(ip)), canonicalIP(ip), `dashed round trip ${ip}`);
});

t.test('name helpers', async (t) => {
  t.equal(fqdn('a'), 'a.');
  t.equal(fqdn('a.'), 'a.');
  t.equal(fqdn('a\\.'), 'a\\..', 'an escaped final dot is part of the label');
  t.equal(fqdn('a\\\\.'), 'a\\\\.', 'an escaped backslash before the dot is not');
  t.ok(isFqdn('.'));
  t.notOk(isFqdn(''));

  const sub: [string, string, boolean][] = [
    ['a.b.', 'b.', true],
    ['b.', 'b.', true],
    ['ab.', 'b.', false],
    ['b.', 'a.b.', false],
    ['a.b.', '.', true],
    ['.', '.', true],
    ['web.default.svc.cluster.local.', 'cluster.local.', true],
    ['xcluster.local.', 'cluster.local.', false],
    ['x\\.cluster.local.', 'cluster.local.', false],
    ['x\\\\.cluster.local.', 'cluster.local.', true],
  ];
  for (const [c, p, want] of sub) t.equal(isSubdomain(c, p), want, `isSubdomain(${c}, ${p})`);

  t.equal(labelCount('.'), 0);
  t.equal(labelCount('a.'), 1);
  t.equal(labelCount('a.b.c.'), 3);
  t.equal(labelCount('a\\.b.c.'), 2);
  t.equal(labelCount('a.b'), 2);
  t.same(splitLabels('a.b\\.c.d.'), ['a', 'b\\.c', 'd']);
  t.same(splitLabels('a.b'), ['a', 'b']);
  t.same(splitLabels('.'), []);
  t.equal(firstLabel('web.default.svc.'), 'web');
  t.equal(firstLabel('a\\.b.c.'), 'a\\.b');
  t.equal(parentName('a.b.'), 'b.');
  t.equal(parentName('a.'), '.');
  t.equal(parentName('.'), null);

  t.equal(stripZone('web.default.svc.cluster.local.', 'cluster.local.'), 'web.default.svc');
  t.equal(stripZone('cluster.local.', 'cluster.local.'), '');
  t.equal(stripZone('x.org.', 'cluster.local.'), null);
  t.equal(stripZone('a.b.', '.'), 'a.b');
  t.equal(stripZone('.', '.'), '');

  const valid: [string, boolean][] = [
    ['web', true],
    ['web.default.svc.cluster.local.', true],
    ['my-svc.my-ns', true],
    ['', false],
    ['.', false],
    ['a..b', false],
    ['.a', false],
    [`${'x'.repeat(63)}.org`, true],
    [`${'x'.repeat(64)}.org`, false],
    [`${'x'.repeat(63)}.${'x'.repeat(63)}.${'x'.repeat(63)}.${'x'.repeat(61)}`, true], // 253 chars = 255 octets
    [`${'x'.repeat(63)}.${'x'.repeat(63)}.${'x'.repeat(63)}.${'x'.repeat(62)}`, false],
    ['a b', false],
    ['a\\.b', false],
    ['caf\u00e9', false],
  ];
  for (const [s, want] of valid) t.equal(validName(s), want, `validName(${s.length > 20 ? s.length + ' chars' : s})`);

  t.equal(nameWireLength('.'), 1);
  t.equal(nameWireLength('a.'), 3);
  t.equal(nameWireLength('web.default.svc.cluster.local.'), 31);
  t.equal(nameWireLength('a\\.b.'), 5);
  t.equal(nameWireLength('a\\255.'), 4);
  t.equal(nameWireLength('a.b'), 5);
});

t.test('text: rrToText and parseRRText', async (t) => {
  const lines: [string, string][] = [
    ['web.default.svc.cluster.local. 5 IN A 10.0.0.1', 'web.default.svc.cluster.local.\t5\tIN\tA\t10.0.0.1'],
    ['web.default.svc.cluster.local. 5 IN AAAA 2001:db8::1', 'web.default.svc.cluster.local.\t5\tIN\tAAAA\t2001:db8::1'],
    ['_http._tcp.web.default.svc.cluster.local. 5 IN SRV 0 50 80 target.', '_http._tcp.web.default.svc.cluster.local.\t5\tIN\tSRV\t0 50 80 target.'],
    ['cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 12345 7200 1800 86400 5',
      'cluster.local.\t5\tIN\tSOA\tns.dns.cluster.local. hostmaster.cluster.local. 12345 7200 1800 86400 5'],
    ['dns-version.cluster.local. 28800 IN TXT "1.1.0"', 'dns-version.cluster.local.\t28800\tIN\tTXT\t"1.1.0"'],
    ['t. 1 IN TXT "a \\"b\\"" "back\\\\slash" "\\009\\255"', 't.\t1\tIN\tTXT\t"a \\"b\\"" "back\\\\slash" "\\009\\255"'],
    ['t. 1 CH TXT bare words', 't.\t1\tCH\tTXT\t"bare" "words"'],
    ['example.org. 300 IN MX 10 mail.example.org.', 'example.org.\t300\tIN\tMX\t10 mail.example.org.'],
    ['a. 1 IN CNAME b.', 'a.\t1\tIN\tCNAME\tb.'],
    ['1.0.0.10.in-addr.arpa. 5 IN PTR web.default.svc.cluster.local.', '1.0.0.10.in-addr.arpa.\t5\tIN\tPTR\tweb.default.svc.cluster.local.'],
    ['cluster.local. 5 IN NS ns.dns.cluster.local.', 'cluster.local.\t5\tIN\tNS\tns.dns.cluster.local.'],
    ['x. 1 IN TYPE65534 \\# 3 01 0203', 'x.\t1\tIN\tTYPE65534\t\\# 3 010203'],
    ['x. 1 IN HTTPS \\# 0', 'x.\t1\tIN\tHTTPS\t\\# 0'],
    ['x. IN 7 A 1.2.3.4', 'x.\t7\tIN\tA\t1.2.3.4'],
    ['x A 1.2.3.4', 'x.\t0\tIN\tA\t1.2.3.4'],
    ['a 1 IN CNAME b', 'a.\t1\tIN\tCNAME\tb.'],
  ];
  for (const [line, want] of lines) {
    const rr = parseRRText(line);
    t.equal(rrToText(rr), want, line);
    t.strictSame(parseRRText(rrToText(rr)), rr, `round trip ${line}`);
  }
  t.same(parseRRText('t. 1 IN TXT "\\009\\255"').data, ['\t\u00ff'], 'TXT escapes become latin1 chars');
  t.same(parseRRText('s. 5 SRV 1 2 3 t.').data, { priority: 1, weight: 2, port: 3, target: 't.' });
  t.equal(parseRRText('s. 5 CH A 1.2.3.4').class, CLASS.CH);
  const bad = [
    'a. 5 IN',
    'a.',
    'a. 5 IN FOO x',
    'a. 5 IN SRV 0 0 80',
    'a. 5 IN SRV 0 0 70000 t.',
    'a. IN A',
    'a. IN TXT "unterminated',
    'a. IN HINFO "cpu" "os"',
    'a. IN TYPE65 \\# 3 0102',
  ];
  for (const line of bad) t.throws(() => parseRRText(line), line);
});

t.test('text: messageToText and the comparison helpers', async (t) => {
  const m = {
    id: 7,
    flags: FLAG.QR | FLAG.AA | FLAG.RD | 3,
    question: [{ name: 'x.cluster.local.', type: TYPE.A, class: CLASS.IN }],
    answer: [],
    authority: rrs('cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5'),
    additional: [],
    edns: { udpSize: 1232, extRcode: 0, version: 0, do: true, z: 0, options: [{ code: 10, data: Buffer.from('ab', 'hex') }] },
  };
  t.equal(messageToText(m), [
    ';; opcode: QUERY, status: NXDOMAIN, id: 7',
    ';; flags: qr aa rd; QUERY: 1, ANSWER: 0, AUTHORITY: 1, ADDITIONAL: 1',
    '',
    ';; OPT PSEUDOSECTION:',
    '; EDNS: version 0; flags: do; udp: 1232',
    '; OPTION 10: ab',
    '',
    ';; QUESTION SECTION:',
    ';x.cluster.local.\tIN\tA',
    '',
    ';; AUTHORITY SECTION:',
    'cluster.local.\t5\tIN\tSOA\tns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5',
  ].join('\n'));
  t.same(sectionLines(rrs('b. 5 IN A 10.0.0.2', 'a. 5 IN A 10.0.0.1')), expectLines('a. 5 IN A 10.0.0.1', 'b. 5 A 10.0.0.2'));
  t.notSame(sectionLines(rrs('a. 5 IN A 10.0.0.1')), expectLines('a. 6 IN A 10.0.0.1'));
});
