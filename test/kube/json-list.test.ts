import t from 'tap';
import { JSONListScanner } from '../../lib/kube/json-list.js';

interface Scan {
  items: unknown[];
  lines: number[];
  envelope: Record<string, unknown> | null;
  pushed: boolean;
}

// Scans `text` fed in chunks of `size` bytes (copied into one reused buffer, as the fixture source does).
function scan(text: string | Buffer, size: number, stopAt = -1): Scan {
  const items: unknown[] = [];
  const lines: number[] = [];
  const sc = new JSONListScanner((item, line) => {
    if (items.length === stopAt) return false;
    items.push(JSON.parse(item));
    lines.push(line);
    return true;
  }, 4096);
  const bytes = typeof text === 'string' ? Buffer.from(text) : text;
  const chunk = Buffer.alloc(size);
  let pushed = true;
  for (let off = 0; off < bytes.length && pushed; off += size) {
    const n = bytes.copy(chunk, 0, off, off + size);
    pushed = sc.push(chunk.subarray(0, n));
    chunk.fill(0x7e); // a reused buffer: anything the scanner kept a view of would now read '~'
  }
  return { items, lines, envelope: sc.end(), pushed };
}

// The 1-based line each item of a List printed with 4-space indents starts on, found independently of the scanner:
// items are indented 8 and do not start with a closing bracket.
function itemLines(text: string): number[] {
  const out: number[] = [];
  text.split('\n').forEach((l, i) => {
    if (/^ {8}[^\s}\]]/.test(l)) out.push(i + 1);
  });
  return out;
}

const tricky = [
  { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a', annotations: { x: 'quote " and } ] { [ , inside', y: 'back\\slash\\' } } },
  { kind: 'Pod', metadata: { name: 'ünïcødé-名前', labels: { 'e\\': '\\"', z: '' } }, spec: { list: [[1, [2]], {}, []] } },
  [1, 2, { n: null }],
  'a string item, with a comma',
  42.5,
  true,
  null,
  { kind: 'Namespace', metadata: { name: 'last' } },
];

t.test('items and envelope, whatever the chunking', async (t) => {
  const list = { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '', note: 'items: [ not here' }, items: tricky };
  const texts: Array<[string, string]> = [
    ['compact', JSON.stringify(list)],
    ['pretty', JSON.stringify(list, null, 2)],
    ['items first', JSON.stringify({ items: tricky, kind: 'List', apiVersion: 'v1' })],
    ['crlf and tabs', JSON.stringify(list, null, '\t').replace(/\n/g, '\r\n')],
    ['byte-order mark', '\uFEFF' + JSON.stringify(list)],
  ];
  for (const [name, text] of texts) {
    for (const size of [1, 2, 3, 5, 7, 16, 64, 1 << 20]) {
      const r = scan(text, size);
      t.same(r.items, tricky, `${name}, chunks of ${size}: items`);
      t.ok(r.pushed, `${name}, chunks of ${size}: not given up`);
      const env = JSON.parse(text.replace(/^\uFEFF/, '')) as Record<string, unknown>;
      t.same(r.envelope, { ...env, items: [] }, `${name}, chunks of ${size}: envelope`);
    }
  }
  const pretty = JSON.stringify({ kind: 'List', items: tricky.filter((x) => typeof x === 'object' && x !== null && !Array.isArray(x)) }, null, 4);
  t.same(scan(pretty, 3).lines, itemLines(pretty), 'each item reports the line it starts on');
  t.same(scan('{"kind":"List","items":[]}', 4), { items: [], lines: [], envelope: { kind: 'List', items: [] }, pushed: true }, 'an empty list');
});

t.test('what is not a streamable List gives null', async (t) => {
  const cases: Array<[string, string]> = [
    ['a single object', '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}}'],
    ['a top-level array', '[{"kind":"Namespace"}]'],
    ['a top-level scalar', '"items"'],
    ['items not a list', '{"kind":"List","items":5}'],
    ['items spelled with an escape', '{"kind":"List","\\u0069tems":[{"a":1}]}'],
    ['two items keys', '{"kind":"List","items":[],"items":[{"a":1}]}'],
    ['truncated', '{"kind":"List","items":[{"a":1},{"b":'],
    ['unbalanced', '{"kind":"List","items":[{"a":1}]}}'],
    ['a broken envelope', '{"kind":"List" "items":[{"a":1}]}'],
    ['an empty element', '{"kind":"List","items":[{"a":1},,{"b":2}]}'],
    ['items closed by a brace', '{"kind":"List","items":[{"a":1}}'],
  ];
  for (const [name, text] of cases) {
    for (const size of [1, 4, 1024]) t.equal(scan(text, size).envelope, null, `${name} (chunks of ${size})`);
  }
  // A big object without items is given up once the text around the items passes the limit (4096 here).
  const big = JSON.stringify({ kind: 'Service', metadata: { name: 'x', annotations: { a: 'x'.repeat(10000) } } });
  const r = scan(big, 1000);
  t.equal(r.pushed, false, 'gives up early on a big non-List');
  t.equal(r.envelope, null);
  // But items may be as big as they come.
  const fat = { kind: 'List', items: [{ a: 'y'.repeat(20000) }, { b: 1 }] };
  t.same(scan(JSON.stringify(fat), 1000).items, fat.items, 'items beyond the envelope limit');
});

t.test('the callback can stop the scan', async (t) => {
  const r = scan(JSON.stringify({ kind: 'List', items: [1, 2, 3, 4] }), 2, 2);
  t.same(r.items, [1, 2]);
  t.equal(r.pushed, false);
  t.equal(r.envelope, null);
});
