// prometheus: Corefile parsing, the per-query DNS metrics (exact names, labels and values after real UDP/TCP
// queries), build info, panics, process metrics, and one /metrics listener shared by the blocks naming it.
import t from 'tap';
import { Registry } from 'prom-client';
import { parseCorefile } from '../../../lib/corefile/parser.js';
import type { Directive } from '../../../lib/corefile/types.js';
import { RCODE, TYPE } from '../../../lib/dns/constants.js';
import { boundPort } from '../../../lib/util/http-endpoint.js';
import { DnsMetrics, SIZE_BUCKETS, TIME_BUCKETS } from '../../../lib/plugins/prometheus/dns.js';
import { prometheus } from '../../../lib/plugins/prometheus/index.js';
import { parse } from '../../../lib/plugins/prometheus/setup.js';
import { whoami } from '../../../lib/plugins/whoami/index.js';
import { VERSION } from '../../../lib/version.js';
import { ask, buildQuery, rcodeOf } from '../../support/client.js';
import { httpGet, sample, samples, startWith } from '../../support/http.js';
import { dir, makeQuery, testEnv } from '../../support/query.js';

function directive(body: string): Directive {
  return parseCorefile(`.:53 {\n${body}\n}\n`, 'Corefile', {})[0]!.directives[0]!;
}

t.test('parse: valid forms and errors with file:line', async (t) => {
  const good: Array<[string, string, string, string]> = [
    ['prometheus', 'localhost:9153', 'localhost', '9153'],
    ['prometheus :9153', ':9153', '', '9153'],
    ['prometheus 0.0.0.0:9253', '0.0.0.0:9253', '0.0.0.0', '9253'],
    ['prometheus [::]:9153', '[::]:9153', '::', '9153'],
  ];
  for (const [i, [text, addr, host, port]] of good.entries()) t.same(parse(directive(text)).where, { addr, host, port }, `Test ${i}: ${text}`);
  const bad: Array<[string, RegExp]> = [
    ['prometheus bla', /^plugin\/prometheus: Corefile:2 - Error during parsing: address bla: missing port in address$/],
    ['prometheus :1 :2', /^plugin\/prometheus: Corefile:2 - Error during parsing: Wrong argument count or unexpected line ending after ':2'$/],
    ['prometheus {\n  bogus\n}', /^plugin\/prometheus: Corefile:3 - Error during parsing: unknown option: bogus$/],
    ['prometheus {\n  tls cert.pem key.pem\n}', /^plugin\/prometheus: Corefile:3 - Error during parsing: tls is not supported/],
  ];
  for (const [i, [text, re]] of bad.entries()) t.throws(() => parse(directive(text)), re, `Test ${i}: ${text}`);
  await t.rejects(startWith('.:0 {\n  prometheus 127.0.0.1:0\n  prometheus 127.0.0.1:0\n  whoami\n}\n', [prometheus, whoami]), {
    message: 'plugin/prometheus: Corefile:3 - Error during parsing: this plugin can only be used once per Server Block',
  });
});

t.test('buckets are CoreDNS time and size buckets', async (t) => {
  t.equal(TIME_BUCKETS.length, 16);
  t.equal(TIME_BUCKETS[0], 0.00025);
  t.equal(TIME_BUCKETS[15], 8.192);
  t.same(SIZE_BUCKETS, [0, 100, 200, 300, 400, 511, 1023, 2047, 4095, 8291, 16000, 32000, 48000, 64000]);
});

t.test('DnsMetrics: labels from the query; other types, IPv6 family, server-written rcodes; only watched zones', async (t) => {
  const reg = new Registry();
  const m = new DnsMetrics(reg);
  m.zones.add('.');
  const run = (name: string, type: number, o: Parameters<typeof makeQuery>[2], finish: (q: ReturnType<typeof makeQuery>['q']) => void): void => {
    const { q } = makeQuery(name, type, o);
    finish(q);
    m.done(q);
  };
  run('a.example.', TYPE.A, { remote: 'fd00::1', proto: 'tcp', edns: 1232, do: true }, (q) => q.reply(q.newReply(RCODE.NXDOMAIN), 'kubernetes'));
  run('a.example.', 99, {}, (q) => q.reply(q.newReply(RCODE.SERVFAIL), ''));
  run('a.example.', TYPE.HTTPS, {}, (q) => q.reply(q.newReply(0), 'forward'));
  run('a.example.', TYPE.SVCB, {}, (q) => q.reply(q.newReply(0), 'forward'));
  run('b.example.', 4000, {}, (q) => {
    q.zone = 'unwatched.';
    q.reply(q.newReply(0), 'whoami');
  });
  run('c.example.', TYPE.A, {}, (q) => {
    // The zone the server gives queries it refused before any block (CoreDNS vars.Dropped) is always counted.
    q.zone = 'dropped';
    q.reply(q.newReply(RCODE.REFUSED), '');
  });
  const text = await reg.metrics();
  const base = { server: 'dns://:53', zone: '.', view: '' };
  t.equal(sample(text, 'coredns_dns_requests_total', { ...base, proto: 'tcp', family: '2', type: 'A' }), 1);
  t.equal(sample(text, 'coredns_dns_requests_total', { ...base, proto: 'udp', family: '1', type: 'other' }), 1);
  t.equal(sample(text, 'coredns_dns_requests_total', { ...base, proto: 'udp', family: '1', type: 'HTTPS' }), 1);
  t.equal(sample(text, 'coredns_dns_requests_total', { ...base, proto: 'udp', family: '1', type: 'SVCB' }), 1);
  t.equal(sample(text, 'coredns_dns_responses_total', { ...base, rcode: 'NXDOMAIN', plugin: 'kubernetes' }), 1);
  t.equal(sample(text, 'coredns_dns_responses_total', { ...base, rcode: 'SERVFAIL', plugin: '' }), 1);
  t.equal(sample(text, 'coredns_dns_responses_total', { ...base, rcode: 'NOERROR', plugin: 'forward' }), 2);
  t.equal(sample(text, 'coredns_dns_responses_total', { ...base, zone: 'dropped', rcode: 'REFUSED', plugin: '' }), 1);
  t.equal(sample(text, 'coredns_dns_do_requests_total', base), 1);
  t.equal(sample(text, 'coredns_dns_request_duration_seconds_count', base), 4);
  t.equal(sample(text, 'coredns_dns_request_size_bytes_count', { ...base, proto: 'tcp' }), 1);
  t.equal(sample(text, 'coredns_dns_request_size_bytes_count', { ...base, proto: 'udp' }), 3);
  t.notOk(text.includes('unwatched.'), 'a block without prometheus is not counted');
});

t.test('scrape after UDP and TCP queries: exact names, label sets and values', async (t) => {
  const srv = await startWith(
    '.:0 {\n  prometheus 127.0.0.1:0\n  whoami\n}\nsvc.test:0 {\n  prometheus 127.0.0.1:0\n  whoami\n}\nexample.org:0 {\n  whoami\n}\n',
    [prometheus, whoami],
  );
  t.teardown(() => srv.stop());
  const mport = boundPort(srv.server.metrics, 'prometheus', '127.0.0.1:0')!;
  t.ok(mport > 0, 'one /metrics listener for both blocks');
  const p = srv.port;
  const sent: Record<'udp' | 'tcp', number[]> = { udp: [], tcp: [] };
  const got: Record<'udp' | 'tcp', number[]> = { udp: [], tcp: [] };
  const query = async (name: string, type: string, o: { tcp?: boolean; edns?: number; do?: boolean } = {}): Promise<string> => {
    const r = await ask(p, name, type, o);
    const proto = o.tcp ? 'tcp' : 'udp';
    sent[proto].push(buildQuery(name, type, o).length);
    got[proto].push(r.raw.length);
    return rcodeOf(r);
  };
  t.equal(await query('a.example.net', 'A'), 'NOERROR');
  t.equal(await query('b.example.net', 'A'), 'NOERROR');
  t.equal(await query('c.example.net', 'A', { edns: 1232, do: true }), 'NOERROR');
  t.equal(await query('d.example.net', 'AAAA', { tcp: true }), 'NOERROR');
  t.equal(await query('e.example.net', 'HINFO'), 'NOERROR');
  t.equal(await query('x.svc.test', 'A'), 'NOERROR');
  // A block without prometheus: answered, not counted.
  t.equal(rcodeOf(await ask(p, 'www.example.org', 'A')), 'NOERROR');

  const res = await httpGet(mport, '/metrics');
  t.equal(res.status, 200);
  t.equal(res.type, 'text/plain; version=0.0.4; charset=utf-8');
  const text = res.body;
  const server = `dns://:${p}`;
  const root = { server, zone: '.', view: '' };
  const req = (proto: string, type: string, zone = '.'): number | undefined =>
    sample(text, 'coredns_dns_requests_total', { server, zone, view: '', proto, family: '1', type });
  t.equal(req('udp', 'A'), 3);
  t.equal(req('tcp', 'AAAA'), 1);
  t.equal(req('udp', 'other'), 1);
  t.equal(req('udp', 'A', 'svc.test.'), 1);
  t.same(
    samples(text, 'coredns_dns_requests_total').map((s) => `${s.labels.zone} ${s.labels.proto} ${s.labels.type} ${s.value}`).sort(),
    ['. tcp AAAA 1', '. udp A 3', '. udp other 1', 'svc.test. udp A 1'],
    'no other request series (example.org. has no prometheus)',
  );
  t.same(Object.keys(samples(text, 'coredns_dns_requests_total')[0]!.labels).sort(), ['family', 'proto', 'server', 'type', 'view', 'zone']);
  t.equal(sample(text, 'coredns_dns_responses_total', { ...root, rcode: 'NOERROR', plugin: 'whoami' }), 5);
  t.equal(sample(text, 'coredns_dns_responses_total', { server, zone: 'svc.test.', view: '', rcode: 'NOERROR', plugin: 'whoami' }), 1);
  t.equal(samples(text, 'coredns_dns_responses_total').length, 2);
  t.equal(sample(text, 'coredns_dns_do_requests_total', root), 1);
  t.equal(samples(text, 'coredns_dns_do_requests_total').length, 1);

  t.equal(sample(text, 'coredns_dns_request_duration_seconds_count', root), 5);
  t.equal(sample(text, 'coredns_dns_request_duration_seconds_bucket', { ...root, le: '+Inf' }), 5);
  t.ok(sample(text, 'coredns_dns_request_duration_seconds_bucket', { ...root, le: '0.00025' }) !== undefined, 'first time bucket');
  t.ok(sample(text, 'coredns_dns_request_duration_seconds_bucket', { ...root, le: '8.192' }) !== undefined, 'last time bucket');
  t.ok((sample(text, 'coredns_dns_request_duration_seconds_sum', root) ?? -1) >= 0);

  const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
  for (const proto of ['udp', 'tcp'] as const) {
    const labels = { ...root, proto };
    const sentHere = sent[proto].slice(0, proto === 'udp' ? 4 : 1);
    const gotHere = got[proto].slice(0, proto === 'udp' ? 4 : 1);
    t.equal(sample(text, 'coredns_dns_request_size_bytes_count', labels), sentHere.length, `${proto} request count`);
    t.equal(sample(text, 'coredns_dns_request_size_bytes_sum', labels), sum(sentHere), `${proto} request bytes`);
    t.equal(sample(text, 'coredns_dns_response_size_bytes_count', labels), gotHere.length, `${proto} response count`);
    t.equal(sample(text, 'coredns_dns_response_size_bytes_sum', labels), sum(gotHere), `${proto} response bytes`);
    t.equal(sample(text, 'coredns_dns_request_size_bytes_bucket', { ...labels, le: '0' }), 0);
    t.equal(sample(text, 'coredns_dns_request_size_bytes_bucket', { ...labels, le: '100' }), sentHere.filter((n) => n <= 100).length);
    t.equal(sample(text, 'coredns_dns_request_size_bytes_bucket', { ...labels, le: '64000' }), sentHere.length);
  }
  for (const [name, type] of [
    ['coredns_dns_requests_total', 'counter'],
    ['coredns_dns_responses_total', 'counter'],
    ['coredns_dns_do_requests_total', 'counter'],
    ['coredns_dns_request_duration_seconds', 'histogram'],
    ['coredns_dns_request_size_bytes', 'histogram'],
    ['coredns_dns_response_size_bytes', 'histogram'],
    ['coredns_build_info', 'gauge'],
    ['coredns_panics_total', 'counter'],
    ['coredns_plugin_enabled', 'gauge'],
  ]) {
    t.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'), `${name} is a ${type}`);
  }
  t.equal(sample(text, 'coredns_build_info', { version: VERSION, revision: '', goversion: process.version }), 1);
  t.equal(sample(text, 'coredns_panics_total'), 0);
  t.ok(sample(text, 'process_cpu_user_seconds_total') !== undefined, 'process metrics');
  t.ok(sample(text, 'process_start_time_seconds') !== undefined);

  t.equal((await httpGet(mport, '/')).status, 404, 'only /metrics');
});

t.test('service: panics come from the server; plugin_enabled per bound listener once the core names the plugins', async (t) => {
  const listening: Array<(bound: readonly { host: string; port: number }[]) => void> = [];
  const env = { ...testEnv(['example.org.']), panics: () => 3, plugins: ['prometheus', 'errors', 'whoami'] };
  env.onListening = (fn) => void listening.push(fn);
  t.equal(prometheus.build(prometheus.parse(dir('prometheus', ['127.0.0.1:0']), { zones: env.zones, keys: env.keys }), null, env), null);
  t.equal(env.observers.length, 1, 'one observer');
  // A second block on the same instance adds its zones, not a second observer or listener.
  const env2 = { ...env, zones: ['example.net.'] as readonly string[] };
  prometheus.build(prometheus.parse(dir('prometheus', ['127.0.0.1:0']), { zones: env2.zones, keys: env.keys }), null, env2);
  t.equal(env.observers.length, 1, 'still one observer');
  t.equal(env.startups.length, 2, 'one listener to open, plus its final-shutdown close registered at start-up');
  for (const fn of listening) fn([{ host: '', port: 1053 }, { host: '::1', port: 1053 }]);
  const text = await env.metrics.metrics();
  t.equal(sample(text, 'coredns_panics_total'), 3);
  for (const server of ['dns://:1053', 'dns://[::1]:1053']) {
    for (const name of env.plugins) t.equal(sample(text, 'coredns_plugin_enabled', { server, zone: 'example.org.', view: '', name }), 1, `${server} ${name}`);
    t.equal(sample(text, 'coredns_plugin_enabled', { server, zone: 'example.net.', view: '', name: 'whoami' }), 1);
  }
});
