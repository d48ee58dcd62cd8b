/** `cache` Corefile parsing: defaults, every option, CoreDNS's error texts with file:line, and build(). */
import t from 'tap';
import { parseServerKey } from '../../../lib/corefile/keys.js';
import { parseCorefile } from '../../../lib/corefile/parser.js';
import { ConfigError, type Directive } from '../../../lib/corefile/types.js';
import { cache } from '../../../lib/plugins/cache/index.js';
import { effectiveCapacity, parse, type CacheConfig } from '../../../lib/plugins/cache/setup.js';
import { NextRecorder, testEnv } from '../../support/query.js';

const FILE = '/etc/coredns/Corefile';

/** Parses `cache <args> {\n<body>\n}` inside a block keyed `keys`; the directive is on line 2. */
function cfg(args: string, body?: string, keys = 'example.org'): CacheConfig {
  const text = body === undefined ? `${keys} {\ncache ${args}\n}\n` : `${keys} {\ncache ${args} {\n${body}\n}\n}\n`;
  const [block] = parseCorefile(text, FILE, {});
  const d = block!.directives.find((x: Directive) => x.name.text === 'cache')!;
  const zones = block!.keys.flatMap((k) => parseServerKey(k, 53).map((z) => z.zone));
  return parse(d, { zones, keys: [] });
}

t.test('defaults', async (t) => {
  const c = cfg('');
  t.strictSame(c.zones, ['example.org.'], 'zones default to the block');
  t.strictSame(c.success, { capacity: 10000, maxTtl: 3600, minTtl: 5, disabled: [] });
  t.strictSame(c.denial, { capacity: 10000, maxTtl: 1800, minTtl: 5, disabled: [] });
  t.equal(c.prefetch, 0);
  t.equal(c.prefetchWindowMs, 60_000);
  t.equal(c.prefetchPercentage, 10);
  t.equal(c.staleMs, 0);
  t.equal(c.staleVerify, false);
  t.equal(c.servfailMs, 5000);
  t.equal(c.keepTtl, false);
});

t.test('TTL and zones arguments', async (t) => {
  const a = cfg('30');
  t.equal(a.success.maxTtl, 30, '`cache N` caps success');
  t.equal(a.denial.maxTtl, 30, '`cache N` caps denial too');
  t.strictSame(a.zones, ['example.org.']);
  const b = cfg('300 Sub.Example.org 10.0.0.0/8');
  t.equal(b.success.maxTtl, 300);
  t.strictSame(b.zones, ['sub.example.org.', '10.in-addr.arpa.'], 'zones normalised, CIDRs to reverse zones');
  const c = cfg('example.net');
  t.strictSame(c.zones, ['example.net.'], 'a non-number first argument is a zone');
  t.equal(c.success.maxTtl, 3600);
});

t.test('every option', async (t) => {
  const c = cfg(
    '30',
    [
      'success 5000 60 10',
      'denial 2500 20 0',
      'prefetch 3 2m 25%',
      'serve_stale 30m verify',
      'servfail 10s',
      'disable success cluster.local',
      'disable denial Cluster.Local in-addr.arpa',
      'keepttl',
    ].join('\n'),
  );
  t.strictSame(c.success, { capacity: 5000, maxTtl: 60, minTtl: 10, disabled: ['cluster.local.'] });
  t.strictSame(c.denial, { capacity: 2500, maxTtl: 20, minTtl: 0, disabled: ['cluster.local.', 'in-addr.arpa.'] });
  t.equal(c.prefetch, 3);
  t.equal(c.prefetchWindowMs, 120_000);
  t.equal(c.prefetchPercentage, 25);
  t.equal(c.staleMs, 1_800_000);
  t.equal(c.staleVerify, true);
  t.equal(c.servfailMs, 10_000);
  t.equal(c.keepTtl, true);

  const d = cfg('', 'success 100\nprefetch 1\nserve_stale\ndisable success\nservfail 0');
  t.strictSame(d.success, { capacity: 100, maxTtl: 3600, minTtl: 5, disabled: ['.'] }, 'disable without zones: root');
  t.equal(d.prefetch, 1);
  t.equal(d.staleMs, 3_600_000, 'serve_stale defaults to 1h');
  t.equal(d.staleVerify, false, 'serve_stale defaults to immediate');
  t.equal(d.servfailMs, 0, 'servfail 0 turns SERVFAIL caching off');
  t.equal(cfg('', 'serve_stale 10s immediate').staleMs, 10_000);
  t.equal(cfg('', 'serve_stale 10s IMMEDIATE').staleVerify, false, 'mode is case-insensitive');
});

t.test('errors name the file and line', async (t) => {
  const cases: [args: string, body: string | undefined, line: number, problem: string][] = [
    ['0', undefined, 2, 'cache TTL can not be zero or negative: 0'],
    ['-5', undefined, 2, 'cache TTL can not be zero or negative: -5'],
    ['', 'success', 3, "Wrong argument count or unexpected line ending after 'success'"],
    ['', 'success 1 2 3 4', 3, "Wrong argument count or unexpected line ending after '4'"],
    ['', 'success x', 3, 'strconv.Atoi: parsing "x": invalid syntax'],
    ['', 'success 10 0', 3, 'cache TTL can not be zero or negative: 0'],
    ['', 'denial 10 20 -1', 3, 'cache min TTL can not be negative: -1'],
    ['', 'denial 10 x', 3, 'strconv.Atoi: parsing "x": invalid syntax'],
    ['', 'prefetch', 3, "Wrong argument count or unexpected line ending after 'prefetch'"],
    ['', 'prefetch 1 1m 10% x', 3, "Wrong argument count or unexpected line ending after 'x'"],
    ['', 'prefetch -1', 3, 'prefetch amount should be positive: -1'],
    ['', 'prefetch 1 5', 3, 'time: missing unit in duration "5"'],
    ['', 'prefetch 1 1m 10', 3, "last character of percentage should be `%`, but is: '0'"],
    ['', 'prefetch 1 1m 5%', 3, 'percentage should fall in range [10, 90]: 5'],
    ['', 'prefetch 1 1m 91%', 3, 'percentage should fall in range [10, 90]: 91'],
    ['', 'prefetch 1 1m x%', 3, 'strconv.Atoi: parsing "x": invalid syntax'],
    ['', 'serve_stale 1h verify x', 3, "Wrong argument count or unexpected line ending after 'x'"],
    ['', 'serve_stale -1s', 3, 'invalid negative duration for serve_stale'],
    ['', 'serve_stale 1h later', 3, 'invalid value for serve_stale refresh mode: later'],
    ['', 'servfail', 3, "Wrong argument count or unexpected line ending after 'servfail'"],
    ['', 'servfail -1s', 3, 'invalid negative ttl for servfail'],
    ['', 'servfail 6m', 3, 'caching SERVFAIL responses over 5 minutes is not permitted'],
    ['', 'disable', 3, "Wrong argument count or unexpected line ending after 'disable'"],
    ['', 'disable both', 3, 'cache type for disable must be "success" or "denial"'],
    ['', 'keepttl yes', 3, "Wrong argument count or unexpected line ending after 'yes'"],
    ['', 'bogus 1', 3, "Wrong argument count or unexpected line ending after 'bogus'"],
  ];
  for (const [args, body, line, problem] of cases) {
    const label = `cache ${args}${body === undefined ? '' : ` { ${body} }`}`;
    try {
      cfg(args, body);
      t.fail(`${label}: should throw`);
    } catch (e) {
      t.type(e, ConfigError, label);
      const err = e as ConfigError;
      t.equal(err.message, `plugin/cache: ${FILE}:${line} - Error during parsing: ${problem}`, label);
    }
  }
});

t.test('once per block', async (t) => {
  t.equal(cache.once, true);
  t.equal(cache.name, 'cache');
});

t.test('effective capacity follows CoreDNS sharding', async (t) => {
  t.equal(effectiveCapacity(10000), 9984);
  t.equal(effectiveCapacity(100), 1024, 'at least 4 per shard');
  t.equal(effectiveCapacity(5000), 4864);
});

t.test('build', async (t) => {
  const env = testEnv(['example.org.']);
  const c = cfg('');
  t.equal(cache.build(c, null, env), null, 'nothing to cache without a next plugin');
  const h = cache.build(c, new NextRecorder(), env);
  t.equal(h?.name, 'cache');
  t.equal(env.shutdowns.length, 1, 'waits for background refreshes at shutdown');
});
