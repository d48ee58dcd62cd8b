/**
 * The endpoint columns of an EndpointSlice: the builder's canonical form (so equal rows always compare equal), the
 * readers, and row lists round-tripping through columns.
 */
import t from 'tap';
import { EndpointRowsBuilder, hostnameAt, readyRowCount, rowList, rowsOf, sameRows, targetRefNameAt, type EndpointRow } from '../../lib/kube/endpoint-rows.js';

const row = (address: string, o: Partial<EndpointRow> = {}): EndpointRow => ({ address, ready: true, hostname: '', targetRefName: '', ...o });

t.test('columns are exact-size and canonical', async (t) => {
  const plain = rowsOf([row('10.0.0.1'), row('10.0.0.2')]);
  t.same(plain, { addresses: ['10.0.0.1', '10.0.0.2'], notReady: [], hostnames: [], targetRefNames: [] });
  t.ok(Object.isFrozen(plain.notReady) && Object.isFrozen(plain.hostnames), 'empty columns are the shared frozen ones');
  t.equal(plain.hostnames, rowsOf([row('10.0.0.3')]).hostnames, 'one empty column for every slice');
  t.same(rowsOf([]), { addresses: [], notReady: [], hostnames: [], targetRefNames: [] });

  // A name first seen on a later row: the column is filled with '' before it.
  const named = rowsOf([row('10.0.0.1'), row('10.0.0.2', { ready: false }), row('10.0.0.3', { hostname: 'c', targetRefName: 'pod-c' }), row('10.0.0.4')]);
  t.same(named, {
    addresses: ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4'],
    notReady: [1],
    hostnames: ['', '', 'c', ''],
    targetRefNames: ['', '', 'pod-c', ''],
  });
  t.equal(readyRowCount(named), 3);
  t.same([0, 1, 2, 3].map((r) => [hostnameAt(named, r), targetRefNameAt(named, r)]), [['', ''], ['', ''], ['c', 'pod-c'], ['', '']]);
  t.same([hostnameAt(plain, 1), targetRefNameAt(plain, 1)], ['', ''], 'readers of empty columns');
});

t.test('more rows than expected (endpoints with several addresses) and fewer', async (t) => {
  const more = new EndpointRowsBuilder(1);
  more.add('10.0.0.1', true, 'a', '');
  more.add('10.0.0.2', true, 'a', '');
  more.add('10.0.0.3', false, '', 'p');
  t.same(more.build(), { addresses: ['10.0.0.1', '10.0.0.2', '10.0.0.3'], notReady: [2], hostnames: ['a', 'a', ''], targetRefNames: ['', '', 'p'] });
  const fewer = new EndpointRowsBuilder(5);
  fewer.add('10.0.0.1', true, 'x', '');
  const cols = fewer.build();
  t.equal(cols.addresses.length, 1, 'no spare slots kept');
  t.equal(cols.hostnames.length, 1);
  t.same(cols.hostnames, ['x']);
  t.same(new EndpointRowsBuilder(3).build().addresses, [], 'no rows at all');
});

t.test('rowList and rowsOf round-trip; sameRows compares content', async (t) => {
  const rows = [row('10.0.0.1', { hostname: 'a' }), row('fd00::1', { ready: false }), row('10.0.0.2', { targetRefName: 'p' })];
  t.same(rowList(rowsOf(rows)), rows);
  t.ok(sameRows(rowsOf(rows), rowsOf(rows.map((r) => ({ ...r })))), 'equal rows, other objects');
  for (const [what, change] of [
    ['address', { address: '10.0.0.9' }],
    ['readiness', { ready: false }],
    ['hostname', { hostname: 'b' }],
    ['Pod name', { targetRefName: 'q' }],
  ] as const) {
    t.notOk(sameRows(rowsOf(rows), rowsOf([{ ...rows[0]!, ...change }, ...rows.slice(1)])), `a different ${what}`);
  }
  t.notOk(sameRows(rowsOf(rows), rowsOf(rows.slice(0, 2))), 'a row fewer');
});
