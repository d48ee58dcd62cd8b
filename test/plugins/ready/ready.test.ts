// ready: Corefile parsing, the readiness verdict (until-ready vs continuously), /ready over HTTP from a unit env
// and from real servers (kubernetes fixture synced → 200; shutdown → 503 "Shutting down" through lameduck).
import path from 'node:path';
import t from 'tap';
import { parseCorefile } from '../../../lib/corefile/parser.js';
import type { Directive } from '../../../lib/corefile/types.js';
import type { Readiness } from '../../../lib/plugin.js';
import { boundPort } from '../../../lib/util/http-endpoint.js';
import { health } from '../../../lib/plugins/health/index.js';
import { kubernetes } from '../../../lib/plugins/kubernetes/index.js';
import { ready } from '../../../lib/plugins/ready/index.js';
import { ReadinessList } from '../../../lib/util/readiness.js';
import { parse } from '../../../lib/plugins/ready/setup.js';
import { whoami } from '../../../lib/plugins/whoami/index.js';
import { ask, rcodeOf } from '../../support/client.js';
import { httpGet, startWith } from '../../support/http.js';
import { dir, testEnv } from '../../support/query.js';

const DEMO_DIR = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '../../../fixtures/demo');

function directive(body: string): Directive {
  return parseCorefile(`.:53 {\n${body}\n}\n`, 'Corefile', {})[0]!.directives[0]!;
}

/** A readiness reporter whose answer the test sets, counting how often it is asked. */
class Flag implements Readiness {
  asked = 0;
  constructor(readonly name: string, public value = false) {}
  ready(): boolean {
    this.asked++;
    return this.value;
  }
}

t.test('parse: valid forms and errors with file:line', async (t) => {
  const good: Array<[string, string, string]> = [
    ['ready', ':8181', 'until-ready'],
    ['ready localhost:1234', 'localhost:1234', 'until-ready'],
    ['ready :8182 {\n monitor continuously\n}', ':8182', 'continuously'],
    ['ready {\n monitor until-ready\n}', ':8181', 'until-ready'],
  ];
  for (const [i, [text, addr, monitor]] of good.entries()) {
    const c = parse(directive(text));
    t.same([c.where.addr, c.monitor], [addr, monitor], `Test ${i}: ${text}`);
  }
  const bad: Array<[string, RegExp]> = [
    ['ready bla', /^plugin\/ready: Corefile:2 - Error during parsing: address bla: missing port in address$/],
    ['ready :1 :2', /^plugin\/ready: Corefile:2 - Error during parsing: Wrong argument count or unexpected line ending after ':2'$/],
    ['ready {\n monitor sometimes\n}', /^plugin\/ready: Corefile:3 - Error during parsing: monitor type 'sometimes' not supported$/],
    ['ready {\n monitor\n}', /Corefile:3 .*Wrong argument count or unexpected line ending after 'monitor'$/],
    ['ready {\n monitor a b\n}', /Corefile:3 .*Wrong argument count/],
    ['ready {\n bogus\n}', /^plugin\/ready: Corefile:3 - Error during parsing: unknown property 'bogus'$/],
  ];
  for (const [i, [text, re]] of bad.entries()) t.throws(() => parse(directive(text)), re, `Test ${i}: ${text}`);
});

t.test('verdict: sorted unique names; until-ready stops asking, continuously keeps asking', async (t) => {
  const k = new Flag('kubernetes');
  const k2 = new Flag('kubernetes');
  const e = new Flag('erratic');
  const list = new ReadinessList(() => [k, e, k2]);
  t.same(list.check(), { ready: false, notReady: 'erratic,kubernetes' });
  k.value = true;
  e.value = true;
  t.same(list.check(), { ready: false, notReady: 'kubernetes' }, 'one kubernetes still unready');
  k2.value = true;
  t.same(list.check(), { ready: true, notReady: '' });
  const asked = k.asked;
  k.value = false;
  t.same(list.check(), { ready: true, notReady: '' }, 'until-ready: once ready, stays ready');
  t.equal(k.asked, asked, 'not asked again');

  const cont = new ReadinessList(() => [k, e]);
  cont.continuously = true;
  k.value = true;
  t.same(cont.check(), { ready: true, notReady: '' });
  k.value = false;
  t.same(cont.check(), { ready: false, notReady: 'kubernetes' }, 'continuously: re-checked');
  t.same(new ReadinessList(() => []).check(), { ready: true, notReady: '' }, 'nothing to wait for: ready');
});

t.test('/ready over HTTP: 503 with names until ready, then 200; shutdown 503', async (t) => {
  for (const monitor of ['until-ready', 'continuously'] as const) {
    const env = testEnv();
    const k = new Flag('kubernetes');
    env.addReadiness(k);
    const block = monitor === 'continuously' ? [dir('monitor', [monitor], null, 2)] : null;
    t.equal(ready.build(ready.parse(dir('ready', ['127.0.0.1:0'], block), { zones: ['.'], keys: env.keys }), null, env), null);
    for (const fn of env.startups) await fn();
    const port = boundPort(env.metrics, 'ready', '127.0.0.1:0')!;
    let r = await httpGet(port, '/ready');
    t.same([r.status, r.body], [503, 'kubernetes'], `${monitor}: before sync`);
    k.value = true;
    r = await httpGet(port, '/ready', 'POST');
    t.same([r.status, r.body], [200, 'OK'], `${monitor}: after sync`);
    t.equal(r.type, 'text/plain; charset=utf-8');
    k.value = false;
    r = await httpGet(port, '/ready');
    t.same([r.status, r.body], monitor === 'continuously' ? [503, 'kubernetes'] : [200, 'OK'], `${monitor}: lost sync`);
    t.equal((await httpGet(port, '/health')).status, 404, 'other paths 404');
    // The first shutdown hook flips /ready before anything else runs.
    await env.shutdowns[0]!();
    r = await httpGet(port, '/ready');
    t.same([r.status, r.body], [503, 'Shutting down'], `${monitor}: shutting down`);
    for (const fn of env.shutdowns.slice(1)) await fn();
    await t.rejects(httpGet(port, '/ready'), `${monitor}: closed`);
  }
});

t.test('real server: kubernetes fixture synced → 200; lameduck → 503 Shutting down while DNS answers', async (t) => {
  const srv = await startWith(
    `.:0 {\n  ready 127.0.0.1:0\n  health 127.0.0.1:0 {\n    lameduck 400ms\n  }\n  kubernetes cluster.local {\n    fixture ${DEMO_DIR}\n  }\n  whoami\n}\n`,
    [ready, health, kubernetes, whoami],
  );
  const rport = boundPort(srv.server.metrics, 'ready', '127.0.0.1:0')!;
  const hport = boundPort(srv.server.metrics, 'health', '127.0.0.1:0')!;
  let r = await httpGet(rport, '/ready');
  t.same([r.status, r.body], [200, 'OK'], 'kubernetes synced at start-up');
  const stopping = srv.stop();
  await new Promise((res) => setTimeout(res, 100));
  r = await httpGet(rport, '/ready');
  t.same([r.status, r.body], [503, 'Shutting down'], 'not ready during lameduck');
  t.equal((await httpGet(hport, '/health')).status, 200, 'still healthy during lameduck');
  t.equal(rcodeOf(await ask(srv.port, 'example.org', 'A')), 'NOERROR', 'DNS still answers');
  await stopping;
  await t.rejects(httpGet(rport, '/ready'), 'ready closed after shutdown');
});

t.test('ready can only be used once per server block', async (t) => {
  await t.rejects(startWith('.:0 {\n  ready 127.0.0.1:0\n  ready 127.0.0.1:0\n  whoami\n}\n', [ready, whoami]), {
    message: 'plugin/ready: Corefile:3 - Error during parsing: this plugin can only be used once per Server Block',
  });
});
