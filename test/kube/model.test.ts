import t from 'tap';
import { ClusterModel, objectKey } from '../../lib/kube/model.js';
import { slimEndpointSlice, slimNamespace, slimPod, slimService } from '../../lib/kube/slim.js';
import type { ChangeEvent, Snapshot } from '../../lib/kube/types.js';
import { captureLog, rawService, rawSlice } from '../support/kube-helpers.js';

// Fresh objects on every call, so "unchanged" is decided by content, never by object identity.
function cluster(over: { webIP?: string; webRV?: string; dbLabels?: Record<string, string>; extra?: boolean; dropPod?: boolean } = {}): Snapshot {
  const services = [
    slimService(rawService('default', 'web', { clusterIP: over.webIP ?? '10.0.0.1', ports: [{ name: 'http', port: 80 }] }, { resourceVersion: over.webRV ?? '10' })),
    slimService(rawService('default', 'db', { clusterIP: 'None' }, { labels: over.dbLabels ?? { app: 'db', tier: 'data' } })),
  ];
  if (over.extra) services.push(slimService(rawService('demo', 'new', { clusterIP: '10.0.0.9' }, { resourceVersion: '30' })));
  return {
    namespaces: [slimNamespace({ metadata: { name: 'default', resourceVersion: '1' } }), slimNamespace({ metadata: { name: 'demo', resourceVersion: '2' } })],
    services,
    endpointSlices: [slimEndpointSlice(rawSlice('default', 'db-1', 'db', { endpoints: [{ addresses: ['10.1.0.1'] }] }, { resourceVersion: '11' }))],
    pods: over.dropPod ? [] : [slimPod({ metadata: { name: 'db-0', namespace: 'default', resourceVersion: '12' }, status: { podIP: '10.1.0.1' } })],
  };
}

function summary(events: ChangeEvent[]): string[] {
  return events.map((e) => `${e.type} ${e.kind} ${objectKey((e.obj ?? e.old)!.namespace, (e.obj ?? e.old)!.name)}`);
}

t.test('replace computes the difference and applies it as one batch', async (t) => {
  const m = new ClusterModel();
  const batches: ChangeEvent[][] = [];
  m.onChange((ev) => batches.push(ev));

  m.replace(cluster());
  t.equal(batches.length, 1, 'initial load is one batch');
  t.same(summary(batches[0]!), [
    'added Namespace /default',
    'added Namespace /demo',
    'added Service default/web',
    'added Service default/db',
    'added EndpointSlice default/db-1',
    'added Pod default/db-0',
  ]);
  t.equal(m.size('Service'), 2);
  t.equal(m.get('Namespace', '', 'demo')?.name, 'demo');
  t.equal(m.get('Service', 'default', 'web')?.clusterIPs[0], '10.0.0.1');
  t.equal(m.get('Service', 'demo', 'web'), undefined);

  // Same content, new objects, labels in another key order: nothing to report.
  m.replace(cluster({ dbLabels: { tier: 'data', app: 'db' } }));
  t.equal(batches.length, 1, 'unchanged listing produces no batch');

  const webBefore = m.get('Service', 'default', 'web')!;
  m.replace(cluster({ webIP: '10.0.0.2', extra: true, dropPod: true }));
  t.equal(batches.length, 2);
  t.same(summary(batches[1]!), ['modified Service default/web', 'added Service demo/new', 'deleted Pod default/db-0']);
  const mod = batches[1]![0]!;
  t.equal(mod.old, webBefore, 'modified carries the previous object');
  t.equal(mod.kind === 'Service' && mod.obj?.clusterIPs[0], '10.0.0.2');
  const del = batches[1]![2]!;
  t.equal(del.obj, undefined, 'deleted has no obj');
  t.equal(del.old?.name, 'db-0', 'deleted carries the old object');
  t.equal(m.size('Pod'), 0);
  t.equal(m.get('Service', 'default', 'web')?.clusterIPs[0], '10.0.0.2');

  // A new resourceVersion alone is a modification; so is a content change under the same resourceVersion.
  m.replace(cluster({ webIP: '10.0.0.2', extra: true, dropPod: true, webRV: '11' }));
  t.same(summary(batches[2]!), ['modified Service default/web']);
  m.replace(cluster({ webIP: '10.0.0.3', extra: true, dropPod: true, webRV: '11' }));
  t.same(summary(batches[3]!), ['modified Service default/web']);
  // Content is compared field by field, nested ones included, whatever the key order; undefined counts as absent.
  const slice = m.get('EndpointSlice', 'default', 'db-1')!;
  const reordered = { ...cluster({ webIP: '10.0.0.3', extra: true, dropPod: true, webRV: '11' }) };
  const { addresses, ...rest } = slice;
  reordered.endpointSlices = [{ addresses: [...addresses], ...rest, extra: undefined } as typeof slice];
  m.replace(reordered);
  t.equal(batches.length, 4, 'an equal listing in another key order is no change');
  reordered.endpointSlices = [{ ...slice, notReady: [0] }];
  m.replace(reordered);
  t.same(summary(batches[4]!), ['modified EndpointSlice default/db-1'], 'a nested change under the same resourceVersion');
  batches.pop();

  m.replace({ namespaces: [], services: [], endpointSlices: [], pods: [] });
  t.same(summary(batches[4]!), [
    'deleted Namespace /default',
    'deleted Namespace /demo',
    'deleted Service default/web',
    'deleted Service default/db',
    'deleted Service demo/new',
    'deleted EndpointSlice default/db-1',
  ]);
  t.same([...m.services(), ...m.namespaces(), ...m.endpointSlices(), ...m.pods()], []);
  t.equal(batches.length, 5);
});

t.test('duplicate keys in a snapshot: the last one wins', async (t) => {
  const m = new ClusterModel();
  const snap = cluster();
  snap.services.push(slimService(rawService('default', 'web', { clusterIP: '10.0.0.77' })));
  m.replace(snap);
  t.equal(m.size('Service'), 2);
  t.same(m.get('Service', 'default', 'web')?.clusterIPs, ['10.0.0.77']);
});

t.test('apply normalises events against the store', async (t) => {
  const m = new ClusterModel();
  const batches: ChangeEvent[][] = [];
  m.onChange((ev) => batches.push(ev));
  const web = slimService(rawService('ns', 'web', { clusterIP: '10.0.0.1' }));
  const web2 = slimService(rawService('ns', 'web', { clusterIP: '10.0.0.2' }));
  const ghost = slimService(rawService('ns', 'ghost', {}));

  m.apply([{ kind: 'Service', type: 'added', obj: web }]);
  m.apply([
    { kind: 'Service', type: 'added', obj: web2 }, // already stored: becomes modified
    { kind: 'Service', type: 'deleted', old: ghost }, // not stored: dropped
  ]);
  t.same(batches[1], [{ kind: 'Service', type: 'modified', obj: web2, old: web }]);

  m.apply([{ kind: 'Service', type: 'deleted', obj: web }]); // a delete that only names the object
  t.same(batches[2], [{ kind: 'Service', type: 'deleted', old: web2 }], 'old comes from the store');

  m.apply([{ kind: 'Service', type: 'modified', obj: web }]); // unknown key: becomes added
  t.same(batches[3], [{ kind: 'Service', type: 'added', obj: web }]);

  m.apply([]);
  m.apply([{ kind: 'Service', type: 'deleted', old: ghost }]);
  t.equal(batches.length, 4, 'empty batches are not delivered');
});

t.test('listeners: failures are contained and logged, unsubscribe works', async (t) => {
  const { log, lines } = captureLog();
  const m = new ClusterModel({ log });
  const seen: string[] = [];
  m.onChange(() => {
    throw new Error('reader bug');
  });
  const off = m.onChange((ev) => seen.push(...summary(ev)));
  m.replace(cluster());
  t.equal(seen.length, 6, 'the listener after the failing one still ran');
  t.equal(m.size('Namespace'), 2, 'the model was updated');
  t.equal(lines.length, 1);
  t.match(lines[0], { level: 50, msg: 'cluster model listener failed', err: { message: 'reader bug' } });

  off();
  off(); // idempotent
  m.replace(cluster({ extra: true }));
  t.equal(seen.length, 6, 'unsubscribed listener not called');
  t.equal(m.size('Service'), 3);

  // A listener that unsubscribes itself while being notified does not disturb the others.
  const m2 = new ClusterModel({ log });
  let calls = 0;
  const self: () => void = m2.onChange(() => {
    calls++;
    self();
  });
  let other = 0;
  m2.onChange(() => other++);
  m2.replace(cluster());
  m2.replace(cluster({ extra: true }));
  t.same([calls, other], [1, 2]);
});

t.test('snapshot returns the current content', async (t) => {
  const m = new ClusterModel();
  m.replace(cluster());
  const s = m.snapshot();
  t.same(
    [s.namespaces.length, s.services.length, s.endpointSlices.length, s.pods.length],
    [2, 2, 1, 1],
  );
  t.equal(s.services[0], m.get('Service', 'default', 'web'));
  t.same([...m.all('Pod')].map((p) => p.podIP), ['10.1.0.1']);
});

t.test('replaceKind replaces one kind, only within the scope it is given', async (t) => {
  const { ClusterModel } = await import('../../lib/kube/model.js');
  const m = new ClusterModel();
  const ns = (name: string) => ({ namespace: '', name, resourceVersion: '1', labels: {} });
  const svc = (namespace: string, name: string, rv = '1') => ({
    namespace, name, resourceVersion: rv, labels: {}, type: 'ClusterIP', clusterIPs: ['10.0.0.1'], headless: false, externalName: '', ports: [],
  });
  m.replace({ namespaces: [ns('a'), ns('b')], services: [svc('a', 'x'), svc('b', 'y')], endpointSlices: [], pods: [] });
  const batches: string[][] = [];
  m.onChange((evs) => batches.push(evs.map((e) => `${e.type} ${e.kind} ${(e.obj ?? e.old)!.namespace}/${(e.obj ?? e.old)!.name}`)));
  // A re-list of namespace a's services: x is gone, z is new; b/y is out of scope and must survive.
  m.replaceKind('Service', [svc('a', 'z')], (s) => s.namespace === 'a');
  t.same(batches, [['added Service a/z', 'deleted Service a/x']]);
  t.ok(m.get('Service', 'b', 'y'));
  t.equal(m.size('Namespace'), 2, 'other kinds untouched');
  // Unscoped: everything of the kind not listed is deleted; an unchanged object produces no event.
  m.replaceKind('Service', [svc('a', 'z')]);
  t.same(batches[1], ['deleted Service b/y']);
  m.replaceKind('Service', [svc('a', 'z', '2')]);
  t.same(batches[2], ['modified Service a/z']);
});
