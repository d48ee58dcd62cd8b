// loop: the probe query seen more than twice stops the process with CoreDNS's message; a healthy server probes
// itself once, gets an answer and disables the check.
import t from 'tap';
import { parseCorefile } from '../../../lib/corefile/parser.js';
import { TYPE } from '../../../lib/dns/constants.js';
import { LoopHandler } from '../../../lib/plugins/loop/handler.js';
import { parse } from '../../../lib/plugins/loop/setup.js';
import { ask, rcodeOf } from '../../support/client.js';
import { makeQuery, NextRecorder, testEnv } from '../../support/query.js';
import { startServer } from '../../support/server.js';

t.test('parse', async (t) => {
  const d = (body: string) => parseCorefile(`.:53 {\n${body}\n}\n`, 'Corefile', {})[0]!.directives[0]!;
  t.same(parse(d('loop')), {});
  t.throws(() => parse(d('loop 5')), { message: /^plugin\/loop: Corefile:2 - Error during parsing: Wrong argument count/ });
  t.throws(() => parse(d('loop {\n}')), { message: /^plugin\/loop: Corefile:2 / });
});

t.test('the probe query coming back a third time is fatal; other queries are not counted', async (t) => {
  const fatal: string[] = [];
  const env = { ...testEnv(['cluster.local.']), fatal: (m: string) => void fatal.push(m) };
  const next = new NextRecorder();
  const h = new LoopHandler(next, 'cluster.local.', env);
  t.match(h.qname, /^\d+\.\d+\.cluster\.local\.$/);
  h.serve(makeQuery(h.qname, TYPE.A).q);
  h.serve(makeQuery('other.cluster.local.', TYPE.HINFO).q);
  h.serve(makeQuery(h.qname.toUpperCase(), TYPE.HINFO).q);
  h.serve(makeQuery(h.qname, TYPE.HINFO).q);
  t.same(fatal, [], 'seen twice: fine');
  h.serve(makeQuery(h.qname, TYPE.HINFO, { remote: '10.0.0.9' }).q);
  t.equal(fatal.length, 1);
  t.match(fatal[0], new RegExp(`^Loop \\(10\\.0\\.0\\.9:53412 -> \\) detected for zone "cluster\\.local\\.", see https://coredns\\.io/plugins/loop#troubleshooting\\. Query: "HINFO ${h.qname.replace(/\./g, '\\.')}"$`));
  t.equal(next.reached, 5, 'every query still goes on down the chain');
});

t.test('a root-zone probe has no doubled dot', async (t) => {
  const h = new LoopHandler(new NextRecorder(), '.', testEnv());
  t.match(h.qname, /^\d+\.\d+\.$/);
});

t.test('a healthy server probes itself, gets an answer, and does not exit', async (t) => {
  const exits: number[] = [];
  const s = await startServer('.:0 {\n loop\n log\n whoami\n}\n', { exit: (code) => void exits.push(code) });
  t.teardown(() => s.stop());
  // The probe goes out right after the listeners open; wait for its log line.
  const deadline = Date.now() + 3000;
  let probeLine: string | undefined;
  while (Date.now() < deadline && !probeLine) {
    probeLine = s.logs.map((l) => String(l.msg)).find((m) => /"HINFO IN \d+\.\d+\. udp/.test(m));
    await new Promise((r) => setTimeout(r, 50));
  }
  t.ok(probeLine, 'the HINFO self-query reached the chain');
  t.equal(rcodeOf(await ask(s.port, 'example.org', 'A')), 'NOERROR', 'still serving');
  t.same(exits, [], 'no loop reported');
});
