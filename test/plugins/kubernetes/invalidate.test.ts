// Which name suffixes a cluster change invalidates, for every kind of zone list (the cache and the fast path's memo
// purge by these, so a wrong suffix means stale answers).
import t from 'tap';
import { affectedSuffixes } from '../../../lib/plugins/kubernetes/invalidate.js';
import type { ChangeEvent, EndpointSlice } from '../../../lib/kube/types.js';
import { ClusterModel } from '../../../lib/kube/model.js';
import { ClusterZone } from '../../../lib/zone/cluster-zone.js';
import { reverseName } from '../../../lib/dns/reverse.js';
import { ns, pod, slice, svc, ep } from '../../support/k8s-objects.js';
import { seededRandom } from '../../support/random.js';

const events: ChangeEvent[] = [
  { kind: 'Service', type: 'added', obj: svc('team', 'web', { ips: ['10.96.0.10'] }) },
  { kind: 'EndpointSlice', type: 'added', obj: slice('team', 'db-1', 'db', [ep('10.244.0.5')]) },
  { kind: 'Namespace', type: 'deleted', old: ns('gone') },
  { kind: 'Pod', type: 'added', obj: pod('team', 'p', '10.244.9.9') },
];

t.test('suffixes under each forward zone, including the root zone', async (t) => {
  const sorted = (zones: string[]) => [...affectedSuffixes(events, zones)].sort();
  t.same(sorted(['cluster.local.', 'in-addr.arpa.']), [
    '10.0.96.10.in-addr.arpa.',
    '5.0.244.10.in-addr.arpa.',
    '9.9.244.10.in-addr.arpa.',
    'db.team.svc.cluster.local.',
    'gone.pod.cluster.local.',
    'gone.svc.cluster.local.',
    'team.pod.cluster.local.',
    'web.team.svc.cluster.local.',
  ]);
  const root = sorted(['.']);
  t.ok(root.includes('web.team.svc.') && root.includes('db.team.svc.') && root.includes('gone.pod.'), 'root zone: `name.`');
  t.notOk(root.some((s) => s.includes('..')), 'never an empty label');
  const two = sorted(['cluster.local.', 'example.org.']);
  t.ok(two.includes('web.team.svc.cluster.local.') && two.includes('web.team.svc.example.org.'), 'every forward zone');
});

t.test('a slice update invalidates the reverse names of exactly the endpoints it changed', async (t) => {
  const e = (s: EndpointSlice): ChangeEvent[] => [{ kind: 'EndpointSlice', type: 'modified', obj: s, old: base }];
  const baseEndpoints = [ep('10.244.0.1', { hostname: 'a' }), ep('10.244.0.2'), ep('10.244.0.3', { ready: false })];
  const base = slice('team', 'db-1', 'db', baseEndpoints);
  const ptrs = (s: EndpointSlice): string[] => [...affectedSuffixes(e(s), ['cluster.local.', 'in-addr.arpa.'])].filter((x) => x.endsWith('.in-addr.arpa.')).sort();
  const moved = slice('team', 'db-1', 'db', [ep('10.244.0.1', { hostname: 'a' }), ep('10.244.0.9'), ep('10.244.0.3', { ready: false })]);
  t.same(ptrs(moved), ['2.0.244.10.in-addr.arpa.', '9.0.244.10.in-addr.arpa.'], 'one address moved: the old and the new one');
  const renamed = slice('team', 'db-1', 'db', [ep('10.244.0.1', { hostname: 'b' }), ep('10.244.0.2'), ep('10.244.0.3', { ready: false })]);
  t.same(ptrs(renamed), ['1.0.244.10.in-addr.arpa.'], 'a new hostname');
  const ready = slice('team', 'db-1', 'db', [ep('10.244.0.1', { hostname: 'a' }), ep('10.244.0.2'), ep('10.244.0.3')]);
  t.same(ptrs(ready), ['3.0.244.10.in-addr.arpa.'], 'readiness');
  const same = slice('team', 'db-1', 'db', [ep('10.244.0.1', { hostname: 'a' }), ep('10.244.0.2'), ep('10.244.0.3', { ready: false })], { rv: '2' });
  t.same(ptrs(same), [], 'a new resourceVersion alone');
  t.ok(affectedSuffixes(e(same), ['cluster.local.']).has('db.team.svc.cluster.local.'), 'the service name is always invalidated');
  const relabelled = slice('team', 'db-1', 'db', baseEndpoints, { labels: { tier: 'x' } });
  t.equal(ptrs(relabelled).length, 3, 'new labels (visibility may change): every address');
  const otherService = slice('team', 'db-1', 'cache', baseEndpoints);
  t.equal(ptrs(otherService).length, 3, 'another service: every address');
});

// The property the narrowing must keep: every address whose PTR answer the zone changes is invalidated.
t.test('random slice updates: every changed PTR answer is invalidated', async (t) => {
  const rnd = seededRandom(7);
  for (const endpointPodNames of [false, true]) {
    const model = new ClusterModel();
    const zone = new ClusterZone(model, { endpointPodNames });
    const randomSlice = (): EndpointSlice => {
      const eps = Array.from({ length: 1 + rnd(6) }, () =>
        ep(`10.244.0.${1 + rnd(8)}`, { ready: rnd(4) > 0, hostname: rnd(2) ? `h${rnd(3)}` : '', targetRef: rnd(2) ? `p${rnd(3)}` : '' }),
      );
      return slice('team', 'db-1', 'db', eps, { rv: String(rnd(1e6)) });
    };
    model.apply([{ kind: 'Service', type: 'added', obj: svc('team', 'db', { ips: ['10.96.0.7'] }) }]);
    model.apply([{ kind: 'EndpointSlice', type: 'added', obj: randomSlice() }]);
    let seen: ChangeEvent[] = [];
    model.onChange((evs) => (seen = evs));
    const addrs = Array.from({ length: 8 }, (_, i) => `10.244.0.${i + 1}`);
    let checked = 0;
    for (let round = 0; round < 300; round++) {
      const before = addrs.map((a) => zone.ptrTargets(a).join(','));
      model.apply([{ kind: 'EndpointSlice', type: 'modified', obj: randomSlice() }]);
      const invalidated = affectedSuffixes(seen, ['cluster.local.', 'in-addr.arpa.']);
      addrs.forEach((a, i) => {
        if (zone.ptrTargets(a).join(',') === before[i]) return;
        checked++;
        if (!invalidated.has(reverseName(a))) t.fail(`round ${round}: the PTR answer of ${a} changed but was not invalidated`);
      });
    }
    t.ok(checked > 100, `endpoint_pod_names ${endpointPodNames}: ${checked} changed PTR answers, all invalidated`);
  }
});
