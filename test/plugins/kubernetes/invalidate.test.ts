// Which name suffixes a cluster change invalidates, for every kind of zone list (the cache and the fast path's memo
// purge by these, so a wrong suffix means stale answers).
import t from 'tap';
import { affectedSuffixes } from '../../../lib/plugins/kubernetes/invalidate.js';
import type { ChangeEvent } from '../../../lib/kube/types.js';
import { ns, pod, slice, svc, ep } from '../../support/k8s-objects.js';

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
