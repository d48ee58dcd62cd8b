// Planning: unknown and unsupported directives, duplicates, once-only plugins, merged directives, and the fixed
// run order that ignores Corefile order.
import t from 'tap';
import { parseCorefile } from '../../lib/corefile/parser.js';
import { ConfigError } from '../../lib/corefile/types.js';
import { COREDNS_ORDER, orderOf } from '../../lib/plugin-order.js';
import { PLUGINS } from '../../lib/plugins/index.js';
import { planServers } from '../../lib/server/plan.js';
import { ask, rcodeOf } from '../support/client.js';
import { startServer } from '../support/server.js';

const plan = (text: string) => planServers(parseCorefile(text, 'Corefile', {}), 53);

t.test('every shipped plugin has a place in the run order', async (t) => {
  for (const name of PLUGINS.keys()) t.ok(orderOf(name) >= 0, `${name} is in plugin-order.ts`);
  t.ok(orderOf('errors') < orderOf('log') && orderOf('log') < orderOf('kubernetes') && orderOf('kubernetes') < orderOf('whoami'));
  t.equal(new Set(COREDNS_ORDER).size, COREDNS_ORDER.length, 'no name twice');
});

t.test('plugins run in plugin.cfg order, not Corefile order', async (t) => {
  const p = plan('.:53 {\n whoami\n log\n errors\n bind 127.0.0.1\n}\n');
  t.same(p.blocks[0]!.plugins.map((x) => x.def.name), ['bind', 'errors', 'log', 'whoami']);
});

t.test('errors name file, line and problem', async (t) => {
  const cases: Array<[string, RegExp]> = [
    ['.:53 {\n whoami\n frobnicate\n}\n', /^Corefile:3 - Error during parsing: Unknown directive 'frobnicate'$/],
    ['.:53 {\n rewrite name a b\n}\n', /^Corefile:2 - .*'rewrite' is a CoreDNS plugin that clusterdns does not ship/],
    ['.:53 {\n whoami\n whoami\n}\n', /^plugin\/whoami: Corefile:3 - Error during parsing: this plugin can only be used once per Server Block$/],
    ['.:53 {\n whoami\n}\n.:53 {\n whoami\n}\n', /^Corefile:4 - Error during parsing: cannot serve dns:\/\/\.:53 - it is already defined$/],
    ['tls://.:853 {\n whoami\n}\n', /^Corefile:1 - .*tls:\/\/ is not supported/],
    ['.:53 {\n whoami extra\n}\n', /^plugin\/whoami: Corefile:2 - Error during parsing: Wrong argument count/],
  ];
  for (const [text, re] of cases) {
    t.throws(() => plan(text), ConfigError);
    try {
      plan(text);
    } catch (e) {
      t.match((e as Error).message, re, text.split('\n')[1]!);
    }
  }
});

t.test('repeated log lines merge into one handler; several keys and CIDR keys share a block', async (t) => {
  const p = plan('example.org example.net 10.0.0.0/23:53 {\n log a.example.org\n log b.example.org\n whoami\n}\n');
  t.equal(p.blocks[0]!.plugins.filter((x) => x.def.name === 'log').length, 1);
  t.same(p.blocks[0]!.zones, ['example.org.', 'example.net.', '0.0.10.in-addr.arpa.', '1.0.10.in-addr.arpa.']);
  t.equal(p.listeners.length, 1);
});

t.test('a block on its own port gets its own listener; log sees queries whatever its Corefile position', async (t) => {
  const s = await startServer('.:0 {\n whoami\n log\n}\n');
  t.teardown(() => s.stop());
  t.equal(rcodeOf(await ask(s.port, 'Logged.Example', 'A')), 'NOERROR');
  const line = s.logs.find((l) => l.plugin === 'log');
  t.ok(line, 'a log line was written');
  t.match(String(line!.msg), /^127\.0\.0\.1:\d+ - 4660 "A IN logged\.example\. udp \d+ false 512" NOERROR qr,aa,rd \d+ \d+(\.\d+)?s$/);
});
