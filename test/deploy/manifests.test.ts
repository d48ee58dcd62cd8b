// deploy/: the manifests that replace CoreDNS in kube-system one-for-one. Parses every YAML file there and checks
// the invariants that make the swap safe: kubeadm's names, labels and selectors (the kube-dns Service and anything
// selecting k8s-app=kube-dns keep working), the minimal RBAC, the ConfigMap holding the kubeadm Corefile, probe and
// container ports that agree with that Corefile, the restricted securityContext, resources sized from
// BENCHMARKS.md, and a kustomization that lists every file.
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { parseAllDocuments } from 'yaml';
import { parseCorefile } from '../../lib/corefile/parser.js';
import { parseServerKey } from '../../lib/corefile/keys.js';
import type { Directive } from '../../lib/corefile/types.js';
import { parse as parseHealth } from '../../lib/plugins/health/setup.js';
import { parse as parsePrometheus } from '../../lib/plugins/prometheus/setup.js';
import { parse as parseReady } from '../../lib/plugins/ready/setup.js';
import { PLUGINS } from '../../lib/plugins/index.js';
import { planServers } from '../../lib/server/plan.js';
import { REPO_ROOT } from '../support/e2e-cluster.js';

const DEPLOY = path.join(REPO_ROOT, 'deploy');

/** Corefile.example without its leading comment lines: the kubeadm Corefile as kubeadm writes it. */
function kubeadmCorefile(): string {
  const lines = readFileSync(path.join(REPO_ROOT, 'Corefile.example'), 'utf8').split('\n');
  while (lines[0]?.startsWith('#')) lines.shift();
  return lines.join('\n');
}

/** The numeric `USER uid:gid` of the Dockerfile's final stage. */
function dockerUser(): { uid: number; gid: number } {
  const users = [...readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8').matchAll(/^USER\s+(\d+):(\d+)\s*$/gm)];
  if (users.length === 0) throw new Error('the Dockerfile has no numeric USER uid:gid');
  const last = users[users.length - 1]!;
  return { uid: Number(last[1]), gid: Number(last[2]) };
}

// Loosely typed manifest access: the tests below check shapes field by field.
type Obj = Record<string, any>;

/** Every document of every *.yaml file in deploy/ except the kustomization, with the file it came from. */
function loadManifests(): Array<{ file: string; doc: Obj }> {
  const out: Array<{ file: string; doc: Obj }> = [];
  for (const file of readdirSync(DEPLOY).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml').sort()) {
    for (const d of parseAllDocuments(readFileSync(path.join(DEPLOY, file), 'utf8'))) {
      if (d.errors.length) throw new Error(`${file}: ${d.errors.map((e) => e.message).join('; ')}`);
      const doc = d.toJS() as Obj | null;
      if (doc !== null) out.push({ file, doc });
    }
  }
  return out;
}

const MANIFESTS = loadManifests();
const byKind = (kind: string): Obj => {
  const found = MANIFESTS.filter((m) => m.doc.kind === kind);
  if (found.length !== 1) throw new Error(`expected exactly one ${kind} in deploy/, found ${found.length}`);
  return found[0]!.doc;
};
const sa = byKind('ServiceAccount');
const role = byKind('ClusterRole');
const binding = byKind('ClusterRoleBinding');
const cm = byKind('ConfigMap');
const deploy = byKind('Deployment');
const svc = byKind('Service');
const pdb = byKind('PodDisruptionBudget');
const podSpec: Obj = deploy.spec.template.spec;
const container: Obj = podSpec.containers[0];

/** The Corefile in the ConfigMap, parsed, and the directives of its one server block by name. */
const corefileText: string = cm.data.Corefile;
const blocks = parseCorefile(corefileText, 'Corefile', {});
const directive = (name: string): Directive => {
  const d = blocks[0]!.directives.find((x) => x.name.text === name);
  if (!d) throw new Error(`the ConfigMap's Corefile has no ${name}`);
  return d;
};

/** A container port by name, or the number itself. */
function portNumber(p: number | string): number {
  if (typeof p === 'number') return p;
  const named = (container.ports as Obj[]).find((x) => x.name === p);
  if (!named) throw new Error(`no container port named ${p}`);
  return named.containerPort as number;
}

/** Bytes of a Kubernetes memory quantity (the binary and decimal suffixes used in manifests). */
function bytes(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|K|M|G)?$/.exec(q);
  if (!m) throw new Error(`unsupported quantity ${q}`);
  const mult: Record<string, number> = { '': 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, K: 1e3, M: 1e6, G: 1e9 };
  return Number(m[1]) * mult[m[2] ?? '']!;
}

t.test('the kustomization lists every manifest file exactly once, and only those', async (t) => {
  const k = parseAllDocuments(readFileSync(path.join(DEPLOY, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as Obj;
  t.equal(k.apiVersion, 'kustomize.config.k8s.io/v1beta1');
  t.equal(k.kind, 'Kustomization');
  const files = [...new Set(MANIFESTS.map((m) => m.file))].sort();
  t.same([...(k.resources as string[])].sort(), files, 'resources = the YAML files of deploy/');
  t.equal(new Set(k.resources).size, k.resources.length, 'no file twice');
  // A `namespace:` here would also rewrite the binding's subject; every object names kube-system itself.
  t.equal(k.namespace, undefined);
});

t.test('the objects kubeadm creates for CoreDNS, under the same names, plus a PodDisruptionBudget', async (t) => {
  const seen = MANIFESTS.map(({ doc }) => `${doc.apiVersion} ${doc.kind} ${doc.metadata?.namespace ?? '-'}/${doc.metadata?.name}`).sort();
  t.same(seen, [
    'apps/v1 Deployment kube-system/coredns',
    'policy/v1 PodDisruptionBudget kube-system/coredns',
    'rbac.authorization.k8s.io/v1 ClusterRole -/system:coredns',
    'rbac.authorization.k8s.io/v1 ClusterRoleBinding -/system:coredns',
    'v1 ConfigMap kube-system/coredns',
    'v1 Service kube-system/kube-dns',
    'v1 ServiceAccount kube-system/coredns',
  ]);
});

t.test('RBAC: list and watch on services, namespaces, pods and endpointslices, nothing else', async (t) => {
  const grants = (role.rules as Obj[]).flatMap((r) => {
    t.notOk(r.resourceNames, 'no resourceNames');
    t.notOk(r.nonResourceURLs, 'no non-resource URLs');
    return (r.apiGroups as string[]).flatMap((g) => (r.resources as string[]).flatMap((res) => (r.verbs as string[]).map((v) => `${g || 'core'}/${res}:${v}`)));
  });
  t.same(grants.sort(), [
    'core/namespaces:list', 'core/namespaces:watch',
    'core/pods:list', 'core/pods:watch',
    'core/services:list', 'core/services:watch',
    'discovery.k8s.io/endpointslices:list', 'discovery.k8s.io/endpointslices:watch',
  ]);
  t.same(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
  t.same(binding.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: sa.metadata.namespace }]);
  t.equal(podSpec.serviceAccountName, sa.metadata.name, 'the Pods run as the bound ServiceAccount');
  t.not(podSpec.automountServiceAccountToken, false, 'the in-cluster token is mounted');
});

t.test('the ConfigMap holds the kubeadm Corefile, and clusterdns accepts every directive in it', async (t) => {
  t.equal(corefileText, kubeadmCorefile(), 'Corefile.example without its comment header');
  t.equal(blocks.length, 1);
  for (const d of blocks[0]!.directives) t.ok(PLUGINS.has(d.name.text), `${d.name.text} is shipped`);
  // Every plugin's setup accepts its options (what clusterdns does at start-up before listening).
  t.doesNotThrow(() => planServers(blocks, 53), 'the Corefile plans');
  t.same(Object.keys(cm.data), ['Corefile']);
});

t.test('ports: the Corefile, the container, the probes and the Service agree', async (t) => {
  const dnsPort = parseServerKey(blocks[0]!.keys[0]!, 53)[0]!.port;
  const health = parseHealth(directive('health'));
  const ready = parseReady(directive('ready'));
  const metrics = parsePrometheus(directive('prometheus'));
  t.equal(dnsPort, 53);
  // The kubelet probes and Prometheus scrapes the Pod IP: every HTTP listener must be on all interfaces.
  t.same([health.where.host, ready.where.host, metrics.where.host], ['', '', ''], 'health, ready and metrics on all interfaces');

  const ports = (container.ports as Obj[]).map((p) => `${p.name} ${p.protocol} ${p.containerPort}`).sort();
  t.same(ports, [
    `dns UDP ${dnsPort}`,
    `dns-tcp TCP ${dnsPort}`,
    `liveness-probe TCP ${health.where.port}`,
    `metrics TCP ${metrics.where.port}`,
    `readiness-probe TCP ${ready.where.port}`,
  ], "kubeadm's port names, on the Corefile's ports");

  const live = container.livenessProbe as Obj;
  t.equal(live.httpGet.path, '/health');
  t.equal(portNumber(live.httpGet.port), Number(health.where.port), 'liveness probe on the health port');
  t.equal(live.httpGet.scheme, 'HTTP');
  t.match(live, { initialDelaySeconds: 60, timeoutSeconds: 5, successThreshold: 1, failureThreshold: 5 }, "kubeadm's liveness timings");
  const rd = container.readinessProbe as Obj;
  t.equal(rd.httpGet.path, '/ready');
  t.equal(portNumber(rd.httpGet.port), Number(ready.where.port), 'readiness probe on the ready port');

  const sports = (svc.spec.ports as Obj[]).map((p) => `${p.name} ${p.protocol} ${p.port}->${portNumber(p.targetPort)}`).sort();
  t.same(sports, [`dns UDP 53->${dnsPort}`, `dns-tcp TCP 53->${dnsPort}`, `metrics TCP 9153->${metrics.where.port}`]);
  t.same(svc.metadata.annotations, { 'prometheus.io/port': String(metrics.where.port), 'prometheus.io/scrape': 'true' });

  // SIGTERM → lameduck (still answering) → plugins stop: all before the kubelet's SIGKILL, with room to spare.
  t.ok(podSpec.terminationGracePeriodSeconds * 1000 >= health.lameduckMs + 10_000,
    `terminationGracePeriodSeconds ${podSpec.terminationGracePeriodSeconds}s covers lameduck ${health.lameduckMs}ms + 10s`);
});

t.test('labels and selectors: kube-dns, the PDB and the anti-affinity all select the Deployment\'s Pods', async (t) => {
  const podLabels = deploy.spec.template.metadata.labels as Record<string, string>;
  const selects = (sel: Record<string, string>): boolean => Object.entries(sel).every(([k, v]) => podLabels[k] === v);
  t.same(deploy.spec.selector, { matchLabels: { 'k8s-app': 'kube-dns' } }, "kubeadm's (immutable) selector");
  t.ok(selects(deploy.spec.selector.matchLabels), 'the Deployment selects its template');
  t.same(svc.spec.selector, { 'k8s-app': 'kube-dns' });
  t.ok(selects(svc.spec.selector), 'kube-dns selects the Pods');
  t.same(pdb.spec.selector, deploy.spec.selector, 'the PDB covers exactly the Deployment');
  t.ok(pdb.spec.maxUnavailable === 1 || pdb.spec.minAvailable === 1);
  t.equal(deploy.metadata.labels['k8s-app'], 'kube-dns');
  t.match(svc.metadata.labels, { 'k8s-app': 'kube-dns', 'kubernetes.io/name': 'CoreDNS', 'kubernetes.io/cluster-service': 'true' });
  t.equal(svc.metadata.name, 'kube-dns');
  t.equal(svc.spec.clusterIP, '10.96.0.10', "kubeadm's default (10th address of 10.96.0.0/12)");
  t.equal(svc.metadata.resourceVersion, undefined, 'no resourceVersion precondition for kubectl apply');

  const anti = podSpec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution as Obj[];
  t.equal(anti.length, 1);
  t.equal(anti[0]!.podAffinityTerm.topologyKey, 'kubernetes.io/hostname');
  const expr = anti[0]!.podAffinityTerm.labelSelector.matchExpressions as Obj[];
  t.ok(expr.every((e) => e.operator === 'In' && (e.values as string[]).includes(podLabels[e.key]!)), 'anti-affinity selects the same Pods');
});

t.test('the Deployment: kubeadm\'s scheduling and DNS settings', async (t) => {
  t.equal(deploy.spec.replicas, 2);
  t.same(deploy.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } });
  t.equal(podSpec.priorityClassName, 'system-cluster-critical');
  t.equal(podSpec.dnsPolicy, 'Default', "upstreams are the node's resolv.conf, not the cluster DNS itself");
  t.same(podSpec.nodeSelector, { 'kubernetes.io/os': 'linux' });
  t.same(podSpec.tolerations, [
    { key: 'CriticalAddonsOnly', operator: 'Exists' },
    { key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' },
  ]);
  t.notOk(podSpec.hostNetwork, 'no host network');
  t.equal(podSpec.containers.length, 1);
  t.match(container.image, /^[a-z0-9.-]+(\/[a-z0-9._-]+)+:\d+\.\d+\.\d+$/, 'an image with a version tag');
  t.equal(container.imagePullPolicy, 'IfNotPresent');

  // The Corefile reaches the container where -conf says, from the ConfigMap.
  t.same(container.args, ['-conf', '/etc/coredns/Corefile']);
  const mount = (container.volumeMounts as Obj[]).find((m) => m.name === 'config-volume')!;
  const vol = (podSpec.volumes as Obj[]).find((v) => v.name === 'config-volume')!;
  t.equal(mount.readOnly, true);
  t.equal(vol.configMap.name, cm.metadata.name);
  t.same(vol.configMap.items, [{ key: 'Corefile', path: 'Corefile' }]);
  t.equal(path.posix.join(mount.mountPath, vol.configMap.items[0].path), container.args[1]);
});

t.test('securityContext: non-root, read-only, no escalation, only NET_BIND_SERVICE, RuntimeDefault seccomp', async (t) => {
  const pod = (podSpec.securityContext ?? {}) as Obj;
  const ctr = (container.securityContext ?? {}) as Obj;
  // The container's setting wins over the Pod's, as the kubelet applies them.
  const eff = (k: string): unknown => ctr[k] ?? pod[k];
  t.equal(eff('runAsNonRoot'), true);
  t.ok(Number(eff('runAsUser')) > 0, 'a non-zero uid');
  t.equal(eff('runAsUser'), dockerUser().uid, 'the uid of the Dockerfile\'s USER');
  t.equal(eff('runAsGroup'), dockerUser().gid, 'the gid of the Dockerfile\'s USER');
  t.equal(ctr.readOnlyRootFilesystem, true);
  t.equal(ctr.allowPrivilegeEscalation, false);
  t.not(ctr.privileged, true);
  t.same(ctr.capabilities, { add: ['NET_BIND_SERVICE'], drop: ['ALL'] });
  t.same(eff('seccompProfile'), { type: 'RuntimeDefault' });
});

t.test('resources: sized from BENCHMARKS.md, no CPU limit', async (t) => {
  const r = container.resources as Obj;
  // BENCHMARKS.md: VmRSS after an API sync of a 10,000-Service / 150,000-endpoint cluster = 215 MB, peak 233 MB
  // (bench/api-sync.ts, @kubernetes/client-node included). A one-Service cluster: ~62 MB + 75 MB for the client.
  const bigClusterRss = 233 * 1e6;
  const smallClusterRss = (62 + 75) * 1e6;
  const limit = bytes(r.limits.memory);
  const request = bytes(r.requests.memory);
  t.ok(limit >= 2 * bigClusterRss, `limits.memory ${r.limits.memory} holds a 10k-Service cluster twice over (load garbage, re-lists)`);
  t.ok(request >= smallClusterRss, `requests.memory ${r.requests.memory} covers the process with a small cluster`);
  t.ok(request <= limit);
  t.ok(r.requests.cpu, 'a CPU request');
  t.equal(r.limits.cpu, undefined, 'no CPU limit: CFS throttling turns into DNS timeouts (kubeadm sets none either)');

  // V8's heap ceiling: explicit, above the big cluster's heap and well inside the memory limit.
  const opts = ((container.env ?? []) as Obj[]).find((e) => e.name === 'NODE_OPTIONS')?.value as string | undefined;
  const heapMb = Number(/--max-old-space-size=(\d+)/.exec(opts ?? '')?.[1]);
  t.ok(heapMb * 1024 * 1024 >= bigClusterRss, `--max-old-space-size=${heapMb} holds a 10k-Service cluster`);
  t.ok(heapMb * 1024 * 1024 <= 0.7 * limit, `--max-old-space-size=${heapMb} leaves ≥ 30% of the limit for the rest of the process`);
});

t.test('the kubeadm patch turns kubeadm\'s CoreDNS Deployment into this one', async (t) => {
  const dir = path.join(DEPLOY, 'kubeadm-patches');
  // kubeadm's patch file names: target[suffix][+patchtype].extension, target corednsdeployment.
  t.same(readdirSync(dir), ['corednsdeployment+strategic.yaml']);
  const patch = parseAllDocuments(readFileSync(path.join(dir, 'corednsdeployment+strategic.yaml'), 'utf8'))[0]!.toJS() as Obj;
  const p = patch.spec.template.spec as Obj;
  t.same(Object.keys(patch), ['spec'], 'only the Pod template is patched');
  t.equal(p.terminationGracePeriodSeconds, podSpec.terminationGracePeriodSeconds);
  t.same(p.securityContext, podSpec.securityContext);
  t.equal(p.containers.length, 1);
  const c = p.containers[0] as Obj;
  t.equal(c.name, container.name, 'merges into the coredns container by name');
  t.equal(c.image, container.image);
  t.same(c.env, container.env);
  t.same(c.resources, container.resources);
  // Everything else it would need is already in kubeadm's Deployment: args, ports, probes, container securityContext.
  t.same(Object.keys(c).sort(), ['env', 'image', 'name', 'resources']);
});
