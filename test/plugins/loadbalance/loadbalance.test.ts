/** `loadbalance`: parsing, the round-robin reordering of each section, and its place in front of the cache. */
import t from 'tap';
import { parseCorefile } from '../../../lib/corefile/parser.js';
import { ConfigError, type Directive } from '../../../lib/corefile/types.js';
import { RCODE, TYPE } from '../../../lib/dns/constants.js';
import type { Message, RR } from '../../../lib/dns/message.js';
import { rrToText } from '../../../lib/dns/text.js';
import type { Handler } from '../../../lib/plugin.js';
import { CacheHandler } from '../../../lib/plugins/cache/handler.js';
import { parse as parseCache } from '../../../lib/plugins/cache/setup.js';
import { loadbalance, LoadbalanceHandler, roundRobin } from '../../../lib/plugins/loadbalance/index.js';
import { parse } from '../../../lib/plugins/loadbalance/setup.js';
import type { Query } from '../../../lib/query.js';
import { rrs } from '../../support/rr.js';
import { dir, NextRecorder, serve, testEnv } from '../../support/query.js';

const FILE = 'Corefile';

function directive(line: string): Directive {
  const [block] = parseCorefile(`. {\n${line}\n}\n`, FILE, {});
  return block!.directives[0]!;
}

t.test('parse', async (t) => {
  t.strictSame(parse(directive('loadbalance')), { policy: 'round_robin' });
  t.strictSame(parse(directive('loadbalance round_robin')), { policy: 'round_robin' });
  const errs: [string, string][] = [
    ['loadbalance round_robin x', 'unknown property for round_robin'],
    ['loadbalance weighted /etc/weights', 'the weighted policy is not supported by clusterdns; use round_robin'],
    ['loadbalance random', 'unknown policy: random'],
    ['loadbalance {\nx\n}', "Unexpected token '{': 'loadbalance' takes no block"],
  ];
  for (const [line, problem] of errs) {
    t.throws(
      () => parse(directive(line)),
      { name: 'ConfigError', message: `plugin/loadbalance: ${FILE}:2 - Error during parsing: ${problem}` },
      line,
    );
  }
  t.throws(() => parse(dir('loadbalance', ['weighted'])), ConfigError);
  t.equal(loadbalance.build({ policy: 'round_robin' }, null, testEnv()), null);
  t.equal(loadbalance.build({ policy: 'round_robin' }, new NextRecorder(), testEnv())?.name, 'loadbalance');
});

const text = (section: RR[]): string[] => section.map(rrToText);

t.test('roundRobin keeps type order and permutes addresses', async (t) => {
  const section = rrs(
    'a.example.org. 5 IN A 10.0.0.1',
    'mx.example.org. 5 IN MX 10 mail1.example.org.',
    'a.example.org. 5 IN AAAA ::1',
    'x.example.org. 5 IN TXT "t"',
    'www.example.org. 5 IN CNAME a.example.org.',
    'a.example.org. 5 IN A 10.0.0.2',
    'mx.example.org. 5 IN MX 20 mail2.example.org.',
    'srv.example.org. 5 IN SRV 0 100 80 a.example.org.',
  );
  const before = text(section);
  const order = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const out = roundRobin(section, (n) => Math.floor(Math.random() * n));
    t.not(out, section);
    const types = out.map((rr) => rr.type);
    t.strictSame(types.slice(0, 3), [TYPE.CNAME, TYPE.TXT, TYPE.SRV], 'CNAME first, then others in order');
    t.strictSame(new Set(types.slice(3, 6)), new Set([TYPE.A, TYPE.AAAA]), 'then addresses');
    t.strictSame(types.slice(6), [TYPE.MX, TYPE.MX], 'then MX');
    t.strictSame(text(out).sort(), [...before].sort(), 'same records');
    order.add(text(out.slice(3)).join('|'));
  }
  t.strictSame(text(section), before, 'the input array is untouched');
  t.equal(order.size, 12, 'all 3! address orders x 2 MX orders appear');
});

/** A backend that answers from a fixed record list; counts calls. */
class Fixed implements Handler {
  readonly name = 'backend';
  calls = 0;
  constructor(private readonly make: (q: Query) => Message) {}
  serve(q: Query): number {
    this.calls++;
    return q.reply(this.make(q), this.name);
  }
}

t.test('as a reply hook', async (t) => {
  const answer = rrs('example.org. 5 IN A 10.0.0.1', 'example.org. 5 IN A 10.0.0.2', 'example.org. 5 IN A 10.0.0.3');
  const frozen = text(answer);
  const be = new Fixed((q) => {
    const m = q.newReply(0, true);
    m.answer = answer;
    m.additional = answer;
    return m;
  });
  const lb = new LoadbalanceHandler(be);
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const r = await serve(lb, 'example.org', TYPE.A);
    t.not(r.msg!.answer, answer, 'a new array');
    seen.add(r.msg!.answer.map((rr) => rr.data).join(','));
  }
  t.equal(seen.size, 6, 'all 6 permutations of 3 A records within 200 tries');
  t.strictSame(text(answer), frozen, 'the backend array is never shuffled');

  const nx = rrs('example.org. 5 IN A 10.0.0.1', 'example.org. 5 IN A 10.0.0.2', 'example.org. 5 IN CNAME x.example.org.');
  const nxBe = new Fixed((q) => {
    const m = q.newReply(RCODE.NXDOMAIN, true);
    m.answer = nx;
    return m;
  });
  const nxr = await serve(new LoadbalanceHandler(nxBe), 'example.org', TYPE.A);
  t.equal(nxr.msg!.answer, nx, 'NXDOMAIN replies pass untouched');

  const axBe = new Fixed((q) => {
    const m = q.newReply(0, true);
    m.answer = nx;
    return m;
  });
  const ax = await serve(new LoadbalanceHandler(axBe), 'example.org', TYPE.AXFR, { proto: 'tcp' });
  t.equal(ax.msg!.answer, nx, 'AXFR replies pass untouched');
});

t.test('cache hits are shuffled too', async (t) => {
  const be = new Fixed((q) => {
    const m = q.newReply(0, true);
    m.answer = rrs('example.org. 60 IN A 10.0.0.1', 'example.org. 60 IN A 10.0.0.2', 'example.org. 60 IN A 10.0.0.3');
    return m;
  });
  const cache = new CacheHandler(parseCache(dir('cache'), { zones: ['.'], keys: [] }), be);
  const lb = new LoadbalanceHandler(cache);
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const r = await serve(lb, 'example.org', TYPE.A);
    seen.add(r.msg!.answer.map((rr) => rr.data).join(','));
  }
  t.equal(be.calls, 1, 'answered from the cache after the first query');
  t.equal(seen.size, 6, 'hits come out in every order');
});
