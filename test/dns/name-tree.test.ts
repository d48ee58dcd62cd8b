// NameTree: values filed under names, found by subtree. Checked against a plain list scanned with isSubdomain,
// the way stores purged by suffix before it.
import t from 'tap';
import { isSubdomain } from '../../lib/dns/name.js';
import { NameTree } from '../../lib/dns/name-tree.js';
import { seededRandom } from '../support/random.js';

t.test('values at and below a name', async (t) => {
  const tree = new NameTree<string>();
  tree.add('web.ns.svc.cluster.local.', 'A');
  tree.add('web.ns.svc.cluster.local.', 'AAAA');
  tree.add('web.ns.svc.cluster.local.', 'A');
  tree.add('_http._tcp.web.ns.svc.cluster.local.', 'SRV');
  tree.add('db.ns.svc.cluster.local.', 'A db');
  tree.add('cluster.local.', 'SOA');
  tree.add('example.org.', 'A org');
  t.equal(tree.size, 6, 'a value already filed under a name is not added twice');
  t.same(tree.under('web.ns.svc.cluster.local.').sort(), ['A', 'AAAA', 'SRV']);
  t.same(tree.at('web.ns.svc.cluster.local.').sort(), ['A', 'AAAA'], 'at: the name itself only');
  t.same(tree.under('ns.svc.cluster.local.').sort(), ['A', 'A db', 'AAAA', 'SRV']);
  t.same(tree.under('cluster.local.').length, 5);
  t.same(tree.under('.').length, 6, 'the root holds everything');
  t.same(tree.under('b.ns.svc.cluster.local.'), [], 'whole labels only: nothing under b.ns... for db.ns...');
  t.same(tree.under('nothing.here.'), []);
  t.ok(tree.delete('web.ns.svc.cluster.local.', 'A'));
  t.notOk(tree.delete('web.ns.svc.cluster.local.', 'A'), 'a value not held');
  t.notOk(tree.delete('gone.example.', 'A'), 'a name not held');
  t.same(tree.under('web.ns.svc.cluster.local.').sort(), ['AAAA', 'SRV']);
  tree.clear();
  t.equal(tree.size, 0);
  t.same(tree.under('.'), []);
});

t.test('escaped dots do not split labels', async (t) => {
  const tree = new NameTree<number>();
  tree.add('a\\.b.example.', 1);
  tree.add('x.b.example.', 2);
  t.same(tree.under('b.example.'), [2], 'a\\.b is one label under example.');
  t.same(tree.under('example.').sort(), [1, 2]);
});

t.test('random adds and deletes agree with a scan, and nothing is left behind', async (t) => {
  const rnd = seededRandom(42);
  const labels = ['a', 'b', 'c', 'svc', 'ns'];
  const randomName = (): string => Array.from({ length: 1 + rnd(4) }, () => labels[rnd(labels.length)]).join('.') + '.';
  const tree = new NameTree<number>();
  const held: { name: string; v: number }[] = [];
  for (let i = 0; i < 4000; i++) {
    if (held.length > 0 && rnd(3) === 0) {
      const [gone] = held.splice(rnd(held.length), 1);
      if (!tree.delete(gone!.name, gone!.v)) t.fail(`step ${i}: ${gone!.name}=${gone!.v} was not held`);
    } else {
      const e = { name: randomName(), v: rnd(5) };
      if (!held.some((h) => h.name === e.name && h.v === e.v)) held.push(e);
      tree.add(e.name, e.v);
    }
    if (i % 50 === 0) {
      const suffix = rnd(4) === 0 ? '.' : randomName();
      const want = held.filter((h) => isSubdomain(h.name, suffix)).map((h) => `${h.name}=${h.v}`).sort();
      const got = tree.under(suffix).length;
      if (got !== want.length) t.fail(`step ${i}: ${got} values under ${suffix}, a scan finds ${want.length}`);
    }
  }
  t.equal(tree.size, held.length, 'size agrees');
  for (const h of held.splice(0)) tree.delete(h.name, h.v);
  t.equal(tree.size, 0);
  t.same(tree.under('.'), [], 'emptied');
  t.equal(tree.names, 0, 'no name left behind: a tree that kept dead ancestors would grow with every name ever seen');
  tree.add('a.b.c.', 1);
  t.equal(tree.names, 4, 'a name and its ancestors, the root included');
});
