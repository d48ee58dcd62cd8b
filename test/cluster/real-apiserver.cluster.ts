// clusterdns against a real kube-apiserver + etcd (built by test/cluster/build.sh, started by control-plane.ts):
// deploy/'s RBAC applied as is, the server connected with a TokenRequest token for deploy/'s ServiceAccount, objects
// created through the API (real ClusterIP allocation, dual-stack), and every record family checked with dig while
// objects change, the API server restarts, and a permission is taken away.
//
// Run: test/cluster/run.sh (builds what is missing), or `npx tap -t 600 test/cluster/*.cluster.ts` after build.sh.
// Not named *.test.ts: `npm test` does not pick it up.
import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { dieWithParent, findBinaries, freeTcpPort, startControlPlane, type ControlPlane } from './control-plane.js';
import { Discovery, readManifests, type KubeObject, type Manifest } from './manifests.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CLI = path.join(REPO, 'dist', 'bin', 'clusterdns.js');
const DEPLOY = path.join(REPO, 'deploy');
const Z = 'cluster.local';
const NS = 'dns-a';

const bins = findBinaries();
const missing = 'missing' in bins ? bins.missing : !existsSync(DEPLOY) ? `${DEPLOY} does not exist yet` : undefined;
if (missing) {
  t.plan(0, `skipped: ${missing}`);
} else {
  main();
}

// ---------------------------------------------------------------------------------------------------------------
// dig

interface DigResult {
  status: string;
  /** `name TYPE data`, TTL and class dropped, sorted. */
  answer: string[];
  raw: string;
}

function digOnce(port: number, name: string, type: string): Promise<DigResult> {
  return new Promise((resolve, reject) => {
    execFile('dig', ['@127.0.0.1', '-p', String(port), '+tries=1', '+time=2', '+norec', '+noall', '+comments', '+answer', name, type], (err, stdout) => {
      if (err && !stdout) return reject(err);
      const status = /status: ([A-Z]+)/.exec(stdout)?.[1] ?? 'NO-REPLY';
      const answer = stdout
        .split('\n')
        .filter((l) => l.trim() && !l.startsWith(';'))
        .map((l) => {
          const [n, , , ty, ...data] = l.trim().split(/\s+/);
          return `${n} ${ty} ${data.join(' ')}`;
        })
        .sort();
      resolve({ status, answer, raw: stdout });
    });
  });
}

/** Ask until `want` holds (changes reach the server through a watch: allow a few seconds), then return the last reply. */
async function digUntil(port: number, name: string, type: string, want: (r: DigResult) => boolean, timeoutMs = 15_000): Promise<DigResult> {
  const began = Date.now();
  for (;;) {
    const r = await digOnce(port, name, type).catch((e: Error) => ({ status: 'ERROR', answer: [], raw: e.message }));
    if (want(r) || Date.now() - began > timeoutMs) return r;
    await new Promise((res) => setTimeout(res, 100));
  }
}

const same = (a: string[], b: string[]) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

/** `10.96.0.1` -> `1.0.96.10.in-addr.arpa.`; IPv6 -> nibbles under ip6.arpa. */
function reverseName(ip: string): string {
  if (ip.includes('.')) return `${ip.split('.').reverse().join('.')}.in-addr.arpa.`;
  const [head, tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const tl = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - tl.length).fill('0'), ...tl];
  return `${groups.map((g) => g.padStart(4, '0')).join('').split('').reverse().join('.')}.ip6.arpa.`;
}

// ---------------------------------------------------------------------------------------------------------------
// clusterdns process

interface Dns {
  port: number;
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

async function startClusterdns(dir: string, name: string, kubeconfig: string, extra = ''): Promise<Dns> {
  const port = await freeTcpPort();
  const corefile = path.join(dir, `Corefile.${name}`);
  writeFileSync(
    corefile,
    `.:${port} {
    bind 127.0.0.1
    errors
    kubernetes ${Z} in-addr.arpa ip6.arpa {
        kubeconfig ${kubeconfig}
        pods verified
        ttl 5
${extra}
    }
}
`,
  );
  // tap's NODE_OPTIONS load its TypeScript hooks; the built CLI needs none of them.
  const { NODE_OPTIONS: _hooks, ...env } = process.env;
  const child = spawn(...dieWithParent(process.execPath, [CLI, '-conf', corefile]), {
    cwd: dir,
    // Short backoff so the API server restart test recovers in seconds, not the production 30 s ceiling.
    env: { ...env, CLUSTERDNS_API_BACKOFF_INITIAL_MS: '200', CLUSTERDNS_API_BACKOFF_MAX_MS: '1000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const exited = new Promise<void>((r) => child.once('close', () => r()));
  const began = Date.now();
  while (!new RegExp(`^\\.:${port}`, 'm').test(out)) {
    if (child.exitCode !== null) throw new Error(`clusterdns exited ${child.exitCode}:\n${out}`);
    if (Date.now() - began > 20_000) throw new Error(`clusterdns did not start in 20 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------

function main(): void {
  let cp: ControlPlane;
  let disc: Discovery;
  let dns: Dns;
  let manifests: Manifest[];
  let sa: KubeObject;
  let role: KubeObject;
  const work = mkdtempSync(path.join(os.tmpdir(), 'clusterdns-cluster-'));
  const timings: string[] = [];

  t.before(async () => {
    if (!existsSync(CLI)) execFileSync('npx', ['tsc', '-p', '.'], { cwd: REPO, stdio: 'inherit' });
    let t0 = Date.now();
    cp = await startControlPlane();
    timings.push(`control plane ready in ${Date.now() - t0} ms`);
    disc = new Discovery(cp);
    manifests = readManifests(DEPLOY);

    // deploy/'s RBAC, exactly as written: the ServiceAccount, the ClusterRole and its binding.
    const rbac = manifests.filter((m) => ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding'].includes(m.obj.kind));
    for (const m of rbac) {
      const r = await disc.create(m.obj);
      if (r.status !== 201) throw new Error(`${m.file}: creating ${m.obj.kind} ${m.obj.metadata.name}: ${r.status} ${r.text}`);
    }
    const sas = rbac.filter((m) => m.obj.kind === 'ServiceAccount');
    const roles = rbac.filter((m) => m.obj.kind === 'ClusterRole');
    if (sas.length !== 1 || roles.length !== 1) throw new Error(`deploy/ should hold one ServiceAccount and one ClusterRole, found ${sas.length} and ${roles.length}`);
    sa = sas[0]!.obj;
    role = roles[0]!.obj;

    const token = await cp.serviceAccountToken(sa.metadata.namespace ?? 'default', sa.metadata.name);
    const kubeconfig = cp.writeKubeconfig(path.join(work, 'dns.kubeconfig'), token);
    await cp.must('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    t0 = Date.now();
    dns = await startClusterdns(work, 'main', kubeconfig);
    // The API server's own `kubernetes` Service proves the first list arrived.
    const r = await digUntil(dns.port, `kubernetes.default.svc.${Z}`, 'A', (x) => x.status === 'NOERROR' && x.answer.length > 0, 30_000);
    if (r.status !== 'NOERROR') throw new Error(`clusterdns never served kubernetes.default: ${r.raw}\n${dns.output()}`);
    timings.push(`clusterdns serving the cluster ${Date.now() - t0} ms after start`);
    if (process.env.CLUSTERDNS_DEBUG_LOG) console.error(dns.output());
  });

  t.teardown(async () => {
    await dns?.stop();
    await cp?.stop();
    rmSync(work, { recursive: true, force: true });
    t.comment(timings.join('; '));
  });

  const svc = (name: string, spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: NS }, spec });
  const slice = (name: string, service: string, addressType: string, endpoints: unknown[], ports: unknown[]): KubeObject => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: NS, labels: { 'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': 'clusterdns-tests' } },
    addressType,
    endpoints,
    ports,
  });
  const ep = (ip: string, hostname: string | undefined, ready: boolean) => ({ addresses: [ip], conditions: { ready }, ...(hostname ? { hostname } : {}) });
  const create = async (obj: KubeObject): Promise<any> => {
    const r = await disc.create(obj);
    if (r.status !== 201) throw new Error(`creating ${obj.kind} ${obj.metadata.name}: ${r.status} ${r.text}`);
    return r.body;
  };
  const patch = async (obj: KubeObject, body: unknown, sub = ''): Promise<any> =>
    cp.must('PATCH', (await disc.path(obj)).item + sub, body, 'application/merge-patch+json');
  const del = async (obj: KubeObject) => cp.must('DELETE', (await disc.path(obj)).item);
  const q = (name: string, type: string, want: (r: DigResult) => boolean, timeoutMs?: number) => digUntil(dns.port, name, type, want, timeoutMs);
  const isAnswer = (expected: string[]) => (r: DigResult) => r.status === 'NOERROR' && same(r.answer, expected);
  const isStatus = (status: string) => (r: DigResult) => r.status === status;

  t.test('the ServiceAccount token works and its RBAC is what CoreDNS needs, nothing more', async (t) => {
    const user = `system:serviceaccount:${sa.metadata.namespace ?? 'default'}:${sa.metadata.name}`;
    const can = async (verb: string, resource: string, group = ''): Promise<boolean> => {
      const r = await cp.must('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: { user, groups: ['system:serviceaccounts', `system:serviceaccounts:${sa.metadata.namespace ?? 'default'}`, 'system:authenticated'], resourceAttributes: { verb, resource, group } },
      });
      return (r as { status: { allowed: boolean } }).status.allowed;
    };
    for (const [res, group] of [['services', ''], ['namespaces', ''], ['pods', ''], ['endpointslices', 'discovery.k8s.io']] as const) {
      t.ok(await can('list', res, group), `${user} may list ${res}`);
      t.ok(await can('watch', res, group), `${user} may watch ${res}`);
      for (const verb of ['create', 'update', 'patch', 'delete']) t.notOk(await can(verb, res, group), `${user} may not ${verb} ${res}`);
    }
    t.notOk(await can('get', 'secrets'), 'no secrets');
    t.notOk(await can('list', 'configmaps'), 'no configmaps');
    t.notOk(await can('list', 'endpoints'), 'no legacy endpoints (CoreDNS 1.14 reads EndpointSlices only)');
  });

  t.test('the API server allocates ClusterIPs; A, SRV and PTR follow', async (t) => {
    const k = await q(`kubernetes.default.svc.${Z}`, 'A', isAnswer([`kubernetes.default.svc.${Z}. A 10.96.0.1`]));
    t.same(k.answer, [`kubernetes.default.svc.${Z}. A 10.96.0.1`], 'the apiserver-made kubernetes Service');
    const ks = await q(`_https._tcp.kubernetes.default.svc.${Z}`, 'SRV', isStatus('NOERROR'));
    t.same(ks.answer, [`_https._tcp.kubernetes.default.svc.${Z}. SRV 0 100 443 kubernetes.default.svc.${Z}.`]);
    // Its EndpointSlice is the only one the API server writes itself (the advertise address, no hostname: the
    // endpoint is named by its dashed IP).
    const adv = cp.advertiseAddress;
    const kp = await q(reverseName(adv), 'PTR', isStatus('NOERROR'));
    t.same(kp.answer, [`${reverseName(adv)} PTR ${adv.replace(/\./g, '-')}.kubernetes.default.svc.${Z}.`], 'PTR of the apiserver-made endpoint');

    const web = await create(svc('web', { ports: [{ name: 'http', port: 80, protocol: 'TCP' }, { name: 'dns', port: 53, protocol: 'UDP' }] }));
    const ip = web.spec.clusterIP as string;
    t.match(ip, /^10\.96\.\d+\.\d+$/, `allocated ${ip}`);
    t.same((await q(`web.${NS}.svc.${Z}`, 'A', isAnswer([`web.${NS}.svc.${Z}. A ${ip}`]))).answer, [`web.${NS}.svc.${Z}. A ${ip}`]);
    t.same((await q(`_http._tcp.web.${NS}.svc.${Z}`, 'SRV', isStatus('NOERROR'))).answer, [`_http._tcp.web.${NS}.svc.${Z}. SRV 0 100 80 web.${NS}.svc.${Z}.`]);
    t.same((await q(`_dns._udp.web.${NS}.svc.${Z}`, 'SRV', isStatus('NOERROR'))).answer, [`_dns._udp.web.${NS}.svc.${Z}. SRV 0 100 53 web.${NS}.svc.${Z}.`]);
    t.same((await q(reverseName(ip), 'PTR', isStatus('NOERROR'))).answer, [`${reverseName(ip)} PTR web.${NS}.svc.${Z}.`]);
    t.equal((await q(`web.${NS}.svc.${Z}`, 'AAAA', isStatus('NOERROR'))).answer.length, 0, 'single-stack: AAAA is NODATA');
    t.equal((await q(`${NS}.svc.${Z}`, 'A', isStatus('NOERROR'))).status, 'NOERROR', 'the namespace exists: NODATA');
    t.equal((await q(`nope.svc.${Z}`, 'A', isStatus('NXDOMAIN'))).status, 'NXDOMAIN', 'no such namespace');

    // Update: a port change shows in SRV; delete: the name and its PTR go.
    await patch(svc('web', {}), { spec: { ports: [{ name: 'http', port: 8080, protocol: 'TCP', targetPort: 8080 }] } });
    const s2 = await q(`_http._tcp.web.${NS}.svc.${Z}`, 'SRV', (r) => r.answer.some((a) => a.includes(' 8080 ')));
    t.same(s2.answer, [`_http._tcp.web.${NS}.svc.${Z}. SRV 0 100 8080 web.${NS}.svc.${Z}.`], 'port update');
    t.equal((await q(`_dns._udp.web.${NS}.svc.${Z}`, 'SRV', isStatus('NXDOMAIN'))).status, 'NXDOMAIN', 'removed port');
    await del(svc('web', {}));
    t.equal((await q(`web.${NS}.svc.${Z}`, 'A', isStatus('NXDOMAIN'))).status, 'NXDOMAIN', 'deleted service');
    t.equal((await q(reverseName(ip), 'PTR', isStatus('NXDOMAIN'))).status, 'NXDOMAIN', 'deleted service PTR');
  });

  t.test('dual-stack Service: A, AAAA and both PTRs from the allocated ClusterIPs', async (t) => {
    const d = await create(svc('dual', { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'], ports: [{ name: 'http', port: 80 }] }));
    const [v4, v6] = d.spec.clusterIPs as string[];
    t.match(v4, /^10\.96\./, `IPv4 ${v4}`);
    t.match(v6, /^fd00:10:96::/, `IPv6 ${v6}`);
    t.same((await q(`dual.${NS}.svc.${Z}`, 'A', isAnswer([`dual.${NS}.svc.${Z}. A ${v4}`]))).answer, [`dual.${NS}.svc.${Z}. A ${v4}`]);
    t.same((await q(`dual.${NS}.svc.${Z}`, 'AAAA', isAnswer([`dual.${NS}.svc.${Z}. AAAA ${v6}`]))).answer, [`dual.${NS}.svc.${Z}. AAAA ${v6}`]);
    t.same((await q(reverseName(v4!), 'PTR', isStatus('NOERROR'))).answer, [`${reverseName(v4!)} PTR dual.${NS}.svc.${Z}.`]);
    t.same((await q(reverseName(v6!), 'PTR', isStatus('NOERROR'))).answer, [`${reverseName(v6!)} PTR dual.${NS}.svc.${Z}.`]);
    // SRV: one record for the one port, the cluster IPs as additional data.
    t.match((await q(`_http._tcp.dual.${NS}.svc.${Z}`, 'SRV', isStatus('NOERROR'))).answer, [new RegExp(`SRV 0 \\d+ 80 dual\\.${NS}\\.svc\\.${Z}\\.$`)]);
  });

  t.test('ExternalName Service: CNAME, and changes to the target', async (t) => {
    await create(svc('ext', { type: 'ExternalName', externalName: 'www.example.org' }));
    t.same((await q(`ext.${NS}.svc.${Z}`, 'CNAME', isStatus('NOERROR'))).answer, [`ext.${NS}.svc.${Z}. CNAME www.example.org.`]);
    await patch(svc('ext', {}), { spec: { externalName: 'api.example.net' } });
    t.same((await q(`ext.${NS}.svc.${Z}`, 'CNAME', (r) => r.answer.some((a) => a.endsWith('api.example.net.')))).answer, [`ext.${NS}.svc.${Z}. CNAME api.example.net.`]);
  });

  t.test('headless Service with hand-made EndpointSlices: readiness flips, dual-stack, SRV and PTR', async (t) => {
    const h = await create(svc('db', { clusterIP: 'None', ports: [{ name: 'pg', port: 5432 }] }));
    t.equal(h.spec.clusterIP, 'None');
    t.equal((await q(`db.${NS}.svc.${Z}`, 'A', isStatus('NXDOMAIN'))).status, 'NXDOMAIN', 'no endpoints yet (nothing makes slices without controller-manager)');
    const v4 = slice('db-v4', 'db', 'IPv4', [ep('10.244.1.10', 'db-0', true), ep('10.244.1.11', 'db-1', true), ep('10.244.1.12', 'db-2', false)], [{ name: 'pg', port: 5432, protocol: 'TCP' }]);
    await create(v4);
    const A = (...ips: string[]) => ips.map((ip) => `db.${NS}.svc.${Z}. A ${ip}`);
    t.same((await q(`db.${NS}.svc.${Z}`, 'A', isAnswer(A('10.244.1.10', '10.244.1.11')))).answer, A('10.244.1.10', '10.244.1.11'), 'ready endpoints only');
    t.same((await q(`db-1.db.${NS}.svc.${Z}`, 'A', isStatus('NOERROR'))).answer, [`db-1.db.${NS}.svc.${Z}. A 10.244.1.11`], 'endpoint hostname');
    t.same((await q(reverseName('10.244.1.10'), 'PTR', isStatus('NOERROR'))).answer, [`${reverseName('10.244.1.10')} PTR db-0.db.${NS}.svc.${Z}.`], 'endpoint PTR');
    const srv = await q(`_pg._tcp.db.${NS}.svc.${Z}`, 'SRV', isStatus('NOERROR'));
    t.same(srv.answer.map((a) => a.replace(/SRV 0 \d+ /, 'SRV 0 W ')), [`_pg._tcp.db.${NS}.svc.${Z}. SRV 0 W 5432 db-0.db.${NS}.svc.${Z}.`, `_pg._tcp.db.${NS}.svc.${Z}. SRV 0 W 5432 db-1.db.${NS}.svc.${Z}.`]);

    // Readiness flips through the API: db-2 becomes ready, db-0 stops being ready.
    await patch(v4, { endpoints: [ep('10.244.1.10', 'db-0', false), ep('10.244.1.11', 'db-1', true), ep('10.244.1.12', 'db-2', true)] });
    t.same((await q(`db.${NS}.svc.${Z}`, 'A', isAnswer(A('10.244.1.11', '10.244.1.12')))).answer, A('10.244.1.11', '10.244.1.12'), 'after the flip');
    t.equal((await q(`db-0.db.${NS}.svc.${Z}`, 'A', isStatus('NXDOMAIN'))).status, 'NXDOMAIN', 'a not-ready endpoint has no name');

    // A second slice, IPv6: AAAA answers; the A answers are unchanged.
    const v6 = slice('db-v6', 'db', 'IPv6', [ep('2001:db8::11', 'db-1', true)], [{ name: 'pg', port: 5432, protocol: 'TCP' }]);
    await create(v6);
    t.same((await q(`db.${NS}.svc.${Z}`, 'AAAA', isStatus('NOERROR'))).answer, [`db.${NS}.svc.${Z}. AAAA 2001:db8::11`]);
    t.same((await q(`db-1.db.${NS}.svc.${Z}`, 'AAAA', isStatus('NOERROR'))).answer, [`db-1.db.${NS}.svc.${Z}. AAAA 2001:db8::11`]);
    t.same((await q(reverseName('2001:db8::11'), 'PTR', isStatus('NOERROR'))).answer, [`${reverseName('2001:db8::11')} PTR db-1.db.${NS}.svc.${Z}.`]);

    // All not ready: NXDOMAIN (spec 2.4.1); deleting a slice removes its addresses.
    await patch(v4, { endpoints: [ep('10.244.1.10', 'db-0', false), ep('10.244.1.11', 'db-1', false), ep('10.244.1.12', 'db-2', false)] });
    t.equal((await q(`db.${NS}.svc.${Z}`, 'A', (r) => r.answer.length === 0)).answer.length, 0, 'no ready IPv4 endpoint');
    await del(v6);
    t.equal((await q(`db.${NS}.svc.${Z}`, 'AAAA', isStatus('NXDOMAIN'))).status, 'NXDOMAIN', 'no ready endpoint at all');
  });

  t.test('Pods (pods verified): a Pod answers once its status carries the IP', async (t) => {
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p1', namespace: NS },
      // No scheduler and no kubelet: bind to a made-up node and write the status ourselves.
      spec: { nodeName: 'node-a', containers: [{ name: 'c', image: 'registry.invalid/none:1' }] },
    };
    await create(pod);
    const name = `10-244-7-7.${NS}.pod.${Z}`;
    t.equal((await q(name, 'A', isStatus('NXDOMAIN'))).status, 'NXDOMAIN', 'no Pod has that IP yet');
    await patch(pod, { status: { phase: 'Running', podIP: '10.244.7.7', podIPs: [{ ip: '10.244.7.7' }] } }, '/status');
    t.same((await q(name, 'A', isStatus('NOERROR'))).answer, [`${name}. A 10.244.7.7`]);
    await cp.must('DELETE', `/api/v1/namespaces/${NS}/pods/p1?gracePeriodSeconds=0`);
    t.equal((await q(name, 'A', isStatus('NXDOMAIN'))).status, 'NXDOMAIN', 'deleted Pod');
  });

  t.test('API server restart: answers continue during the outage, later changes propagate', async (t) => {
    const before = await create(svc('steady', { ports: [{ name: 'http', port: 80 }] }));
    const steady = [`steady.${NS}.svc.${Z}. A ${before.spec.clusterIP}`];
    t.same((await q(`steady.${NS}.svc.${Z}`, 'A', isAnswer(steady))).answer, steady);
    // Ask every 200 ms from before the stop until the API server is back (the stop itself takes seconds: the API
    // server drains gracefully), so the whole outage is covered.
    let outage = true;
    let asked = 0;
    const bad: string[] = [];
    const asking = (async () => {
      while (outage) {
        const r = await digOnce(dns.port, `steady.${NS}.svc.${Z}`, 'A').catch((e: Error) => ({ status: 'ERROR', answer: [], raw: e.message }));
        asked++;
        if (r.status !== 'NOERROR' || !same(r.answer, steady)) bad.push(`${r.status} ${r.answer.join(', ')}`);
        await new Promise((res) => setTimeout(res, 200));
      }
    })();
    const t0 = Date.now();
    await cp.stopApiserver();
    const stopped = Date.now();
    t.equal((await cp.request('GET', '/readyz').then((r) => r.status, () => 'down')), 'down', 'the API server is down');
    await new Promise((res) => setTimeout(res, 2000));
    await cp.startApiserver();
    outage = false;
    await asking;
    t.comment(`API server stopped in ${stopped - t0} ms, down ${Date.now() - stopped} ms`);
    t.ok(asked >= 10, `asked ${asked} times during the outage`);
    t.same(bad, [], `all ${asked} answers during the outage came from the last known cluster`);
    const after = await create(svc('after-restart', { ports: [{ name: 'http', port: 80 }] }));
    const t1 = Date.now();
    const r = await q(`after-restart.${NS}.svc.${Z}`, 'A', isAnswer([`after-restart.${NS}.svc.${Z}. A ${after.spec.clusterIP}`]), 30_000);
    t.same(r.answer, [`after-restart.${NS}.svc.${Z}. A ${after.spec.clusterIP}`], `created after the restart, served after ${Date.now() - t1} ms`);
    await del(svc('steady', {}));
    t.equal((await q(`steady.${NS}.svc.${Z}`, 'A', isStatus('NXDOMAIN'), 30_000)).status, 'NXDOMAIN', 'deleted after the restart');
  });

  t.test('every manifest in deploy/ is accepted by the API server (dry run)', async (t) => {
    t.ok(manifests.length > 0, `${manifests.length} objects in deploy/`);
    for (const m of manifests) {
      // Server-side apply with dryRun=All: what `kubectl apply --server-side --dry-run=server` sends; it validates
      // and runs admission without storing, whether or not the object exists (the RBAC ones do).
      const r = await disc.apply(m.obj, { dryRun: true });
      t.ok(r.status === 200 || r.status === 201, `${path.relative(REPO, m.file)}: ${m.obj.kind} ${m.obj.metadata.name} -> ${r.status}${r.status > 201 ? ` ${r.text.slice(0, 400)}` : ''}`);
    }
    const kubectl = 'missing' in bins ? undefined : bins.kubectl;
    if (!kubectl) return;
    // The documented install is `kubectl apply -k deploy/`; without a kustomization, every file holding objects.
    const files = [...new Set(manifests.map((m) => m.file))];
    const source = existsSync(path.join(DEPLOY, 'kustomization.yaml')) ? ['-k', DEPLOY] : files.flatMap((f) => ['-f', f]);
    const out = await new Promise<{ code: number; text: string }>((resolve) =>
      execFile(kubectl, ['--kubeconfig', cp.adminKubeconfig, 'apply', '--dry-run=server', ...source], (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, text: stdout + stderr }),
      ),
    );
    t.equal(out.code, 0, `kubectl apply --dry-run=server ${source.join(' ')}:\n${out.text}`);
    t.match(out.text, /\(server dry run\)/);
  });

  t.test('a permission taken from the ClusterRole is named in the log', async (t) => {
    const rolePath = (await disc.path(role)).item;
    const original = await cp.must('GET', rolePath);
    const rules = (original.rules as Array<{ apiGroups?: string[]; resources?: string[]; verbs: string[] }>)
      .map((r) => ({ ...r, resources: (r.resources ?? []).filter((x) => x !== 'endpointslices') }))
      .filter((r) => r.resources.length > 0);
    await cp.must('PUT', rolePath, { ...original, rules });
    t.teardown(async () => {
      const cur = await cp.must('GET', rolePath);
      await cp.must('PUT', rolePath, { ...cur, rules: original.rules });
    });
    const token = await cp.serviceAccountToken(sa.metadata.namespace ?? 'default', sa.metadata.name);
    const second = await startClusterdns(work, 'no-slices', cp.writeKubeconfig(path.join(work, 'no-slices.kubeconfig'), token), '        startup_timeout 1s');
    t.teardown(() => second.stop());
    const began = Date.now();
    while (!/permission denied[^\n]*endpointslices/.test(second.output()) && Date.now() - began < 15_000) await new Promise((r) => setTimeout(r, 100));
    const line = second.output().split('\n').find((l) => /permission denied/.test(l) && /endpointslices/.test(l));
    t.ok(line, `a log line names the missing permission:\n${second.output().slice(-2000)}`);
    t.match(line ?? '', /list\/watch endpointslices\.discovery\.k8s\.io/);
    // The other collections are readable: Services are still served.
    const dual = await q(`dual.${NS}.svc.${Z}`, 'A', isStatus('NOERROR'));
    t.equal(dual.status, 'NOERROR', 'the main server keeps serving');
    const r = await digUntil(second.port, `dual.${NS}.svc.${Z}`, 'A', (x) => x.status === 'NOERROR' && x.answer.length === 1);
    t.equal(r.answer.length, 1, 'the second server serves Services without the EndpointSlice permission');
  });
}
