// health: Corefile parsing (file:line errors), /health over HTTP, one listener per address, the self-probe
// metrics, and lameduck keeping DNS and /health answering while shutdown waits.
import t from 'tap';
import { parseCorefile } from '../../../lib/corefile/parser.js';
import type { Directive } from '../../../lib/corefile/types.js';
import { health, boundPort } from '../../../lib/plugins/health/index.js';
import { parse } from '../../../lib/plugins/health/setup.js';
import { probeHost } from '../../../lib/plugins/health/probe.js';
import { whoami } from '../../../lib/plugins/whoami/index.js';
import { ask, rcodeOf } from '../../support/client.js';
import { httpGet, sample, startWith } from '../../support/http.js';

function directive(body: string): Directive {
  return parseCorefile(`.:53 {\n${body}\n}\n`, 'Corefile', {})[0]!.directives[0]!;
}

t.test('parse: valid forms', async (t) => {
  const good: Array<[string, { addr: string; host: string; port: string; lameduckMs: number }]> = [
    ['health', { addr: ':8080', host: '', port: '8080', lameduckMs: 0 }],
    ['health localhost:1234', { addr: 'localhost:1234', host: 'localhost', port: '1234', lameduckMs: 0 }],
    ['health localhost:1234 {\n lameduck 4s\n}', { addr: 'localhost:1234', host: 'localhost', port: '1234', lameduckMs: 4000 }],
    ['health [::1]:8080 {\n lameduck 1m30s\n}', { addr: '[::1]:8080', host: '::1', port: '8080', lameduckMs: 90000 }],
    ['health :0', { addr: ':0', host: '', port: '0', lameduckMs: 0 }],
    // Go's SplitHostPort accepts any port text; CoreDNS fails only when listening.
    ['health bla:a', { addr: 'bla:a', host: 'bla', port: 'a', lameduckMs: 0 }],
  ];
  for (const [i, [text, want]] of good.entries()) {
    const c = parse(directive(text));
    t.same({ ...c.where, lameduckMs: c.lameduckMs }, want, `Test ${i}: ${text}`);
  }
});

t.test('parse: errors name file and line', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['health bla', /^plugin\/health: Corefile:2 - Error during parsing: address bla: missing port in address$/],
    ['health bla bla', /^plugin\/health: Corefile:2 - Error during parsing: Wrong argument count or unexpected line ending after 'bla'$/],
    ['health a:b:c', /Corefile:2 .*address a:b:c: too many colons in address$/],
    ['health [::1:80', /Corefile:2 .*address \[::1:80: missing ']' in address$/],
    ['health localhost:1234 {\n lameduck a\n}', /^plugin\/health: Corefile:3 - Error during parsing: unable to parse lameduck duration value: "a": time: invalid duration "a"$/],
    ['health localhost:1234 {\n lameduck 4\n}', /Corefile:3 .*unable to parse lameduck duration value: "4": time: missing unit in duration "4"$/],
    ['health {\n lameduck\n}', /Corefile:3 .*Wrong argument count or unexpected line ending after 'lameduck'$/],
    ['health {\n lameduck 1s 2s\n}', /Corefile:3 .*Wrong argument count/],
    ['health localhost:1234 {\n lamedudk 4\n}', /^plugin\/health: Corefile:3 - Error during parsing: unknown property 'lamedudk'$/],
  ];
  for (const [i, [text, re]] of bad.entries()) t.throws(() => parse(directive(text)), re, `Test ${i}: ${text}`);
});

t.test('health can only be used once per server block', async (t) => {
  t.equal(health.once, true);
  await t.rejects(
    startWith('.:0 {\n  health 127.0.0.1:0\n  health 127.0.0.1:0\n  whoami\n}\n', [health, whoami]),
    { message: 'plugin/health: Corefile:3 - Error during parsing: this plugin can only be used once per Server Block' },
  );
});

t.test('probe host: wildcard listeners are reached on loopback', async (t) => {
  t.equal(probeHost(''), '127.0.0.1');
  t.equal(probeHost('0.0.0.0'), '127.0.0.1');
  t.equal(probeHost('::'), '::1');
  t.equal(probeHost('localhost'), 'localhost');
});

t.test('/health answers 200 OK on any method, other paths 404; blocks share the listener', async (t) => {
  const srv = await startWith(
    '.:0 {\n  health 127.0.0.1:0\n  whoami\n}\nexample.org:0 {\n  health 127.0.0.1:0\n  whoami\n}\n',
    [health, whoami],
  );
  t.teardown(() => srv.stop());
  const port = boundPort(srv.server.metrics, 'health', '127.0.0.1:0');
  t.ok(port !== undefined && port > 0, `health listens on ${port}`);
  for (const method of ['GET', 'HEAD', 'POST']) {
    const r = await httpGet(port!, '/health', method);
    t.equal(r.status, 200, `${method} /health`);
    if (method !== 'HEAD') t.equal(r.body, 'OK');
  }
  t.equal((await httpGet(port!, '/health?x=1')).status, 200, 'query string ignored');
  const nf = await httpGet(port!, '/healthz');
  t.equal(nf.status, 404);
  t.equal(nf.body, '404 page not found\n');
  t.equal((await httpGet(port!, '/')).status, 404);

  // The self-probe runs every second and records its latency without failures.
  await new Promise((r) => setTimeout(r, 1200));
  const text = await srv.server.metrics.metrics();
  t.ok((sample(text, 'coredns_health_request_duration_seconds_count') ?? 0) >= 1, 'probe recorded');
  t.equal(sample(text, 'coredns_health_request_failures_total'), 0, 'no failures');
  t.ok(sample(text, 'coredns_health_request_duration_seconds_bucket', { le: '0.00025' }) !== undefined, 'slim buckets');
  t.ok(sample(text, 'coredns_health_request_duration_seconds_bucket', { le: '2.5' }) !== undefined);
});

t.test('lameduck: shutdown waits while DNS and /health keep answering, then the listener closes', async (t) => {
  const srv = await startWith('.:0 {\n  health 127.0.0.1:0 {\n    lameduck 400ms\n  }\n  whoami\n}\n', [health, whoami]);
  const port = boundPort(srv.server.metrics, 'health', '127.0.0.1:0')!;
  const began = Date.now();
  const stopping = srv.stop();
  await new Promise((r) => setTimeout(r, 100));
  const dns = await ask(srv.port, 'example.org', 'A');
  t.equal(rcodeOf(dns), 'NOERROR', 'DNS answers during lameduck');
  const tcp = await ask(srv.port, 'example.org', 'A', { tcp: true });
  t.equal(rcodeOf(tcp), 'NOERROR', 'DNS over TCP answers during lameduck');
  const h = await httpGet(port, '/health');
  t.equal(h.status, 200, '/health answers during lameduck');
  t.equal(h.body, 'OK');
  await stopping;
  t.ok(Date.now() - began >= 390, `stop waited ${Date.now() - began}ms`);
  t.ok(srv.logs.some((l) => l.plugin === 'health' && l.msg === 'Going into lameduck mode for 400ms'), 'lameduck logged');
  await t.rejects(httpGet(port, '/health'), 'health listener closed after shutdown');
  await t.rejects(ask(srv.port, 'example.org', 'A', { timeoutMs: 300 }), 'DNS closed after shutdown');
});

t.test('a listen failure stops start-up without a lameduck wait', async (t) => {
  const first = await startWith('.:0 {\n  health 127.0.0.1:0\n  whoami\n}\n', [health, whoami]);
  t.teardown(() => first.stop());
  const taken = boundPort(first.server.metrics, 'health', '127.0.0.1:0')!;
  const began = Date.now();
  await t.rejects(startWith(`.:0 {\n  health 127.0.0.1:${taken} {\n    lameduck 5s\n  }\n  whoami\n}\n`, [health, whoami]), /EADDRINUSE/);
  await t.rejects(startWith('.:0 {\n  health 127.0.0.1:http\n  whoami\n}\n', [health, whoami]), /unknown port "http"/);
  t.ok(Date.now() - began < 2000, 'no lameduck after a failed start');
});
