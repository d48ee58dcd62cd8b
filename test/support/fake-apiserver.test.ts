/**
 * The fake kube-apiserver, checked with node's own http(s) client: list chunking, watch replay/expiry/selectors/
 * bookmarks/timeouts, authentication, authorization and every fault-injection control. One check goes through
 * @kubernetes/client-node's KubeConfig, as the API source does.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { CLIENT_USER, makeTestPKI } from './certs.js';
import { FakeApiServer, until, writeKubeconfig, type FakeApiServerOptions, type StoredObject } from './fake-apiserver.js';

// ------------------------------------------------------------------ tiny clients

interface ClientOpts {
  token?: string;
  ca?: string | Buffer;
  cert?: Buffer;
  key?: Buffer;
}

interface Resp {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: any;
}

function options(o: ClientOpts): https.RequestOptions {
  return { agent: false, headers: o.token ? { Authorization: `Bearer ${o.token}` } : {}, ca: o.ca, cert: o.cert, key: o.key };
}

function get(url: string, o: ClientOpts = {}): Promise<Resp> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const r = (u.protocol === 'https:' ? https : http).get(u, options(o), (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // plain text (healthz)
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
    });
    r.on('error', reject);
  });
}

interface Ev {
  type: string;
  object: any;
}

/** A watch stream read line by line; `ended` says whether it ended cleanly ('end') or was cut ('abort'). */
class WatchStream {
  readonly events: Ev[] = [];
  status = 0;
  headers: http.IncomingHttpHeaders = {};
  body: any;
  readonly ended: Promise<'end' | 'abort'>;
  #req!: http.ClientRequest;
  #done: (how: 'end' | 'abort') => void = () => {};

  constructor() {
    this.ended = new Promise((r) => (this.#done = r));
  }

  open(url: string, o: ClientOpts): Promise<this> {
    return new Promise((resolve, reject) => {
      const u = new URL(url);
      this.#req = (u.protocol === 'https:' ? https : http).get(u, options(o), (res) => {
        this.status = res.statusCode ?? 0;
        this.headers = res.headers;
        let buf = '';
        let clean = false;
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          buf += c;
          for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            if (line.trim()) this.events.push(JSON.parse(line) as Ev);
          }
        });
        res.on('end', () => {
          clean = true;
          if (this.status !== 200) this.body = JSON.parse(buf);
          this.#done('end');
        });
        res.on('error', () => this.#done('abort'));
        res.on('close', () => {
          if (!clean) this.#done('abort');
        });
        resolve(this);
      });
      this.#req.on('error', (e) => {
        this.#done('abort');
        reject(e);
      });
    });
  }

  /** Waits until at least n events arrived; returns them all. */
  async atLeast(n: number, timeoutMs = 3000): Promise<Ev[]> {
    await until(() => this.events.length >= n, timeoutMs, `${n} watch events (have ${JSON.stringify(this.events.map((e) => e.type))})`);
    return this.events;
  }

  close(): void {
    this.#req.destroy();
  }
}

function watch(url: string, o: ClientOpts = {}): Promise<WatchStream> {
  return new WatchStream().open(url, o);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function server(t: Test, opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const s = await FakeApiServer.start(opts);
  t.teardown(() => s.stop());
  return s;
}

// ------------------------------------------------------------------ objects

const svc = (ns: string, name: string, labels: Record<string, string> = {}, clusterIP = '10.96.0.1'): Record<string, unknown> => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns, labels }, spec: { clusterIP, ports: [{ port: 80, protocol: 'TCP' }] },
});
const pod = (ns: string, name: string, phase: string, ip: string, node = ''): Record<string, unknown> => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns }, spec: { nodeName: node }, status: { phase, podIP: ip },
});
const nsObj = (name: string): Record<string, unknown> => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
const slice = (ns: string, name: string, service: string): Record<string, unknown> => ({
  apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name, namespace: ns, labels: { 'kubernetes.io/service-name': service } },
  addressType: 'IPv4', endpoints: [{ addresses: ['10.244.0.5'], conditions: { ready: true } }], ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
});

const names = (items: { metadata: { namespace?: string; name: string } }[]): string[] =>
  items.map((o) => (o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name));

// ------------------------------------------------------------------ list

t.test('list: shapes, sorting, namespaced and single GET, 404s, version and healthz', async (t) => {
  const s = await server(t);
  s.create(nsObj('default'));
  s.create(nsObj('team-a'));
  const web = s.create(svc('team-a', 'web'));
  s.create(svc('default', 'zeta'));
  s.create(svc('default', 'alpha'));
  t.match(web.metadata, { name: 'web', namespace: 'team-a', uid: /^[0-9a-f-]{36}$/, resourceVersion: '1003', creationTimestamp: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/ });

  const l = await get(`${s.url}/api/v1/services`);
  t.equal(l.status, 200);
  t.equal(l.headers['content-type'], 'application/json');
  t.same(Object.keys(l.body), ['kind', 'apiVersion', 'metadata', 'items']);
  t.match(l.body, { kind: 'ServiceList', apiVersion: 'v1', metadata: { resourceVersion: s.resourceVersion } });
  t.same(names(l.body.items), ['default/alpha', 'default/zeta', 'team-a/web']);
  t.equal(l.body.items[0].kind, undefined, 'list items carry no kind');
  t.equal(l.body.items[0].apiVersion, undefined);
  t.notOk('continue' in l.body.metadata);

  const nsl = await get(`${s.url}/api/v1/namespaces/default/services`);
  t.same(names(nsl.body.items), ['default/alpha', 'default/zeta']);
  const nss = await get(`${s.url}/api/v1/namespaces`);
  t.match(nss.body, { kind: 'NamespaceList', apiVersion: 'v1' });
  t.same(names(nss.body.items), ['default', 'team-a']);
  const eps = await get(`${s.url}/apis/discovery.k8s.io/v1/endpointslices`);
  t.match(eps.body, { kind: 'EndpointSliceList', apiVersion: 'discovery.k8s.io/v1', items: [] });

  const one = await get(`${s.url}/api/v1/namespaces/team-a/services/web`);
  t.match(one.body, { kind: 'Service', apiVersion: 'v1', metadata: { name: 'web', uid: web.metadata.uid } });
  const ns1 = await get(`${s.url}/api/v1/namespaces/team-a`);
  t.match(ns1.body, { kind: 'Namespace', metadata: { name: 'team-a' } });
  const missing = await get(`${s.url}/api/v1/namespaces/team-a/services/nope`);
  t.equal(missing.status, 404);
  t.same(missing.body, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'services "nope" not found', reason: 'NotFound',
    details: { name: 'nope', kind: 'services' }, code: 404 });
  for (const p of ['/api/v1/widgets', '/apis/discovery.k8s.io/v1/services', '/api/v1/endpointslices', '/apis/apps/v1/deployments', '/']) {
    const r = await get(`${s.url}${p}`);
    t.equal(r.status, 404, p);
    t.match(r.body, { kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404 }, p);
  }
  t.match((await get(`${s.url}/version`)).body, { major: '1', gitVersion: /^v1\./ });
  t.same(await get(`${s.url}/healthz`).then((r) => [r.status, r.body]), [200, 'ok']);

  // The store side: get/list/update/remove and their errors.
  t.equal(s.get('Service', 'team-a', 'web')?.metadata.uid, web.metadata.uid);
  t.equal(s.get('namespaces', 'team-a')?.metadata.name, 'team-a');
  t.same(names(s.list('svc')), ['default/alpha', 'default/zeta', 'team-a/web']);
  const upd = s.update(svc('team-a', 'web', { v: '2' }));
  t.equal(upd.metadata.uid, web.metadata.uid, 'update keeps uid');
  t.ok(Number(upd.metadata.resourceVersion) > Number(web.metadata.resourceVersion));
  t.throws(() => s.create(svc('team-a', 'web')), { code: 409 });
  t.throws(() => s.update(svc('team-a', 'ghost')), { code: 404 });
  t.throws(() => s.remove('services', 'team-a', 'ghost'), { code: 404 });
  const gone = s.remove('services', 'team-a', 'web');
  t.equal(gone.metadata.resourceVersion, s.resourceVersion, 'the deleted object carries the deletion RV');
  t.equal(s.apply(svc('team-a', 'web')).metadata.name, 'web');
  t.not(s.apply(svc('team-a', 'web', { x: 'y' })).metadata.uid, web.metadata.uid, 're-created object has a new uid');
});

t.test('list: limit/continue pages come from one snapshot while writes happen in between', async (t) => {
  const s = await server(t);
  for (const n of ['a', 'b', 'c', 'd', 'e']) s.create(svc('default', n, { app: n === 'c' ? 'x' : 'web' }));
  const rv0 = s.resourceVersion;

  const p1 = await get(`${s.url}/api/v1/services?limit=2`);
  t.same(names(p1.body.items), ['default/a', 'default/b']);
  t.equal(p1.body.metadata.resourceVersion, rv0);
  t.equal(p1.body.metadata.remainingItemCount, 3);
  t.type(p1.body.metadata.continue, 'string');
  const tok = JSON.parse(Buffer.from(p1.body.metadata.continue, 'base64url').toString());
  t.same(tok, { v: 'meta.k8s.io/v1', rv: Number(rv0), start: 'default/b\u0000' }, 'etcd3-style token');

  // Between pages: delete one not yet listed, modify another, add one that sorts into the remaining range.
  s.remove('services', 'default', 'd');
  s.update(svc('default', 'c', { app: 'changed' }));
  s.create(svc('default', 'cc'));
  s.create(svc('default', 'aa'));

  const p2 = await get(`${s.url}/api/v1/services?limit=2&continue=${encodeURIComponent(p1.body.metadata.continue)}`);
  t.same(names(p2.body.items), ['default/c', 'default/d'], 'the snapshot: d still there, cc absent');
  t.equal(p2.body.items[0].metadata.labels.app, 'x', 'c as it was at the snapshot');
  t.equal(p2.body.metadata.resourceVersion, rv0);
  t.equal(p2.body.metadata.remainingItemCount, 1);
  const p3 = await get(`${s.url}/api/v1/services?limit=2&continue=${p2.body.metadata.continue}`);
  t.same(names(p3.body.items), ['default/e']);
  t.notOk('continue' in p3.body.metadata, 'last page has no continue');
  t.notOk('remainingItemCount' in p3.body.metadata);

  // A fresh list sees the writes.
  t.same(names((await get(`${s.url}/api/v1/services`)).body.items), ['default/a', 'default/aa', 'default/b', 'default/c', 'default/cc', 'default/e']);

  // With a selector, pages hold up to `limit` matches and no remainingItemCount.
  const f1 = await get(`${s.url}/api/v1/services?limit=2&labelSelector=app%3Dweb`);
  t.same(names(f1.body.items), ['default/a', 'default/b']);
  t.notOk('remainingItemCount' in f1.body.metadata);
  const f2 = await get(`${s.url}/api/v1/services?limit=2&labelSelector=app%3Dweb&continue=${f1.body.metadata.continue}`);
  t.same(names(f2.body.items), ['default/e']);

  // resourceVersion semantics: 0 is served "from cache" and ignores limit; Exact serves an old snapshot.
  const any = await get(`${s.url}/api/v1/services?limit=1&resourceVersion=0`);
  t.equal(any.body.items.length, 6);
  t.notOk('continue' in any.body.metadata);
  const exact = await get(`${s.url}/api/v1/services?resourceVersion=${rv0}&resourceVersionMatch=Exact`);
  t.same(names(exact.body.items), ['default/a', 'default/b', 'default/c', 'default/d', 'default/e']);
  t.equal(exact.body.metadata.resourceVersion, rv0);
  const notOlder = await get(`${s.url}/api/v1/services?resourceVersion=${rv0}`);
  t.equal(notOlder.body.metadata.resourceVersion, s.resourceVersion, 'NotOlderThan serves the latest');

  t.equal((await get(`${s.url}/api/v1/services?continue=garbage`)).status, 400);
  t.equal((await get(`${s.url}/api/v1/services?continue=${p1.body.metadata.continue}&resourceVersion=5`)).status, 400);
});

t.test('list: continue token and exact RV expire with compaction and history overflow (410)', async (t) => {
  const s = await server(t, { tooLargeWaitMs: 100 });
  for (const n of ['a', 'b', 'c']) s.create(svc('default', n));
  const p1 = await get(`${s.url}/api/v1/services?limit=1`);
  s.compact();
  const r = await get(`${s.url}/api/v1/services?limit=1&continue=${p1.body.metadata.continue}`);
  t.equal(r.status, 410);
  t.match(r.body, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410,
    message: /^The provided continue parameter is too old to display a consistent list result\./ });
  t.type(r.body.metadata.continue, 'string', 'an inconsistent-continue token is offered');
  s.create(svc('default', 'bb'));
  const rest = await get(`${s.url}/api/v1/services?continue=${r.body.metadata.continue}`);
  t.equal(rest.status, 200);
  t.same(names(rest.body.items), ['default/b', 'default/bb', 'default/c'], 'the rest, at the latest RV');
  t.equal(rest.body.metadata.resourceVersion, s.resourceVersion);

  const exact = await get(`${s.url}/api/v1/services?resourceVersion=${p1.body.metadata.resourceVersion}&resourceVersionMatch=Exact`);
  t.equal(exact.status, 410);
  t.match(exact.body, { reason: 'Expired', message: /^too old resource version: \d+ \(\d+\)$/ });

  // Overflowing the history window expires tokens too.
  const small = await server(t, { historyLimit: 2 });
  for (const n of ['a', 'b', 'c']) small.create(svc('default', n));
  const q1 = await get(`${small.url}/api/v1/services?limit=1`);
  const q2 = await get(`${small.url}/api/v1/services?limit=1&continue=${q1.body.metadata.continue}`);
  t.equal(q2.status, 200, 'still in the window');
  small.create(svc('default', 'x'));
  small.create(svc('default', 'y'));
  small.create(svc('default', 'z'));
  t.equal((await get(`${small.url}/api/v1/services?limit=1&continue=${q2.body.metadata.continue}`)).status, 410);

  // A resourceVersion ahead of the store: wait, then 504 "Too large resource version".
  const future = Number(s.resourceVersion) + 10;
  const tl = await get(`${s.url}/api/v1/services?resourceVersion=${future}`);
  t.equal(tl.status, 504);
  t.match(tl.body, { reason: 'Timeout', message: `Too large resource version: ${future}, current: ${s.resourceVersion}`,
    details: { causes: [{ reason: 'ResourceVersionTooLarge' }] } });
});

t.test('list: label and field selectors; malformed ones are 400', async (t) => {
  const s = await server(t);
  s.create(svc('default', 'a', { app: 'web', tier: 'front' }));
  s.create(svc('default', 'b', { app: 'api', tier: 'back' }));
  s.create(svc('default', 'c', { app: 'db' }));
  s.create(svc('kube-system', 'd', { 'k8s-app': 'kube-dns', 'example.com/role': 'x' }));
  const sel = async (q: string): Promise<string[]> => {
    const r = await get(`${s.url}/api/v1/services?${q}`);
    t.equal(r.status, 200, q);
    return names(r.body.items);
  };
  const ls = (x: string): string => `labelSelector=${encodeURIComponent(x)}`;
  t.same(await sel(ls('app=web')), ['default/a']);
  t.same(await sel(ls('app==web')), ['default/a']);
  t.same(await sel(ls('app!=web')), ['default/b', 'default/c', 'kube-system/d'], '!= matches objects without the label');
  t.same(await sel(ls('app in (web, db)')), ['default/a', 'default/c']);
  t.same(await sel(ls('app notin (web)')), ['default/b', 'default/c', 'kube-system/d']);
  t.same(await sel(ls('tier')), ['default/a', 'default/b']);
  t.same(await sel(ls('!tier')), ['default/c', 'kube-system/d']);
  t.same(await sel(ls('app in (web,api),tier=back')), ['default/b'], 'comma is AND');
  t.same(await sel(ls('example.com/role=x')), ['kube-system/d']);
  t.same(await sel(ls('')), ['default/a', 'default/b', 'default/c', 'kube-system/d']);
  const fs = (x: string): string => `fieldSelector=${encodeURIComponent(x)}`;
  t.same(await sel(fs('metadata.namespace=kube-system')), ['kube-system/d']);
  t.same(await sel(fs('metadata.name!=a,metadata.namespace==default')), ['default/b', 'default/c']);

  s.create(pod('default', 'p1', 'Running', '10.244.0.1', 'node-1'));
  s.create(pod('default', 'p2', 'Pending', ''));
  s.create(pod('team-a', 'p3', 'Running', '10.244.0.3', 'node-2'));
  const pods = async (q: string): Promise<string[]> => names((await get(`${s.url}/api/v1/pods?${fs(q)}`)).body.items);
  t.same(await pods('status.phase=Running'), ['default/p1', 'team-a/p3']);
  t.same(await pods('spec.nodeName='), ['default/p2'], 'empty value matches unscheduled');
  t.same(await pods('status.podIP=10.244.0.3'), ['team-a/p3']);
  t.same(await pods('status.phase!=Running,metadata.namespace=default'), ['default/p2']);

  const bad: [string, string][] = [
    ['services', ls('app in ()')], ['services', ls('app=a=b')], ['services', ls('a=b,')], ['services', ls('a b')], ['services', ls('=x')],
    ['services', ls('app in (x')], ['services', fs('status.phase=Running')], ['pods', fs('nonsense')], ['pods', fs('spec.foo=1')],
  ];
  for (const [res, q] of bad) {
    const r = await get(`${s.url}/api/v1/${res}?${q}`);
    t.equal(r.status, 400, q);
    t.match(r.body, { kind: 'Status', reason: 'BadRequest', code: 400 }, q);
  }
  // A malformed selector on a watch is a 400 as well (not a 200 stream).
  const w = await watch(`${s.url}/api/v1/services?watch=true&${ls('a in (')}`);
  t.equal(w.status, 400);
});

// ------------------------------------------------------------------ watch

t.test('watch from 0 (synthetic ADDED, then live), from RV (replay), and too-old RV', async (t) => {
  const s = await server(t);
  s.create(svc('default', 'b'));
  s.create(svc('default', 'a'));
  const w0 = await watch(`${s.url}/api/v1/services?watch=true`);
  t.equal(w0.status, 200);
  t.equal(w0.headers['content-type'], 'application/json');
  t.equal(w0.headers['transfer-encoding'], 'chunked');
  await w0.atLeast(2);
  t.same(w0.events.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'a'], ['ADDED', 'b']]);
  t.match(w0.events[0]!.object, { kind: 'Service', apiVersion: 'v1' }, 'watch objects carry kind');
  const rv = s.resourceVersion;

  s.create(svc('default', 'c'));
  s.update(svc('default', 'a', { v: '2' }));
  const del = s.remove('services', 'default', 'b');
  s.create(pod('default', 'p', 'Running', '10.0.0.1')); // another resource: not on this watch
  await w0.atLeast(5);
  await sleep(30);
  t.same(w0.events.slice(2).map((e) => [e.type, e.object.metadata.name, e.object.metadata.resourceVersion]),
    [['ADDED', 'c', '1003'], ['MODIFIED', 'a', '1004'], ['DELETED', 'b', del.metadata.resourceVersion]]);

  const w1 = await watch(`${s.url}/api/v1/services?watch=1&resourceVersion=${rv}`);
  await w1.atLeast(3);
  t.same(w1.events.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'c'], ['MODIFIED', 'a'], ['DELETED', 'b']], 'replay after RV');
  s.create(svc('default', 'd'));
  await w1.atLeast(4);
  t.same([w1.events[3]!.type, w1.events[3]!.object.metadata.name], ['ADDED', 'd'], 'then live');
  const latest = await watch(`${s.url}/api/v1/services?watch=true&resourceVersion=${s.resourceVersion}`);
  await sleep(50);
  t.same(latest.events, [], 'nothing to replay from the latest RV');
  t.equal(s.watchCount('services'), 3);
  t.equal(s.watchCount('pods'), 0);

  // Namespaced watch only sees its namespace.
  const wn = await watch(`${s.url}/api/v1/namespaces/team-a/services?watch=true&resourceVersion=${s.resourceVersion}`);
  s.create(svc('default', 'e'));
  s.create(svc('team-a', 'f'));
  await wn.atLeast(1);
  await sleep(30);
  t.same(wn.events.map((e) => e.object.metadata.name), ['f']);

  // Too old: in-stream ERROR then a clean end.
  const small = await server(t, { historyLimit: 3, initialResourceVersion: 100 });
  for (const n of ['a', 'b', 'c', 'd', 'e']) small.create(svc('default', n));
  const old = await watch(`${small.url}/api/v1/services?watch=true&resourceVersion=101`);
  t.equal(old.status, 200);
  t.equal(await old.ended, 'end');
  t.same(old.events, [{ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
    message: 'too old resource version: 101 (102)', reason: 'Expired', code: 410 } }]);
  const ok = await watch(`${small.url}/api/v1/services?watch=true&resourceVersion=102`);
  await ok.atLeast(3);
  t.same(ok.events.map((e) => e.object.metadata.name), ['c', 'd', 'e'], 'the oldest RV still held replays');
  t.equal(small.watchCount(), 1);

  // Older servers answered HTTP 410.
  small.expiredAsHttp410 = true;
  const h = await watch(`${small.url}/api/v1/services?watch=true&resourceVersion=101`);
  await h.ended;
  t.equal(h.status, 410);
  t.match(h.body, { kind: 'Status', reason: 'Expired', code: 410, message: 'too old resource version: 101 (102)' });
  const viaOpt = await server(t, { historyLimit: 1, expiredAsHttp410: true });
  viaOpt.create(svc('default', 'a'));
  viaOpt.create(svc('default', 'b'));
  t.equal((await get(`${viaOpt.url}/api/v1/services?watch=true&resourceVersion=1000`)).status, 410);

  // A future RV: the watch waits for it, then reports 504 in-stream.
  const fut = await server(t, { tooLargeWaitMs: 200 });
  const wf = await watch(`${fut.url}/api/v1/services?watch=true&resourceVersion=1001`);
  fut.create(svc('default', 'first')); // reaches 1001: not sent (not after 1001)
  const wf2 = await watch(`${fut.url}/api/v1/services?watch=true&resourceVersion=1005`);
  fut.create(svc('default', 'second'));
  await wf.atLeast(1);
  t.same(wf.events.map((e) => e.object.metadata.name), ['second']);
  t.equal(await wf2.ended, 'end');
  t.match(wf2.events, [{ type: 'ERROR', object: { code: 504, reason: 'Timeout' } }]);
});

t.test('watch selectors: moving out of a label selector is DELETED, back in is ADDED', async (t) => {
  const s = await server(t);
  const w = await watch(`${s.url}/api/v1/services?watch=true&resourceVersion=${s.resourceVersion}&labelSelector=${encodeURIComponent('app=web')}`);
  s.create(svc('default', 'web', { app: 'web' }));
  s.create(svc('default', 'other', { app: 'api' }));
  s.update(svc('default', 'web', { app: 'web', v: '2' }));
  const out = s.update(svc('default', 'web', { app: 'api' }));
  s.update(svc('default', 'other', { app: 'web' }));
  s.remove('services', 'default', 'other');
  s.remove('services', 'default', 'web'); // already out of the selector: nothing
  await w.atLeast(5);
  await sleep(30);
  t.same(w.events.map((e) => [e.type, e.object.metadata.name]),
    [['ADDED', 'web'], ['MODIFIED', 'web'], ['DELETED', 'web'], ['ADDED', 'other'], ['DELETED', 'other']]);
  t.equal(w.events[2]!.object.metadata.labels.app, 'web', 'DELETED carries the previous state...');
  t.equal(w.events[2]!.object.metadata.resourceVersion, out.metadata.resourceVersion, '...at the new RV');

  // Field selectors filter too (Pods by phase), and replay applies the same transitions.
  const from = s.resourceVersion;
  s.create(pod('default', 'p', 'Pending', ''));
  s.update(pod('default', 'p', 'Running', '10.244.0.9', 'n1'));
  s.update(pod('default', 'p', 'Succeeded', '10.244.0.9', 'n1'));
  const wp = await watch(`${s.url}/api/v1/pods?watch=true&resourceVersion=${from}&fieldSelector=${encodeURIComponent('status.phase=Running')}`);
  await wp.atLeast(2);
  t.same(wp.events.map((e) => [e.type, e.object.status.phase]), [['ADDED', 'Running'], ['DELETED', 'Running']]);

  // From 0 with a selector: only matching objects as synthetic ADDED.
  s.create(svc('default', 'x', { app: 'web' }));
  s.create(svc('default', 'y', { app: 'db' }));
  const w0 = await watch(`${s.url}/api/v1/services?watch=true&labelSelector=app%20in%20(web)`);
  await w0.atLeast(1);
  await sleep(30);
  t.same(w0.events.map((e) => [e.type, e.object.metadata.name]), [['ADDED', 'x']]);
});

t.test('watch bookmarks and timeoutSeconds', async (t) => {
  const s = await server(t);
  s.create(svc('default', 'a'));
  s.create(slice('default', 'a-1', 'a'));
  const wb = await watch(`${s.url}/api/v1/services?watch=true&resourceVersion=${s.resourceVersion}&allowWatchBookmarks=true`);
  const wn = await watch(`${s.url}/api/v1/services?watch=true&resourceVersion=${s.resourceVersion}`);
  const we = await watch(`${s.url}/apis/discovery.k8s.io/v1/endpointslices?watch=true&resourceVersion=${s.resourceVersion}&allowWatchBookmarks=true`);
  s.create(pod('default', 'p', 'Running', '10.0.0.1')); // moves the RV without an event on these watches
  t.equal(s.bookmark(), 2, 'only watches that asked');
  await wb.atLeast(1);
  await we.atLeast(1);
  await sleep(30);
  t.same(wb.events, [{ type: 'BOOKMARK', object: { kind: 'Service', apiVersion: 'v1', metadata: { resourceVersion: s.resourceVersion } } }]);
  t.same(we.events[0]!.object, { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', metadata: { resourceVersion: s.resourceVersion } });
  t.same(wn.events, []);
  t.equal(s.bookmark('pods'), 0);

  const periodic = await server(t, { bookmarkIntervalMs: 40 });
  const wp = await watch(`${periodic.url}/api/v1/namespaces?watch=true&resourceVersion=1000&allowWatchBookmarks=true`);
  await wp.atLeast(2);
  t.ok(wp.events.every((e) => e.type === 'BOOKMARK'));

  const t0 = Date.now();
  const wt = await watch(`${s.url}/api/v1/services?watch=true&timeoutSeconds=1&resourceVersion=${s.resourceVersion}`);
  t.equal(s.watchCount('services'), 3);
  t.equal(await wt.ended, 'end', 'a clean end at the timeout');
  t.ok(Date.now() - t0 >= 950, `ended after ~1 s (${Date.now() - t0} ms)`);
  t.equal(s.watchCount('services'), 2);

  // sendInitialEvents streams the state, then a bookmark annotated as the end of the initial events.
  const ws = await watch(`${s.url}/api/v1/services?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`);
  await ws.atLeast(2);
  t.same(ws.events.map((e) => e.type), ['ADDED', 'BOOKMARK']);
  t.equal(ws.events[1]!.object.metadata.annotations['k8s.io/initial-events-end'], 'true');
});

// ------------------------------------------------------------------ authentication and authorization

t.test('token auth: missing or wrong token is 401; the log records how each request authenticated', async (t) => {
  const s = await server(t, { token: 's3cret' });
  const unauth = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 };
  const none = await get(`${s.url}/api/v1/services`);
  t.equal(none.status, 401);
  t.same(none.body, unauth);
  t.equal((await get(`${s.url}/api/v1/services`, { token: 'wrong' })).status, 401);
  t.equal((await get(`${s.url}/api/v1/services?watch=true`, { token: 'wrong' })).status, 401);
  t.equal((await get(`${s.url}/api/v1/services?limit=5`, { token: 's3cret' })).status, 200);
  const w = await watch(`${s.url}/api/v1/pods?watch=true`, { token: 's3cret' });
  t.equal(w.status, 200);
  t.match(s.requests, [
    { method: 'GET', path: '/api/v1/services', auth: 'none', status: 401, watch: false },
    { auth: 'none', status: 401 },
    { auth: 'none', status: 401 },
    { path: '/api/v1/services', query: { limit: '5' }, auth: 'token', status: 200, watch: false, resource: 'services', verb: 'list' },
    { path: '/api/v1/pods', query: { watch: 'true' }, auth: 'token', status: 200, watch: true, verb: 'watch' },
  ]);
  t.type(s.requests[0]!.at, 'number');
  t.equal(s.requestsOf('pods', 'watch').length, 1);
});

t.test('TLS: trusted with the test CA only; client certificates authenticate', async (t) => {
  const s = await server(t, { tls: true, token: 'tok', clientCA: true });
  const pki = s.pki!;
  t.match(s.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const ca = pki.caPem;
  t.equal((await get(`${s.url}/api/v1/services`, { ca, token: 'tok' })).status, 200);
  await t.rejects(get(`${s.url}/api/v1/services`, { token: 'tok' }), { code: /SELF_SIGNED|UNABLE_TO_VERIFY/ }, 'untrusted without the CA');
  const other = await makeTestPKI(mkdtempSync(join(tmpdir(), 'other-pki-')));
  await t.rejects(get(`${s.url}/api/v1/services`, { token: 'tok', ca: other.caPem }), 'another CA does not verify it');
  t.equal((await get(s.url.replace('127.0.0.1', 'localhost') + '/healthz', { ca, token: 'tok' })).status, 200, 'SAN localhost');

  const cert = readFileSync(pki.clientCertFile);
  const key = readFileSync(pki.clientKeyFile);
  const byCert = await get(`${s.url}/api/v1/services`, { ca, cert, key });
  t.equal(byCert.status, 200);
  t.equal(s.requests.at(-1)!.auth, 'cert');
  t.equal((await get(`${s.url}/api/v1/services`, { ca, cert, key, token: 'wrong' })).status, 200, 'a valid cert wins over a bad token');
  t.equal((await get(`${s.url}/api/v1/services`, { ca })).status, 401, 'neither cert nor token');
  // A certificate from another CA does not authenticate.
  const foreign = await get(`${s.url}/api/v1/services`, { ca, cert: readFileSync(other.clientCertFile), key: readFileSync(other.clientKeyFile) });
  t.equal(foreign.status, 401);
  s.forbid('pods');
  const f = await get(`${s.url}/api/v1/pods`, { ca, cert, key });
  t.match(f.body.message, `User "${CLIENT_USER}" cannot list resource "pods"`);

  // Watches work over TLS too.
  const w = await watch(`${s.url}/api/v1/services?watch=true`, { ca, token: 'tok' });
  s.create(svc('default', 'tls'));
  await w.atLeast(1);
  t.equal(w.events[0]!.object.metadata.name, 'tls');
});

t.test('forbid: 403 with the RBAC wording; allow undoes it; per verb', async (t) => {
  const s = await server(t, { token: 't' });
  s.forbid('endpointslices');
  const r = await get(`${s.url}/apis/discovery.k8s.io/v1/endpointslices`, { token: 't' });
  t.equal(r.status, 403);
  t.same(r.body, {
    kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
    message: 'endpointslices.discovery.k8s.io is forbidden: User "system:serviceaccount:kube-system:clusterdns" cannot list resource "endpointslices" in API group "discovery.k8s.io" at the cluster scope',
    reason: 'Forbidden', details: { group: 'discovery.k8s.io', kind: 'endpointslices' }, code: 403,
  });
  const w = await get(`${s.url}/apis/discovery.k8s.io/v1/endpointslices?watch=true`, { token: 't' });
  t.equal(w.status, 403);
  t.match(w.body.message, 'cannot watch resource "endpointslices"');
  s.allow('endpointslices');
  t.equal((await get(`${s.url}/apis/discovery.k8s.io/v1/endpointslices`, { token: 't' })).status, 200);

  s.forbid('services', ['watch']);
  t.equal((await get(`${s.url}/api/v1/services`, { token: 't' })).status, 200);
  const ws = await get(`${s.url}/api/v1/namespaces/default/services?watch=true`, { token: 't' });
  t.equal(ws.status, 403);
  t.equal(ws.body.message, 'services is forbidden: User "system:serviceaccount:kube-system:clusterdns" cannot watch resource "services" in API group "" in the namespace "default"');
  t.same(ws.body.details, { kind: 'services' });
});

// ------------------------------------------------------------------ controls

t.test('dropWatches cuts sockets; closeWatches ends cleanly; sendError sends a Status and ends', async (t) => {
  const s = await server(t);
  const a = await watch(`${s.url}/api/v1/services?watch=true`);
  const b = await watch(`${s.url}/api/v1/pods?watch=true`);
  const c = await watch(`${s.url}/api/v1/namespaces?watch=true`);
  t.equal(s.watchCount(), 3);
  t.equal(s.dropWatches('services'), 1);
  t.equal(await a.ended, 'abort', 'premature close, no terminating chunk');
  t.equal(s.watchCount(), 2);
  t.equal(s.closeWatches(), 2);
  t.equal(await b.ended, 'end');
  t.equal(await c.ended, 'end');
  t.equal(s.watchCount(), 0);

  s.create(svc('default', 'a'));
  const rv = s.resourceVersion;
  const e1 = await watch(`${s.url}/api/v1/services?watch=true&resourceVersion=${rv}`);
  const e2 = await watch(`${s.url}/api/v1/pods?watch=true&resourceVersion=${rv}`);
  t.equal(s.sendError('services'), 1);
  t.equal(await e1.ended, 'end');
  t.same(e1.events, [{ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
    message: `too old resource version: ${rv} (1000)`, reason: 'Expired', code: 410 } }]);
  s.sendError(undefined, 500);
  t.equal(await e2.ended, 'end');
  t.match(e2.events, [{ type: 'ERROR', object: { code: 500, reason: 'InternalError' } }]);
});

t.test('stall: open and new watches get nothing; stall(false) resumes new watches only', async (t) => {
  const s = await server(t);
  s.create(svc('default', 'a'));
  const before = await watch(`${s.url}/api/v1/services?watch=true&resourceVersion=${s.resourceVersion}&allowWatchBookmarks=true&timeoutSeconds=1`);
  const pods = await watch(`${s.url}/api/v1/pods?watch=true&resourceVersion=${s.resourceVersion}`);
  s.stall('services');
  const during = await watch(`${s.url}/api/v1/services?watch=true`);
  t.equal(during.status, 200, 'headers are sent');
  s.create(svc('default', 'b'));
  s.create(pod('default', 'p', 'Running', '10.0.0.1'));
  t.equal(s.bookmark(), 0, 'stalled watches get no bookmark');
  await pods.atLeast(1);
  await sleep(1200);
  t.same(before.events, [], 'no events, and no clean end at timeoutSeconds either');
  t.same(during.events, [], 'not even the synthetic ADDED');
  t.equal(s.watchCount('services'), 2, 'stalled watches still count as open');

  s.stall('services', false);
  const after = await watch(`${s.url}/api/v1/services?watch=true`);
  await after.atLeast(2);
  t.same(after.events.map((e) => e.object.metadata.name), ['a', 'b']);
  s.create(svc('default', 'c'));
  await after.atLeast(3);
  await sleep(30);
  t.same(before.events, [], 'still stalled');
  t.equal(s.dropWatches('services'), 3);
  t.equal(await before.ended, 'abort');

  s.stall(); // every resource
  const nsw = await watch(`${s.url}/api/v1/namespaces?watch=true`);
  s.create(nsObj('x'));
  await sleep(50);
  t.same(nsw.events, []);
});

t.test('failNext: the next n matching requests fail with a Status', async (t) => {
  const s = await server(t);
  s.failNext(2, { verb: 'list', resource: 'services' });
  t.equal((await get(`${s.url}/api/v1/pods`)).status, 200, 'other resources unaffected');
  const w = await watch(`${s.url}/api/v1/services?watch=true`);
  t.equal(w.status, 200, 'other verbs unaffected');
  const f = await get(`${s.url}/api/v1/services`);
  t.equal(f.status, 500);
  t.match(f.body, { kind: 'Status', status: 'Failure', reason: 'InternalError', code: 500 });
  t.equal((await get(`${s.url}/api/v1/namespaces/default/services`)).status, 500);
  t.equal((await get(`${s.url}/api/v1/services`)).status, 200, 'only n');

  s.failNext(1, { status: 429 });
  const tm = await get(`${s.url}/api/v1/namespaces`);
  t.equal(tm.status, 429);
  t.equal(tm.headers['retry-after'], '1');
  t.equal(tm.body.reason, 'TooManyRequests');
  s.failNext(1, { status: 503, verb: 'watch' });
  const ww = await watch(`${s.url}/api/v1/pods?watch=true`);
  await ww.ended;
  t.equal(ww.status, 503);
  t.equal(ww.body.reason, 'ServiceUnavailable');
  s.failNext(1, { status: 410, verb: 'watch' });
  const gone = await watch(`${s.url}/api/v1/pods?watch=true&resourceVersion=1000`);
  await gone.ended;
  t.match(gone.body, { code: 410, reason: 'Expired' });
  t.same(s.requests.map((r) => r.status), [200, 200, 500, 500, 200, 429, 503, 410]);
});

t.test('compact: every earlier RV is too old for watches', async (t) => {
  const s = await server(t);
  s.create(svc('default', 'a'));
  const rv = s.resourceVersion;
  const ok = await watch(`${s.url}/api/v1/services?watch=true&resourceVersion=${rv}`);
  s.compact();
  const w = await watch(`${s.url}/api/v1/services?watch=true&resourceVersion=${rv}`);
  await w.ended;
  t.match(w.events, [{ type: 'ERROR', object: { code: 410, reason: 'Expired', message: `too old resource version: ${rv} (${s.resourceVersion})` } }]);
  // The list after compaction gives an RV that works; open watches are not disturbed.
  const l = await get(`${s.url}/api/v1/services`);
  const fresh = await watch(`${s.url}/api/v1/services?watch=true&resourceVersion=${l.body.metadata.resourceVersion}`);
  s.create(svc('default', 'b'));
  await fresh.atLeast(1);
  await ok.atLeast(1);
  t.equal(fresh.events[0]!.object.metadata.name, 'b');
  t.equal(ok.events[0]!.object.metadata.name, 'b');
});

t.test('restart: connections cut, refused while down, same port after; newEpoch expires old RVs', async (t) => {
  const s = await server(t);
  s.create(svc('default', 'a'));
  const rv = s.resourceVersion;
  const w = await watch(`${s.url}/api/v1/services?watch=true&resourceVersion=${rv}`);
  const url = s.url;
  const restarting = s.restart({ downMs: 300 });
  t.equal(await w.ended, 'abort');
  await sleep(50);
  await t.rejects(get(`${url}/healthz`), { code: 'ECONNREFUSED' }, 'down');
  await restarting;
  t.equal(s.url, url, 'same port');
  t.equal((await get(`${url}/healthz`)).status, 200);
  s.create(svc('default', 'b'));
  const replay = await watch(`${url}/api/v1/services?watch=true&resourceVersion=${rv}`);
  await replay.atLeast(1);
  t.equal(replay.events[0]!.object.metadata.name, 'b', 'history survives a plain restart');

  await s.restart({ newEpoch: true });
  t.ok(Number(s.resourceVersion) > Number(rv) + 100_000, 'RV jumped ahead');
  const old = await watch(`${url}/api/v1/services?watch=true&resourceVersion=${rv}`);
  await old.ended;
  t.match(old.events, [{ type: 'ERROR', object: { code: 410 } }]);
  const l = await get(`${url}/api/v1/services`);
  t.same(names(l.body.items), ['default/a', 'default/b'], 'objects survive');
  t.equal(l.body.metadata.resourceVersion, s.resourceVersion);
  t.equal(s.watchCount(), 0);
});

// ------------------------------------------------------------------ client-node

// Run in one plain node child: importing client-node through tap's TypeScript loader costs seconds, without it ~1 s.
const CLIENT_NODE_PROBE = `
import https from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
const results = [];
for (const { file, context } of JSON.parse(process.env.PROBE_ARGS)) {
  const kc = new KubeConfig();
  kc.loadFromFile(file);
  const reach = async () => {
    const opts = {};
    await kc.applyToHTTPSOptions(opts);
    const server = kc.getCurrentCluster().server;
    if (server.startsWith('http:')) return 'http';
    return new Promise((resolve) => {
      https.get(server + '/api/v1/services', { ...opts, agent: false }, (res) => { res.resume(); resolve(res.statusCode); })
        .on('error', (e) => resolve(e.code));
    });
  };
  const out = { current: kc.getCurrentContext(), contexts: kc.getContexts().map((c) => c.name),
    server: kc.getCurrentCluster().server, skipTLSVerify: kc.getCurrentCluster().skipTLSVerify, status: await reach() };
  if (context) {
    kc.setCurrentContext(context);
    out.statusInContext = await reach();
  }
  results.push(out);
}
console.log(JSON.stringify(results));
`;

interface Probe {
  current: string;
  contexts: string[];
  server: string;
  skipTLSVerify: boolean;
  status: number | string;
  statusInContext?: number | string;
}

async function probe(configs: { file: string; context?: string }[]): Promise<Probe[]> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', CLIENT_NODE_PROBE], {
    cwd: process.cwd(),
    // A clean environment: tap's NODE_OPTIONS would make the child load its hooks too.
    env: { PATH: process.env.PATH ?? '', PROBE_ARGS: JSON.stringify(configs) },
  });
  return JSON.parse(stdout) as Probe[];
}

t.test('a kubeconfig from writeKubeconfig, through client-node applyToHTTPSOptions, reaches the TLS server', async (t) => {
  const s = await server(t, { tls: true, token: 'tok', clientCA: true });
  const pki = s.pki!;
  const dir = mkdtempSync(join(tmpdir(), 'kubeconfig-'));
  const plain = await server(t);
  const [byToken, byCert, insecure] = await probe([
    { file: writeKubeconfig(join(dir, 'token.yaml'), { server: s.url, token: 'tok', caFile: pki.caFile }) },
    {
      file: writeKubeconfig(join(dir, 'cert.yaml'), {
        server: s.url, caFile: pki.caFile, clientCertFile: pki.clientCertFile, clientKeyFile: pki.clientKeyFile, context: 'good', currentContext: 'wrong',
      }),
      context: 'good',
    },
    // A plain-HTTP server needs insecure-skip-tls-verify with client-node 1.x; writeKubeconfig sets it.
    { file: writeKubeconfig(join(dir, 'plain.yaml'), { server: plain.url, wrong: false }) },
  ]);
  t.match(byToken, { current: 'fake', contexts: ['fake', 'wrong'], server: s.url, skipTLSVerify: false, status: 200 });
  t.match(byCert, { current: 'wrong', server: 'https://127.0.0.1:1', status: 'ECONNREFUSED', statusInContext: 200 },
    'the wrong context points at a closed port; the named one works');
  t.match(insecure, { contexts: ['fake'], skipTLSVerify: true, status: 'http' });
  t.same(s.requests.map((r) => r.auth), ['token', 'cert']);
});
