// Reload: a changed Corefile is switched to in place, listeners that stay keep answering with zero failed queries,
// a broken Corefile keeps the running config and says why, comment-only edits do not reload, `reload` polls.
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { pino } from 'pino';
import { start, type Instance } from '../../lib/main.js';
import { parse, nextDelay } from '../../lib/plugins/reload/setup.js';
import { parseCorefile } from '../../lib/corefile/parser.js';
import { ask, rcodeOf } from '../support/client.js';

const V1 = '.:0 {\n    whoami\n}\n';
const V2 = '.:0 {\n    whoami\n}\nexample.org:0 {\n    errors\n}\n';

async function startFrom(text: string): Promise<{ inst: Instance; file: string; logs: string[]; cleanup: () => Promise<void> }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'clusterdns-reload-'));
  const file = path.join(dir, 'Corefile');
  writeFileSync(file, text);
  const logs: string[] = [];
  const stream = new Writable({
    write(c: Buffer, _e, cb) {
      for (const l of c.toString().split('\n')) if (l) logs.push(String((JSON.parse(l) as { msg: string }).msg));
      cb();
    },
  });
  const inst = await start({ conf: file, log: pino({ base: undefined }, stream), env: {}, exit: (code) => void logs.push(`exit ${code}`) });
  return { inst, file, logs, cleanup: async () => (await inst.stop(), rmSync(dir, { recursive: true, force: true })) };
}

t.test('parse and jitter', async (t) => {
  const d = (body: string) => parseCorefile(`.:53 {\n${body}\n}\n`, 'Corefile', {})[0]!.directives[0]!;
  t.same(parse(d('reload')), { intervalMs: 30000, jitterMs: 15000 });
  t.same(parse(d('reload 10s')), { intervalMs: 10000, jitterMs: 5000 }, 'jitter capped at half the interval');
  t.same(parse(d('reload 10s 2s')), { intervalMs: 10000, jitterMs: 2000 });
  t.throws(() => parse(d('reload 1s')), { message: /^plugin\/reload: Corefile:2 - Error during parsing: interval value must be greater or equal to 2s$/ });
  t.throws(() => parse(d('reload 10s 500ms')), { message: /jitter value must be greater or equal to 1s/ });
  t.throws(() => parse(d('reload 10s 2s 1s')), { message: /Wrong argument count/ });
  t.equal(nextDelay({ intervalMs: 10000, jitterMs: 2000 }, () => 0), 9000);
  t.equal(nextDelay({ intervalMs: 10000, jitterMs: 2000 }, () => 0.999999), 10000 + 0.999999 * 2000 - 1000);
});

t.test('reload switches config in place with zero failed queries; broken and cosmetic edits do not', async (t) => {
  const s = await startFrom(V1);
  t.teardown(s.cleanup);
  const port = s.inst.addresses[0]!.port;
  const firstHash = s.inst.hash;
  t.ok(s.logs.includes(`Running configuration SHA512 = ${firstHash}`));
  t.equal(rcodeOf(await ask(port, 'www.example.org', 'A')), 'NOERROR');

  // Continuous queries over UDP and TCP while the configuration flips back and forth.
  let running = true;
  let sent = 0;
  const failures: string[] = [];
  const pump = (async () => {
    while (running) {
      sent++;
      try {
        const r = await ask(port, 'www.example.com', 'A', { tcp: sent % 2 === 0, timeoutMs: 1000 });
        if (rcodeOf(r) !== 'NOERROR') failures.push(rcodeOf(r));
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
  })();
  for (let i = 0; i < 6; i++) {
    t.equal(await s.inst.reload(i % 2 === 0 ? V2 : V1), 'reloaded', `reload ${i}`);
    t.equal(s.inst.addresses[0]!.port, port, 'same port, same sockets');
    t.equal(rcodeOf(await ask(port, 'www.example.org', 'A')), i % 2 === 0 ? 'SERVFAIL' : 'NOERROR', 'new config answers');
    await new Promise((r) => setTimeout(r, 60));
  }
  running = false;
  await pump;
  t.ok(sent > 20, `${sent} queries during the reloads`);
  t.same(failures, [], 'no query failed or went unanswered');

  // A broken Corefile keeps the running configuration and says why.
  const before = s.inst.hash;
  t.equal(await s.inst.reload('.:0 {\n    whoami\n    frobnicate\n}\n'), 'failed');
  t.equal(s.inst.hash, before);
  t.ok(s.logs.some((l) => /^Corefile changed but reload failed: .*Unknown directive 'frobnicate'/.test(l)), 'reason logged');
  t.equal(rcodeOf(await ask(port, 'www.example.org', 'A')), 'NOERROR', 'still the old config');
  const metrics = await s.inst.server.metrics.metrics();
  t.match(metrics, /coredns_reload_failed_total 1/);
  t.match(metrics, new RegExp(`coredns_reload_version_info\\{hash="sha512",value="${before}"\\} 1`));

  // A plugin that cannot be built also fails the reload, and nothing is left half-started.
  t.equal(await s.inst.reload('.:0 {\n    kubernetes cluster.local {\n        fixture /nonexistent/clusterdns\n    }\n}\n'), 'failed');
  t.equal(rcodeOf(await ask(port, 'www.example.org', 'A')), 'NOERROR');

  // Comments and whitespace do not count as a change.
  t.equal(await s.inst.reload('# a comment\n.:0   {\n  whoami   # here too\n}\n'), 'unchanged');
});

t.test('the reload plugin polls the Corefile file', async (t) => {
  const s = await startFrom('.:0 {\n    reload 2s 1s\n    whoami\n}\n');
  t.teardown(s.cleanup);
  const port = s.inst.addresses[0]!.port;
  writeFileSync(s.file, '.:0 {\n    reload 2s 1s\n    whoami\n}\nexample.org:0 {\n    errors\n}\n');
  const began = Date.now();
  let r = '';
  while (Date.now() - began < 6000) {
    r = rcodeOf(await ask(port, 'www.example.org', 'A'));
    if (r === 'SERVFAIL') break;
    await new Promise((res) => setTimeout(res, 100));
  }
  t.equal(r, 'SERVFAIL', `picked up after ${Date.now() - began} ms`);
});

t.test('health, ready and prometheus keep their listeners and counters across a reload', async (t) => {
  const { httpGet } = await import('../support/http.js');
  const { boundPort } = await import('../../lib/util/http-endpoint.js');
  const ops = 'health 127.0.0.1:0\n    ready 127.0.0.1:0\n    prometheus 127.0.0.1:0\n';
  const s = await startFrom(`.:0 {\n    ${ops}    whoami\n}\n`);
  t.teardown(s.cleanup);
  const port = s.inst.addresses[0]!.port;
  const reg = s.inst.server.metrics;
  const mport = boundPort(reg, 'prometheus', '127.0.0.1:0')!;
  const hport = boundPort(reg, 'health', '127.0.0.1:0')!;
  const rport = boundPort(reg, 'ready', '127.0.0.1:0')!;
  await ask(port, 'before.example', 'A');
  t.equal(await s.inst.reload(`.:0 {\n    ${ops}    log\n    whoami\n}\n`), 'reloaded');
  t.equal(s.inst.server.metrics, reg, 'the registry survives the reload');
  await ask(port, 'after.example', 'A');
  t.equal((await httpGet(hport, '/health')).status, 200);
  const ready = await httpGet(rport, '/ready');
  t.equal(ready.status, 200, 'ready after reload, not "Shutting down"');
  const text = (await httpGet(mport, '/metrics')).body;
  t.match(text, /coredns_dns_requests_total\{[^}]*type="A"[^}]*\} 2/, 'queries before and after the reload are both counted');
  t.match(text, /coredns_reload_version_info\{hash="sha512",value="[0-9a-f]{128}"\} 1/);
});
