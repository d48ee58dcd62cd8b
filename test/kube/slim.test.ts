import t from 'tap';
import { rowList } from '../../lib/kube/endpoint-rows.js';
import { SlimPool, slimEndpointSlice, slimNamespace, slimObject, slimPod, slimService } from '../../lib/kube/slim.js';
import { rawService, rawSlice } from '../support/kube-helpers.js';

// The fields of `obj` named in `want`, so t.same compares them exactly (t.match is loose about arrays).
function pick(obj: object, want: object): Record<string, unknown> {
  return Object.fromEntries(Object.keys(want).map((k) => [k, (obj as Record<string, unknown>)[k]]));
}

t.test('slimService', async (t) => {
  const cases: Array<{ name: string; raw: unknown; want: Record<string, unknown> }> = [
    {
      name: 'ClusterIP with clusterIPs and a named port',
      raw: rawService(
        'default',
        'web',
        { type: 'ClusterIP', clusterIP: '10.0.0.1', clusterIPs: ['10.0.0.1'], ports: [{ name: 'http', protocol: 'TCP', port: 80 }] },
        { resourceVersion: '123', labels: { app: 'web' } },
      ),
      want: {
        namespace: 'default',
        name: 'web',
        resourceVersion: '123',
        labels: { app: 'web' },
        type: 'ClusterIP',
        clusterIPs: ['10.0.0.1'],
        headless: false,
        externalName: '',
        ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
      },
    },
    {
      name: 'clusterIP only (no clusterIPs), defaults for type/port name/protocol, missing namespace',
      raw: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'a' }, spec: { clusterIP: '10.0.0.2', ports: [{ port: 53 }] } },
      want: { namespace: 'default', type: 'ClusterIP', clusterIPs: ['10.0.0.2'], ports: [{ name: '', protocol: 'TCP', port: 53 }] },
    },
    {
      name: 'empty clusterIPs falls back to clusterIP',
      raw: rawService('ns', 'a', { clusterIP: '10.0.0.3', clusterIPs: [] }),
      want: { clusterIPs: ['10.0.0.3'] },
    },
    {
      name: 'clusterIPs wins over clusterIP; dual-stack; IPv6 canonicalised',
      raw: rawService('ns', 'a', { clusterIP: '10.9.9.9', clusterIPs: ['10.0.0.4', 'FD00:10:96:0:0:0:0:1A'] }),
      want: { clusterIPs: ['10.0.0.4', 'fd00:10:96::1a'], headless: false },
    },
    {
      name: 'headless',
      raw: rawService('ns', 'h', { clusterIP: 'None', clusterIPs: ['None'] }),
      want: { clusterIPs: ['None'], headless: true },
    },
    {
      name: 'headless via clusterIP only',
      raw: rawService('ns', 'h', { clusterIP: 'None' }),
      want: { clusterIPs: ['None'], headless: true },
    },
    {
      name: 'invalid IPs dropped',
      raw: rawService('ns', 'a', { clusterIPs: ['10.0.0.300', '10.0.0.5', 'bogus'] }),
      want: { clusterIPs: ['10.0.0.5'] },
    },
    {
      name: 'ExternalName keeps the target without the trailing dot, has no cluster IPs',
      raw: rawService('ns', 'ext', { type: 'ExternalName', externalName: 'my.database.example.com.' }),
      want: { type: 'ExternalName', externalName: 'my.database.example.com', clusterIPs: [], headless: false, ports: [] },
    },
    {
      name: 'externalName on a non-ExternalName service is ignored',
      raw: rawService('ns', 'a', { type: 'ClusterIP', clusterIP: '10.0.0.6', externalName: 'x.example.' }),
      want: { externalName: '' },
    },
    {
      name: 'lower-case protocol upper-cased; numeric label and resourceVersion read as text',
      raw: rawService('ns', 'a', { ports: [{ name: 'dns', protocol: 'udp', port: 53 }] }, { resourceVersion: 42, labels: { v: 1, on: true } }),
      want: { resourceVersion: '42', labels: { v: '1', on: 'true' }, ports: [{ name: 'dns', protocol: 'UDP', port: 53 }] },
    },
    {
      name: 'no spec at all',
      raw: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'bare', namespace: 'x' } },
      want: { type: 'ClusterIP', clusterIPs: [], headless: false, ports: [] },
    },
  ];
  for (const c of cases) t.same(pick(slimService(c.raw), c.want), c.want, c.name);

  const errors: Array<[string, unknown, RegExp]> = [
    ['not an object', 'web', /^Service: object must be a mapping, got "web"/],
    ['no metadata', { kind: 'Service', spec: {} }, /^Service: metadata.name is required/],
    ['empty name', rawService('ns', '', {}), /^Service: metadata.name is required/],
    ['name not a string', { metadata: { name: 7 } }, /^Service: metadata.name must be a string, got 7/],
    ['metadata a list', { metadata: [] }, /^Service: metadata must be an object/],
    ['port a string', rawService('ns', 'a', { ports: [{ port: '80' }] }), /^Service ns\/a: spec.ports\[0\].port must be an integer from 1 to 65535, got "80"/],
    ['port 0', rawService('ns', 'a', { ports: [{ name: 'x', port: 80 }, { port: 0 }] }), /spec.ports\[1\].port must be an integer/],
    ['port missing', rawService('ns', 'a', { ports: [{ name: 'x' }] }), /spec.ports\[0\].port must be an integer from 1 to 65535, got nothing/],
    ['ports not a list', rawService('ns', 'a', { ports: { port: 80 } }), /spec.ports must be a list/],
    ['clusterIPs not strings', rawService('ns', 'a', { clusterIPs: [1] }), /spec.clusterIPs\[0\] must be a string/],
    ['label value an object', rawService('ns', 'a', {}, { labels: { a: { b: 1 } } }), /metadata.labels\["a"\] must be a string/],
  ];
  for (const [name, raw, re] of errors) t.throws(() => slimService(raw), { message: re }, name);
});

t.test('slimEndpointSlice', async (t) => {
  const long = 'p'.repeat(64);
  const max = 'p'.repeat(63);
  const s = slimEndpointSlice(
    rawSlice(
      'ns',
      'web-abc12',
      'web',
      {
        ports: [{ name: 'http', port: 8080 }, { name: 'all' /* no port: "all ports" */ }, { port: 53, protocol: 'UDP' }],
        endpoints: [
          { addresses: ['10.1.0.1'], conditions: { ready: true }, hostname: 'web-0', nodeName: 'n1', zone: 'z1', targetRef: { kind: 'Pod', name: 'web-0' } },
          { addresses: ['10.1.0.2'], conditions: { ready: false, serving: true } },
          { addresses: ['10.1.0.3'], conditions: {} },
          { addresses: ['10.1.0.4'] },
          { addresses: ['10.1.0.5'], conditions: { ready: null } },
          { addresses: ['10.1.0.6'], targetRef: { kind: 'Node', name: 'node-1' } },
          { addresses: ['10.1.0.7'], targetRef: { name: 'no-kind' } },
          { addresses: ['10.1.0.8'], targetRef: { kind: 'Pod', name: long } },
          { addresses: ['10.1.0.9'], targetRef: { kind: 'Pod', name: max } },
          { addresses: ['not-an-ip'] },
          { addresses: ['bogus', '10.1.0.10', '10.1.0.10'] },
        ],
      },
      { resourceVersion: '9' },
    ),
  );
  t.match(s, { namespace: 'ns', name: 'web-abc12', resourceVersion: '9', serviceName: 'web', addressType: 'IPv4' });
  t.same(s.ports, [
    { name: 'http', protocol: 'TCP', port: 8080 },
    { name: '', protocol: 'UDP', port: 53 },
  ], 'port without a number dropped; defaults applied');
  const rows = rowList(s);
  const byIP = new Map(rows.map((e) => [e.address, e]));
  t.equal(rows.length, 10, 'endpoint without a usable address dropped');
  t.same(byIP.get('10.1.0.1'), { address: '10.1.0.1', ready: true, hostname: 'web-0', targetRefName: 'web-0' }, 'nodeName and zone not kept');
  // CoreDNS object/endpoint.go: only ready:false excludes; missing/null ready is ready.
  t.same(
    ['10.1.0.2', '10.1.0.3', '10.1.0.4', '10.1.0.5'].map((ip) => byIP.get(ip)!.ready),
    [false, true, true, true],
    'ready conditions',
  );
  t.equal(byIP.get('10.1.0.6')!.targetRefName, '', 'targetRef to a Node ignored');
  t.equal(byIP.get('10.1.0.7')!.targetRefName, 'no-kind', 'targetRef without kind kept');
  t.equal(byIP.get('10.1.0.8')!.targetRefName, '', '64-character targetRef name ignored');
  t.equal(byIP.get('10.1.0.9')!.targetRefName, max, '63-character targetRef name kept');
  t.same(rows.map((e) => e.address).slice(-1), ['10.1.0.10'], 'invalid address dropped, duplicates merged');
  t.match(byIP.get('10.1.0.4'), { hostname: '', targetRefName: '' });
  t.same(s.notReady, [1], 'the one not-ready row');
  t.same(s.hostnames, ['web-0', '', '', '', '', '', '', '', '', ''], 'a hostname column once one endpoint has a hostname');

  // An endpoint with several addresses is a row per address, with the endpoint's readiness and names.
  const multi = slimEndpointSlice(
    rawSlice('ns', 'm', 'm', {
      endpoints: [
        { addresses: ['10.2.0.1'] },
        { addresses: ['10.2.0.2', '10.2.0.3'], conditions: { ready: false }, hostname: 'two', targetRef: { kind: 'Pod', name: 'p2' } },
      ],
    }),
  );
  t.same(rowList(multi), [
    { address: '10.2.0.1', ready: true, hostname: '', targetRefName: '' },
    { address: '10.2.0.2', ready: false, hostname: 'two', targetRefName: 'p2' },
    { address: '10.2.0.3', ready: false, hostname: 'two', targetRefName: 'p2' },
  ]);
  t.same(multi.notReady, [1, 2]);
  const plain = slimEndpointSlice(rawSlice('ns', 'p', 'p', { endpoints: [{ addresses: ['10.3.0.1'] }, { addresses: ['10.3.0.2'] }] }));
  t.same([plain.notReady, plain.hostnames, plain.targetRefNames], [[], [], []], 'empty columns when every endpoint is ready and unnamed');
  t.equal(plain.hostnames, slimEndpointSlice(rawSlice('ns', 'q', 'q', {})).hostnames, 'one shared empty column');

  const v6 = slimEndpointSlice(
    rawSlice('ns', 'v6', 'v6', { addressType: 'IPv6', endpoints: [{ addresses: ['FD00:0:0::0001'] }] }, { labels: {} }),
  );
  t.equal(v6.serviceName, '', 'no service-name label');
  t.same(v6.addresses, ['fd00::1'], 'IPv6 canonicalised');

  const inferred = slimEndpointSlice({ metadata: { name: 'x' }, endpoints: [{ addresses: ['fd00::2'] }] });
  t.equal(inferred.addressType, 'IPv6', 'missing addressType inferred from the addresses');
  t.equal(inferred.namespace, 'default');
  t.same(slimEndpointSlice({ metadata: { name: 'e' } }), {
    namespace: 'default', name: 'e', resourceVersion: '', labels: {}, serviceName: '', addressType: 'IPv4', ports: [], lastChangeTriggerTime: 0,
    addresses: [], notReady: [], hostnames: [], targetRefNames: [],
  }, 'empty slice');

  const fqdn = slimEndpointSlice(rawSlice('ns', 'f', 'f', { addressType: 'FQDN', endpoints: [{ addresses: ['db.example.com'] }] }));
  t.same(fqdn.addresses, [], 'FQDN endpoints carry nothing DNS can serve');

  const errors: Array<[string, unknown, RegExp]> = [
    ['endpoints not a list', rawSlice('ns', 's', 'svc', { endpoints: 'x' }), /^EndpointSlice ns\/s: endpoints must be a list/],
    ['address not a string', rawSlice('ns', 's', 'svc', { endpoints: [{ addresses: [1] }] }), /endpoints\[0\].addresses\[0\] must be a string/],
    ['bad port', rawSlice('ns', 's', 'svc', { ports: [{ port: 70000 }] }), /ports\[0\].port must be an integer from 1 to 65535, got 70000/],
    ['conditions a string', rawSlice('ns', 's', 'svc', { endpoints: [{ addresses: ['1.2.3.4'], conditions: 'ready' }] }), /endpoints\[0\].conditions must be an object/],
    ['nodeName a number (not kept, still checked)', rawSlice('ns', 's', 'svc', { endpoints: [{ addresses: ['1.2.3.4'], nodeName: 5 }] }), /endpoints\[0\].nodeName must be a string, got 5/],
    ['no name', { kind: 'EndpointSlice', metadata: { namespace: 'x' } }, /^EndpointSlice: metadata.name is required/],
  ];
  for (const [name, raw, re] of errors) t.throws(() => slimEndpointSlice(raw), { message: re }, name);
});

t.test('slimNamespace and slimPod', async (t) => {
  t.same(
    slimNamespace({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo', namespace: 'ignored', resourceVersion: '5', labels: { team: 'a' } } }),
    { namespace: '', name: 'demo', resourceVersion: '5', labels: { team: 'a' } },
  );
  t.same(
    slimPod({ metadata: { name: 'p', namespace: 'ns', resourceVersion: '7' }, status: { phase: 'Running', podIP: '10.1.2.3', podIPs: [{ ip: '10.1.2.3' }, { ip: 'fd00::3' }] } }),
    { namespace: 'ns', name: 'p', resourceVersion: '7', labels: {}, podIP: '10.1.2.3', phase: 'Running', terminating: false },
  );
  t.match(slimPod({ metadata: { name: 'p6' }, status: { podIP: 'FD00:0::3' } }), { namespace: 'default', podIP: 'fd00::3', phase: '' });
  t.match(slimPod({ metadata: { name: 'pending' }, status: { phase: 'Pending' } }), { podIP: '', phase: 'Pending' });
  t.match(slimPod({ metadata: { name: 'bad' }, status: { podIP: '999.1.1.1' } }), { podIP: '' }, 'invalid podIP dropped');
  t.match(slimPod({ metadata: { name: 'nostatus' } }), { podIP: '', phase: '', terminating: false });
  t.match(
    slimPod({ metadata: { name: 'dying', deletionTimestamp: '2025-06-09T08:15:42Z' }, status: { podIP: '10.0.0.9' } }),
    { terminating: true },
  );
  t.throws(() => slimPod({ metadata: { name: 'p' }, status: { podIP: 5 } }), { message: /^Pod default\/p: status.podIP must be a string/ });
});

t.test('slimObject', async (t) => {
  const svc = slimObject(rawService('ns', 'a', { clusterIP: '10.0.0.1' }));
  t.equal(svc?.kind, 'Service');
  t.equal(svc?.obj.name, 'a');
  t.equal(slimObject(rawSlice('ns', 's', 'a', {}))?.kind, 'EndpointSlice');
  t.equal(slimObject({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'n' } })?.kind, 'Namespace');
  t.equal(slimObject({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' } })?.kind, 'Pod');

  t.equal(slimObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: {} }), null, 'other kinds ignored');
  t.equal(slimObject({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name: 'c' } }), null, 'core/v1 Endpoints ignored (CoreDNS >= 1.11)');
  t.equal(slimObject({ ...rawSlice('ns', 's', 'a', {}), apiVersion: 'discovery.k8s.io/v1beta1' }), null, 'v1beta1 EndpointSlice ignored');
  t.equal(slimObject({ apiVersion: 'apps/v1', kind: 'Service', metadata: {} }), null, 'wrong group ignored, not validated');
  t.equal(slimObject({ kind: 'ConfigMap' }), null, 'ignored kinds are not validated');

  t.throws(() => slimObject({ apiVersion: 'v1', metadata: { name: 'x' } }), { message: 'object has no kind (apiVersion "v1", metadata.name "x")' });
  t.throws(() => slimObject([]), { message: /^object must be a mapping/ });
  t.throws(() => slimObject(null), { message: /^object must be a mapping, got null/ });
  t.throws(() => slimObject({ apiVersion: 'v1', kind: 'Service', metadata: {} }), { message: /^Service: metadata.name is required/ });
});

t.test('last-change-trigger-time annotation', async (t) => {
  const at = (v: unknown) => slimEndpointSlice({ metadata: { name: 'e', annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': v } } }).lastChangeTriggerTime;
  t.equal(at('2026-11-22T05:00:00Z'), Date.parse('2026-11-22T05:00:00Z'));
  t.equal(at('2026-11-22T05:00:00.123456789Z'), Date.parse('2026-11-22T05:00:00.123Z'), 'RFC 3339 nanoseconds');
  t.equal(at('yesterday'), 0, 'unparsable → 0');
  t.equal(at(undefined), 0);
});

t.test('a SlimPool shares what objects have in common, and changes nothing else', async (t) => {
  const pool = new SlimPool();
  const manager = 'endpointslice-controller.k8s.io';
  const raw = (name: string, ip: string) =>
    rawSlice('a-long-namespace', name, 'web', {
      ports: [{ name: 'http-alternative', port: 8080 }],
      endpoints: [{ addresses: [ip], nodeName: 'node-pool-a-0001', zone: 'europe-west1-b', targetRef: { kind: 'Pod', name: `${name}-pod` } }],
    }, { labels: { 'kubernetes.io/service-name': 'web', 'endpointslice.kubernetes.io/managed-by': manager } });
  // JSON round trips, as a parser delivers them: equal strings are distinct copies.
  const a = slimEndpointSlice(JSON.parse(JSON.stringify(raw('web-1', '10.0.0.1'))), pool);
  const b = slimEndpointSlice(JSON.parse(JSON.stringify(raw('web-2', '10.0.0.2'))), pool);
  t.same(a, slimEndpointSlice(raw('web-1', '10.0.0.1')), 'the same content as without a pool');
  t.equal(a.labels, b.labels, 'equal label sets are one object');
  t.equal(a.ports, b.ports, 'equal port lists are one list');
  t.ok(Object.isFrozen(a.labels) && Object.isFrozen(a.ports) && Object.isFrozen(a.ports[0]), 'shared parts are frozen');
  const svc = slimService(rawService('a-long-namespace', 'web', { clusterIP: '10.0.0.9', ports: [{ name: 'http-alternative', port: 8080 }] }), pool);
  t.equal(svc.ports, a.ports, 'a Service and a slice with the same ports share them');
  t.not(slimEndpointSlice(raw('web-3', '10.0.0.3'), new SlimPool()).labels, a.labels, 'pools do not share with each other');
  const bare = slimNamespace({ metadata: { name: 'x' } }, pool);
  t.same(bare.labels, {});
  t.equal(bare.labels, slimNamespace({ metadata: { name: 'y' } }, pool).labels, 'no labels: one shared empty set');
  t.same(a.targetRefNames, ['web-1-pod']);
  const lean = slimEndpointSlice(raw('web-4', '10.0.0.4'), new SlimPool({ targetRefNames: false }));
  t.same(lean.targetRefNames, [], 'targetRefName dropped on request');
  t.same(lean.addresses, ['10.0.0.4'], 'nothing else dropped');
});
