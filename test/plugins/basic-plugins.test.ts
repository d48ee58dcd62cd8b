// errors, log, whoami and bind: Corefile parsing (with file:line errors) and behaviour on real Query objects.
import { Writable } from 'node:stream';
import t from 'tap';
import { pino, type Logger } from 'pino';
import { parseCorefile } from '../../lib/corefile/parser.js';
import type { Directive } from '../../lib/corefile/types.js';
import { RCODE, TYPE } from '../../lib/dns/constants.js';
import type { Handler } from '../../lib/plugin.js';
import type { Query } from '../../lib/query.js';
import { parse as parseBind } from '../../lib/plugins/bind/setup.js';
import { ErrorsHandler, formatDuration } from '../../lib/plugins/errors/handler.js';
import { parse as parseErrors } from '../../lib/plugins/errors/setup.js';
import { LogHandler } from '../../lib/plugins/log/handler.js';
import { parse as parseLog } from '../../lib/plugins/log/setup.js';
import { WhoamiHandler } from '../../lib/plugins/whoami/handler.js';
import { parse as parseWhoami } from '../../lib/plugins/whoami/setup.js';
import { makeQuery, NextRecorder } from '../support/query.js';

/** The first directive of a one-block Corefile. */
function directive(body: string): Directive {
  return parseCorefile(`.:53 {\n${body}\n}\n`, 'Corefile', {})[0]!.directives[0]!;
}

function captureLog(): { log: Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const stream = new Writable({
    write(c: Buffer, _e, cb) {
      for (const l of c.toString().split('\n')) if (l) lines.push(JSON.parse(l) as { level: number; msg: string });
      cb();
    },
  });
  return { log: pino({ level: 'debug', base: undefined }, stream), lines };
}

const ctx = { zones: ['.'], keys: [{ scheme: 'dns', zone: '.', port: 53 }] };

/** A handler that fails every query with SERVFAIL and an error, like a forward timeout. */
class Failing implements Handler {
  readonly name = 'failing';
  constructor(private readonly text: string) {}
  serve(q: Query): number {
    return q.fail(RCODE.SERVFAIL, this.text);
  }
}

t.test('parse errors name file and line', async (t) => {
  const bad: Array<[string, (d: Directive) => unknown, RegExp]> = [
    ['whoami foo', parseWhoami, /^plugin\/whoami: Corefile:2 - Error during parsing: Wrong argument count/],
    ['whoami {\n}', parseWhoami, /^plugin\/whoami: Corefile:2 /],
    ['errors foo', parseErrors, /^plugin\/errors: Corefile:2 .*Wrong argument count/],
    ['errors {\n  bogus\n}', parseErrors, /^plugin\/errors: Corefile:3 .*unknown property 'bogus'/],
    ['errors {\n  consolidate 5m\n}', parseErrors, /Corefile:3 .*Wrong argument count/],
    ['errors {\n  consolidate 5m "(" \n}', parseErrors, /Corefile:3 .*invalid regexp/],
    ['errors {\n  consolidate 5m ".*" loud\n}', parseErrors, /Corefile:3 .*unknown log level argument in consolidate: loud/],
    ['errors {\n  consolidate five ".*"\n}', parseErrors, /Corefile:3 .*time: invalid duration/],
    ['log . {common} {\n  class nonsense\n}', (d) => parseLog(d, ctx), /^plugin\/log: Corefile:3 .*unknown class: nonsense/],
    ['log {\n  format x\n}', (d) => parseLog(d, ctx), /^plugin\/log: Corefile:3 .*unknown property 'format'/],
    ['bind', parseBind, /^plugin\/bind: Corefile:2 .*Wrong argument count/],
    ['bind no-such-interface0', parseBind, /^plugin\/bind: Corefile:2 .*not a valid IP address or interface name/],
    ['bind 127.0.0.1 {\n  except 127.0.0.1\n}', parseBind, /no addresses left to bind/],
  ];
  for (const [body, fn, re] of bad) t.throws(() => fn(directive(body)), { message: re }, body);
});

t.test('valid configs', async (t) => {
  t.same(parseWhoami(directive('whoami')), {});
  const e = parseErrors(directive('errors {\n stacktrace\n consolidate 30s "^x" warning show_first\n}'));
  t.equal(e.stacktrace, true);
  t.equal(e.consolidate[0]!.periodMs, 30000);
  t.equal(e.consolidate[0]!.level, 'warning');
  t.equal(e.consolidate[0]!.showFirst, true);
  t.same(parseLog(directive('log'), ctx)[0]!.names, ['.']);
  t.same(parseLog(directive('log Example.ORG'), ctx)[0]!.names, ['example.org.']);
  const two = parseLog(directive('log a.org b.org "{type} {name}"'), ctx)[0]!;
  t.same(two.names, ['a.org.', 'b.org.']);
  t.equal(two.format, '{type} {name}');
  t.same([...parseLog(directive('log {\n class denial error\n}'), ctx)[0]!.classes].sort(), ['denial', 'error']);
  t.same(parseBind(directive('bind 127.0.0.1 ::1 127.0.0.1')).hosts, ['127.0.0.1', '::1']);
  t.same(parseBind(directive('bind lo {\n except ::1\n}')).hosts, ['127.0.0.1']);
  t.equal(formatDuration(300000), '5m0s');
  t.equal(formatDuration(30000), '30s');
  t.equal(formatDuration(500), '500ms');
});

t.test('whoami answers in the additional section, IPv4 and IPv6, udp and tcp', async (t) => {
  const h = new WhoamiHandler();
  const { q } = makeQuery('Example.org.', TYPE.A, { remote: '10.1.2.3' });
  t.equal(h.serve(q), 0);
  const m = q.response!;
  t.equal(m.answer.length, 0);
  t.same(m.additional[0], { name: 'Example.org.', type: TYPE.A, class: 1, ttl: 0, data: '10.1.2.3' });
  t.match(m.additional[1], { name: '_udp.Example.org.', type: TYPE.SRV, data: { port: 53412, target: '.' } });
  const v6 = makeQuery('.', TYPE.A, { remote: 'fd00::1', proto: 'tcp' }).q;
  h.serve(v6);
  t.equal(v6.response!.additional[0]!.type, TYPE.AAAA);
  t.equal(v6.response!.additional[1]!.name, '_tcp.');
});

t.test('errors logs each chain error once as "<rcode> <qname> <qtype>: <error>"', async (t) => {
  const { log, lines } = captureLog();
  const h = new ErrorsHandler(parseErrors(directive('errors')), new Failing('read udp 127.0.0.1:1->127.0.0.1:53: i/o timeout'), log);
  const { q } = makeQuery('WWW.Example.org.', TYPE.AAAA);
  t.equal(h.serve(q), RCODE.SERVFAIL);
  t.same(lines.map((l) => l.msg), ['2 www.example.org. AAAA: read udp 127.0.0.1:1->127.0.0.1:53: i/o timeout']);
  t.equal(lines[0]!.level, 50, 'error level');
  const ok = makeQuery('fine.org.', TYPE.A).q;
  new ErrorsHandler(parseErrors(directive('errors')), new NextRecorder(), log).serve(ok);
  t.equal(lines.length, 1, 'nothing logged without an error');
});

t.test('errors consolidate: a flood becomes one summary per period; show_first prints the first', async (t) => {
  const { log, lines } = captureLog();
  const cfg = parseErrors(directive('errors {\n consolidate 100ms "timeout$" warning show_first\n}'));
  const h = new ErrorsHandler(cfg, new Failing('i/o timeout'), log);
  for (let i = 0; i < 5; i++) h.serve(makeQuery(`n${i}.org.`, TYPE.A).q);
  h.serve(makeQuery('other.org.', TYPE.A).q);
  t.equal(lines.length, 1, 'only the first is printed at once');
  t.equal(lines[0]!.msg, '2 n0.org. A: i/o timeout');
  await new Promise((r) => setTimeout(r, 250));
  t.equal(lines.length, 2);
  t.equal(lines[1]!.msg, "5 errors like 'timeout$' occurred in last 100ms");
  t.equal(lines[1]!.level, 40, 'warning level');
  const nonMatching = new ErrorsHandler(cfg, new Failing('connection refused'), log);
  nonMatching.serve(makeQuery('x.org.', TYPE.A).q);
  t.equal(lines[2]!.msg, '2 x.org. A: connection refused', 'errors not matching any rule are logged as usual');
  h.stop();
});

t.test('log: CoreDNS common format, names, classes, server-written rcodes', async (t) => {
  const { log, lines } = captureLog();
  const h = new LogHandler(parseLog(directive('log'), ctx), new NextRecorder(), log);
  const { q } = makeQuery('Mixed.Example.ORG.', TYPE.A, { edns: 1232, id: 77 });
  h.serve(q);
  t.match(lines[0]!.msg, /^10\.244\.0\.5:53412 - 77 "A IN mixed\.example\.org\. udp 0 false 1232" NOERROR qr,rd \d+ \d+(\.\d+)?s$/);
  const v6 = makeQuery('a.org.', TYPE.SRV, { remote: 'fd00::5', proto: 'tcp' }).q;
  h.serve(v6);
  t.match(lines[1]!.msg, /^\[fd00::5\]:53412 - 4242 "SRV IN a\.org\. tcp 0 false 65535" NOERROR/);

  const { log: log2, lines: l2 } = captureLog();
  const denialOnly = new LogHandler(parseLog(directive('log example.org {\n class denial error\n}'), ctx), new Failing('boom'), log2);
  denialOnly.serve(makeQuery('x.example.org.', TYPE.A).q);
  denialOnly.serve(makeQuery('x.elsewhere.net.', TYPE.A).q);
  t.equal(l2.length, 1, 'only names under the rule are logged');
  t.match(l2[0]!.msg, / SERVFAIL - 0 /, 'the rcode the server is about to write, no flags yet, nothing sent yet');
  const successSkipped = new LogHandler(parseLog(directive('log . {\n class denial\n}'), ctx), new NextRecorder(), log2);
  successSkipped.serve(makeQuery('ok.org.', TYPE.A).q);
  t.equal(l2.length, 1, 'success not logged when only denial is asked for');
  const custom = new LogHandler(parseLog(directive('log . "{>opcode} {proto} {type} {class} {name} {rcode} {>do} {unknown}"'), ctx), new NextRecorder(), log2);
  custom.serve(makeQuery('c.org.', TYPE.TXT, { edns: 4096, do: true }).q);
  t.equal(l2[1]!.msg, 'QUERY udp TXT IN c.org. NOERROR true {unknown}');
});
