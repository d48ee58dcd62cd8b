import t from 'tap';
import { normalizeZone, normalizeZones, parseServerKey } from '../../lib/corefile/keys.js';
import { argErr, noBlock, parseDuration, parseIntArg, unknownProperty } from '../../lib/corefile/args.js';
import { parseCorefile } from '../../lib/corefile/parser.js';
import { ConfigError, type Directive, type Token } from '../../lib/corefile/types.js';
import { reverseZonesForCidr } from '../../lib/dns/reverse-zones.js';

const tok = (text: string, line = 1): Token => ({ text, file: 'Corefile', line });
/** `scheme://zone:port` strings for the ZoneAddrs of one key. */
const key = (text: string, defaultPort = 53): string[] =>
  parseServerKey(tok(text), defaultPort).map((z) => `${z.scheme}://${z.zone}:${z.port}`);
/** The first directive of `. {` + src + `}`; its first line is line 2. */
const directive = (src: string): Directive => parseCorefile(`. {\n${src}\n}`, 'Corefile', {})[0]!.directives[0]!;

t.test('server keys: zones, ports and schemes', async (t) => {
  const cases: [string, string[], number?][] = [
    ['.', ['dns://.:53']],
    ['.', ['dns://.:5300'], 5300],
    ['.:1053', ['dns://.:1053']],
    ['.:0', ['dns://.:0']],
    ['Example.ORG', ['dns://example.org.:53']],
    ['example.org.:53', ['dns://example.org.:53']],
    ['cluster.local:1053', ['dns://cluster.local.:1053'], 5300],
    ['dns://example.org:5353', ['dns://example.org.:5353']],
    ['dns://.', ['dns://.:5300'], 5300],
    ['tls://.', ['tls://.:853'], 5300],
    ['tls://example.org:8853', ['tls://example.org.:8853']],
    ['quic://.', ['quic://.:853']],
    ['https://.', ['https://.:443']],
    ['https3://.', ['https3://.:443']],
    ['grpc://.', ['grpc://.:443']],
    ['10.0.0.1', ['dns://10.0.0.1.:53']],
    // Not a valid CIDR, so CoreDNS takes it as an ordinary (odd) name, and so do we.
    ['10.0.0.0/33', ['dns://10.0.0.0/33.:53']],
  ];
  for (const [text, want, port] of cases) t.same(key(text, port), want, `${text} (default port ${port ?? 53})`);
});

t.test('server keys: CIDRs become reverse zones', async (t) => {
  t.same(key('10.0.0.0/8'), ['dns://10.in-addr.arpa.:53']);
  t.same(key('10.1.0.0/16'), ['dns://1.10.in-addr.arpa.:53']);
  t.same(key('192.168.1.0/24:1053'), ['dns://1.168.192.in-addr.arpa.:1053']);
  t.same(key('dns://192.168.1.77/24'), ['dns://1.168.192.in-addr.arpa.:53'], 'host bits are masked off');
  t.same(key('10.0.0.0/22'), [
    'dns://0.0.10.in-addr.arpa.:53',
    'dns://1.0.10.in-addr.arpa.:53',
    'dns://2.0.10.in-addr.arpa.:53',
    'dns://3.0.10.in-addr.arpa.:53',
  ]);
  t.same(key('fd00::/64'), ['dns://0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.:53']);
  t.same(key('FD00:0:0:10::/64:1053'), ['dns://0.1.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.:1053'], 'upper-case hex');
});

t.test('reverseZonesForCidr', async (t) => {
  t.same(reverseZonesForCidr('10.0.0.0/8'), ['10.in-addr.arpa.']);
  t.same(reverseZonesForCidr('172.16.0.0/12'), Array.from({ length: 16 }, (_, i) => `${16 + i}.172.in-addr.arpa.`));
  t.same(reverseZonesForCidr('10.96.0.0/16'), ['96.10.in-addr.arpa.']);
  t.same(reverseZonesForCidr('10.0.0.0/24'), ['0.0.10.in-addr.arpa.']);
  t.same(reverseZonesForCidr('10.0.0.0/23'), ['0.0.10.in-addr.arpa.', '1.0.10.in-addr.arpa.']);
  t.same(reverseZonesForCidr('10.0.0.4/30'), ['4.0.0.10', '5.0.0.10', '6.0.0.10', '7.0.0.10'].map((z) => `${z}.in-addr.arpa.`));
  t.same(reverseZonesForCidr('10.0.0.9/32'), ['9.0.0.10.in-addr.arpa.']);
  t.same(reverseZonesForCidr('0.0.0.0/0'), ['in-addr.arpa.']);
  t.equal(reverseZonesForCidr('10.255.0.0/9')!.length, 128, '/9 expands to 128 /16 zones');
  t.same(reverseZonesForCidr('10.255.0.0/9')!.slice(-1), ['255.10.in-addr.arpa.']);

  t.same(reverseZonesForCidr('fd00::/60'), ['0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.']);
  t.same(reverseZonesForCidr('2001:db8::/62'), [0, 1, 2, 3].map(
    (n) => `${n}.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.`,
  ));
  t.same(reverseZonesForCidr('2001:db8::/32'), ['8.b.d.0.1.0.0.2.ip6.arpa.']);
  t.same(reverseZonesForCidr('::/0'), ['ip6.arpa.']);
  t.same(reverseZonesForCidr('::ffff:10.0.0.0/120'), [
    `0.0.0.0.a.0.f.f.f.f.${'0.'.repeat(20)}ip6.arpa.`,
  ], 'an embedded IPv4 address is read as IPv6');

  for (const bad of ['example.org', '10.0.0.1', '10.0.0.0/33', '10.0.0/8', '010.0.0.0/8', '10.0.0.0/', '10.0.0.0/x',
    'fd00::/129', 'fd00:::/64', '1:2:3:4:5:6:7:8:9/64', 'fd00::%eth0/64', 'g::/64']) {
    t.equal(reverseZonesForCidr(bad), null, bad);
  }
});

t.test('invalid server keys', async (t) => {
  const cases: [string, string][] = [
    ['', 'expecting data after last colon: ""'],
    ['.:', 'expecting data after last colon: ".:"'],
    ['example..org', 'zone is not a valid domain name: example..org'],
    ['.example.org', 'zone is not a valid domain name: .example.org'],
    [`${'a'.repeat(64)}.org`, 'zone is not a valid domain name'],
    [`${'abcdefghi.'.repeat(26)}`, 'specified zone is too long: 260 > 255'],
    [':53', 'zone is not a valid domain name: '],
    ['.:99999', "invalid port '99999' in '.:99999'"],
    ['.:-1', "invalid port '-1'"],
    ['foo://example.org', "unknown scheme 'foo://' in 'foo://example.org'"],
    ['unix://example.org', "unknown scheme 'unix://'"],
    ['::/64', 'invalid CIDR ::/64'],
    ['0:0::/64', 'invalid CIDR 0:0::/64'],
    ['[::1]:53', 'zone is not a valid domain name: [::1]'],
    ['.:53{', 'zone is not a valid domain name: .:53{'],
  ];
  for (const [text, problem] of cases) {
    try {
      parseServerKey(tok(text, 7), 53);
      t.fail(`${JSON.stringify(text)} should fail`);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      t.equal(e.line, 7, `${JSON.stringify(text)} line`);
      t.match(e.problem, problem, JSON.stringify(text));
      t.equal(e.plugin, undefined);
    }
  }
});

t.test('normalizeZone and normalizeZones', async (t) => {
  t.equal(normalizeZone('Cluster.Local'), 'cluster.local.');
  t.equal(normalizeZone('cluster.local.'), 'cluster.local.');
  t.equal(normalizeZone('.'), '.');
  t.equal(normalizeZone(''), '.');

  const d = directive('kubernetes Cluster.Local in-addr.arpa ip6.arpa dns://Example.org:53 10.0.0.0/23');
  t.same(normalizeZones(d.args, 'kubernetes'), [
    'cluster.local.',
    'in-addr.arpa.',
    'ip6.arpa.',
    'example.org.',
    '0.0.10.in-addr.arpa.',
    '1.0.10.in-addr.arpa.',
  ]);
  t.same(normalizeZones([]), []);
  t.throws(() => normalizeZones(directive('kubernetes cluster.local\nlog').args.concat(tok('bad..zone', 3)), 'kubernetes'), {
    message: 'plugin/kubernetes: Corefile:3 - Error during parsing: zone is not a valid domain name: bad..zone',
  });
});

t.test('argErr, unknownProperty, noBlock', async (t) => {
  t.throws(() => argErr(directive('ttl'), 'kubernetes'), {
    message: "plugin/kubernetes: Corefile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'ttl'",
  });
  t.throws(() => argErr(directive('forward . 1.1.1.1 {\n  max_fails\n}'), 'forward'), {
    message: "plugin/forward: Corefile:2 - Error during parsing: Wrong argument count or unexpected line ending after '1.1.1.1'",
  }, 'a directive: its last argument');
  t.throws(() => argErr(tok('lameduck', 9), 'health'), {
    message: "plugin/health: Corefile:9 - Error during parsing: Wrong argument count or unexpected line ending after 'lameduck'",
  }, 'a token');

  const k8s = directive('kubernetes cluster.local {\n  bogus 1\n}');
  t.throws(() => unknownProperty(k8s.block![0]!, 'kubernetes'), {
    message: "plugin/kubernetes: Corefile:3 - Error during parsing: unknown property 'bogus'",
  });

  t.doesNotThrow(() => noBlock(directive('loop'), 'loop'));
  t.throws(() => noBlock(directive('loop {\n}'), 'loop'), {
    message: "plugin/loop: Corefile:2 - Error during parsing: Unexpected token '{': 'loop' takes no block",
  }, 'even an empty block');
});

t.test('parseDuration follows Go time.ParseDuration', async (t) => {
  const ok: [string, number][] = [
    ['5s', 5000], ['1m30s', 90000], ['100ms', 100], ['1h', 3600000], ['0', 0], ['-0', 0], ['1.5s', 1500],
    ['.5s', 500], ['5.s', 5000], ['250us', 0.25], ['250µs', 0.25], ['250μs', 0.25], ['1000000ns', 1], ['-2s', -2000],
    ['+3m', 180000], ['1h2m3s4ms', 3723004], ['0s', 0],
  ];
  for (const [text, ms] of ok) t.equal(parseDuration(tok(text), 'cache'), ms, text);
  const bad: [string, string][] = [
    ['5', 'time: missing unit in duration "5"'],
    ['5x', 'time: unknown unit "x" in duration "5x"'],
    ['5S', 'time: unknown unit "S" in duration "5S"'],
    ['', 'time: invalid duration ""'],
    ['abc', 'time: invalid duration "abc"'],
    ['1h-2m', 'time: unknown unit "h-" in duration "1h-2m"'],
    ['1h.', 'time: invalid duration "1h."'],
    ['.s', 'time: invalid duration ".s"'],
    ['-', 'time: invalid duration "-"'],
    ['3000000h', 'time: invalid duration "3000000h"'],
  ];
  for (const [text, problem] of bad) {
    t.throws(() => parseDuration(tok(text, 4), 'cache'), {
      message: `plugin/cache: Corefile:4 - Error during parsing: ${problem}`,
    }, JSON.stringify(text));
  }
});

t.test('parseIntArg', async (t) => {
  t.equal(parseIntArg(tok('30'), 'cache', 0, 100), 30);
  t.equal(parseIntArg(tok('+7'), 'cache'), 7);
  t.equal(parseIntArg(tok('-7'), 'cache'), -7);
  t.equal(parseIntArg(tok('0'), 'cache', 0, 0), 0, 'bounds are inclusive');
  t.throws(() => parseIntArg(tok('abc', 5), 'cache'), {
    message: 'plugin/cache: Corefile:5 - Error during parsing: strconv.Atoi: parsing "abc": invalid syntax',
  });
  t.throws(() => parseIntArg(tok('1.5'), 'cache'), { message: 'plugin/cache: Corefile:1 - Error during parsing: strconv.Atoi: parsing "1.5": invalid syntax' });
  t.throws(() => parseIntArg(tok('-1'), 'cache', 0, 10), { message: 'plugin/cache: Corefile:1 - Error during parsing: -1 is out of range [0, 10]' });
  t.throws(() => parseIntArg(tok('11'), 'cache', 0, 10), { message: 'plugin/cache: Corefile:1 - Error during parsing: 11 is out of range [0, 10]' });
});
