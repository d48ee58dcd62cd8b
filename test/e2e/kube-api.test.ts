// The real server against the fake API server (test/support/fake-apiserver.ts), end to end over DNS: the three
// connection modes, initial sync, changes of every kind propagating, SERVFAIL-not-NXDOMAIN before the first sync,
// readiness, an API outage that keeps answers, and recovery from 410s, dropped and stalled watches, 500s and
// objects DNS cannot use.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ask, rcodeOf } from '../support/client.js';
import { freePort, pollUntil, section, tempDir } from '../support/e2e-cluster.js';
import { FakeApiServer, writeKubeconfig } from '../support/fake-apiserver.js';
import { httpGet, sample } from '../support/http.js';
import { startServer, type Started } from '../support/server.js';
import { apiNamespace, apiPod, apiService, apiSlice } from '../support/api-objects.js';

const WAIT_MS = 5000;
const { dir, cleanup } = tempDir('kube-api');
t.teardown(cleanup);

// Short timings so stalls and backoffs resolve within a test; read by the server from the environment.
const TIMING_ENV = {
  CLUSTERDNS_API_STALL_MS: '800',
  CLUSTERDNS_API_BACKOFF_INITIAL_MS: '50',
  CLUSTERDNS_API_BACKOFF_MAX_MS: '300',
  CLUSTERDNS_API_HEALTHY_MS: '200',
  CLUSTERDNS_API_PAGE_SIZE: '2',
};
Object.assign(process.env, TIMING_ENV);
t.teardown(() => {
  for (const k of Object.keys(TIMING_ENV)) delete process.env[k];
});

const Z = 'cluster.local';

/** The standard small cluster: every record family once. */
function seed(api: FakeApiServer): void {
  for (const ns of ['default', 'team']) api.create(apiNamespace(ns));
  api.create(apiService('default', 'web', { clusterIPs: ['10.96.0.10'], ports: [['http', 'TCP', 80]] }));
  api.create(apiSlice('default', 'web-1', 'web', [{ ip: '10.244.0.10' }]));
  api.create(apiService('default', 'dual', { clusterIPs: ['10.96.0.11', 'fd00::11'] }));
  api.create(apiService('team', 'db', { clusterIPs: ['None'], ports: [['pg', 'TCP', 5432]] }));
  api.create(apiSlice('team', 'db-a', 'db', [{ ip: '10.244.1.1', hostname: 'db-0' }, { ip: '10.244.1.2', hostname: 'db-1' }], [['pg', 'TCP', 5432]]));
  api.create(apiService('team', 'ext', { externalName: 'example.com' }));
}

interface Env {
  api: FakeApiServer;
  srv: Started;
  /** Answers of `name` `type` as `name ttl TYPE data` lines (empty for NXDOMAIN/NODATA), with the rcode. */
  lookup(name: string, type?: string): Promise<{ rcode: string; answer: string[] }>;
  /** Polls until `check` holds for the lookup of `name`. */
  until(name: string, type: string, check: (r: { rcode: string; answer: string[] }) => boolean, what: string): Promise<void>;
  logs(): Array<Record<string, unknown>>;
}

async function setup(
  t: Tap.Test,
  o: { tls?: boolean; token?: string; clientCA?: boolean; corefile?: (api: FakeApiServer, dir: string) => string; seed?: boolean; restoreEnv?: string[]; waitSync?: boolean } = {},
): Promise<Env> {
  // Bookmarks every 250 ms keep healthy idle watches talking, as a real API server's (about once a minute) do.
  const api = await FakeApiServer.start({ tls: o.tls ?? true, token: o.token ?? 'secret-token', clientCA: o.clientCA, bookmarkIntervalMs: 250 });
  t.teardown(() => api.stop());
  if (o.seed ?? true) seed(api);
  const sub = path.join(dir, `case-${Math.random().toString(36).slice(2)}`);
  mkdirSync(sub);
  const kubeconfig = path.join(sub, 'kubeconfig');
  writeKubeconfig(kubeconfig, { server: api.url, token: o.token ?? 'secret-token', caFile: api.pki?.caFile });
  const saved: NodeJS.ProcessEnv = {};
  for (const k of o.restoreEnv ?? []) saved[k] = process.env[k];
  t.teardown(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  const body = o.corefile ? o.corefile(api, sub) : `kubernetes ${Z} in-addr.arpa ip6.arpa {\n        kubeconfig ${kubeconfig}\n    }`;
  const srv = await startServer(`.:0 {\n    ${body}\n}\n`);
  t.teardown(() => srv.stop());
  // On a busy machine the first import of the API client alone can outlast startup_timeout (5 s).
  if (o.waitSync ?? true) {
    const synced = await pollUntil(() => srv.logs.some((l) => l.msg === 'Kubernetes API synced'), 20_000);
    if (!synced.ok) throw new Error('the server did not sync with the fake API server within 20 s');
  }
  const lookup = async (name: string, type = 'A') => {
    const r = await ask(srv.port, name, type);
    return { rcode: rcodeOf(r), answer: section(r, 'answers') };
  };
  return {
    api,
    srv,
    lookup,
    async until(name, type, check, what) {
      let last: { rcode: string; answer: string[] } | undefined;
      const r = await pollUntil(async () => check((last = await lookup(name, type))), WAIT_MS, 25);
      t.ok(r.ok, `${what} (${r.ms} ms)${r.ok ? '' : `: last answer ${JSON.stringify(last)}`}`);
    },
    logs: () => srv.logs,
  };
}

const a = (name: string, ip: string) => `${name} 5 A ${ip}`;

t.test('kubeconfig with token over TLS: initial sync serves every record family', async (t) => {
  const e = await setup(t);
  t.same(await e.lookup(`web.default.svc.${Z}`), { rcode: 'NOERROR', answer: [a(`web.default.svc.${Z}`, '10.96.0.10')] });
  t.same((await e.lookup(`dual.default.svc.${Z}`, 'AAAA')).answer, [`dual.default.svc.${Z} 5 AAAA fd00::11`]);
  t.same((await e.lookup(`db.team.svc.${Z}`)).answer, [a(`db.team.svc.${Z}`, '10.244.1.1'), a(`db.team.svc.${Z}`, '10.244.1.2')]);
  t.same((await e.lookup(`db-1.db.team.svc.${Z}`)).answer, [a(`db-1.db.team.svc.${Z}`, '10.244.1.2')]);
  t.same((await e.lookup(`_pg._tcp.db.team.svc.${Z}`, 'SRV')).answer.length, 2);
  t.same((await e.lookup(`ext.team.svc.${Z}`, 'CNAME')).answer, [`ext.team.svc.${Z} 5 CNAME example.com`]);
  t.same((await e.lookup('10.0.96.10.in-addr.arpa', 'PTR')).answer, [`10.0.96.10.in-addr.arpa 5 PTR web.default.svc.${Z}`]);
  t.same(await e.lookup(`nope.default.svc.${Z}`), { rcode: 'NXDOMAIN', answer: [] });
  // Lists were paged (page size 2) and every request carried the token.
  const lists = e.api.requests.filter((r) => !r.watch && r.path === '/api/v1/services');
  t.ok(lists.length >= 2, `services listed in ${lists.length} pages`);
  t.ok(e.api.requests.every((r) => r.auth === 'token'), 'every request authenticated by the bearer token');
  const watches = e.api.requests.filter((r) => r.watch);
  t.ok(watches.every((r) => r.query.allowWatchBookmarks === 'true' && Number(r.query.timeoutSeconds) >= 300), 'watches ask for bookmarks and a server-side timeout');
  const synced = e.logs().find((l) => l.msg === 'Kubernetes API synced');
  t.ok(synced, 'sync logged');
  t.equal(synced?.services, 4, 'with the object counts');
});

t.test('changes of every kind propagate', async (t) => {
  const e = await setup(t);
  const web = `web.default.svc.${Z}`;
  // Service create, update, delete.
  e.api.create(apiService('default', 'new', { clusterIPs: ['10.96.0.20'] }));
  await e.until(`new.default.svc.${Z}`, 'A', (r) => r.answer.includes(a(`new.default.svc.${Z}`, '10.96.0.20')), 'created Service answered');
  e.api.update(apiService('default', 'new', { clusterIPs: ['10.96.0.21'] }));
  await e.until(`new.default.svc.${Z}`, 'A', (r) => r.answer.includes(a(`new.default.svc.${Z}`, '10.96.0.21')), 'updated Service answered');
  e.api.remove('Service', 'default', 'new');
  await e.until(`new.default.svc.${Z}`, 'A', (r) => r.rcode === 'NXDOMAIN', 'deleted Service is NXDOMAIN');
  // EndpointSlice readiness flips and a second slice for the same Service.
  const db = `db.team.svc.${Z}`;
  e.api.update(apiSlice('team', 'db-a', 'db', [{ ip: '10.244.1.1', hostname: 'db-0' }, { ip: '10.244.1.2', hostname: 'db-1', ready: false }], [['pg', 'TCP', 5432]]));
  await e.until(db, 'A', (r) => r.answer.length === 1 && r.answer[0] === a(db, '10.244.1.1'), 'not-ready endpoint dropped');
  e.api.create(apiSlice('team', 'db-b', 'db', [{ ip: '10.244.2.7', hostname: 'db-2' }], [['pg', 'TCP', 5432]]));
  await e.until(db, 'A', (r) => r.answer.length === 2 && r.answer.includes(a(db, '10.244.2.7')), 'second slice merged');
  e.api.update(apiSlice('team', 'db-a', 'db', [{ ip: '10.244.1.1', hostname: 'db-0' }, { ip: '10.244.1.2', hostname: 'db-1', ready: true }], [['pg', 'TCP', 5432]]));
  await e.until(db, 'A', (r) => r.answer.length === 3, 'ready again');
  e.api.remove('EndpointSlice', 'team', 'db-a');
  e.api.remove('EndpointSlice', 'team', 'db-b');
  await e.until(db, 'A', (r) => r.rcode === 'NXDOMAIN', 'headless Service without endpoints is NXDOMAIN');
  // Namespaces: `<ns>.svc` exists only while the Namespace does.
  await e.until(`team.svc.${Z}`, 'A', (r) => r.rcode === 'NOERROR', 'namespace name is NODATA');
  e.api.remove('Namespace', '', 'team');
  await e.until(`team.svc.${Z}`, 'A', (r) => r.rcode === 'NXDOMAIN', 'deleted Namespace is NXDOMAIN');
  e.api.create(apiNamespace('later'));
  await e.until(`later.svc.${Z}`, 'A', (r) => r.rcode === 'NOERROR' && r.answer.length === 0, 'new Namespace is NODATA');
  t.same((await e.lookup(web)).answer, [a(web, '10.96.0.10')], 'untouched names keep answering');
});

t.test('pods verified watches Pods; without it no Pod is listed', async (t) => {
  const e = await setup(t, {
    corefile: (api, d) => {
      const kc = path.join(d, 'kc');
      writeKubeconfig(kc, { server: api.url, token: 'secret-token', caFile: api.pki?.caFile });
      return `kubernetes ${Z} {\n        kubeconfig ${kc}\n        pods verified\n    }`;
    },
  });
  e.api.create(apiPod('default', 'p1', '10.244.3.3'));
  await e.until(`10-244-3-3.default.pod.${Z}`, 'A', (r) => r.answer.includes(a(`10-244-3-3.default.pod.${Z}`, '10.244.3.3')), 'pod A record');
  e.api.remove('Pod', 'default', 'p1');
  await e.until(`10-244-3-3.default.pod.${Z}`, 'A', (r) => r.rcode === 'NXDOMAIN', 'deleted pod is NXDOMAIN');
  t.ok(e.api.requests.some((r) => r.path === '/api/v1/pods'), 'pods listed and watched');

  const plain = await setup(t);
  t.notOk(plain.api.requests.some((r) => r.path.endsWith('/pods')), 'pods disabled: Pods are never requested');
});

t.test('namespaces and labels narrow what is listed, server-side', async (t) => {
  const e = await setup(t, {
    corefile: (api, d) => {
      const kc = path.join(d, 'kc');
      writeKubeconfig(kc, { server: api.url, token: 'secret-token', caFile: api.pki?.caFile });
      return `kubernetes ${Z} {\n        kubeconfig ${kc}\n        namespaces team\n        labels app!=hidden\n    }`;
    },
  });
  t.same((await e.lookup(`web.default.svc.${Z}`)).rcode, 'NXDOMAIN', 'other namespace not exposed');
  t.same((await e.lookup(`db.team.svc.${Z}`)).answer.length, 2);
  e.api.create(apiService('team', 'secret', { clusterIPs: ['10.96.0.30'], labels: { app: 'hidden' } }));
  e.api.create(apiService('team', 'shown', { clusterIPs: ['10.96.0.31'], labels: { app: 'shown' } }));
  await e.until(`shown.team.svc.${Z}`, 'A', (r) => r.rcode === 'NOERROR', 'matching Service answered');
  t.same((await e.lookup(`secret.team.svc.${Z}`)).rcode, 'NXDOMAIN', 'label-excluded Service not answered');
  const svcRequests = e.api.requests.filter((r) => r.path.includes('services'));
  t.ok(svcRequests.length > 0 && svcRequests.every((r) => r.path === '/api/v1/namespaces/team/services' && r.query.labelSelector === 'app!=hidden'), 'namespaced path and label selector sent');
});

t.test('before the first sync: SERVFAIL with SOA instead of NXDOMAIN, not ready; a missing permission is named once', async (t) => {
  const readyPort = await freePort();
  const e = await setup(t, {
    corefile: (api, d) => {
      api.forbid('endpointslices');
      const kc = path.join(d, 'kc');
      writeKubeconfig(kc, { server: api.url, token: 'secret-token', caFile: api.pki?.caFile });
      return `kubernetes ${Z} {\n        kubeconfig ${kc}\n        startup_timeout 300ms\n    }\n    ready 127.0.0.1:${readyPort}`;
    },
    waitSync: false,
  });
  const r = await ask(e.srv.port, `nope.default.svc.${Z}`, 'A');
  t.equal(rcodeOf(r), 'SERVFAIL', 'would-be NXDOMAIN is SERVFAIL while unsynced');
  t.equal(r.authorities?.[0]?.type, 'SOA', 'with the SOA');
  t.same((await e.lookup(`web.default.svc.${Z}`)).answer, [a(`web.default.svc.${Z}`, '10.96.0.10')], 'positive answers from what is listed');
  t.equal((await httpGet(readyPort, '/ready')).status, 503, '/ready is 503');
  t.ok(e.logs().some((l) => l.msg === 'starting server with unsynced Kubernetes API'), 'startup timeout warned');
  await pollUntil(() => e.api.requests.filter((x) => x.path.includes('endpointslices')).length >= 3, WAIT_MS);
  const denied = e.logs().filter((l) => typeof l.msg === 'string' && l.msg.includes('permission denied'));
  t.equal(denied.length, 1, 'the missing permission is logged once, not per retry');
  t.match(denied[0]?.msg, /endpointslices\.discovery\.k8s\.io.*list and watch on "endpointslices" in API group "discovery\.k8s\.io"/);
  e.api.allow('endpointslices');
  await e.until(`nope.default.svc.${Z}`, 'A', (x) => x.rcode === 'NXDOMAIN', 'NXDOMAIN once synced');
  t.equal((await httpGet(readyPort, '/ready')).status, 200, '/ready is 200 after the sync');
  t.ok(e.logs().some((l) => l.msg === 'Kubernetes API connection recovered'), 'recovery logged');
});

t.test('an API outage keeps answers; changes made meanwhile arrive after it (new resourceVersion epoch → 410 → re-list)', async (t) => {
  const e = await setup(t);
  const web = `web.default.svc.${Z}`;
  const restarting = e.api.restart({ downMs: 1500, newEpoch: true });
  // While the API is down, answers keep coming from the last known zone.
  for (let i = 0; i < 5; i++) {
    t.same((await e.lookup(web)).answer, [a(web, '10.96.0.10')], `answer ${i + 1} during the outage`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await restarting;
  e.api.update(apiService('default', 'web', { clusterIPs: ['10.96.0.99'] }));
  await e.until(web, 'A', (r) => r.answer.includes(a(web, '10.96.0.99')), 'change after the outage propagates');
  const m = await metrics(e);
  t.ok((sample(m, 'clusterdns_kubernetes_watch_restarts_total', { resource: 'services', reason: 'error' }) ?? 0) + (sample(m, 'clusterdns_kubernetes_watch_restarts_total', { resource: 'services', reason: 'expired' }) ?? 0) >= 1, 'restarts counted');
});

t.test('recovers from 410 in the stream, dropped, closed and stalled watches, 500s and garbage objects', async (t) => {
  const e = await setup(t);
  let n = 0;
  const change = async (what: string) => {
    n++;
    const name = `s${n}.default.svc.${Z}`;
    e.api.create(apiService('default', `s${n}`, { clusterIPs: [`10.96.1.${n}`] }));
    await e.until(name, 'A', (r) => r.answer.includes(a(name, `10.96.1.${n}`)), `a change after ${what} propagates`);
  };
  e.api.sendError('services', 410);
  await change('an in-stream 410');
  e.api.compact();
  e.api.dropWatches();
  await change('dropped watches with compacted history (too old → re-list)');
  e.api.closeWatches();
  await change('cleanly closed watches');
  const stallLogs = () => e.logs().filter((l) => typeof l.msg === 'string' && l.msg.includes('received nothing'));
  t.equal(stallLogs().length, 0, 'idle watches with bookmarks are not taken for stalled');
  // Stall the open watch (not one still waiting out a backoff after the close above).
  await pollUntil(() => e.api.watchCount('services') === 1, WAIT_MS);
  await new Promise((r) => setTimeout(r, 300));
  e.api.stall('services', true);
  await new Promise((r) => setTimeout(r, 100));
  e.api.stall('services', false);
  await change('a stalled watch (re-opened after 800 ms of silence)');
  t.same(stallLogs().map((l) => l.resource), ['services'], 'the stalled watch, and only it, was re-opened');
  e.api.failNext(3, { status: 500, verb: 'watch', resource: 'services' });
  e.api.dropWatches('services');
  await change('500s on re-watch');
  e.api.failNext(2, { status: 500, verb: 'list', resource: 'services' });
  e.api.sendError('services', 410);
  await change('500s on re-list');
  // An object DNS cannot use (a port that is not a number) is skipped with a warning; the rest keeps working.
  e.api.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'broken', namespace: 'default' }, spec: { clusterIP: '10.96.2.2', ports: [{ port: 'eighty' }] } });
  await change('an unusable object');
  t.ok(e.logs().some((l) => typeof l.msg === 'string' && l.msg.includes('ignoring an object DNS cannot use')), 'garbage object logged');
  const m = await metrics(e);
  for (const reason of ['expired', 'stalled', 'error']) {
    t.ok((sample(m, 'clusterdns_kubernetes_watch_restarts_total', { resource: 'services', reason }) ?? 0) >= 1, `restart reason ${reason} counted`);
  }
  t.equal(sample(m, 'clusterdns_kubernetes_synced'), 1);
  t.ok((sample(m, 'coredns_kubernetes_rest_client_requests_total', { code: '500', method: 'GET', host: new URL(e.api.url).host }) ?? 0) >= 1, 'failed requests counted');
});

t.test('endpoint with tls (client certificate) and in-cluster configuration', async (t) => {
  const mtls = await setup(t, {
    clientCA: true,
    corefile: (api) => `kubernetes ${Z} {\n        endpoint ${api.url}\n        tls ${api.pki!.clientCertFile} ${api.pki!.clientKeyFile} ${api.pki!.caFile}\n    }`,
  });
  t.same((await mtls.lookup(`web.default.svc.${Z}`)).answer, [a(`web.default.svc.${Z}`, '10.96.0.10')], 'endpoint+tls synced');
  t.ok(mtls.api.requests.length > 0 && mtls.api.requests.every((r) => r.auth === 'cert'), 'authenticated by the client certificate');

  const root = path.join(dir, 'sa-root');
  const saDir = path.join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
  mkdirSync(saDir, { recursive: true });
  let apiForSA: FakeApiServer | undefined;
  const inCluster = await setup(t, {
    token: 'sa-token',
    corefile: (api) => {
      apiForSA = api;
      writeFileSync(path.join(saDir, 'token'), 'sa-token');
      writeFileSync(path.join(saDir, 'ca.crt'), api.pki!.caPem);
      writeFileSync(path.join(saDir, 'namespace'), 'kube-system');
      const u = new URL(api.url);
      process.env.KUBERNETES_SERVICE_HOST = u.hostname;
      process.env.KUBERNETES_SERVICE_PORT = u.port;
      process.env.CLUSTERDNS_SERVICEACCOUNT_ROOT = root;
      return `kubernetes ${Z}`;
    },
    restoreEnv: ['KUBERNETES_SERVICE_HOST', 'KUBERNETES_SERVICE_PORT', 'CLUSTERDNS_SERVICEACCOUNT_ROOT'],
  });
  t.same((await inCluster.lookup(`web.default.svc.${Z}`)).answer, [a(`web.default.svc.${Z}`, '10.96.0.10')], 'in-cluster synced');
  t.ok(apiForSA!.requests.every((r) => r.auth === 'token'), 'with the service-account token');
});

/** The server's Prometheus exposition (the registry the prometheus plugin would serve). */
function metrics(e: Env): Promise<string> {
  return e.srv.inst.server.metrics.metrics();
}
