// The API source's pure parts: backoff, timing overrides, failure messages and which collections are watched.
import t from 'tap';
import { collectionsFor } from '../../../lib/kube/api/api-source.js';
import { ApiError, apiError } from '../../../lib/kube/api/client.js';
import { Backoff, describeFailure, timingFromEnv, type CollectionSpec } from '../../../lib/kube/api/reflector.js';

t.test('backoff doubles to its cap with ±20% jitter and resets', async (t) => {
  let r = 0;
  const b = new Backoff(500, 30_000, () => r);
  const lows = Array.from({ length: 8 }, () => b.delay());
  t.same(lows, [400, 800, 1600, 3200, 6400, 12800, 24000, 24000], 'random 0: 80% of the base, capped at 30 s');
  b.reset();
  r = 0.9999999;
  t.equal(b.delay(), 600, 'random ~1: 120% of the base');
  t.equal(b.delay(), 1200);
  const real = new Backoff(1000, 4000);
  for (let i = 0; i < 50; i++) {
    const d = real.delay();
    t.ok(d >= 800 && d <= 4800, `delay ${d} within the jittered cap`);
  }
});

t.test('timing overrides from the environment', async (t) => {
  t.same(timingFromEnv({}), {});
  t.same(
    timingFromEnv({
      CLUSTERDNS_API_PAGE_SIZE: '50',
      CLUSTERDNS_API_WATCH_TIMEOUT_SECONDS: '5-9',
      CLUSTERDNS_API_STALL_MS: '700',
      CLUSTERDNS_API_BACKOFF_INITIAL_MS: '20',
      CLUSTERDNS_API_BACKOFF_MAX_MS: '200',
      CLUSTERDNS_API_HEALTHY_MS: '100',
    }),
    { pageSize: 50, watchTimeoutSeconds: [5, 9], stallMs: 700, backoffInitialMs: 20, backoffMaxMs: 200, healthyMs: 100 },
  );
  t.same(timingFromEnv({ CLUSTERDNS_API_WATCH_TIMEOUT_SECONDS: '30' }), { watchTimeoutSeconds: [30, 30] });
  t.throws(() => timingFromEnv({ CLUSTERDNS_API_STALL_MS: 'soon' }), { message: /CLUSTERDNS_API_STALL_MS must be a positive number, got "soon"/ });
  t.throws(() => timingFromEnv({ CLUSTERDNS_API_PAGE_SIZE: '0' }), { message: /CLUSTERDNS_API_PAGE_SIZE/ });
  t.throws(() => timingFromEnv({ CLUSTERDNS_API_WATCH_TIMEOUT_SECONDS: '9-5' }), { message: /MIN-MAX/ });
  t.throws(() => timingFromEnv({ CLUSTERDNS_API_WATCH_TIMEOUT_SECONDS: '0.5' }), { message: /MIN-MAX/ }, 'whole seconds only: 0 would mean no timeout');
  t.same(timingFromEnv({ CLUSTERDNS_API_REQUEST_TIMEOUT_MS: '250' }), { requestTimeoutMs: 250 });
});

t.test('collections: what is watched, where, with which selectors', async (t) => {
  const base = { namespaces: [], labelSelector: '', namespaceSelector: '', endpointSlices: true, pods: false };
  const brief = (specs: CollectionSpec[]) => specs.map((s) => `${s.kind} ${s.path} ${s.labelSelector}`.trim());
  t.same(brief(collectionsFor(base)), ['Namespace /api/v1/namespaces', 'Service /api/v1/services', 'EndpointSlice /apis/discovery.k8s.io/v1/endpointslices']);
  t.same(brief(collectionsFor({ ...base, endpointSlices: false, pods: true })), ['Namespace /api/v1/namespaces', 'Service /api/v1/services', 'Pod /api/v1/pods']);
  const pods = collectionsFor({ ...base, pods: true, labelSelector: 'app=x' }).find((s) => s.kind === 'Pod')!;
  t.equal(pods.fieldSelector, 'status.phase!=Succeeded,status.phase!=Failed,status.phase!=Unknown', 'finished Pods left out server-side, as CoreDNS');
  t.equal(pods.labelSelector, 'app=x', '`labels` applies to Pods too');
  t.same(
    brief(collectionsFor({ ...base, namespaces: ['a', 'b'], labelSelector: 'app=web', namespaceSelector: 'team in (x)' })),
    [
      'Namespace /api/v1/namespaces team in (x)',
      'Service /api/v1/namespaces/a/services app=web',
      'Service /api/v1/namespaces/b/services app=web',
      'EndpointSlice /apis/discovery.k8s.io/v1/namespaces/a/endpointslices app=web',
      'EndpointSlice /apis/discovery.k8s.io/v1/namespaces/b/endpointslices app=web',
    ],
  );
  const ns = collectionsFor({ ...base, namespaces: ['a'] }).find((s) => s.kind === 'Service')!;
  t.equal(ns.namespace, 'a');
  t.equal(ns.resource, 'services');
});

t.test('failure messages name the missing permission', async (t) => {
  const [, , slices] = collectionsFor({ namespaces: [], labelSelector: '', namespaceSelector: '', endpointSlices: true, pods: false });
  const forbidden = apiError(
    403,
    JSON.stringify({ kind: 'Status', reason: 'Forbidden', message: 'endpointslices.discovery.k8s.io is forbidden: User "x" cannot list resource', code: 403 }),
  );
  t.equal(forbidden.reason, 'Forbidden');
  const msg = describeFailure(slices!, forbidden);
  t.match(msg, /permission denied: cannot list\/watch endpointslices\.discovery\.k8s\.io at the cluster scope/);
  t.match(msg, /grant the verbs list and watch on "endpointslices" in API group "discovery\.k8s\.io"/);
  t.match(msg, /The API said: endpointslices\.discovery\.k8s\.io is forbidden/);
  t.match(describeFailure(slices!, new ApiError(401, 'Unauthorized', 'Unauthorized')), /unauthorized: the API server rejected our credentials/);
  t.match(describeFailure(slices!, apiError(500, '<html>oops</html>')), /HTTP 500: <html>oops<\/html>/);
  t.equal(apiError(429, '{}', '3').retryAfterMs, 3000, 'Retry-After header');
  t.equal(apiError(429, JSON.stringify({ details: { retryAfterSeconds: 2 } })).retryAfterMs, 2000, 'Status details.retryAfterSeconds');
  t.equal(apiError(503, '{}', '3600').retryAfterMs, 60_000, 'capped at a minute');
  t.equal(apiError(500, '{}').retryAfterMs, 0);
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
  t.match(describeFailure(slices!, refused), /endpointslices\.discovery\.k8s\.io at the cluster scope: ECONNREFUSED connect ECONNREFUSED/);
});
