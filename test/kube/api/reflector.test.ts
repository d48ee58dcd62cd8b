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
  await until(() => r.synced, 5000, 'first list');
  return { api, model, r, restarts, client };
}

t.test('lists in pages from one snapshot, then watches from the list resourceVersion', async (t) => {
  const { api, model, r } = await harness(t);
  t.equal(model.size('Service'), 7);
  const lists = api.requestsOf('services', 'list');
  t.same(lists.map((q) => q.query.limit), ['3', '3', '3'], 'three pages of 3');
  t.notOk(lists[0]!.query.continue, 'first page without continue');
  t.ok(lists[1]!.query.continue && lists[2]!.query.continue, 'later pages continue');
  await until(() => api.watchCount('services') === 1, 3000, 'watch open');
  const watch = api.requestsOf('services', 'watch')[0]!;
  t.equal(watch.query.resourceVersion, r.resourceVersion, 'watch starts at the list resourceVersion');
  api.create(apiService('default', 'late', { clusterIPs: ['10.96.0.99'] }));
  await until(() => model.get('Service', 'default', 'late'), 3000, 'watched add');
  t.equal(r.resourceVersion, api.resourceVersion, 'resourceVersion follows the events');
  api.bookmark('services');
  api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'other' } });
  api.bookmark('services');
  await until(() => r.resourceVersion === api.resourceVersion, 3000, 'bookmark advances the resourceVersion');
  t.pass('bookmarks advance the resourceVersion without events');
});

t.test('an HTTP 410 on the watch and an expired continue token re-list; a re-list deletes what vanished', async (t) => {
  const { api, model, restarts } = await harness(t, { expiredAsHttp410: true });
  await until(() => api.watchCount('services') === 1, 3000, 'watch open');
  api.stall('services', true); // events stop reaching the open watch...
  api.remove('Service', 'default', 's0');
  api.compact(); // ...and its resourceVersion is now too old
  api.stall('services', false);
  api.dropWatches('services');
  await until(() => !model.get('Service', 'default', 's0'), 5000, 're-list removed the vanished Service');
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
  await until(() => api.watchCount('services') === 1, 3000, 'watch open');
  const listsBefore = api.requestsOf('services', 'list').length;
  api.create(apiService('default', 'poison', { clusterIPs: ['10.96.0.66'] }));
  await until(() => model.get('Service', 'default', 'poison'), 5000, 'the object arrives through the re-list');
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
  await until(() => api.watchCount('services') === 1, 3000, 'watch open');
  api.failNext(4, { status: 500, resource: 'services' });
  api.sendError('services', 410);
  api.create(apiService('default', 'after', { clusterIPs: ['10.96.0.77'] }));
  await until(() => model.get('Service', 'default', 'after'), 5000, 'recovered');
  const statuses = api.requestsOf('services').map((q) => q.status);
  t.ok(statuses.filter((s) => s === 500).length === 4, 'four 500s were served and retried');
});

t.test('stop() ends everything: no request, timer or event afterwards', async (t) => {
  const { api, model, r } = await harness(t);
  await until(() => api.watchCount('services') === 1, 3000, 'watch open');
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
  // 7 objects in pages of 3 = 3 list requests + 1 watch, at most 20/s after the first.
  const times = api.requests.map((q) => q.at);
  const span = times[times.length - 1]! - times[0]!;
  t.ok(span >= 90, `4 requests spread over ${span} ms by a 20 QPS limit`);
  t.equal(client.host, new URL(api.url).host);
});
