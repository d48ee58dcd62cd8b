#!/usr/bin/env node
// Use: node bench/gen-cluster.mjs [--services N] [--endpoints N] [--namespaces N] [--pods] [--seed N]
//                                  [--max-queries N] [--out DIR]
//
// Writes a synthetic fixture cluster for benchmarks, plus one dnsperf query file per query mix:
//   DIR/cluster/cluster.json   kubectl `kind: List` (Namespaces, Services, EndpointSlices, optionally Pods)
//   DIR/queries/<mix>.txt      dnsperf input, `NAME TYPE` per line, deterministically shuffled
//   DIR/upstream.json          the names outside the cluster and their answers, for bench/upstream.mjs
//   DIR/meta.json              what was generated (counts per kind and per service kind, the options)
//
// The default size is the Kubernetes scalability limit: 10,000 Services and 150,000 endpoints (Pods), with at most
// 250 endpoints per Service (sig-scalability configs-and-limits/thresholds.md). The mix aims at a realistic cluster:
// mostly ClusterIP Services with named ports, a share of headless StatefulSet-like Services whose endpoints carry
// hostnames, some dual-stack, NodePort/LoadBalancer and ExternalName Services, a few big Services split over several
// EndpointSlices (the EndpointSlice controller's default maxEndpointsPerSlice is 100), a few Services without
// endpoints and a few not-ready endpoints. Plain Node ESM, no dependencies, no build; the output depends only on the
// options (same seed, same files).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const HELP = `Use: node bench/gen-cluster.mjs [options]
  --services N      Services (default 10000)
  --endpoints N     endpoints, i.e. backing Pods (default 150000)
  --namespaces N    Namespaces (default services/25)
  --pods            also write the Pod objects (off by default: the default \`pods disabled\` never reads them)
  --seed N          PRNG seed (default 1)
  --max-queries N   lines per query file at most (default 20000)
  --forward-names N hostnames outside the cluster for the forward mix and DIR/upstream.json (default 2500)
  --out DIR         output directory (default ./bench-cluster)`;

/** Parses `--name value` / `--flag` arguments. */
function parseArgs(argv) {
  const o = { services: 10000, endpoints: 150000, namespaces: 0, pods: false, seed: 1, maxQueries: 20000, forwardNames: 2500, out: 'bench-cluster' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`${a} needs a non-negative integer`);
      return v;
    };
    if (a === '--services') o.services = num();
    else if (a === '--endpoints') o.endpoints = num();
    else if (a === '--namespaces') o.namespaces = num();
    else if (a === '--pods') o.pods = true;
    else if (a === '--seed') o.seed = num();
    else if (a === '--max-queries') o.maxQueries = num();
    else if (a === '--forward-names') o.forwardNames = num();
    else if (a === '--out') o.out = argv[++i];
    else if (a === '-h' || a === '--help') {
      console.log(HELP);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}\n${HELP}`);
  }
  if (o.namespaces === 0) o.namespaces = Math.max(1, Math.ceil(o.services / 25));
  return o;
}

/** mulberry32: a small seeded PRNG, so the same options always give the same cluster. */
function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const opts = parseArgs(process.argv.slice(2));
const rand = prng(opts.seed);
const pick = (arr) => arr[Math.floor(rand() * arr.length)];
const ALNUM = 'bcdfghjklmnpqrstvwxz2456789'; // the alphabet of Kubernetes generated name suffixes
const suffix = (n) => Array.from({ length: n }, () => pick(ALNUM)).join('');
let uidCounter = 0;
const uid = () => {
  const h = (++uidCounter).toString(16).padStart(12, '0');
  return `00000000-0000-4000-8000-${h}`;
};
let rv = 1000;
const resourceVersion = () => String(++rv);
const created = '2026-01-01T00:00:00Z';

function shuffle(arr) {
  for (let i = arr.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [arr[i], arr[j]] = [arr[j], arr[i]];
  }
  return arr;
}

// ---- addresses ----
// Service CIDRs 10.96.0.0/12 and fd00:10:96::/108; Pods: 110 per node (the per-node limit), node n owning
// 10.(64 + n>>8).(n&255).0/24 and fd00:10:244:<n>::/64, so 150k pods fit on ~1,364 nodes.
const svcV4 = (i) => `10.${96 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
const svcV6 = (i) => `fd00:10:96::${(i + 1).toString(16)}`;
const PODS_PER_NODE = 110;
const podV4 = (p) => {
  const n = Math.floor(p / PODS_PER_NODE);
  return `10.${64 + (n >> 8)}.${n & 255}.${(p % PODS_PER_NODE) + 2}`;
};
const podV6 = (p) => `fd00:10:244:${Math.floor(p / PODS_PER_NODE).toString(16)}::${((p % PODS_PER_NODE) + 2).toString(16)}`;
const nodeOf = (p) => `node-${Math.floor(p / PODS_PER_NODE)}`;
const ZONES = ['zone-a', 'zone-b', 'zone-c'];
const zoneOf = (p) => ZONES[Math.floor(p / PODS_PER_NODE) % ZONES.length];
const reverseV4 = (ip) => ip.split('.').reverse().join('.') + '.in-addr.arpa';

// ---- names ----
const WORDS = ['api', 'web', 'frontend', 'backend', 'checkout', 'cart', 'payments', 'orders', 'users', 'auth', 'search',
  'catalog', 'inventory', 'shipping', 'billing', 'notify', 'gateway', 'metrics', 'logs', 'cache', 'queue', 'worker',
  'scheduler', 'reports', 'media', 'profile', 'session', 'config', 'ledger', 'ads'];
const STATEFUL = ['postgres', 'redis', 'kafka', 'zookeeper', 'etcd', 'mongo', 'elastic', 'cassandra', 'rabbitmq', 'nats'];
const NS_WORDS = ['team', 'prod', 'staging', 'dev', 'platform', 'data', 'ml', 'infra', 'shop', 'ops'];
const namespaces = Array.from({ length: opts.namespaces }, (_, i) => `${NS_WORDS[i % NS_WORDS.length]}-${i}`);

// ---- services: kind mix ----
// Shares of the Service count; everything not listed is plain single-stack ClusterIP.
const SHARE = { headless: 0.1, dual: 0.08, externalName: 0.04, nodePort: 0.04, loadBalancer: 0.02, empty: 0.02, big: 0.01 };
/** @type {{name:string, ns:string, kind:string, idx:number, ports:{name:string,port:number,targetPort:number,protocol:string}[], endpoints:number, pods:number[]}[]} */
const services = [];
{
  const kinds = [];
  const add = (kind, share) => {
    for (let k = Math.round(opts.services * share); k > 0; k--) kinds.push(kind);
  };
  add('headless', SHARE.headless);
  add('dual', SHARE.dual);
  add('externalName', SHARE.externalName);
  add('nodePort', SHARE.nodePort);
  add('loadBalancer', SHARE.loadBalancer);
  while (kinds.length < opts.services) kinds.push('clusterIP');
  kinds.length = opts.services;
  shuffle(kinds);
  const used = new Set();
  kinds.forEach((kind, idx) => {
    const ns = namespaces[idx % namespaces.length];
    const base = kind === 'headless' ? pick(STATEFUL) : pick(WORDS);
    let name = `${base}-${idx}`;
    if (used.has(`${ns}/${name}`)) name += '-x';
    used.add(`${ns}/${name}`);
    let ports;
    if (kind === 'headless') {
      ports = [
        { name: 'client', port: 5432 + (idx % 7), targetPort: 5432 + (idx % 7), protocol: 'TCP' },
        { name: 'peer', port: 7000, targetPort: 7000, protocol: 'TCP' },
      ];
    } else if (kind === 'externalName') {
      ports = [];
    } else {
      // Named ports as most charts declare them: always http, often grpc and metrics, rarely a UDP port.
      ports = [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }];
      if (rand() < 0.4) ports.push({ name: 'grpc', port: 9090, targetPort: 9090, protocol: 'TCP' });
      if (rand() < 0.2) ports.push({ name: 'metrics', port: 9100, targetPort: 9100, protocol: 'TCP' });
      if (rand() < 0.03) ports.push({ name: 'syslog', port: 514, targetPort: 5514, protocol: 'UDP' });
    }
    services.push({ name, ns, kind, idx, ports, endpoints: 0, pods: [] });
  });
}

// ---- endpoints per service ----
{
  const eligible = services.filter((s) => s.kind !== 'externalName');
  let left = opts.endpoints;
  // StatefulSets: mostly 3 replicas, sometimes 1, 5 or 7.
  for (const s of eligible.filter((x) => x.kind === 'headless')) {
    s.endpoints = Math.min(left, pick([1, 3, 3, 3, 3, 5, 7]));
    left -= s.endpoints;
  }
  const rest = shuffle(eligible.filter((x) => x.kind !== 'headless'));
  const nEmpty = Math.round(opts.services * SHARE.empty);
  const nBig = Math.round(opts.services * SHARE.big);
  const big = rest.slice(nEmpty, nEmpty + nBig); // rest[0..nEmpty) keep 0 endpoints
  for (const s of big) {
    s.endpoints = Math.min(left, 250);
    left -= s.endpoints;
  }
  // Heavy-tailed sizes for the others: most Services have a handful of replicas, some dozens.
  const others = rest.slice(nEmpty + nBig);
  const w = others.map(() => Math.pow(-Math.log(1 - rand()), 2) + 0.05);
  const sum = w.reduce((a, b) => a + b, 0);
  others.forEach((s, i) => {
    s.endpoints = Math.min(240, Math.max(1, Math.round((w[i] / sum) * left)));
  });
  // Nudge to the exact total, one endpoint at a time over Services with room.
  let diff = left - others.reduce((a, s) => a + s.endpoints, 0);
  for (let i = 0; diff !== 0 && others.length > 0 && i < 100 * opts.endpoints + 1000; i++) {
    const s = others[i % others.length];
    if (diff > 0 && s.endpoints < 240) (s.endpoints++, diff--);
    else if (diff < 0 && s.endpoints > 1) (s.endpoints--, diff++);
  }
}

// ---- objects ----
const items = [];
for (const ns of namespaces) {
  items.push({
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name: ns, uid: uid(), resourceVersion: resourceVersion(), creationTimestamp: created, labels: { 'kubernetes.io/metadata.name': ns } },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  });
}

let nextSvcIP = 10; // the first addresses are left to kubernetes.default and kube-dns
let nextPod = 0;
const slices = [];
const pods = [];
for (const s of services) {
  const meta = {
    name: s.name,
    namespace: s.ns,
    uid: uid(),
    resourceVersion: resourceVersion(),
    creationTimestamp: created,
    labels: { app: s.name, 'app.kubernetes.io/managed-by': 'Helm' },
  };
  const spec = { sessionAffinity: 'None', internalTrafficPolicy: 'Cluster' };
  if (s.kind === 'externalName') {
    spec.type = 'ExternalName';
    s.externalName = `${s.name}.${pick(['rds.amazonaws.com', 'database.azure.com', 'example.net'])}`;
    spec.externalName = s.externalName;
  } else {
    spec.type = s.kind === 'nodePort' ? 'NodePort' : s.kind === 'loadBalancer' ? 'LoadBalancer' : 'ClusterIP';
    spec.selector = { app: s.name };
    if (s.kind === 'headless') {
      spec.clusterIP = 'None';
      spec.clusterIPs = ['None'];
      spec.ipFamilies = ['IPv4'];
      spec.ipFamilyPolicy = 'SingleStack';
      spec.publishNotReadyAddresses = false;
    } else {
      s.ipIndex = nextSvcIP++;
      s.clusterIP = svcV4(s.ipIndex);
      spec.clusterIP = s.clusterIP;
      spec.clusterIPs = [s.clusterIP];
      spec.ipFamilies = ['IPv4'];
      spec.ipFamilyPolicy = 'SingleStack';
      if (s.kind === 'dual') {
        s.clusterIPv6 = svcV6(s.ipIndex);
        spec.clusterIPs.push(s.clusterIPv6);
        spec.ipFamilies.push('IPv6');
        spec.ipFamilyPolicy = 'PreferDualStack';
      }
    }
    spec.ports = s.ports.map((p, i) => ({
      name: p.name,
      port: p.port,
      protocol: p.protocol,
      targetPort: p.targetPort,
      ...(s.kind === 'nodePort' || s.kind === 'loadBalancer' ? { nodePort: 30000 + ((s.idx * 3 + i) % 2768) } : {}),
    }));
  }
  items.push({ apiVersion: 'v1', kind: 'Service', metadata: meta, spec, status: { loadBalancer: s.kind === 'loadBalancer' ? { ingress: [{ ip: `203.0.113.${s.idx % 250}` }] } : {} } });

  if (s.kind === 'externalName') continue;
  // Pods of this Service, with names as their controller would give them.
  const rsHash = suffix(10);
  for (let k = 0; k < s.endpoints; k++) {
    const p = nextPod++;
    s.pods.push(p);
    const name = s.kind === 'headless' ? `${s.name}-${k}` : `${s.name}-${rsHash}-${suffix(5)}`;
    // About 2% of endpoints are not ready (rolling updates, failing probes).
    pods.push({ p, name, ns: s.ns, svc: s, ready: rand() >= 0.02, hostname: s.kind === 'headless' ? name : '' });
  }
  const families = s.kind === 'dual' ? ['IPv4', 'IPv6'] : ['IPv4'];
  const svcPods = pods.slice(pods.length - s.endpoints);
  for (const family of families) {
    // The controller's default maxEndpointsPerSlice is 100; an empty Service still gets one empty slice.
    for (let off = 0; off === 0 || off < svcPods.length; off += 100) {
      const chunk = svcPods.slice(off, off + 100);
      slices.push({
        apiVersion: 'discovery.k8s.io/v1',
        kind: 'EndpointSlice',
        addressType: family,
        metadata: {
          name: `${s.name}-${suffix(5)}`,
          generateName: `${s.name}-`,
          namespace: s.ns,
          uid: uid(),
          resourceVersion: resourceVersion(),
          creationTimestamp: created,
          labels: {
            'kubernetes.io/service-name': s.name,
            'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io',
            app: s.name,
          },
          ownerReferences: [{ apiVersion: 'v1', kind: 'Service', name: s.name, uid: meta.uid, controller: true, blockOwnerDeletion: true }],
        },
        endpoints: chunk.map((e) => ({
          addresses: [family === 'IPv6' ? podV6(e.p) : podV4(e.p)],
          conditions: { ready: e.ready, serving: e.ready, terminating: false },
          ...(e.hostname ? { hostname: e.hostname } : {}),
          nodeName: nodeOf(e.p),
          targetRef: { kind: 'Pod', name: e.name, namespace: e.ns, uid: uid() },
          zone: zoneOf(e.p),
        })),
        ports: s.ports.map((p) => ({ name: p.name, port: p.targetPort, protocol: p.protocol })),
      });
      if (chunk.length === 0) break;
    }
  }
}
items.push(...slices);
if (opts.pods) {
  for (const e of pods) {
    const ips = e.svc.kind === 'dual' ? [podV4(e.p), podV6(e.p)] : [podV4(e.p)];
    items.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: e.name, namespace: e.ns, uid: uid(), resourceVersion: resourceVersion(), creationTimestamp: created, labels: { app: e.svc.name } },
      spec: { nodeName: nodeOf(e.p), ...(e.hostname ? { hostname: e.hostname, subdomain: e.svc.name } : {}) },
      status: { phase: 'Running', podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) },
    });
  }
}

// ---- query files ----
const ZONE = 'cluster.local';
const fq = (s) => `${s.name}.${s.ns}.svc.${ZONE}`;
const cap = (lines) => shuffle(lines).slice(0, opts.maxQueries);
const withIP = services.filter((s) => s.clusterIP);
const v4only = withIP.filter((s) => s.kind !== 'dual');
const headless = services.filter((s) => s.kind === 'headless' && s.endpoints > 0);
const EXTERNAL = ['google.com', 'www.google.com', 'api.github.com', 'github.com', 's3.amazonaws.com', 'sts.amazonaws.com',
  'registry-1.docker.io', 'quay.io', 'login.microsoftonline.com', 'api.stripe.com', 'hooks.slack.com', 'pypi.org',
  'registry.npmjs.org', 'storage.googleapis.com', 'ocsp.digicert.com', 'time.cloudflare.com', 'example.com'];

const mixes = {};
// ClusterIP A: the hot path, every Service with a cluster IP (ClusterIP, NodePort, LoadBalancer, dual-stack).
mixes['clusterip-a'] = cap(withIP.map((s) => `${fq(s)} A`));
// Headless A: all ready endpoint addresses of a StatefulSet-like Service.
mixes['headless-a'] = cap(headless.map((s) => `${fq(s)} A`));
// Endpoint A: one StatefulSet member by hostname (`postgres-12-0.postgres-12.ns.svc.cluster.local`).
mixes['endpoint-a'] = cap(pods.filter((e) => e.hostname).map((e) => `${e.hostname}.${fq(e.svc)} A`));
// SRV on a named port, as clients of gRPC/LDAP/SIP-style discovery ask: mostly ClusterIP, some headless.
mixes.srv = cap([
  ...withIP.map((s) => {
    const p = pick(s.ports);
    return `_${p.name}._${p.protocol.toLowerCase()}.${fq(s)} SRV`;
  }),
  ...headless.map((s) => `_peer._tcp.${fq(s)} SRV`),
]);
// PTR: half cluster IPs, half endpoint (Pod) IPs.
{
  const svcPtr = v4only.map((s) => `${reverseV4(s.clusterIP)} PTR`);
  const podPtr = shuffle(pods.slice()).slice(0, svcPtr.length).map((e) => `${reverseV4(podV4(e.p))} PTR`);
  mixes.ptr = cap([...svcPtr, ...podPtr]);
}
// AAAA NODATA: the AAAA half of a dual-family (A + AAAA) lookup of an IPv4-only Service.
mixes['aaaa-nodata'] = cap(v4only.map((s) => `${fq(s)} AAAA`));
// NXDOMAIN from search-path expansion: with ndots:5 a Pod in namespace X resolving `google.com` or `api.ns2` first
// tries `<name>.X.svc.cluster.local`, then `<name>.svc.cluster.local`, then `<name>.cluster.local` (A and AAAA).
{
  const lines = [];
  const some = shuffle(withIP.slice()).slice(0, 2000);
  for (const s of some) {
    const from = pick(namespaces);
    const ext = pick(EXTERNAL);
    const short = `${s.name}.${s.ns}`;
    for (const name of [ext, short]) {
      for (const sfx of [`${from}.svc.${ZONE}`, `svc.${ZONE}`, ZONE]) {
        if (name === short && sfx === `svc.${ZONE}`) continue; // that one is the real Service: NOERROR, not NX
        for (const t of ['A', 'AAAA']) lines.push(`${name}.${sfx} ${t}`);
      }
    }
  }
  mixes['nxdomain-search'] = cap(lines);
}
// Forwarded names (outside the cluster zone), for the kubeadm Corefile (`run.sh -C kubeadm`), whose `forward` goes
// to bench/upstream.mjs serving DIR/upstream.json. Sized to fit the cache: see forwardZone.
const upstream = forwardZone(opts.forwardNames);
mixes.forward = cap([
  ...Object.keys(upstream.names).flatMap((n) => [`${n} A`, `${n} AAAA`]),
  ...upstream.nxdomain.flatMap((n) => [`${n} A`, `${n} AAAA`]),
]);

/**
 * The names a cluster's Pods resolve outside it, with the answers a recursive resolver would give: `count` hostnames
 * (the EXTERNAL ones first, then hosts of common SaaS/cloud domains), 1-4 A records each (198.18.0.0/15, the
 * benchmarking range), AAAA for about half of them (2001:db8::/32), a quarter of those below a zone apex CNAMEs to a CDN edge name whose
 * records come in the same reply (as a resolver returns the chain), and `count`/10 misspelt names that are
 * NXDOMAIN. Its own PRNG, so the cluster and the other mixes do not change with it.
 *
 * Cache fit: each hostname is asked A and AAAA. With cache 30's default capacity (10000, held as 9,984 per cache),
 * the success cache gets one entry per A and per AAAA with records (~1.5 × count) and the denial cache one per
 * AAAA NODATA and per NXDOMAIN question (~0.7 × count): at the default 2,500 hostnames ~3,750 and ~1,750 entries.
 */
function forwardZone(count) {
  const r = prng(opts.seed + 7919);
  const rpick = (arr) => arr[Math.floor(r() * arr.length)];
  const DOMAINS = ['amazonaws.com', 'googleapis.com', 'github.com', 'docker.io', 'azure.com', 'cloudflare.com',
    'datadoghq.com', 'sentry.io', 'stripe.com', 'slack.com', 'twilio.com', 'sendgrid.net', 'okta.com', 'auth0.com',
    'mongodb.net', 'elastic-cloud.com', 'newrelic.com', 'pagerduty.com', 'launchdarkly.com', 'segment.io',
    'algolia.net', 'mailgun.org', 'salesforce.com', 'atlassian.net', 'gitlab.com', 'npmjs.org', 'pypi.org',
    'rubygems.org', 'golang.org', 'k8s.io', 'quay.io', 'gcr.io', 'letsencrypt.org', 'digicert.com', 'example.com'];
  const HOSTS = ['api', 'www', 'auth', 'login', 'cdn', 'static', 'events', 'ingest', 'hooks', 'app', 'status',
    'registry', 'storage', 'sts', 'oauth', 'metrics', 'logs', 'intake', 'eu', 'us', 'ap'];
  const REGIONS = ['us-east-1', 'us-west-2', 'eu-west-1', 'eu-central-1', 'ap-southeast-1', 'ap-northeast-1'];
  const hosts = new Set(EXTERNAL);
  for (let guard = 0; hosts.size < count && guard < count * 50; guard++) {
    const d = rpick(DOMAINS);
    const h = rpick(HOSTS);
    const n = r();
    hosts.add(n < 0.5 ? `${h}.${d}` : n < 0.8 ? `${h}.${rpick(REGIONS)}.${d}` : `${h}-${Math.floor(r() * 500)}.${d}`);
  }
  let ip = 0;
  const v4 = () => { ip++; return `198.${18 + ((ip >> 16) & 1)}.${(ip >> 8) & 255}.${ip & 255}`; };
  const v6 = () => { ip++; return `2001:db8:${(ip >> 16).toString(16)}:${(ip & 0xffff).toString(16)}::1`; };
  const names = {};
  for (const h of [...hosts].slice(0, count)) {
    const rec = { a: Array.from({ length: 1 + Math.floor(r() * r() * 4) }, v4) };
    if (r() < 0.5) rec.aaaa = Array.from({ length: 1 + Math.floor(r() * 2) }, v6);
    // No CNAME at a zone apex (two-label names), as DNS forbids it there.
    if (r() < 0.25 && h.split('.').length > 2) rec.cname = `${h.split('.')[0]}-${Math.floor(r() * 1e6)}.edge.cdn-bench.net`;
    names[h] = rec;
  }
  const typo = (h) => h.replace(/\.([a-z]+)$/, (_, tld) => `.${tld}${rpick(['x', 'm', 'o'])}`);
  const nxdomain = [...new Set(Object.keys(names).filter(() => r() < 0.1).map(typo))].filter((n) => !names[n]);
  return { ttl: 300, names, nxdomain };
}

// ---- write ----
mkdirSync(join(opts.out, 'cluster'), { recursive: true });
mkdirSync(join(opts.out, 'queries'), { recursive: true });
const list = { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: '' }, items };
writeFileSync(join(opts.out, 'cluster', 'cluster.json'), JSON.stringify(list));
for (const [mix, lines] of Object.entries(mixes)) writeFileSync(join(opts.out, 'queries', `${mix}.txt`), lines.join('\n') + '\n');
writeFileSync(join(opts.out, 'upstream.json'), JSON.stringify(upstream));
const byKind = {};
for (const s of services) byKind[s.kind] = (byKind[s.kind] ?? 0) + 1;
const meta = {
  options: opts,
  namespaces: namespaces.length,
  services: services.length,
  servicesByKind: byKind,
  endpoints: pods.length,
  endpointSlices: slices.length,
  maxEndpointsPerService: Math.max(0, ...services.map((s) => s.endpoints)),
  pods: opts.pods ? pods.length : 0,
  forward: { hostnames: Object.keys(upstream.names).length, nxdomain: upstream.nxdomain.length, ttl: upstream.ttl },
  queryLines: Object.fromEntries(Object.entries(mixes).map(([k, v]) => [k, v.length])),
  // A name the harness polls to know the server has synced.
  probe: withIP.length > 0 ? { name: fq(withIP[0]), type: 'A', answer: withIP[0].clusterIP } : null,
};
writeFileSync(join(opts.out, 'meta.json'), JSON.stringify(meta, null, 2) + '\n');
console.log(JSON.stringify({ out: opts.out, services: meta.services, endpoints: meta.endpoints, endpointSlices: meta.endpointSlices, queryLines: meta.queryLines }));
