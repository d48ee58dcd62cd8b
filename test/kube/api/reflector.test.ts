// One reflector against the fake API server, without DNS: what it requests, how it heals, and that stop() is clean.
import t from 'tap';
import { ApiClient } from '../../../lib/kube/api/client.js';
import { connect } from '../../../lib/kube/api/connection.js';
import { DEFAULT_TIMING, Reflector, type ReflectorTiming, type RestartReason } from '../../../lib/kube/api/reflector.js';
import { collectionsFor } from '../../../lib/kube/api/api-source.js';
import { ClusterModel } from '../../../lib/kube/model.js';
import type { ChangeEvent, ModelSink, Snapshot } from '../../../lib/kube/types.js';
import { FakeApiServer, until } from '../../support/fake-apiserver.js';
import { apiService } from '../../support/api-objects.js';

const FAST: ReflectorTiming = { ...DEFAULT_TIMING, pageSize: 3, stallMs: 5000, backoffInitialMs: 40, backoffMaxMs: 160, healthyMs: 300 };
const servicesSpec = () => collectionsFor({ namespaces: [], labelSelector: '', namespaceSelector: '', endpointSlices: false, pods: false })[1]!;

async function harness(t: Tap.Test, o: { sink?: (model: ClusterModel) => ModelSink; timing?: Partial<ReflectorTiming>; expiredAsHttp410?: boolean; limits?: { qps: number; burst: number; maxInflight: number } } = {}) {
  const api = await FakeApiServer.start({ expiredAsHttp410: o.expiredAsHttp410 });
  t.teardown(() => api.stop());
  for (let i = 0; i < 7; i++) api.create(apiService('default', `s${i}`, { clusterIPs: [`10.96.0.${i + 1}`] }));
  const conn = await connect({ kubeconfig: null, endpoint: api.url, tls: null });
  t.teardown(() => conn.close());
  const model = new ClusterModel();
  const restarts: RestartReason[] = [];
  const client = new ApiClient(conn, o.limits ?? { qps: 0, burst: 0, maxInflight: 0 });
  const r = new Reflector(servicesSpec(), client, o.sink ? o.sink(model) : model, {
    timing: { ...FAST, ...o.timing },
    hooks: { restarted: (_s, why) => restarts.push(why) },
  });
  t.teardown(() => r.stop());
  r.start();
  await until(() => r.synced, 10_000, 'first list');
  return { api, model, r, restarts, client };
}

t.test('lists in pages from one snapshot, then watches from the list resourceVersion', async (t) => {
  const { api, model, r } = await harness(t);
  t.equal(model.size('Service'), 7);
  const lists = api.requestsOf('services', 'list');
  t.same(lists.map((q) => q.query.limit), ['3', '3', '3'], 'three pages of 3');
  t.notOk(lists[0]!.query.continue, 'first page without continue');
  t.ok(lists[1]!.query.continue && lists[2]!.query.continue, 'later pages continue');
  await until(() => api.watchCount('services') === 1, 10_000, 'watch open');
  const watch = api.requestsOf('services', 'watch')[0]!;
  t.equal(watch.query.resourceVersion, r.resourceVersion, 'watch starts at the list resourceVersion');
  api.create(apiService('default', 'late', { clusterIPs: ['10.96.0.99'] }));
  await until(() => model.get('Service', 'default', 'late'), 10_000, 'watched add');
  t.equal(r.resourceVersion, api.resourceVersion, 'resourceVersion follows the events');
  api.bookmark('services');
  api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } });
  api.bookmark('services');
  await until(() => r.resourceVersion === api.resourceVersion, 10_000, 'bookmark advances the resourceVersion');
  t.pass('bookmarks advance the resourceVersion without events');
});

t.test('an HTTP 410 on the watch and an expired continue token re-list; a re-list deletes what vanished', async (t) => {
  const { api, model, restarts } = await harness(t, { expiredAsHttp410: true });
  await until(() => api.watchCount('services') === 1, 10_000, 'watch open');
  api.stall('services', true); // events stop reaching the open watch...
  api.remove('Service', 'default', 's0');
  api.compact(); // ...and its resourceVersion is now too old
  api.stall('services', false);
  api.dropWatches('services');
  await until(() => !model.get('Service', 'default', 's0'), 10_000, 're-list removed the vanished Service');
  t.ok(restarts.includes('expired'), `restart reasons: ${restarts.join(',')}`);
  t.ok(api.requestsOf('services', 'watch').some((q) => q.status === 410), 'the server answered a watch with HTTP 410');
});

t.test('a model that throws is answered with a re-list, never a crash', async (t) => {
  let failures = 1;
  const { api, model, restarts } = await harness(t, {
    sink: (m) => ({
      apply(events: ChangeEvent[]) {
        if (events.some((e) => e.obj?.name === 'poison') && failures-- > 0) throw new Error('listener bug');
        m.apply(events);
      },
      replace: (s: Snapshot) => m.replace(s),
      replaceKind: (k, objs, scope) => m.replaceKind(k, objs, scope),
    }),
  });
  await until(() => api.watchCount('services') === 1, 10_000, 'watch open');
  const listsBefore = api.requestsOf('services', 'list').length;
  api.create(apiService('default', 'poison', { clusterIPs: ['10.96.0.66'] }));
  await until(() => model.get('Service', 'default', 'poison'), 10_000, 'the object arrives through the re-list');
  t.ok(api.requestsOf('services', 'list').length > listsBefore, 're-listed');
  t.ok(restarts.includes('apply'), 'restart reason apply');
});

t.test('a server that closes every watch at once is retried with backoff, not in a loop', async (t) => {
  const { api, r } = await harness(t, { timing: { healthyMs: 60_000 } });
  const closer = setInterval(() => api.closeWatches('services'), 5);
  t.teardown(() => clearInterval(closer));
  const before = api.requestsOf('services', 'watch').length;
  await new Promise((res) => setTimeout(res, 1000));
  const opened = api.requestsOf('services', 'watch').length - before;
  clearInterval(closer);
  // Backoff 40 → 80 → 160 ms (capped, ±20%): about 7 attempts a second at most; a loop would make hundreds.
  t.ok(opened >= 2 && opened <= 15, `${opened} watches in 1 s`);
  t.ok(r.synced);
});

t.test('500s on the list back off and recover', async (t) => {
  const { api, model } = await harness(t);
  await until(() => api.watchCount('services') === 1, 10_000, 'watch open');
  api.failNext(4, { status: 500, resource: 'services' });
  api.sendError('services', 410);
  api.create(apiService('default', 'after', { clusterIPs: ['10.96.0.77'] }));
  await until(() => model.get('Service', 'default', 'after'), 10_000, 'recovered');
  const statuses = api.requestsOf('services').map((q) => q.status);
  t.ok(statuses.filter((s) => s === 500).length === 4, 'four 500s were served and retried');
});

t.test('stop() ends everything: no request, timer or event afterwards', async (t) => {
  const { api, model, r } = await harness(t);
  await until(() => api.watchCount('services') === 1, 10_000, 'watch open');
  api.failNext(100, { status: 500 });
  api.dropWatches();
  await new Promise((res) => setTimeout(res, 100)); // now inside a backoff wait
  await r.stop();
  const count = api.requests.length;
  let changed = false;
  model.onChange(() => (changed = true));
  api.create(apiService('default', 'ignored', { clusterIPs: ['10.96.0.88'] }));
  await new Promise((res) => setTimeout(res, 400));
  t.equal(api.requests.length, count, 'no request after stop');
  t.notOk(changed, 'no change after stop');
  t.equal(api.watchCount(), 0, 'no watch open');
  await r.stop();
  t.pass('stop twice is fine');
});

t.test('apiserver_qps/burst pace the requests; max_inflight bounds concurrent lists', async (t) => {
  const { api, client } = await harness(t, { limits: { qps: 20, burst: 1, maxInflight: 1 } });
  // 7 objects in pages of 3 = 3 list requests + 1 watch, one every 50 ms after the first (nominally 150 ms).
  await until(() => api.watchCount('services') === 1, 10_000, 'watch open');
  const times = api.requests.map((q) => q.at);
  const span = times[times.length - 1]! - times[0]!;
  t.equal(times.length, 4);
  t.ok(span >= 120, `4 requests spread over ${span} ms by a 20 QPS limit`);
  t.equal(client.host, new URL(api.url).host);
});

// The failure modes a review found untested: each must neither loop, hang, nor leave stale data behind.

/** A bare reflector on `url` with a pino log captured in memory. */
async function bare(t: Tap.Test, url: string, timing: Partial<ReflectorTiming> = {}) {
  const { pino } = await import('pino');
  const { Writable } = await import('node:stream');
  const logs: Array<{ level: number; msg: string }> = [];
  const log = pino({ level: 'debug' }, new Writable({ write(c: Buffer, _e, cb) { for (const l of c.toString().split('\n')) if (l) logs.push(JSON.parse(l)); cb(); } }));
  const conn = await connect({ kubeconfig: null, endpoint: url, tls: null });
  t.teardown(() => conn.close());
  const model = new ClusterModel();
  const restarts: RestartReason[] = [];
  const requests: number[] = [];
  const client = new ApiClient(conn, { qps: 0, burst: 0, maxInflight: 0 }, { request: (_m, _h, status) => requests.push(status) });
  const r = new Reflector(servicesSpec(), client, model, { log, timing: { ...FAST, ...timing }, hooks: { restarted: (_s, why) => restarts.push(why) } });
  t.teardown(() => r.stop());
  r.start();
  return { r, model, restarts, logs, requests };
}

t.test('410 on every list backs off (no tight loop)', async (t) => {
  const api = await FakeApiServer.start();
  t.teardown(() => api.stop());
  api.failNext(10_000, { status: 410, verb: 'list' });
  await bare(t, api.url, { backoffInitialMs: 50, backoffMaxMs: 400 });
  await new Promise((res) => setTimeout(res, 1200));
  const lists = api.requestsOf('services', 'list').length;
  t.ok(lists >= 3 && lists <= 15, `${lists} lists in 1.2 s`);
});

t.test('410 on every watch: the re-list backoff grows instead of staying at its first step', async (t) => {
  const api = await FakeApiServer.start();
  t.teardown(() => api.stop());
  api.failNext(10_000, { status: 410, verb: 'watch' });
  const { r } = await bare(t, api.url, { backoffInitialMs: 50, backoffMaxMs: 800 });
  await new Promise((res) => setTimeout(res, 2000));
  t.ok(r.synced);
  const at = api.requestsOf('services', 'list').map((q) => q.at);
  const gaps = at.slice(1).map((v, i) => v - at[i]!);
  t.ok(at.length <= 10, `${at.length} lists in 2 s`);
  t.ok(gaps.length >= 3 && gaps.at(-1)! > gaps[1]! * 2, `gaps grow: ${gaps.join(', ')} ms`);
});

t.test('a server that never answers, or stops halfway through a list, times out and is retried', async (t) => {
  const net = await import('node:net');
  const http = await import('node:http');
  let connections = 0;
  const sockets: import('node:net').Socket[] = [];
  const silent = net.createServer((s) => {
    connections++;
    sockets.push(s);
    s.on('error', () => {});
  });
  await new Promise<void>((res) => silent.listen(0, '127.0.0.1', res));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const a = await bare(t, `http://127.0.0.1:${(silent.address() as { port: number }).port}`, { requestTimeoutMs: 200 });
  await until(() => a.restarts.length >= 2, 10_000, 'two timeouts');
  t.ok(connections >= 2, `${connections} connections: each timed-out request was retried`);
  t.notOk(a.r.synced);
  t.ok(a.logs.some((l) => l.msg.includes('ETIMEDOUT') || l.msg.includes('no data from the API server')), 'the timeout is logged');

  const halfway = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"kind":"ServiceList","metadata":{"resourceVersion":"5"},"items":[');
  });
  await new Promise<void>((res) => halfway.listen(0, '127.0.0.1', res));
  t.teardown(() => {
    halfway.closeAllConnections();
    halfway.close();
  });
  const b = await bare(t, `http://127.0.0.1:${(halfway.address() as { port: number }).port}`, { requestTimeoutMs: 200 });
  await until(() => b.restarts.length >= 2, 10_000, 'two body timeouts');
  t.notOk(b.r.synced, 'a half list is never applied');
});

t.test('resourceVersions going backwards (etcd restored from a backup) end in a re-list, not endless re-watches', async (t) => {
  const first = await FakeApiServer.start({ initialResourceVersion: 5000 });
  const port = first.port;
  first.create(apiService('default', 'old', { clusterIPs: ['10.96.0.5'] }));
  const { model, r } = await bare(t, first.url);
  await until(() => r.synced, 10_000, 'synced with the first server');
  await first.stop();
  const second = await FakeApiServer.start({ port, initialResourceVersion: 1000, tooLargeWaitMs: 100 });
  t.teardown(() => second.stop());
  second.create(apiService('default', 'restored', { clusterIPs: ['10.96.0.6'] }));
  await until(() => model.get('Service', 'default', 'restored'), 10_000, 'the restored server content is listed');
  t.notOk(model.get('Service', 'default', 'old'), 'and what it does not have is gone');
});

t.test('a healthy watch that drops now and then is re-opened at once every time', async (t) => {
  const api = await FakeApiServer.start();
  t.teardown(() => api.stop());
  const { model } = await bare(t, api.url, { backoffInitialMs: 100, backoffMaxMs: 3200, healthyMs: 60_000 });
  for (let i = 0; i < 5; i++) {
    await until(() => api.watchCount('services') === 1, 10_000, 'watch open');
    api.create(apiService('default', `d${i}`, { clusterIPs: [`10.96.1.${i + 1}`] }));
    await until(() => model.get('Service', 'default', `d${i}`), 10_000, 'event delivered');
    const before = Date.now();
    api.dropWatches('services');
    await until(() => api.watchCount('services') === 1, 10_000, 're-opened');
    t.ok(Date.now() - before < 1000, `drop ${i + 1}: re-opened after ${Date.now() - before} ms (the backoff did not grow)`);
  }
});

t.test('without bookmarks a quiet watch is re-opened quietly; 429 waits for Retry-After; errors after a response are not counted twice', async (t) => {
  const api = await FakeApiServer.start();
  t.teardown(() => api.stop());
  const { logs, restarts, requests, r } = await bare(t, api.url, { stallMs: 150 });
  await until(() => restarts.filter((x) => x === 'stalled').length >= 3, 10_000, 'quiet watches re-opened');
  t.equal(logs.filter((l) => l.level >= 40).length, 0, 'no warning: this server never sent a bookmark');
  t.ok(logs.some((l) => l.level === 20 && l.msg.includes('received nothing')), 'logged at debug');
  t.equal(requests.filter((s) => s === 0).length, 0, 'aborting a stalled watch is not counted as a failed request');
  t.ok(requests.length <= api.requests.length && requests.length >= api.requests.length - 1, 'one count per request (one may be in flight)');

  api.failNext(2, { status: 429, verb: 'list' });
  // The quiet watch is re-opened every 150 ms; after a compaction its next re-open is too old and re-lists.
  api.compact();
  const before = api.requestsOf('services', 'list').length;
  await until(() => api.requestsOf('services', 'list').length >= before + 3, 10_000, 'two 429s and a good list');
  const at = api.requestsOf('services', 'list').slice(before).map((q) => q.at);
  t.ok(at[1]! - at[0]! >= 950 && at[2]! - at[1]! >= 950, `retried after ${at[1]! - at[0]!} and ${at[2]! - at[1]!} ms (Retry-After: 1)`);
  t.ok(logs.some((l) => l.level === 40 && l.msg.includes('HTTP 429')), '429 logged as a warning');
  t.ok(r.synced);
});

t.test('a list page that is a 410 Status, or cut mid-object, drops the listing and lists again from the first page', async (t) => {
  const http = await import('node:http');
  for (const trouble of ['status410', 'cut'] as const) {
    const paths: string[] = [];
    let troubled = false;
    const services = ['a', 'b', 'c'].map((n, i) => apiService('default', n, { clusterIPs: [`10.96.1.${i + 1}`] }));
    const srv = http.createServer((req, res) => {
      const url = new URL(req.url!, 'http://x');
      res.writeHead(200, { 'content-type': 'application/json' });
      if (url.searchParams.get('watch') === 'true') return void res.write(''); // a watch that stays quiet
      paths.push(url.searchParams.get('continue') ?? '');
      const page = (items: unknown[], cont: string) =>
        JSON.stringify({ kind: 'ServiceList', apiVersion: 'v1', metadata: { resourceVersion: '7', ...(cont ? { continue: cont } : {}) }, items });
      if (!url.searchParams.get('continue')) return void res.end(page(services.slice(0, 2), 'c1'));
      if (!troubled) {
        troubled = true;
        if (trouble === 'status410') {
          return void res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', message: 'continue token too old', code: 410 }));
        }
        const text = page(services.slice(2), '');
        res.write(text.slice(0, text.indexOf('"spec"')));
        return void setTimeout(() => res.socket?.destroy(), 20);
      }
      res.end(page(services.slice(2), ''));
    });
    await new Promise<void>((res) => srv.listen(0, '127.0.0.1', res));
    t.teardown(() => {
      srv.closeAllConnections();
      srv.close();
    });
    const b = await bare(t, `http://127.0.0.1:${(srv.address() as { port: number }).port}`);
    await until(() => b.r.synced, 10_000, `synced after ${trouble}`);
    t.same(paths, ['', 'c1', '', 'c1'], `${trouble}: the listing started again from its first page`);
    t.same(b.restarts, [trouble === 'status410' ? 'expired' : 'error'], `${trouble}: counted as ${trouble === 'status410' ? 'an expired list' : 'an error'}`);
    t.equal(b.model.size('Service'), 3, `${trouble}: each Service once`);
    t.equal(b.r.resourceVersion, '7');
    await b.r.stop();
  }
});
