/**
 * `kubernetes` Corefile parsing (every option, CoreDNS's error texts, file:line), the README examples, and build():
 * the fixture source, startup, readiness and shutdown.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parseServerKey } from '../../../lib/corefile/keys.js';
import { parseCorefile } from '../../../lib/corefile/parser.js';
import { ConfigError, type Directive } from '../../../lib/corefile/types.js';
import { kubernetes, localAddresses } from '../../../lib/plugins/kubernetes/index.js';
import { parse, type KubernetesConfig } from '../../../lib/plugins/kubernetes/setup.js';
import { ask } from '../../support/k8s-harness.js';
import { testEnv } from '../../support/query.js';

const FILE = '/etc/coredns/Corefile';

/** Parses `kubernetes <args> {\n<body>\n}` inside a `cluster.local` block, the directive on line 2. */
function cfg(args: string, body?: string, keys = 'cluster.local'): KubernetesConfig {
  const text = body === undefined ? `${keys} {\nkubernetes ${args}\n}\n` : `${keys} {\nkubernetes ${args} {\n${body}\n}\n}\n`;
  const [block] = parseCorefile(text, FILE, {});
  const d = block!.directives.find((x: Directive) => x.name.text === 'kubernetes')!;
  const zones = block!.keys.flatMap((k) => parseServerKey(k, 53).map((z) => z.zone));
  return parse(d, { zones, keys: [] });
}

t.test('defaults and zones', async (t) => {
  const c = cfg('');
  t.strictSame(c.zones, ['cluster.local.'], 'zones default to the block');
  t.equal(c.primaryZone, 'cluster.local.');
  t.equal(c.ttl, 5);
  t.equal(c.pods, 'disabled');
  t.equal(c.fallthrough, null);
  t.equal(c.startupTimeoutMs, 5000);
  t.equal(c.fixture, null);
  t.strictSame(c.namespaces, []);
  t.equal(c.labelSelector, null);
  t.notOk(c.noEndpoints || c.endpointPodNames || c.ignoreEmptyService);

  const z = cfg('Cluster.Local in-addr.arpa 10.0.0.0/8 172.16.0.0/15 ip6.arpa');
  t.strictSame(
    z.zones,
    ['cluster.local.', 'in-addr.arpa.', '10.in-addr.arpa.', '16.172.in-addr.arpa.', '17.172.in-addr.arpa.', 'ip6.arpa.'],
    'CIDRs become reverse zones, names lower case',
  );
  t.equal(z.primaryZone, 'cluster.local.');
  t.equal(cfg('10.0.0.0/8 example.org').primaryZone, 'example.org.', 'the primary zone is the first non-reverse zone');
  // CoreDNS IsReverse only counts names below in-addr.arpa, so the bare zone can be primary.
  t.equal(cfg('in-addr.arpa cluster.local').primaryZone, 'in-addr.arpa.');
});

t.test('every option', async (t) => {
  const c = cfg(
    'cluster.local',
    [
      'endpoint https://10.0.0.1:6443 https://10.0.0.2:6443',
      'tls cert.pem key.pem ca.pem',
      'kubeconfig /root/.kube/config dev',
      'apiserver_qps 50.5',
      'apiserver_burst 100',
      'apiserver_max_inflight 20',
      'namespaces default kube-system default',
      'labels environment in (production, qa),application=nginx',
      'pods verified',
      'endpoint_pod_names',
      'ttl 30 ignored',
      'noendpoints',
      'fallthrough in-addr.arpa IP6.ARPA',
      'ignore empty_service extra',
      'startup_timeout 1m30s',
      'fixture ../cluster',
    ].join('\n'),
  );
  t.strictSame(c.endpoints, ['https://10.0.0.1:6443', 'https://10.0.0.2:6443']);
  t.strictSame(c.tls, { cert: 'cert.pem', key: 'key.pem', ca: 'ca.pem' });
  t.strictSame(c.kubeconfig, { file: '/root/.kube/config', context: 'dev' });
  t.equal(c.apiserverQPS, 50.5);
  t.equal(c.apiserverBurst, 100);
  t.equal(c.apiserverMaxInflight, 20);
  t.strictSame(c.namespaces, ['default', 'kube-system']);
  t.equal(c.labelSelector!.requirements.length, 2);
  t.equal(c.pods, 'verified');
  t.ok(c.endpointPodNames);
  t.equal(c.ttl, 30);
  t.ok(c.noEndpoints);
  t.strictSame(c.fallthrough, ['in-addr.arpa.', 'ip6.arpa.']);
  t.ok(c.ignoreEmptyService);
  t.equal(c.startupTimeoutMs, 90_000);
  t.equal(c.fixture, '/etc/cluster', 'relative to the Corefile directory');
  t.strictSame(cfg('', 'fallthrough').fallthrough, ['.'], 'fallthrough without zones covers everything');
  t.strictSame(cfg('', 'kubeconfig kc').kubeconfig, { file: 'kc', context: '' });
  t.equal(cfg('', 'fixture /abs/path').fixture, '/abs/path');
  t.equal(cfg('', 'ignore').ignoreEmptyService, false, 'a bare ignore is accepted and does nothing, as in CoreDNS');
  t.equal(cfg('', 'namespace_labels istio-injection=enabled').namespaceSelector!.requirements[0]!.key, 'istio-injection');
  for (const mode of ['disabled', 'insecure', 'verified']) t.equal(cfg('', `pods ${mode}`).pods, mode);
  t.equal(cfg('', 'ttl 0').ttl, 0);
  t.equal(cfg('', 'ttl 3600').ttl, 3600);
});

// [body line(s), problem]; the failing line is the line of the token named, in the Corefile above (body starts
// on line 3).
const INVALID: [string, string, number?][] = [
  ['endpoint', "Wrong argument count or unexpected line ending after 'endpoint'"],
  ['tls a b', "Wrong argument count or unexpected line ending after 'b'"],
  ['tls a b c d', "Wrong argument count or unexpected line ending after 'd'"],
  ['kubeconfig', "Wrong argument count or unexpected line ending after 'kubeconfig'"],
  ['kubeconfig file context extraarg', "Wrong argument count or unexpected line ending after 'extraarg'"],
  ['namespaces', "Wrong argument count or unexpected line ending after 'namespaces'"],
  ['labels', "Wrong argument count or unexpected line ending after 'labels'"],
  ['namespace_labels', "Wrong argument count or unexpected line ending after 'namespace_labels'"],
  ['pods', "Wrong argument count or unexpected line ending after 'pods'"],
  ['pods insecure verified', "Wrong argument count or unexpected line ending after 'verified'"],
  ['pods giant_seed', 'wrong value for pods: giant_seed,  must be one of: disabled, verified, insecure'],
  ['endpoint_pod_names giant_seed', "Wrong argument count or unexpected line ending after 'giant_seed'"],
  ['noendpoints ixnay', "Wrong argument count or unexpected line ending after 'ixnay'"],
  ['ignore ixnay on the endpointsay', "unable to parse ignore value: 'ixnay'"],
  ['ttl', "Wrong argument count or unexpected line ending after 'ttl'"],
  ['ttl -1', 'ttl must be in range [0, 3600]: -1'],
  ['ttl 3601', 'ttl must be in range [0, 3600]: 3601'],
  ['ttl five', 'strconv.Atoi: parsing "five": invalid syntax'],
  ['startup_timeout', "Wrong argument count or unexpected line ending after 'startup_timeout'"],
  ['startup_timeout 5', 'time: missing unit in duration "5"'],
  ['apiserver_qps', "Wrong argument count or unexpected line ending after 'apiserver_qps'"],
  ['apiserver_qps fast', 'strconv.ParseFloat: parsing "fast": invalid syntax'],
  ['apiserver_qps -1', 'apiserver_qps must not be negative: -1'],
  ['apiserver_burst 1.5', 'strconv.Atoi: parsing "1.5": invalid syntax'],
  ['apiserver_max_inflight -3', 'apiserver_max_inflight must not be negative: -3'],
  ['multicluster clusterset.local', 'multicluster is not supported by clusterdns'],
  ['zonal', 'zonal is not supported by clusterdns'],
  ['fixture', "Wrong argument count or unexpected line ending after 'fixture'"],
  ['upstream', "unknown property 'upstream'"],
  ['resyncperiod 5m', "unknown property 'resyncperiod'"],
  ['transfer to *', "unknown property 'transfer'"],
  ['bogus', "unknown property 'bogus'"],
  ['pods {\ninsecure\n}', "Unexpected token '{': 'pods' takes no block"],
  ['namespaces foo bar\nnamespace_labels istio-injection=enabled', 'namespaces and namespace_labels cannot both be set', 1],
];

/** The ConfigError `fn` throws (a test failure if it throws anything else or nothing). */
function configError(fn: () => unknown): ConfigError | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  return undefined;
}

t.test('invalid options: CoreDNS error texts with file and line', async (t) => {
  for (const [body, problem, line] of INVALID) {
    const err = configError(() => cfg('cluster.local', `ttl 10\n${body}`));
    if (err === undefined) {
      t.fail(`${body}: expected a ConfigError`);
      continue;
    }
    const at = (line ?? 0) + 4;
    t.strictSame(
      { problem: err.problem, plugin: err.plugin, file: err.file, line: err.line, message: err.message },
      { problem, plugin: 'kubernetes', file: FILE, line: at, message: `plugin/kubernetes: ${FILE}:${at} - Error during parsing: ${problem}` },
      body,
    );
  }
  t.match(configError(() => cfg('', 'labels environment in (production, qa')), {
    problem: /^unable to parse label selector value: 'environment in \(production, qa': /,
  });
  t.match(configError(() => cfg('', 'namespace_labels a in (b')), {
    problem: /^unable to parse namespace_label selector value: 'a in \(b': /,
  });
  t.match(configError(() => cfg('10.0.0.0/8 fd00::/8')), { problem: 'non-reverse zone name must be used', line: 2 });
  t.match(configError(() => cfg('', undefined, '10.0.0.0/8')), { problem: 'non-reverse zone name must be used' });
  t.throws(() => cfg('bad..zone'), ConfigError, 'an invalid zone argument');
});

t.test('README examples parse', async (t) => {
  const readme = readFileSync(new URL('../../../lib/plugins/kubernetes/README.md', import.meta.url), 'utf8');
  const blocks = [...readme.matchAll(/~~~ corefile\n([\s\S]*?)~~~/g)].map((m) => m[1]!);
  t.ok(blocks.length >= 3);
  for (const text of blocks) {
    const [block] = parseCorefile(text, 'README.md', {});
    const d = block!.directives.find((x: Directive) => x.name.text === 'kubernetes')!;
    t.doesNotThrow(() => parse(d, { zones: ['cluster.local.'], keys: [] }), text.split('\n')[0]);
  }
  for (const section of ['## Name', '## Description', '## Syntax', '## Ready', '## Metrics', '## Examples', '## Compatibility']) {
    t.ok(readme.includes(`\n${section}\n`), section);
  }
});

t.test('build without fixture uses the API; in-cluster config without its environment fails startup clearly', async (t) => {
  const c = cfg('');
  const env = testEnv(['cluster.local.']);
  const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
  delete process.env.KUBERNETES_SERVICE_HOST;
  delete process.env.KUBERNETES_SERVICE_PORT;
  t.teardown(() => {
    if (saved.host !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved.host;
    if (saved.port !== undefined) process.env.KUBERNETES_SERVICE_PORT = saved.port;
  });
  kubernetes.build(c, null, env);
  t.equal(env.readinessList[0]?.ready(), false, 'not ready before a sync');
  await t.rejects(Promise.all(env.startups.map((f) => f())), {
    message: 'unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined',
  });
  for (const f of env.shutdowns) await f();
});

const FIXTURE = `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata: {name: default}
- apiVersion: v1
  kind: Service
  metadata: {name: web, namespace: default}
  spec: {clusterIP: 10.96.0.20, ports: [{name: http, port: 80, protocol: TCP}]}
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
  addressType: IPv4
  ports: [{name: http, port: 80, protocol: TCP}]
  endpoints: [{addresses: [10.244.0.10], conditions: {ready: true}}]
`;

t.test('build: a fixture-backed zone, startup, readiness, shutdown', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'k8s-build-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'cluster.yaml'), FIXTURE);
  const c = { ...cfg('cluster.local', `fixture ${join(dir, 'cluster.yaml')}`), localIPs: ['10.244.0.10'] };
  const env = testEnv(['cluster.local.']);
  const h = kubernetes.build(c, null, env)!;
  t.equal(h.name, 'kubernetes');
  t.equal(env.readinessList.length, 1);
  t.equal(env.readinessList[0]!.name, 'kubernetes');
  t.notOk(env.readinessList[0]!.ready(), 'not ready before startup');
  const before = await ask(h, 'web.default.svc.cluster.local.', 'A');
  t.equal(before.rcode, 'SERVFAIL', 'unsynced: a name error is SERVFAIL');
  t.equal(before.authority.length, 1, 'with the SOA');

  for (const fn of env.startups) await fn();
  t.ok(env.readinessList[0]!.ready(), 'ready after the first load');
  const a = await ask(h, 'web.default.svc.cluster.local.', 'A');
  t.strictSame(a.answer, ['web.default.svc.cluster.local.\t5\tIN\tA\t10.96.0.20']);
  const ns = await ask(h, 'cluster.local.', 'NS');
  t.strictSame(ns.answer, ['cluster.local.\t5\tIN\tNS\tweb.default.svc.cluster.local.'], 'NS from the configured local IPs');
  t.equal((await ask(h, 'nope.default.svc.cluster.local.', 'A')).rcode, 'NXDOMAIN');
  for (const fn of env.shutdowns) await fn();
});

t.test('build: a broken fixture stops startup with its file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'k8s-bad-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'apiVersion: v1\nkind: Service\nmetadata: {namespace: x}\n');
  const env = testEnv(['cluster.local.']);
  kubernetes.build({ ...cfg('', `fixture ${file}`), localIPs: [] }, null, env);
  await t.rejects(async () => {
    for (const fn of env.startups) await fn();
  }, new RegExp(file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
});

t.test('localAddresses: non-loopback interface addresses in canonical form', async (t) => {
  const ips = localAddresses();
  t.notOk(ips.includes('127.0.0.1'));
  t.notOk(ips.includes('::1'));
  for (const ip of ips) t.notMatch(ip, /%/);
});

t.test('localAddresses with bind: only the bound non-loopback addresses', async (t) => {
  t.same(localAddresses(['127.0.0.1', '::1']), [], 'loopback only: no NS addresses');
  t.same(localAddresses(['10.96.0.10', '127.0.0.1', 'fd00:0::a']), ['10.96.0.10', 'fd00::a']);
});
