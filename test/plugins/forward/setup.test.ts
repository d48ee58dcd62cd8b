/**
 * `forward` Corefile parsing: TO expansion (addresses, ports, IPv6, dns://, resolv.conf files), every option with
 * its default, and every error with CoreDNS's wording and file:line; plus the README examples.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseCorefile } from '../../../lib/corefile/parser.js';
import type { Directive } from '../../../lib/corefile/types.js';
import { forward } from '../../../lib/plugins/forward/index.js';
import { parse, type ForwardConfig } from '../../../lib/plugins/forward/setup.js';
import { resolvConfServers } from '../../../lib/plugins/forward/to.js';
import { testEnv } from '../../support/query.js';

const FILE = '/etc/coredns/Corefile';

/** All forward directives of `text` (a whole Corefile). */
function directives(text: string): Directive[] {
  return parseCorefile(text, FILE, {}).flatMap((b) => b.directives.filter((d) => d.name.text === 'forward'));
}

/** Parses `forward <args> {\n<body>\n}` in a `.` block; the directive is on line 2. */
function cfg(args: string, body?: string): ForwardConfig {
  const text = body === undefined ? `. {\nforward ${args}\n}\n` : `. {\nforward ${args} {\n${body}\n}\n}\n`;
  return parse(directives(text)[0]!);
}

const tmp = mkdtempSync(join(tmpdir(), 'forward-setup-'));
t.teardown(() => rmSync(tmp, { recursive: true, force: true }));

t.test('defaults', async (t) => {
  const c = cfg('. 10.0.0.1');
  t.equal(c.from, '.');
  t.strictSame(c.upstreams, [{ host: '10.0.0.1', port: 53, family: 4, label: '10.0.0.1:53' }]);
  t.strictSame(c.except, []);
  t.equal(c.forceTcp, false);
  t.equal(c.preferUdp, false);
  t.equal(c.expireMs, 10_000);
  t.equal(c.readTimeoutMs, 2_000);
  t.equal(c.maxFails, 2);
  t.equal(c.maxConnectAttempts, null, 'default cap is 2 × upstreams, applied at build');
  t.equal(c.healthCheckMs, 500);
  t.equal(c.healthCheckRecursion, true);
  t.equal(c.healthCheckDomain, '.');
  t.equal(c.policy, 'random');
  t.equal(c.maxConcurrent, 0);
  t.strictSame(c.next, []);
  t.strictSame(c.failover, []);
  t.equal(c.failfastAllUnhealthy, false);
  t.equal(c.maxIdleConns, 0);
  t.equal(c.maxAgeMs, 0);
  t.equal(c.sourceAddress, null);
});

t.test('FROM and TO forms', async (t) => {
  const c = cfg('Example.ORG 10.0.0.1 10.0.0.2:5353 dns://10.0.0.3 dns://10.0.0.4:1053 [2001:DB8::1]:53 2001:db8::2 [::1] 10.0.0.1:53');
  t.equal(c.from, 'example.org.', 'FROM normalised');
  t.strictSame(
    c.upstreams.map((u) => u.label),
    ['10.0.0.1:53', '10.0.0.2:5353', '10.0.0.3:53', '10.0.0.4:1053', '[2001:db8::1]:53', '[2001:db8::2]:53', '[::1]:53'],
    'ports default to 53, IPv6 canonical, duplicates removed',
  );
  t.equal(c.upstreams[4]!.family, 6);
  t.equal(cfg('10.0.0.0/22 10.0.0.1').from, '0.0.10.in-addr.arpa.', 'a CIDR FROM uses its first reverse zone');
  t.equal(cfg('dns://example.org:53 10.0.0.1').from, 'example.org.', 'scheme and port of FROM dropped');
});

t.test('resolv.conf files', async (t) => {
  const f = join(tmp, 'resolv.conf');
  writeFileSync(f, '# comment\nsearch svc.cluster.local\nnameserver 10.1.1.1\nnameserver  fe80::1%eth0\nnameserver not-an-ip\noptions ndots:5\nnameserver 10.1.1.2\n');
  const c = cfg(`. ${f} 10.1.1.1`);
  t.strictSame(c.upstreams.map((u) => u.label), ['10.1.1.1:53', '[fe80::1]:53', '10.1.1.2:53'], 'every nameserver line, zone stripped, port 53, deduplicated');
  const empty = join(tmp, 'empty.conf');
  writeFileSync(empty, '# nothing\n');
  t.strictSame(cfg(`. ${empty} 10.0.0.9`).upstreams.map((u) => u.label), ['10.0.0.9:53'], 'an empty file contributes nothing');
  t.throws(() => cfg(`. ${empty}`), { message: `plugin/forward: ${FILE}:2 - Error during parsing: no nameservers found` });
  t.strictSame(resolvConfServers('nameserver\nnameserver 1.2.3.4 extra\n').map((u) => u.label), ['1.2.3.4:53']);
});

t.test('every option', async (t) => {
  const c = cfg(
    '. 10.0.0.1 10.0.0.2',
    [
      'except Internal.Example 10.0.0.0/8',
      'force_tcp',
      'prefer_udp',
      'expire 30s',
      'max_idle_conns 4',
      'max_age 1m',
      'read_timeout 500ms',
      'max_fails 0',
      'max_connect_attempts 3',
      'health_check 2s no_rec domain Example.com',
      'policy round_robin',
      'max_concurrent 1000',
      'next NXDOMAIN servfail',
      'next_on_nodata',
      'failover SERVFAIL REFUSED',
      'failfast_all_unhealthy_upstreams',
      'source_address 127.0.0.1',
    ].join('\n'),
  );
  t.strictSame(c.except, ['internal.example.', '10.in-addr.arpa.']);
  t.equal(c.forceTcp, true);
  t.equal(c.preferUdp, true);
  t.equal(c.expireMs, 30_000);
  t.equal(c.maxIdleConns, 4);
  t.equal(c.maxAgeMs, 60_000);
  t.equal(c.readTimeoutMs, 500);
  t.equal(c.maxFails, 0);
  t.equal(c.maxConnectAttempts, 3);
  t.equal(c.healthCheckMs, 2000);
  t.equal(c.healthCheckRecursion, false);
  t.equal(c.healthCheckDomain, 'example.com.');
  t.equal(c.policy, 'round_robin');
  t.equal(c.maxConcurrent, 1000);
  t.strictSame(c.next, [3, 2]);
  t.equal(c.nextOnNoData, true);
  t.strictSame(c.failover, [2, 5]);
  t.equal(c.failfastAllUnhealthy, true);
  t.equal(c.sourceAddress, '127.0.0.1');
  t.equal(cfg('. 1.1.1.1', 'policy sequential').policy, 'sequential');
  t.equal(cfg('. 1.1.1.1', 'policy random').policy, 'random');
  t.equal(cfg('. 1.1.1.1', 'health_check 1s').healthCheckRecursion, true);
});

t.test('errors name the file and line', async (t) => {
  const sixteen = Array.from({ length: 16 }, (_, i) => `10.0.0.${i + 1}`).join(' ');
  const cases: [string, string | undefined, number, string][] = [
    ['', undefined, 2, "Wrong argument count or unexpected line ending after 'forward'"],
    ['.', undefined, 2, "Wrong argument count or unexpected line ending after '.'"],
    [`. ${sixteen}`, undefined, 2, 'more than 15 TOs configured: 16'],
    ['. tls://9.9.9.9', undefined, 2, "'tls://' upstreams are not supported by clusterdns: tls://9.9.9.9"],
    ['. https://dns.google/dns-query', undefined, 2, "'https://' upstreams are not supported by clusterdns"],
    ['. foo://1.2.3.4', undefined, 2, "'foo' is not supported as a destination protocol in forward: foo://1.2.3.4"],
    ['. dns.google', undefined, 2, 'not an IP address or file: "dns.google"'],
    ['. /no/such/resolv.conf', undefined, 2, 'not an IP address or file: "/no/such/resolv.conf"'],
    ['. 1.2.3.4:99999', undefined, 2, "invalid port '99999' in '1.2.3.4:99999'"],
    ['. [1.2.3.4]:53', undefined, 2, 'not an IP address: "1.2.3.4"'],
    ['. 1.1.1.1', 'except', 3, "Wrong argument count or unexpected line ending after 'except'"],
    ['. 1.1.1.1', 'force_tcp yes', 3, "Wrong argument count or unexpected line ending after 'yes'"],
    ['. 1.1.1.1', 'prefer_udp 1', 3, "Wrong argument count or unexpected line ending after '1'"],
    ['. 1.1.1.1', 'expire', 3, "Wrong argument count or unexpected line ending after 'expire'"],
    ['. 1.1.1.1', 'expire 5', 3, 'time: missing unit in duration "5"'],
    ['. 1.1.1.1', 'expire -1s', 3, "expire can't be negative: -1s"],
    ['. 1.1.1.1', 'max_fails x', 3, 'strconv.Atoi: parsing "x": invalid syntax'],
    ['. 1.1.1.1', 'max_fails -1', 3, "max_fails can't be negative: -1"],
    ['. 1.1.1.1', 'max_concurrent -5', 3, "max_concurrent can't be negative: -5"],
    ['. 1.1.1.1', 'max_connect_attempts', 3, "Wrong argument count or unexpected line ending after 'max_connect_attempts'"],
    ['. 1.1.1.1', 'max_idle_conns -1', 3, "max_idle_conns can't be negative: -1"],
    ['. 1.1.1.1', 'max_age 1x', 3, 'time: unknown unit "x" in duration "1x"'],
    ['. 1.1.1.1', 'read_timeout 0', 3, 'read_timeout must be positive'],
    ['. 1.1.1.1', 'health_check', 3, "Wrong argument count or unexpected line ending after 'health_check'"],
    ['. 1.1.1.1', 'health_check -1s', 3, "health_check can't be negative: -1s"],
    ['. 1.1.1.1', 'health_check 1s bogus', 3, 'health_check: unknown option bogus'],
    ['. 1.1.1.1', 'health_check 1s domain', 3, "Wrong argument count or unexpected line ending after 'domain'"],
    ['. 1.1.1.1', 'health_check 1s domain a..b', 3, 'health_check: invalid domain name a..b'],
    ['. 1.1.1.1', 'policy', 3, "Wrong argument count or unexpected line ending after 'policy'"],
    ['. 1.1.1.1', 'policy fastest', 3, "unknown policy 'fastest'"],
    ['. 1.1.1.1', 'next', 3, "Wrong argument count or unexpected line ending after 'next'"],
    ['. 1.1.1.1', 'next BOGUS', 3, 'BOGUS is not a valid rcode'],
    ['. 1.1.1.1', 'failover NOERROR', 3, 'NOERROR cannot be used as a failover rcode'],
    ['. 1.1.1.1', 'next_on_nodata x', 3, "Wrong argument count or unexpected line ending after 'x'"],
    ['. 1.1.1.1', 'failfast_all_unhealthy_upstreams x', 3, "Wrong argument count or unexpected line ending after 'x'"],
    ['. 1.1.1.1', 'source_address nope', 3, 'invalid source address: nope'],
    ['. 1.1.1.1', 'source_address ::1', 2, 'source_address ::1 does not match the family of every upstream'],
    ['. 1.1.1.1', 'tls cert.pem key.pem', 3, 'tls is not supported by clusterdns'],
    ['. 1.1.1.1', 'tls_servername dns.quad9.net', 3, 'tls_servername is not supported by clusterdns'],
    ['. 1.1.1.1', 'resolver 8.8.8.8', 3, 'resolver is not supported by clusterdns'],
    ['. 1.1.1.1', 'bogus', 3, "unknown property 'bogus'"],
  ];
  for (const [args, body, line, problem] of cases) {
    t.throws(
      () => cfg(args, body),
      { name: 'ConfigError', message: `plugin/forward: ${FILE}:${line} - Error during parsing: ${problem}` },
      `${args} ${body ?? ''}`,
    );
  }
});

t.test('repeatable, with one handler per directive and shutdown registered', async (t) => {
  t.notOk(forward.once, 'forward may appear several times in a block');
  t.equal(forward.merge, undefined, 'occurrences are not merged');
  const env = testEnv();
  const ds = directives('. {\nforward example.org 127.0.0.1:1\nforward . 127.0.0.1:2\n}\n');
  t.equal(ds.length, 2);
  const hs = ds.map((d) => forward.build(parse(d), null, env));
  t.equal(hs[0]!.name, 'forward');
  t.not(hs[0], hs[1]);
  t.equal(env.shutdowns.length, 2, 'each instance closes its sockets on shutdown');
  for (const f of env.shutdowns) await f();
});

t.test('README examples parse', async (t) => {
  const readme = readFileSync(new URL('../../../lib/plugins/forward/README.md', import.meta.url), 'utf8');
  const blocks = [...readme.matchAll(/~~~ corefile\n([\s\S]*?)~~~/g)].map((m) => m[1]!);
  t.ok(blocks.length >= 4, 'README has corefile examples');
  for (const text of blocks) {
    const ds = parseCorefile(text, 'README.md', {}).flatMap((b) => b.directives.filter((d) => d.name.text === 'forward'));
    for (const d of ds) {
      if (d.args.some((a) => a.text.startsWith('/'))) continue; // host files differ between machines
      t.doesNotThrow(() => parse(d), text.split('\n')[1]!);
    }
  }
});
