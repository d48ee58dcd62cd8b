/**
 * ClusterZone: incremental updates (a change re-derives only what it touches), indexes and the SOA serial, checked
 * through the zone's own API and through answers of the real handler.
 */
import t from 'tap';
import { ClusterModel } from '../../lib/kube/model.js';
import type { ChangeEvent } from '../../lib/kube/types.js';
import { ipv4Key, MultiIndex } from '../../lib/zone/multi-index.js';
import { ClusterZone, SERVICE_KIND } from '../../lib/zone/cluster-zone.js';
import { ask, k8s, lines } from '../support/k8s-harness.js';
import { ep, modelOf, ns, pod, slice, standardCluster, svc } from '../support/k8s-objects.js';
import { dir } from '../support/query.js';

const S = 'svc.cluster.local.';
const REV = ['cluster.local', 'in-addr.arpa'];

t.test('changing one EndpointSlice re-derives only its service', async (t) => {
  const r = k8s({ args: REV });
  const svc1 = r.zone.service('svc1.testns')!;
  const dedup = r.zone.service('hdlsdedup.testns')!;
  const before = { svc1Rows: svc1.rowIP, svc1Srv: svc1.srv, dedupRows: dedup.rowIP, dedupSrv: dedup.srv, hdls1: r.zone.service('hdls1.testns')!.rowIP };

  // hdlsdedup-2 loses 172.0.0.42 and gains 172.0.0.44.
  r.model.apply([
    {
      kind: 'EndpointSlice',
      type: 'modified',
      obj: slice('testns', 'hdlsdedup-2', 'hdlsdedup', [ep('172.0.0.41'), ep('172.0.0.44')], { ports: [['http', 'TCP', 80]], rv: '2' }),
    },
  ]);

  t.equal(svc1.rowIP, before.svc1Rows, 'svc1 rows untouched');
  t.equal(svc1.srv, before.svc1Srv, 'svc1 SRV set untouched');
  t.equal(r.zone.service('hdls1.testns')!.rowIP, before.hdls1, 'hdls1 rows untouched');
  t.not(dedup.rowIP, before.dedupRows, 'hdlsdedup rows rebuilt');
  t.not(dedup.srv, before.dedupSrv, 'hdlsdedup SRV rebuilt');
  t.strictSame(dedup.rowIP, ['172.0.0.40', '172.0.0.41', '172.0.0.41', '172.0.0.44']);
  t.equal(dedup.slices.find((s) => s.name === 'hdlsdedup-2')!.resourceVersion, '2', 'the record set holds the new slice');

  const a = await ask(r.handler, `hdlsdedup.testns.${S}`, 'A');
  t.strictSame(a.answer, lines(['40', '41', '44'].map((n) => `hdlsdedup.testns.${S} 5 IN A 172.0.0.${n}`)));
  t.equal((await ask(r.handler, `172-0-0-42.hdlsdedup.testns.${S}`, 'A')).rcode, 'NXDOMAIN');
  t.equal((await ask(r.handler, '42.0.0.172.in-addr.arpa.', 'PTR')).rcode, 'NXDOMAIN', 'old address left the reverse index');
  t.strictSame((await ask(r.handler, '44.0.0.172.in-addr.arpa.', 'PTR')).answer, lines([`44.0.0.172.in-addr.arpa. 5 IN PTR 172-0-0-44.hdlsdedup.testns.${S}`]));
});

t.test('deleting a service removes its names and PTR; the next owner of its IP takes over', async (t) => {
  const cluster = standardCluster();
  cluster.services.push(svc('testns', 'svc1-twin', { ips: ['10.0.0.1'] }));
  const r = k8s({ args: REV, cluster });
  const ptr = async (): Promise<string[]> => (await ask(r.handler, '1.0.0.10.in-addr.arpa.', 'PTR')).answer;
  t.strictSame(await ptr(), lines([`1.0.0.10.in-addr.arpa. 5 IN PTR svc1.testns.${S}`]));
  r.model.apply([{ kind: 'Service', type: 'deleted', old: r.model.get('Service', 'testns', 'svc1')! }]);
  t.strictSame(await ptr(), lines([`1.0.0.10.in-addr.arpa. 5 IN PTR svc1-twin.testns.${S}`]));
  t.equal((await ask(r.handler, `svc1.testns.${S}`, 'A')).rcode, 'NXDOMAIN');
  // Its slice survives: the endpoint PTR stays (CoreDNS does not check the Service), the name does not.
  t.equal(r.zone.service('svc1.testns')!.kind, SERVICE_KIND.NONE);
  t.equal((await ask(r.handler, `ep1a.svc1.testns.${S}`, 'A')).rcode, 'NXDOMAIN');
  r.model.apply([{ kind: 'Service', type: 'deleted', old: r.model.get('Service', 'testns', 'svc1-twin')! }]);
  t.equal((await ask(r.handler, '1.0.0.10.in-addr.arpa.', 'PTR')).rcode, 'NXDOMAIN');
  r.model.apply([{ kind: 'EndpointSlice', type: 'deleted', old: r.model.get('EndpointSlice', 'testns', 'svc1-abc')! }]);
  t.equal(r.zone.service('svc1.testns'), undefined, 'an entry without service and slices is dropped');
});

t.test('namespace deletion makes its names NXDOMAIN; re-creation brings them back', async (t) => {
  const r = k8s();
  r.model.apply([{ kind: 'Namespace', type: 'deleted', old: ns('testns') }]);
  for (const q of [`svc1.testns.${S}`, `testns.${S}`, `hdls1.testns.${S}`]) {
    t.equal((await ask(r.handler, q, 'A')).rcode, 'NXDOMAIN', q);
  }
  r.model.apply([{ kind: 'Namespace', type: 'added', obj: ns('testns') }]);
  t.equal((await ask(r.handler, `svc1.testns.${S}`, 'A')).rcode, 'NOERROR');
});

t.test('namespace_labels follow label changes', async (t) => {
  const r = k8s({ options: [dir('namespace_labels', ['team=b'])] });
  t.equal((await ask(r.handler, `svc1.testns.${S}`, 'A')).rcode, 'NXDOMAIN');
  r.model.apply([{ kind: 'Namespace', type: 'modified', obj: ns('testns', { team: 'b' }, '2') }]);
  t.equal((await ask(r.handler, `svc1.testns.${S}`, 'A')).rcode, 'NOERROR');
});

t.test('service updates: type change, cluster IP change, label selector', async (t) => {
  const r = k8s({ args: REV, options: [dir('labels', ['app=web'])], cluster: { namespaces: [ns('a')], services: [svc('a', 'web', { ips: ['10.9.0.1'], labels: { app: 'web' } })] } });
  t.equal((await ask(r.handler, `web.a.${S}`, 'A')).answer.length, 1);
  r.model.apply([{ kind: 'Service', type: 'modified', obj: svc('a', 'web', { ips: ['10.9.0.2'], labels: { app: 'web' }, rv: '2' }) }]);
  t.strictSame((await ask(r.handler, `web.a.${S}`, 'A')).answer, lines([`web.a.${S} 5 IN A 10.9.0.2`]));
  t.equal((await ask(r.handler, '1.0.9.10.in-addr.arpa.', 'PTR')).rcode, 'NXDOMAIN', 'old cluster IP unindexed');
  t.equal((await ask(r.handler, '2.0.9.10.in-addr.arpa.', 'PTR')).rcode, 'NOERROR');
  r.model.apply([{ kind: 'Service', type: 'modified', obj: svc('a', 'web', { externalName: 'example.org', labels: { app: 'web' }, rv: '3' }) }]);
  t.strictSame((await ask(r.handler, `web.a.${S}`, 'CNAME')).answer, lines([`web.a.${S} 5 IN CNAME example.org.`]));
  t.equal((await ask(r.handler, '2.0.9.10.in-addr.arpa.', 'PTR')).rcode, 'NXDOMAIN');
  // Relabelled out of the selector: gone.
  r.model.apply([{ kind: 'Service', type: 'modified', obj: svc('a', 'web', { ips: ['10.9.0.2'], labels: { app: 'other' }, rv: '4' }) }]);
  t.equal((await ask(r.handler, `web.a.${S}`, 'A')).rcode, 'NXDOMAIN');
  t.equal((await ask(r.handler, '2.0.9.10.in-addr.arpa.', 'PTR')).rcode, 'NXDOMAIN');
});

t.test('a slice relabelled to another service moves its endpoints', async (t) => {
  const r = k8s({
    cluster: {
      namespaces: [ns('a')],
      services: [svc('a', 'one', { ips: 'None' }), svc('a', 'two', { ips: 'None' })],
      endpointSlices: [slice('a', 's1', 'one', [ep('10.3.0.1')])],
    },
  });
  t.equal((await ask(r.handler, `one.a.${S}`, 'A')).rcode, 'NOERROR');
  t.equal((await ask(r.handler, `two.a.${S}`, 'A')).rcode, 'NXDOMAIN');
  r.model.apply([{ kind: 'EndpointSlice', type: 'modified', obj: slice('a', 's1', 'two', [ep('10.3.0.1')], { rv: '2' }) }]);
  t.equal((await ask(r.handler, `one.a.${S}`, 'A')).rcode, 'NXDOMAIN');
  t.strictSame((await ask(r.handler, `two.a.${S}`, 'A')).answer, lines([`two.a.${S} 5 IN A 10.3.0.1`]));
  t.equal(r.zone.endpointOwners('10.3.0.1'), r.zone.service('two.a'));
});

t.test('pods verified: a termination update keeps the previous copy until the delete', async (t) => {
  const r = k8s({ options: [dir('pods', ['verified'])] });
  const q = '10-240-0-1.podns.pod.cluster.local.';
  t.equal((await ask(r.handler, q, 'A')).rcode, 'NOERROR');
  r.model.apply([{ kind: 'Pod', type: 'modified', obj: pod('podns', 'pod1', '10.240.0.1', { terminating: true, rv: '2' }) }]);
  t.equal((await ask(r.handler, q, 'A')).rcode, 'NOERROR', 'CoreDNS drops the update that adds a deletionTimestamp');
  r.model.apply([{ kind: 'Pod', type: 'deleted', old: r.model.get('Pod', 'podns', 'pod1')! }]);
  t.equal((await ask(r.handler, q, 'A')).rcode, 'NXDOMAIN');
  // A pod that finishes leaves the index; a new IP replaces the old one.
  r.model.apply([{ kind: 'Pod', type: 'modified', obj: pod('testns', 'pod-x', '10.240.0.7', { rv: '2' }) }]);
  t.equal((await ask(r.handler, '10-240-0-2.testns.pod.cluster.local.', 'A')).rcode, 'NXDOMAIN');
  t.equal((await ask(r.handler, '10-240-0-7.testns.pod.cluster.local.', 'A')).rcode, 'NOERROR');
  r.model.apply([{ kind: 'Pod', type: 'modified', obj: pod('testns', 'pod-x', '10.240.0.7', { phase: 'Failed', rv: '3' }) }]);
  t.equal((await ask(r.handler, '10-240-0-7.testns.pod.cluster.local.', 'A')).rcode, 'NXDOMAIN');
});

t.test('the SOA serial moves on answer-changing events only', async (t) => {
  let now = 1_000_000;
  const model = modelOf(standardCluster());
  const zone = new ClusterZone(model, { now: () => now });
  t.equal(zone.serial, 1000);
  const v0 = zone.version;
  now = 2_000_000;
  // Only labels/resourceVersion differ: no answer changes.
  model.apply([{ kind: 'Service', type: 'modified', obj: svc('testns', 'svc1', { ips: ['10.0.0.1'], ports: [['http', 'TCP', 80]], labels: { x: 'y' }, rv: '9' }) }]);
  t.equal(zone.serial, 1000);
  t.equal(zone.version, v0);
  t.equal(zone.service('svc1.testns')!.svc!.resourceVersion, '9', 'the entry points at the newest object anyway');
  now = 3_000_000;
  model.apply([{ kind: 'Service', type: 'modified', obj: svc('testns', 'svc1', { ips: ['10.0.0.1'], ports: [['http', 'TCP', 81]], rv: '10' }) }]);
  t.equal(zone.serial, 3000);
  t.ok(zone.version > v0);
  zone.close();
  now = 4_000_000;
  model.apply([{ kind: 'Namespace', type: 'added', obj: ns('later') }]);
  t.equal(zone.serial, 3000, 'closed zones no longer follow the model');
  t.notOk(zone.namespaceExposed('later'));
});

t.test('a zone built over a populated model equals one fed by events', async (t) => {
  const model = new ClusterModel();
  const live = new ClusterZone(model);
  model.replace({ ...standardCluster() });
  const late = new ClusterZone(model);
  for (const key of ['svc1.testns', 'hdls1.testns', 'hdlsdedup.testns', 'external.testns', 'kube-dns.kube-system']) {
    const a = live.service(key)!;
    const b = late.service(key)!;
    t.equal(a.kind, b.kind, key);
    t.strictSame(a.rowIP.map((_, i) => a.nameAt(i)), b.rowIP.map((_, i) => b.nameAt(i)), key);
    t.strictSame([...a.rowIP], [...b.rowIP], key);
    t.strictSame(a.srv, b.srv, key);
  }
  t.equal(live.serviceCount, late.serviceCount);
  t.strictSame(live.ptrTargets('172.0.0.2'), late.ptrTargets('172.0.0.2'));
});

t.test('record sets: shared sets, explainable objects', async (t) => {
  const zone = new ClusterZone(modelOf(standardCluster()));
  const h = zone.service('hdls1.testns')!;
  t.equal(h.portSet('http', 'tcp'), h.srv, 'a port set equal to the bare set is shared');
  t.equal(h.srv!.candidates, 6);
  t.equal(h.srv!.weight, 16);
  const m = zone.service('multiport.testns')!;
  t.not(m.portSet('dns', 'udp'), m.srv);
  t.equal(m.portSet('dns', 'tcp'), null);
  t.equal(m.portSet('', 'udp')!.srvPorts[0], 53, 'a partly-empty port query is built on demand');
  // Each record set reaches the objects behind it, with their resourceVersions.
  t.equal(h.svc!.name, 'hdls1');
  t.strictSame(h.slices.map((s) => s.name).sort(), ['hdls1-v4', 'hdls1-v6']);
  const locals = ['10.244.0.10'];
  const ns1 = zone.nsAddresses(locals);
  t.strictSame(ns1, [{ rel: 'kube-dns.kube-system.svc.', ip: '10.96.0.10' }]);
  t.equal(zone.nsAddresses(locals), ns1, 'NS targets are cached until the zone changes');
});

t.test('services that derive alike share arrays and sets, and a change to one leaves the others intact', async (t) => {
  const model = new ClusterModel();
  const headless = (name: string, base: number) => [
    { kind: 'Service', type: 'added', obj: svc('shr', name, { ips: 'None', ports: [['http', 'TCP', 80]] }) },
    { kind: 'EndpointSlice', type: 'added', obj: slice('shr', `${name}-1`, name, [0, 1, 2].map((k) => ep(`10.9.${base}.${k}`)), { ports: [['http', 'TCP', 8080]] }) },
  ] as ChangeEvent[];
  model.apply([
    { kind: 'Namespace', type: 'added', obj: ns('shr') },
    { kind: 'Service', type: 'added', obj: svc('shr', 'a', { ips: ['10.8.0.1'], ports: [['http', 'TCP', 80], ['grpc', 'TCP', 9090]] }) },
    { kind: 'Service', type: 'added', obj: svc('shr', 'b', { ips: ['10.8.0.2'], ports: [['http', 'TCP', 80], ['grpc', 'TCP', 9090]] }) },
    ...headless('h1', 1),
    ...headless('h2', 2),
  ]);
  const zone = new ClusterZone(model);
  const [a, b, h1, h2] = ['a', 'b', 'h1', 'h2'].map((n) => zone.service(`${n}.shr`)!);
  t.equal(a!.srv, b!.srv, 'ClusterIP services with the same ports share their SRV set');
  t.equal(a!.portSets, b!.portSets);
  t.equal(a!.portNames, b!.portNames);
  t.strictSame(a!.srv!.srvPorts, [80, 9090]);
  t.equal(h1!.rowName, h2!.rowName, 'blank endpoint names are one array');
  t.equal(h1!.rowSlice, h2!.rowSlice);
  t.equal(h1!.srv!.addrRows, h2!.srv!.addrRows, 'row lists 0..n-1 are one array');
  t.strictSame(h1!.srv!.addrRows, [0, 1, 2]);
  t.ok(Object.isFrozen(h1!.srv!.addrRows), 'shared arrays are frozen');

  // h1 gains a named endpoint and loses one; a gets another port: h2 and b answer as before.
  model.apply([
    { kind: 'EndpointSlice', type: 'modified', obj: slice('shr', 'h1-1', 'h1', [ep('10.9.1.0', { hostname: 'zero' }), ep('10.9.1.1')], { ports: [['http', 'TCP', 8080]], rv: '2' }) },
    { kind: 'Service', type: 'modified', obj: svc('shr', 'a', { ips: ['10.8.0.1'], ports: [['http', 'TCP', 80]], rv: '2' }) },
  ]);
  t.strictSame(zone.service('h1.shr')!.rowName, ['zero', '']);
  t.strictSame(h2!.rowName, ['', '', '']);
  t.strictSame(h2!.srv!.addrRows, [0, 1, 2]);
  t.strictSame(b!.srv!.srvPorts, [80, 9090]);
  t.strictSame(zone.service('a.shr')!.srv!.srvPorts, [80]);
  t.strictSame(h2!.rowIP, ['10.9.2.0', '10.9.2.1', '10.9.2.2']);
});

t.test("a service made of one slice with every endpoint ready uses the slice's columns as its rows", async (t) => {
  const r = k8s({
    args: REV,
    cluster: {
      namespaces: [ns('col')],
      services: [svc('col', 'web', { ips: 'None', ports: [['http', 'TCP', 80]] })],
      endpointSlices: [slice('col', 'web-1', 'web', [ep('10.6.0.1', { hostname: 'a' }), ep('10.6.0.2', { hostname: 'b' })], { ports: [['http', 'TCP', 80]] })],
    },
  });
  const { model, zone } = r;
  const sl = model.get('EndpointSlice', 'col', 'web-1')!;
  const e = zone.service('web.col')!;
  t.equal(e.rowIP, sl.addresses, 'the address column itself');
  t.equal(e.rowName, sl.hostnames, 'and the hostname column, already lower case');
  t.strictSame((await ask(r.handler, `b.web.col.${S}`, 'A')).answer, lines([`b.web.col.${S} 5 IN A 10.6.0.2`]));
  t.strictSame((await ask(r.handler, '1.0.6.10.in-addr.arpa.', 'PTR')).answer, lines([`1.0.6.10.in-addr.arpa. 5 IN PTR a.web.col.${S}`]));

  // Upper-case hostnames, a not-ready row or a second slice: rows of the zone's own.
  const update = (obj: ReturnType<typeof slice>): void => model.apply([{ kind: 'EndpointSlice', type: 'modified', obj }]);
  update(slice('col', 'web-1', 'web', [ep('10.6.0.1', { hostname: 'A' }), ep('10.6.0.2', { hostname: 'b' })], { ports: [['http', 'TCP', 80]], rv: '2' }));
  t.equal(e.rowIP, model.get('EndpointSlice', 'col', 'web-1')!.addresses);
  t.strictSame(e.rowName, ['a', 'b'], 'names are stored lower case');
  t.not(e.rowName, model.get('EndpointSlice', 'col', 'web-1')!.hostnames);
  update(slice('col', 'web-1', 'web', [ep('10.6.0.1', { ready: false }), ep('10.6.0.2')], { ports: [['http', 'TCP', 80]], rv: '3' }));
  t.strictSame(e.rowIP, ['10.6.0.2'], 'the not-ready row left out');
  t.equal(zone.endpointOwners('10.6.0.1'), undefined, 'and out of the reverse index');
  model.apply([{ kind: 'EndpointSlice', type: 'added', obj: slice('col', 'web-2', 'web', [ep('10.6.0.3')], { ports: [['http', 'TCP', 80]] }) }]);
  t.strictSame(e.rowIP, ['10.6.0.2', '10.6.0.3']);
  t.strictSame(e.rowSlice, [0, 1]);
  t.strictSame((await ask(r.handler, `web.col.${S}`, 'A')).answer, lines(['2', '3'].map((n) => `web.col.${S} 5 IN A 10.6.0.${n}`)));
});

t.test('a slice is found where it is filed from the previous object, and replaced when an event lacks it', async (t) => {
  const r = k8s({ args: REV });
  const before = r.zone.service('hdls1.testns')!.slices.length;
  const sl = r.model.get('EndpointSlice', 'testns', 'hdls1-v4')!;
  // Relabelled to another service, then back: the model's events carry `old`.
  r.model.apply([{ kind: 'EndpointSlice', type: 'modified', obj: { ...sl, serviceName: 'svc1', labels: { 'kubernetes.io/service-name': 'svc1' }, resourceVersion: '5' } }]);
  t.equal(r.zone.service('hdls1.testns')!.slices.length, before - 1, 'left its old service');
  t.ok(r.zone.service('svc1.testns')!.slices.some((s) => s.name === 'hdls1-v4'), 'filed under the new one');
  r.model.apply([{ kind: 'EndpointSlice', type: 'modified', obj: { ...sl, resourceVersion: '6' } }]);
  t.notOk(r.zone.service('svc1.testns')!.slices.some((s) => s.name === 'hdls1-v4'), 'and back');
  t.equal(r.zone.service('hdls1.testns')!.slices.length, before);

  // Straight into the zone, without `old`: the copy filed under the same service is replaced, not doubled.
  const moved = { ...sl, addresses: ['172.0.0.99'], notReady: [], hostnames: [], targetRefNames: [], resourceVersion: '7' };
  r.zone.apply([{ kind: 'EndpointSlice', type: 'modified', obj: moved }]);
  const e = r.zone.service('hdls1.testns')!;
  t.equal(e.slices.length, before, 'replaced in place');
  t.ok(e.rowIP.includes('172.0.0.99'));
  t.strictSame((await ask(r.handler, '99.0.0.172.in-addr.arpa.', 'PTR')).answer.length, 1);
});

t.test('noendpoints ignores slices; batches apply atomically', async (t) => {
  const model = modelOf(standardCluster());
  const zone = new ClusterZone(model, { noEndpoints: true });
  t.equal(zone.service('hdls1.testns')!.readyCount, 0);
  t.equal(zone.endpointOwners('172.0.0.1'), undefined);
  const events: ChangeEvent[] = [
    { kind: 'Namespace', type: 'added', obj: ns('fresh') },
    { kind: 'Service', type: 'added', obj: svc('fresh', 'a', { ips: ['10.7.0.1'] }) },
  ];
  model.apply(events);
  t.ok(zone.namespaceExposed('fresh'));
  t.equal(zone.service('a.fresh')!.kind, SERVICE_KIND.CLUSTER_IP);
});

t.test('MultiIndex keeps single holders inline', async (t) => {
  const idx = new MultiIndex<{ id: number }>();
  const a = { id: 1 };
  const b = { id: 2 };
  idx.add('k', a);
  t.equal(idx.get('k'), a);
  idx.add('k', a);
  t.equal(idx.get('k'), a, 'no duplicate');
  idx.add('k', b);
  t.strictSame(idx.get('k'), [a, b]);
  idx.remove('k', a);
  t.equal(idx.get('k'), b);
  idx.removeWhere('k', (v) => v.id === 2);
  t.equal(idx.get('k'), undefined);
  t.equal(idx.size, 0);
});

t.test('MultiIndex over many addresses behaves as a Map of buckets', async (t) => {
  t.equal(ipv4Key('10.64.0.46'), (10 << 24 | 64 << 16 | 46) >>> 0);
  t.equal(ipv4Key('255.255.255.255'), 0xffffffff);
  t.equal(ipv4Key('0.0.0.0'), 0);
  for (const bad of ['010.0.0.1', '10.0.0', '10.0.0.1.', '.10.0.0.1', '10.0.0.256', '10..0.1', '1.2.3.4 ', 'fd00::1', '1000.0.0.1', '']) {
    t.equal(ipv4Key(bad), -1, `not a canonical IPv4 key: ${JSON.stringify(bad)}`);
  }

  // A seeded random walk of adds and removes, checked against a Map after every step. The addresses crowd into a
  // few subnets that differ only in their upper octets (as pod and service ranges do), and include keys that must
  // stay out of the number table (IPv6, non-canonical text).
  let seed = 7;
  const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
  const keys: string[] = [];
  for (const a of [10, 11, 172]) for (const b of [64, 65, 96]) for (let c = 0; c < 6; c++) for (let d = 0; d < 40; d++) keys.push(`${a}.${b}.${c}.${d}`);
  keys.push('fd00::1', 'fd00::2', '010.64.0.1', 'not-an-ip', '0.0.0.0', '255.255.255.255');
  const holders = [0, 1, 2, 3].map((id) => ({ id }));
  const idx = new MultiIndex<{ id: number }>();
  const ref = new Map<string, { id: number }[]>();
  let mismatches = 0;
  for (let step = 0; step < 30000; step++) {
    const key = keys[rand(keys.length)]!;
    const h = holders[rand(holders.length)]!;
    // Mostly adds at first, mostly removes later, so the table grows and then shrinks through backward shifts.
    const add = rand(100) < (step < 15000 ? 70 : 30);
    const list = ref.get(key) ?? [];
    if (add) {
      idx.add(key, h);
      if (!list.includes(h)) list.push(h);
    } else if (rand(2) === 0) {
      idx.remove(key, h);
      const i = list.indexOf(h);
      if (i >= 0) list.splice(i, 1);
    } else {
      idx.removeWhere(key, (v) => v.id === h.id);
      const i = list.findIndex((v) => v.id === h.id);
      if (i >= 0) list.splice(i, 1);
    }
    if (list.length > 0) ref.set(key, list);
    else ref.delete(key);
    if (step % 97 === 0 || step > 29900) {
      for (const k of keys) {
        const want = ref.get(k);
        const got = idx.get(k);
        const norm = got === undefined ? undefined : Array.isArray(got) ? [...got] : [got];
        if (JSON.stringify(norm) !== JSON.stringify(want)) mismatches++;
      }
      if (idx.size !== ref.size) mismatches++;
    }
  }
  t.equal(mismatches, 0, 'every lookup and the size agree with the reference');
  t.ok(ref.size > 0, 'keys are left at the end');
  for (const k of keys) for (const h of holders) idx.remove(k, h);
  t.equal(idx.size, 0, 'empty again');
  t.equal(idx.get('10.64.0.1'), undefined);
});
