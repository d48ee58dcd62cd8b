import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parse as parseYAML } from 'yaml';
import { rowList } from '../../lib/kube/endpoint-rows.js';
import { FixtureError, FixtureSource, loadFixture } from '../../lib/kube/fixture-source.js';
import { ClusterModel } from '../../lib/kube/model.js';
import type { ChangeEvent, Snapshot } from '../../lib/kube/types.js';
import { captureLog, waitFor } from '../support/kube-helpers.js';

const DEMO = fileURLToPath(new URL('../../fixtures/demo/cluster.yaml', import.meta.url));

const svcYAML = (name: string, ip: string, ns = 'default') => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  clusterIP: ${ip}
  ports:
  - name: http
    port: 80
`;

function names(s: Snapshot): string[] {
  return [
    ...s.namespaces.map((o) => `ns/${o.name}`),
    ...s.services.map((o) => `svc/${o.namespace}/${o.name}`),
    ...s.endpointSlices.map((o) => `eps/${o.namespace}/${o.name}`),
    ...s.pods.map((o) => `pod/${o.namespace}/${o.name}`),
  ];
}

t.test('loading: single document, multi-document, List, JSON, directory', async (t) => {
  const dir = t.testdir({
    'single.yaml': svcYAML('web', '10.0.0.1'),
    'multi.yaml': `# leading comment
---
${svcYAML('a', '10.0.0.2')}---
apiVersion: v1
kind: ConfigMap
metadata: {name: ignored}
---
apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
`,
    'list.yaml': `apiVersion: v1
kind: List
metadata:
  resourceVersion: ""
items:
- apiVersion: v1
  kind: Namespace
  metadata: {name: kafka}
- apiVersion: v1
  kind: Pod
  metadata: {name: p, namespace: kafka}
  status: {podIP: 10.1.0.1}
`,
    'list.json': JSON.stringify({
      apiVersion: 'v1',
      kind: 'ServiceList',
      items: [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 'j', namespace: 'x' }, spec: { clusterIP: '10.0.0.3' } }],
    }),
    'single.json': JSON.stringify({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'j-1', namespace: 'x', labels: { 'kubernetes.io/service-name': 'j' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.1.0.2'] }],
    }),
    'bom.json': '\uFEFF' + JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bom' } }),
    'seq.yml': `- apiVersion: v1
  kind: Namespace
  metadata: {name: from-seq}
`,
    'empty.yaml': '',
    'comments.yaml': '# nothing here\n',
    'dir': {
      'b.yaml': svcYAML('b', '10.0.1.2'),
      'a.yml': svcYAML('a', '10.0.1.1'),
      'c.json': JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'c' } }),
      'Corefile': '. { whoami }\n',
      'notes.txt': 'not: [yaml',
      'README.md': '# hi',
      '.hidden.yaml': 'kind: [',
      '.#a.yml': t.fixture('symlink', 'nowhere.yaml'), // an emacs lock link: dangling
      'sub.yaml': { 'x.yaml': svcYAML('x', '10.0.1.9') }, // a directory, not read
      'link.yaml': t.fixture('symlink', 'b.yaml'), // a symlink to a file is read
    },
  });
  t.same(names(loadFixture(join(dir, 'single.yaml'))), ['svc/default/web']);
  t.same(names(loadFixture(join(dir, 'multi.yaml'))), ['ns/demo', 'svc/default/a'], 'ConfigMap ignored, empty docs skipped');
  t.same(names(loadFixture(join(dir, 'list.yaml'))), ['ns/kafka', 'pod/kafka/p']);
  t.same(names(loadFixture(join(dir, 'list.json'))), ['svc/x/j']);
  const one = loadFixture(join(dir, 'single.json'));
  t.same(names(one), ['eps/x/j-1']);
  t.equal(one.endpointSlices[0]!.serviceName, 'j');
  t.same(names(loadFixture(join(dir, 'seq.yml'))), ['ns/from-seq'], 'top-level sequence');
  t.same(names(loadFixture(join(dir, 'bom.json'))), ['ns/bom'], 'JSON with a byte-order mark');
  t.same(names(loadFixture(join(dir, 'empty.yaml'))), []);
  t.same(names(loadFixture(join(dir, 'comments.yaml'))), []);
  t.same(
    names(loadFixture(join(dir, 'dir'))),
    ['ns/c', 'svc/default/a', 'svc/default/b', 'svc/default/b'],
    'directory: *.yaml, *.yml, *.json in name order (symlinks followed); other, hidden files and directories ignored',
  );
});

t.test('load errors name the file and line', async (t) => {
  const dir = t.testdir({
    'syntax.yaml': `apiVersion: v1
kind: Service
metadata:
  name: web
   namespace: bad
`,
    'object.yaml': `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata: {name: ok}
- apiVersion: v1
  kind: Service
  metadata:
    name: web
  spec:
    ports:
    - port: http
`,
    'multi.yaml': `${svcYAML('a', '10.0.0.1')}---
apiVersion: v1
kind: Pod
metadata: {namespace: x}
`,
    'nokind.yaml': `apiVersion: v1
metadata: {name: what}
`,
    'syntax.json': '{\n  "apiVersion": "v1",\n  "kind": "Namespace",\n  "metadata": {"name": "x",}\n}\n',
    'object.json': JSON.stringify(
      { apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } }, { apiVersion: 'v1', kind: 'Pod', metadata: {} }] },
      null,
      2,
    ),
    'notalist.yaml': 'apiVersion: v1\nkind: List\nitems: 5\n',
    'dir': { 'a.yaml': svcYAML('a', '10.0.0.1'), 'b.yaml': 'kind: [\n' },
  });
  const cases: Array<[string, number | undefined, RegExp]> = [
    ['syntax.yaml', 4, /YAML syntax error: Nested mappings are not allowed in compact mappings at line 4, column 9/],
    ['object.yaml', 7, /Service default\/web: spec.ports\[0\].port must be an integer from 1 to 65535, got "http"/],
    ['multi.yaml', 12, /Pod: metadata.name is required/],
    ['nokind.yaml', 1, /object has no kind/],
    ['syntax.json', 4, /JSON syntax error/],
    ['object.json', 12, /Pod: metadata.name is required/],
    ['notalist.yaml', 1, /List.items must be a list/],
    ['dir', 2, /YAML syntax error/],
    ['missing.yaml', undefined, /cannot read fixture: ENOENT/],
  ];
  for (const [name, line, re] of cases) {
    let err: unknown;
    try {
      loadFixture(join(dir, name));
    } catch (e) {
      err = e;
    }
    t.ok(err instanceof FixtureError, `${name}: FixtureError`);
    const fe = err as FixtureError;
    const file = name === 'dir' ? join(dir, 'dir', 'b.yaml') : join(dir, name);
    t.equal(fe.file, file, `${name}: file`);
    t.equal(fe.line, line, `${name}: line`);
    t.match(fe.reason, re, `${name}: reason`);
    t.ok(fe.message.startsWith(line === undefined ? `${file}: ` : `${file}:${line}: `), `${name}: message starts with file:line`);
  }
});

t.test('start rejects with file and line when the first load fails', async (t) => {
  const dir = t.testdir({ 'bad.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: [x\n' });
  const src = new FixtureSource({ path: join(dir, 'bad.yaml'), watch: false });
  const m = new ClusterModel();
  await t.rejects(src.start(m), { name: 'FixtureError', message: new RegExp(`^${escape(join(dir, 'bad.yaml'))}:\\d+: YAML syntax error`) });
  t.equal(src.synced, false);
  t.equal(m.size('Namespace'), 0);
  await src.stop();
});

t.test('watching a file: edits, rename-replace, broken edits', async (t) => {
  const dir = t.testdir({ 'cluster.yaml': svcYAML('web', '10.0.0.1'), 'other.txt': '' });
  const file = join(dir, 'cluster.yaml');
  const { log, lines } = captureLog('debug');
  const src = new FixtureSource({ path: file, log, debounceMs: 20 });
  t.teardown(() => src.stop());
  const m = new ClusterModel();
  const batches: ChangeEvent[][] = [];
  m.onChange((ev) => batches.push(ev));

  await src.start(m);
  t.equal(src.synced, true);
  t.equal(batches.length, 1);
  t.same(m.get('Service', 'default', 'web')?.clusterIPs, ['10.0.0.1']);
  t.match(lines.at(-1), { msg: 'fixture loaded', services: 1 });

  writeFileSync(file, svcYAML('web', '10.0.0.2') + '---\n' + svcYAML('api', '10.0.0.3'));
  await waitFor(() => batches.length >= 2, 'events after an in-place edit');
  t.same(m.get('Service', 'default', 'web')?.clusterIPs, ['10.0.0.2']);
  t.ok(m.get('Service', 'default', 'api'));

  // Editors that write a temporary file and rename it over the original replace the inode.
  const tmp = join(dir, '.cluster.yaml.swp');
  writeFileSync(tmp, svcYAML('web', '10.0.0.4'));
  renameSync(tmp, file);
  await waitFor(() => m.get('Service', 'default', 'web')?.clusterIPs[0] === '10.0.0.4', 'events after a rename-replace');
  t.equal(m.get('Service', 'default', 'api'), undefined, 'api deleted');

  // And the watch survives the rename: a further in-place edit is still seen.
  writeFileSync(file, svcYAML('web', '10.0.0.5'));
  await waitFor(() => m.get('Service', 'default', 'web')?.clusterIPs[0] === '10.0.0.5', 'events after an edit following a rename');

  const before = batches.length;
  const errorsBefore = lines.filter((l) => l.level === 50).length;
  writeFileSync(file, svcYAML('web', '10.0.0.6') + '---\napiVersion: v1\nkind: Service\nmetadata:\n  name: [broken\n');
  await waitFor(() => lines.filter((l) => l.level === 50).length > errorsBefore, 'an error log for a broken edit');
  const err = lines.filter((l) => l.level === 50).at(-1)!;
  t.equal(err.file, file, 'error names the file');
  t.equal(err.line, 16, 'error names the line (the unclosed [ runs to the end of the file)');
  t.match(err.msg, /keeping the last good cluster/);
  t.equal(batches.length, before, 'a broken edit changes nothing');
  t.same(m.get('Service', 'default', 'web')?.clusterIPs, ['10.0.0.5']);

  // An object error (not a syntax error) is handled the same way.
  writeFileSync(file, svcYAML('web', '10.0.0.6') + '---\napiVersion: v1\nkind: Service\nmetadata:\n  namespace: x\n');
  await waitFor(() => lines.filter((l) => l.level === 50).length > errorsBefore + 1, 'an error log for a bad object');
  t.match(lines.filter((l) => l.level === 50).at(-1), { file, line: 12, msg: /metadata.name is required/ });
  t.equal(batches.length, before);

  writeFileSync(file, svcYAML('web', '10.0.0.7'));
  await waitFor(() => batches.length > before, 'recovery after the edit is fixed');
  t.same(m.get('Service', 'default', 'web')?.clusterIPs, ['10.0.0.7']);

  // Touching the file without changing it reads it again (logged at debug) but reports nothing.
  const quiet = batches.length;
  let logsBefore = lines.length;
  writeFileSync(file, svcYAML('web', '10.0.0.7'));
  await waitFor(() => lines.length > logsBefore, 'a reload of an unchanged file');
  t.match(lines.at(-1), { level: 20, msg: 'fixture unchanged' });
  t.equal(batches.length, quiet);

  // Other files in the directory do not even trigger a reload.
  logsBefore = lines.length;
  writeFileSync(join(dir, 'other.txt'), 'x');
  await new Promise((r) => setTimeout(r, 100));
  t.equal(lines.length, logsBefore, 'unrelated file ignored');
});

t.test('watching a directory: new files and deleted files', async (t) => {
  const dir = t.testdir({ 'a.yaml': svcYAML('a', '10.0.0.1') });
  const src = new FixtureSource({ path: dir, debounceMs: 20 });
  t.teardown(() => src.stop());
  const m = new ClusterModel();
  await src.start(m);
  t.equal(m.size('Service'), 1);
  writeFileSync(join(dir, 'b.json'), JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'b' } }));
  await waitFor(() => m.size('Namespace') === 1, 'a new file in the directory');
  writeFileSync(join(dir, 'a.yaml'), '');
  await waitFor(() => m.size('Service') === 0, 'objects removed from a file');
  await src.stop();
  await src.stop(); // idempotent
  await t.rejects(src.start(m), { message: 'FixtureSource already started' });
});

t.test('a file rewritten more often than the quiet time is still reloaded (maxWaitMs)', async (t) => {
  const dir = t.testdir({ 'a.yaml': svcYAML('a', '10.0.0.1') });
  const file = join(dir, 'a.yaml');
  // Rewritten every 20 ms for 1.5 s: a 300 ms quiet time alone would wait until the writes stop.
  const src = new FixtureSource({ path: file, debounceMs: 300, maxWaitMs: 200 });
  t.teardown(() => src.stop());
  const m = new ClusterModel();
  await src.start(m);
  let reloadedWhileWriting = false;
  for (let i = 2; i < 77; i++) {
    writeFileSync(file, svcYAML('a', `10.0.0.${i}`));
    await new Promise((r) => setTimeout(r, 20));
    if (m.get('Service', 'default', 'a')?.clusterIPs[0] !== '10.0.0.1') reloadedWhileWriting = true;
  }
  t.ok(reloadedWhileWriting, 'reloaded before the writes stopped');
  await waitFor(() => m.get('Service', 'default', 'a')?.clusterIPs[0] === '10.0.0.76', 'the last write once they stop');
});

t.test('watch: false does not watch', async (t) => {
  const dir = t.testdir({ 'a.yaml': svcYAML('a', '10.0.0.1') });
  const src = new FixtureSource({ path: join(dir, 'a.yaml'), watch: false });
  const m = new ClusterModel();
  await src.start(m);
  writeFileSync(join(dir, 'a.yaml'), svcYAML('a', '10.0.0.2'));
  await new Promise((r) => setTimeout(r, 150));
  t.same(m.get('Service', 'default', 'a')?.clusterIPs, ['10.0.0.1']);
  await src.stop();
});

t.test('the demo cluster', async (t) => {
  const s = loadFixture(DEMO);
  t.same(
    [s.namespaces.length, s.services.length, s.endpointSlices.length, s.pods.length],
    [4, 13, 14, 23],
    'namespaces, services, endpointslices, pods',
  );
  t.same(s.namespaces.map((n) => n.name).sort(), ['default', 'demo', 'kafka', 'kube-system']);
  const m = new ClusterModel();
  m.replace(s);
  const svc = (ns: string, n: string) => m.get('Service', ns, n)!;
  const slices = (ns: string, service: string) => s.endpointSlices.filter((e) => e.namespace === ns && e.serviceName === service);

  t.same(m.get('Namespace', '', 'demo')?.labels, { environment: 'staging', 'kubernetes.io/metadata.name': 'demo', team: 'platform' });
  t.match(svc('default', 'nginx-basic'), { clusterIPs: ['10.100.49.21'], ports: [{ name: 'http', protocol: 'TCP', port: 80 }] });
  t.same(slices('default', 'nginx-basic').flatMap((e) => rowList(e).filter((x) => x.ready)).length, 2);
  t.equal(svc('default', 'nginx-headless').headless, true);
  t.same(rowList(slices('default', 'nginx-headless')[0]!).map((e) => e.ready), [true, false, true]);
  t.same(svc('kube-system', 'kube-dns').clusterIPs, ['10.96.0.10']);
  t.same(svc('kube-system', 'kube-dns').ports.map((p) => `${p.name}/${p.protocol}/${p.port}`), ['dns/UDP/53', 'dns-tcp/TCP/53', 'metrics/TCP/9153']);
  t.match(svc('default', 'external-service'), { type: 'ExternalName', externalName: 'my.database.example.com' });
  t.same(svc('default', 'dual').clusterIPs, ['10.100.50.1', 'fd00:10:96::1a']);
  t.same(slices('default', 'dual').map((e) => e.addressType).sort(), ['IPv4', 'IPv6']);
  t.same(slices('kafka', 'kafka-headless')[0]!.hostnames, ['kafka-0', 'kafka-1', 'kafka-2']);
  t.same(svc('kafka', 'kafka-headless').ports, [{ name: 'tcp-kafka', protocol: 'TCP', port: 9092 }]);
  t.same(svc('default', 'legacy-app').ports, [{ name: '', protocol: 'TCP', port: 8080 }]);
  const split = slices('demo', 'web-split').flatMap((e) => e.addresses);
  t.equal(split.length, 4);
  t.equal(new Set(split).size, 3, 'web-split slices overlap in one endpoint');
  t.equal(slices('demo', 'not-ready').flatMap((e) => rowList(e)).filter((e) => e.ready).length, 0);
  t.match(svc('demo', 'v6-only'), { headless: true });
  t.same(slices('demo', 'v6-only').map((e) => e.addressType), ['IPv6']);
  t.same(s.pods.filter((p) => p.terminating).map((p) => p.name), ['legacy-app-6b7d9f8c4-zx5rt']);
  t.ok(s.pods.some((p) => p.podIP === ''), 'a pod without an IP (Pending)');

  // Consistency of the raw manifests: every endpoint's Pod exists and owns that address; every slice has a Service.
  const raw = parseYAML(readFileSync(DEMO, 'utf8')) as { items: any[] };
  const pods = new Map(raw.items.filter((o) => o.kind === 'Pod').map((p) => [`${p.metadata.namespace}/${p.metadata.name}`, p]));
  for (const sl of raw.items.filter((o) => o.kind === 'EndpointSlice')) {
    const ns = sl.metadata.namespace;
    t.ok(m.get('Service', ns, sl.metadata.labels['kubernetes.io/service-name']), `${sl.metadata.name} has its service`);
    for (const ep of sl.endpoints) {
      if (!ep.targetRef) continue;
      const pod = pods.get(`${ns}/${ep.targetRef.name}`);
      t.ok(pod, `${sl.metadata.name}: pod ${ep.targetRef.name} exists`);
      t.ok(
        pod?.status.podIPs.some((x: { ip: string }) => x.ip === ep.addresses[0]),
        `${sl.metadata.name}: ${ep.addresses[0]} is an IP of ${ep.targetRef.name}`,
      );
      t.equal(ep.nodeName, pod?.spec.nodeName, `${sl.metadata.name}: node of ${ep.targetRef.name}`);
    }
  }
  const uids = raw.items.map((o) => o.metadata.uid);
  t.equal(new Set(uids).size, uids.length, 'uids are unique');
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

t.test('big JSON lists are streamed: same objects as parsing the whole file, errors with their line', async (t) => {
  // Over 1 MB, so items straddle the reader's 1 MB chunks; pretty-printed so lines are meaningful.
  const items: unknown[] = [];
  for (let i = 0; i < 1500; i++) {
    const ns = `team-${i % 40}`;
    items.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${i}`, namespace: ns, resourceVersion: `${i}`, labels: { app: `svc-${i}` } }, spec: { clusterIP: `10.96.${i >> 8}.${i & 255}`, ports: [{ name: 'http', port: 80 }] } });
    items.push({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: `svc-${i}-x`, namespace: ns, labels: { 'kubernetes.io/service-name': `svc-${i}`, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' } },
      addressType: 'IPv4',
      ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
      endpoints: [0, 1, 2].map((k) => ({ addresses: [`10.64.${i >> 6}.${((i & 63) << 2) + k}`], conditions: { ready: k !== 2 }, nodeName: `node-${k}`, zone: 'zone-a', targetRef: { kind: 'Pod', name: `svc-${i}-abcdefghij-k${k}` } })),
    });
  }
  items.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'ignored' } });
  items.push({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'nested' } }] });
  const text = JSON.stringify({ apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items }, null, 2);
  t.ok(text.length > 1.5 * (1 << 20), 'the list spans several chunks');
  const dir = t.testdir({ 'cluster.json': text, 'one.json': JSON.stringify(items[1]) });

  const snap = loadFixture(join(dir, 'cluster.json'));
  t.equal(snap.services.length, 1500);
  t.equal(snap.endpointSlices.length, 1500);
  t.same(snap.namespaces.map((n) => n.name), ['nested'], 'a List inside the List');
  // The reference: the same items converted one by one from a whole-file parse.
  const whole = loadFixture(join(dir, 'one.json'));
  t.same(snap.endpointSlices[0], whole.endpointSlices[0], 'equal to the same object parsed alone');
  t.same(snap.services[777], { namespace: 'team-17', name: 'svc-777', resourceVersion: '777', labels: { app: 'svc-777' }, type: 'ClusterIP', clusterIPs: ['10.96.3.9'], headless: false, externalName: '', ports: [{ name: 'http', protocol: 'TCP', port: 80 }] });
  const last = snap.endpointSlices[1499]!;
  t.same(rowList(last).map((e) => [e.address, e.ready, e.targetRefName]), [
    ['10.64.23.108', true, 'svc-1499-abcdefghij-k0'],
    ['10.64.23.109', true, 'svc-1499-abcdefghij-k1'],
    ['10.64.23.110', false, 'svc-1499-abcdefghij-k2'],
  ]);
  t.same(loadFixture(join(dir, 'cluster.json'), { targetRefNames: false }).endpointSlices[1499]!.targetRefNames, [], 'Pod names dropped on request');
  // What thousands of objects have in common is held once.
  t.equal(snap.endpointSlices[5]!.ports, snap.endpointSlices[900]!.ports, 'equal port lists are one list');
  t.equal(snap.endpointSlices[5]!.labels['endpointslice.kubernetes.io/managed-by'], snap.endpointSlices[900]!.labels['endpointslice.kubernetes.io/managed-by']);
  t.ok(Object.isFrozen(snap.endpointSlices[5]!.ports), 'shared parts are frozen');

  // A bad object deep in the stream names its line; so does a syntax error (found by the whole-file parse).
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.includes('"name": "svc-1200"'));
  const bad = lines.slice();
  bad[at] = bad[at]!.replace('"name": "svc-1200"', '"name": 1200');
  writeFileSync(join(dir, 'cluster.json'), bad.join('\n'));
  const itemStart = lines.lastIndexOf('    {', at) + 1;
  t.throws(() => loadFixture(join(dir, 'cluster.json')), { name: 'FixtureError', line: itemStart, reason: /^Service: metadata.name must be a string, got 1200/ });
  bad[at] = lines[at]!.replace('"name": "svc-1200"', '"name": "svc-1200",');
  writeFileSync(join(dir, 'cluster.json'), bad.join('\n'));
  t.throws(() => loadFixture(join(dir, 'cluster.json')), { name: 'FixtureError', reason: /^JSON syntax error/ });
});
