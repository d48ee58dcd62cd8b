// List pages read an item at a time (lib/kube/api/list-page.ts) through ApiClient.getList, against a real HTTP
// server that writes each body as the test says: in small pieces, malformed, cut off, or as an error Status.
import { createServer, type ServerResponse } from 'node:http';
import t from 'tap';
import { ApiClient, ApiError } from '../../../lib/kube/api/client.js';
import { connect } from '../../../lib/kube/api/connection.js';
import { WHOLE_BODY_LIMIT } from '../../../lib/kube/api/list-page.js';
import { seededRandom } from '../../support/random.js';

/** How the server answers one request: status and body pieces (each written on its own), or a cut connection. */
interface Reply {
  status?: number;
  pieces: (string | Buffer)[];
  /** Destroy the connection after the pieces instead of ending the response. */
  cut?: boolean;
}

async function server(t: Tap.Test, replies: Reply[]) {
  let next = 0;
  const srv = createServer((_req, res: ServerResponse) => {
    const r = replies[Math.min(next++, replies.length - 1)]!;
    res.writeHead(r.status ?? 200, { 'content-type': 'application/json' });
    const write = (i: number): void => {
      if (i === r.pieces.length) {
        if (r.cut) res.socket?.destroy();
        else res.end();
        return;
      }
      res.write(r.pieces[i]!);
      // Each piece in a packet of its own, so the client sees the same splits.
      setTimeout(() => write(i + 1), 1);
    };
    write(0);
  });
  await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
  t.teardown(() => {
    srv.closeAllConnections();
    srv.close();
  });
  const conn = await connect({ kubeconfig: null, endpoint: `http://127.0.0.1:${(srv.address() as { port: number }).port}`, tls: null });
  t.teardown(() => conn.close());
  const client = new ApiClient(conn, { qps: 0, burst: 0, maxInflight: 1 });
  const list = async (): Promise<{ items: unknown[]; envelope: Record<string, unknown> }> => {
    const items: unknown[] = [];
    const envelope = await client.getList('/api/v1/services', { limit: '500' }, new AbortController().signal, 2000, (i) => items.push(i));
    return { items, envelope };
  };
  return { list, client, requests: () => next };
}

/** Asserts that `p` rejects with an error `check` accepts (tap's t.rejects takes a function for an error class). */
async function rejects(t: Tap.Test, p: Promise<unknown>, check: ((e: unknown) => boolean) | { message: string }, what?: string): Promise<void> {
  const ok = typeof check === 'function' ? check : (e: unknown) => (e as Error)?.message === check.message;
  try {
    await p;
    t.fail(`resolved, expected a rejection${what ? `: ${what}` : ''}`);
  } catch (e) {
    t.ok(ok(e), `${what ?? 'rejected as expected'}: ${String((e as Error)?.message ?? e)}`);
  }
}

/** `text` cut into pieces of 1..`max` bytes at random places (multi-byte characters split too). */
function pieces(text: string, max: number, random: (n: number) => number): Buffer[] {
  const bytes = Buffer.from(text);
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; ) {
    const n = 1 + random(max);
    out.push(bytes.subarray(i, i + n));
    i += n;
  }
  return out;
}

const page = {
  kind: 'ServiceList',
  apiVersion: 'v1',
  metadata: { resourceVersion: '123', continue: 'eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ' },
  items: [
    { metadata: { name: 'a', namespace: 'default', annotations: { note: 'ünïcødé ✓ "quoted" \\ [brackets] {braces}' } }, spec: { ports: [{ port: 80 }] } },
    { metadata: { name: 'b', namespace: 'default' }, spec: { clusterIP: 'None', ports: [] } },
    { metadata: { name: 'c', namespace: 'other', labels: { 'x/y': 'z,]}' } }, spec: {} },
  ],
};

t.test('a page in pieces of any size gives the same items and metadata as JSON.parse of the whole', async (t) => {
  const random = seededRandom(7);
  const texts = [JSON.stringify(page), `${JSON.stringify(page, null, 2)}\n`];
  for (const text of texts) {
    for (const max of [1, 3, 17, 4096]) {
      const { list } = await server(t, [{ pieces: pieces(text, max, random) }]);
      const { items, envelope } = await list();
      t.same(items, page.items, `items, pieces of up to ${max} bytes`);
      t.same(envelope.metadata, page.metadata, 'metadata (continue token and resourceVersion)');
    }
  }
});

t.test('an empty list is empty; a list without items, or with items null, is a bad response', async (t) => {
  const empty = await server(t, [{ pieces: ['{"kind":"ServiceList","metadata":{"resourceVersion":"9"},"items":[]}'] }]);
  const { items, envelope } = await empty.list();
  t.same(items, []);
  t.same(envelope.metadata, { resourceVersion: '9' });
  for (const body of ['{"kind":"ServiceList","metadata":{"resourceVersion":"9"}}', '{"kind":"ServiceList","metadata":{},"items":null}', '{"items":{}}', '[]', '"items"']) {
    const s = await server(t, [{ pieces: [body] }]);
    await rejects(t, s.list(), (e: unknown) => e instanceof ApiError && e.reason === 'BadResponse' && e.status === 200, body);
  }
});

t.test('malformed pages are bad responses, whether the break is in an item or around the items, small or big', async (t) => {
  const big = JSON.stringify({ ...page, items: Array.from({ length: 1000 }, (_, i) => ({ metadata: { name: `s${i}`, namespace: 'default' }, spec: { ports: [{ port: 80 }] } })) });
  t.ok(big.length > WHOLE_BODY_LIMIT, 'the big page is bigger than a body parsed whole');
  const broken = [
    '{"kind":"ServiceList","metadata":{},"items":[{"metadata":{"name":"a"}},{"metadata":}]}', // an item
    '{"kind":"ServiceList","metadata":{},"items":[{"metadata":{"name":"a"}}] "x"}', // after the items
    '{"kind":"ServiceList","metadata":{,"items":[]}', // before the items
    '{"kind":"ServiceList","metadata":{},"items":[{"metadata":{"name":"a"}}]', // never closed
    '<html><body>502 Bad Gateway</body></html>',
    '',
    big.replace('"s700"', '"s700'), // an item, deep in a big page
    big.slice(0, -1) + ',', // the end of a big page
    big.replace('"items":[', '"items":[[') // a big page whose items are nested wrong
  ];
  for (const body of broken) {
    const s = await server(t, [{ pieces: pieces(body, 1000, seededRandom(body.length)) }]);
    await rejects(t, s.list(), (e: unknown) => e instanceof ApiError && e.reason === 'BadResponse', body.slice(0, 60) || '(empty)');
  }
});

t.test('a page cut mid-object fails with the connection, never as a short list', async (t) => {
  const text = JSON.stringify(page);
  const cutAt = text.indexOf('"b"') + 2;
  const s = await server(t, [{ pieces: [text.slice(0, cutAt)], cut: true }]);
  const items: unknown[] = [];
  await rejects(t, 
    s.client.getList('/api/v1/services', {}, new AbortController().signal, 2000, (i) => items.push(i)),
    (e: unknown) => !(e instanceof ApiError) && /aborted|socket hang up|ECONNRESET/.test(String((e as Error).message)),
  );
  t.same(items, [page.items[0]], 'only the item that arrived whole was handed over (the caller drops the listing)');
});

t.test('errors: HTTP statuses and a failure Status sent with 200 become that ApiError (410 included)', async (t) => {
  const status = (code: number) => JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `the thing ${code}`, reason: code === 410 ? 'Expired' : 'InternalError', code });
  const http410 = await server(t, [{ status: 410, pieces: [status(410)] }]);
  await rejects(t, http410.list(), (e: unknown) => e instanceof ApiError && e.status === 410 && e.reason === 'Expired');
  const in200 = await server(t, [{ pieces: pieces(status(410), 5, seededRandom(1)) }]);
  await rejects(t, in200.list(), (e: unknown) => e instanceof ApiError && e.status === 410 && e.reason === 'Expired' && e.message === 'the thing 410');
  const other = await server(t, [{ pieces: [status(500)] }]);
  await rejects(t, other.list(), (e: unknown) => e instanceof ApiError && e.status === 500);
  // A Status of success is no list either.
  const success = await server(t, [{ pieces: ['{"kind":"Status","status":"Success","code":200}'] }]);
  await rejects(t, success.list(), (e: unknown) => e instanceof ApiError && e.reason === 'BadResponse');
});

t.test('a small page the scanner does not take (items spelled with escapes) is read as JSON.parse reads it', async (t) => {
  const body = JSON.stringify(page).replace('"items"', '"\\u0069tems"');
  const s = await server(t, [{ pieces: pieces(body, 50, seededRandom(3)) }]);
  const { items, envelope } = await s.list();
  t.same(items, page.items);
  t.same(envelope.metadata, page.metadata);
});

t.test('an item handler that throws fails the page and frees the connection slot', async (t) => {
  const s = await server(t, [{ pieces: [JSON.stringify(page)] }]);
  await rejects(t, 
    s.client.getList('/api/v1/services', {}, new AbortController().signal, 2000, () => {
      throw new Error('handler broke');
    }),
    { message: 'handler broke' },
  );
  // maxInflight is 1: a slot still held would make this wait forever.
  const { items } = await s.list();
  t.same(items, page.items);
});
