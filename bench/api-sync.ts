// API-mode sync, memory and programming latency: loads the generated bench cluster into the fake API server
// (test/support/fake-apiserver.ts, run in a process of its own by bench/fake-api.ts) and measures how long clusterdns
// takes to list it, its RSS after sync, and how long an EndpointSlice update takes to be served. Run after
// `npm run build` and one `npm run bench` (which generates the cluster):
//   node --import=@isaacs/ts-node-temp-fork-for-pr-2009/import bench/api-sync.ts CLUSTER_DIR [options]
//     CLUSTER_DIR     ~/.cache/clusterdns/bench/s10000-e150000-*/cluster
//     --samples N     programming-latency samples (default 500; nearest-rank percentiles, so p99 is a real p99
//                     from 100 samples on)
//     --gap MS        pause between one sample's answer and the next update (default 20), so samples are
//                     independent and none queues behind the previous one's work
//     --endpoints N   endpoints in the probe Service's EndpointSlice (default 1; 100 is a full slice, as big
//                     Services have): each sample moves one of them to a new address
//     --corefile C    `kubernetes` (default): a block with only the kubernetes plugin; `kubeadm`: the kubeadm
//                     default Corefile (errors, health, ready, kubernetes, prometheus, forward, cache 30, loop,
//                     reload, loadbalance) with loopback ports, forwarding to bench/upstream.mjs
//     --connect C     how clusterdns reaches the fake: `kubeconfig` (default; through @kubernetes/client-node, as a
//                     kubeconfig needs), `endpoint` (the Corefile's `endpoint URL`: plain HTTP, files only, no client
//                     library) or `incluster` (what a Deployment in kube-system uses: the fake serves HTTPS with a
//                     test CA and requires a bearer token; clusterdns finds both in a service-account directory,
//                     CLUSTERDNS_SERVICEACCOUNT_ROOT, and the server in KUBERNETES_SERVICE_HOST/PORT)
//     --fill          before sampling, send every question of the bench's ptr and forward query files once
//                     (dnsperf), so the reply memo and, with kubeadm, the cache are as full as a serving DNS
//                     server's: the invalidations a change triggers then have something to scan
//     --load QPS      while sampling, dnsperf sends QPS queries a second (a serving DNS server's traffic: the bench's
//                     clusterip-a, headless-a, ptr and, with kubeadm, forward questions, interleaved)
//     --nice N        run clusterdns, the fake API server and this process at nice N (-20..19; negative needs root):
//                     on a machine shared with other work, -10 lets the measured processes run when they wake,
//                     as a DNS Pod's CPU request would on a node, so the figures show clusterdns, not the neighbours
//     --pin           pin clusterdns to cpu0 and the fake API server, the probe and the upstream to cpu1 (off by
//                     default: on a shared machine a pinned process cannot move away from a busy core)
//     --port P        clusterdns's DNS port on 127.0.0.1 (default $API_SYNC_PORT or 15399); with kubeadm, P+1 is
//                     the upstream (UDP) and P+2..P+4 health, ready and prometheus (TCP)
//     --trace         also log GC pauses and event-loop stalls of clusterdns, the fake API server and this process
//                     (bench/stall-hook.mjs) and attribute every slow sample to what overlapped it
//     --json FILE     write the samples and figures as JSON
//   Environment: CLUSTERDNS_DIST (default ./dist): the build to run, e.g. another commit's, to compare two builds
//   with the same harness (as bench/run.sh).
//     --profile FILE  CPU-profile clusterdns while sampling (bench/prof-hook.mjs) into FILE (.cpuprofile); see
//                     bench/profile-top.mjs for the top functions
//
// Each sample: the fake API server updates the probe Service's EndpointSlice and says when it handed the watch event
// to the socket (its own storing and encoding, ~0.1-0.3 ms, is left out: that is the API server's time, not ours); this process then queries the changed endpoint's name back-to-back over UDP until the
// answer carries the new address. Two figures per sample, both from the fake's write:
//   applied   until clusterdns had applied the watch event (model, zone and caches updated, so every answer from
//             then on carries the change): what CoreDNS's programming-duration metric and the SIG Scalability DNS
//             programming latency SLI measure (clusterdns reports it on a diagnostics channel, read by a preload)
//   answered  until this process read an answer carrying the new address: the end-to-end check, one DNS round
//             trip and this process's own wake-up later
// Times in different processes are lined up through performance.timeOrigin (epoch ms, microsecond resolution).
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, setPriority, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { writeKubeconfig } from '../test/support/fake-apiserver.js';
import { KUBEADM_COREFILE } from '../test/support/kubeadm.js';
// @ts-expect-error: a plain .mjs helper without type declarations
import { startStallLog } from './stall-hook.mjs';
// @ts-expect-error: a plain .mjs helper without type declarations
import { client } from './probe.mjs';

interface Options {
  dir: string;
  samples: number;
  gapMs: number;
  endpoints: number;
  corefile: 'kubernetes' | 'kubeadm';
  connect: 'kubeconfig' | 'endpoint' | 'incluster';
  fill: boolean;
  load: number;
  nice: number;
  pin: boolean;
  port: number;
  trace: boolean;
  json?: string;
  profile?: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { dir: '', samples: 500, gapMs: 20, endpoints: 1, corefile: 'kubernetes', connect: 'kubeconfig', fill: false, load: 0, nice: 0, pin: false, port: Number(process.env.API_SYNC_PORT ?? 15399), trace: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`${a} needs a non-negative integer`);
      return v;
    };
    if (a === '--samples') o.samples = num();
    else if (a === '--gap') o.gapMs = num();
    else if (a === '--endpoints') o.endpoints = num();
    else if (a === '--port') o.port = num();
    else if (a === '--trace') o.trace = true;
    else if (a === '--fill') o.fill = true;
    else if (a === '--load') o.load = num();
    else if (a === '--nice') {
      o.nice = Number(argv[++i]);
      if (!Number.isInteger(o.nice) || o.nice < -20 || o.nice > 19) throw new Error('--nice takes -20 to 19');
    }
    else if (a === '--pin') o.pin = true;
    else if (a === '--json') o.json = argv[++i];
    else if (a === '--profile') o.profile = argv[++i];
    else if (a === '--connect') {
      const c = argv[++i];
      if (c !== 'kubeconfig' && c !== 'endpoint' && c !== 'incluster') throw new Error('--connect takes kubeconfig, endpoint or incluster');
      o.connect = c;
    } else if (a === '--corefile') {
      const c = argv[++i];
      if (c !== 'kubernetes' && c !== 'kubeadm') throw new Error('--corefile takes kubernetes or kubeadm');
      o.corefile = c;
    } else if (a.startsWith('--')) throw new Error(`unknown option ${a} (see the head of bench/api-sync.ts)`);
    else o.dir = a;
  }
  if (!o.dir) throw new Error('Use: bench/api-sync.ts CLUSTER_DIR [--samples N] [--gap MS] [--endpoints N] [--corefile kubernetes|kubeadm] [--connect kubeconfig|endpoint|incluster] [--fill] [--load QPS] [--nice N] [--pin] [--port P] [--trace] [--json FILE] [--profile FILE]');
  if (o.samples < 1) throw new Error('--samples needs at least 1');
  if (o.endpoints < 1 || o.endpoints > 1000) throw new Error('--endpoints takes 1 to 1000 (an EndpointSlice holds at most 1000)');
  return o;
}
const opts = parseArgs(process.argv.slice(2));
const bench = dirname(new URL(import.meta.url).pathname);
const root = dirname(bench);
const cacheDir = dirname(opts.dir.replace(/\/+$/, ''));

/** Nearest-rank percentile of ascending `sorted`: the smallest sample with at least p% of the samples at or below it. */
const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
const f = (x: number): string => x.toFixed(2);
const epochNow = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pinned = (cpu: number, cmd: string, args: string[]): [string, string[]] => (opts.pin ? ['taskset', ['-c', String(cpu), cmd, ...args]] : [cmd, args]);
if (opts.pin) spawnSync('taskset', ['-cp', '1', String(process.pid)], { stdio: 'ignore' });
if (opts.nice) setPriority(opts.nice);

/** Busy and total jiffies of all CPUs (/proc/stat), to say how busy the machine was while sampling. */
function cpuTimes(): { busy: number; total: number } {
  const v = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - v[3]! - (v[4] ?? 0), total };
}

/** utime + stime of a process, in ms. */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

const tmp = mkdtempSync(join(tmpdir(), 'clusterdns-api-sync-'));
const logs = { clusterdns: `${tmp}/stalls-clusterdns.jsonl`, api: `${tmp}/stalls-fake-api.jsonl`, probe: `${tmp}/stalls-probe.jsonl`, applied: `${tmp}/applied.jsonl` };
const hook = join(bench, 'stall-hook.mjs');
const children: ChildProcess[] = [];
process.on('exit', () => children.forEach((c) => c.kill('SIGKILL')));

// ---- the fake API server, in its own process
const apiArgs = ['--import=@isaacs/ts-node-temp-fork-for-pr-2009/import', ...(opts.trace ? ['--import', hook] : [])];
const TOKEN = 'bench-service-account-token';
const api = fork(join(bench, 'fake-api.ts'), [opts.dir, ...(opts.connect === 'incluster' ? ['--tls', TOKEN] : [])], {
  execArgv: apiArgs,
  env: opts.trace ? { ...process.env, BENCH_STALL_LOG: logs.api } : process.env,
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
});
children.push(api);
if (opts.pin) spawnSync('taskset', ['-cp', '1', String(api.pid)], { stdio: 'ignore' });
if (opts.nice) setPriority(api.pid!, opts.nice);
const apiReady = await new Promise<{ ready: string; loaded: number; ca?: string }>((resolve, reject) => {
  api.once('message', (m) => resolve(m as { ready: string; loaded: number; ca?: string }));
  api.once('exit', (code) => reject(new Error(`the fake API server exited (${code}) before it was ready`)));
});
console.log('loaded', apiReady.loaded, 'objects into the fake API server');
let nextId = 1;
const waiting = new Map<number, (m: { t: number; d: number }) => void>();
api.on('message', (m: { id?: number; t: number; d: number }) => {
  if (m.id !== undefined) waiting.get(m.id)?.(m);
  if (m.id !== undefined) waiting.delete(m.id);
});
/** Asks the fake to create or update `obj`; resolves with the epoch ms of the write. */
function write(op: 'create' | 'update', obj: Record<string, unknown>): Promise<{ t: number; d: number }> {
  const id = nextId++;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    api.send({ id, op, obj });
  });
}

// ---- the upstream (kubeadm only)
const upPort = opts.port + 1;
if (opts.corefile === 'kubeadm') {
  const [cmd, args] = pinned(1, 'node', [join(bench, 'upstream.mjs'), join(cacheDir, 'upstream.json'), String(upPort)]);
  children.push(spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] }));
}

// ---- clusterdns
const kc = writeKubeconfig(`${tmp}/kc`, { server: apiReady.ready });
// In-cluster: no connection line at all; the service account's files and the environment say where and who.
const source = opts.connect === 'kubeconfig' ? `kubeconfig ${kc}` : opts.connect === 'endpoint' ? `endpoint ${apiReady.ready}` : '';
const inCluster: Record<string, string> = {};
if (opts.connect === 'incluster') {
  const sa = join(tmp, 'sa', 'var/run/secrets/kubernetes.io/serviceaccount');
  mkdirSync(sa, { recursive: true });
  writeFileSync(join(sa, 'token'), `${TOKEN}\n`);
  copyFileSync(apiReady.ca!, join(sa, 'ca.crt'));
  const u = new URL(apiReady.ready);
  Object.assign(inCluster, { CLUSTERDNS_SERVICEACCOUNT_ROOT: join(tmp, 'sa'), KUBERNETES_SERVICE_HOST: u.hostname, KUBERNETES_SERVICE_PORT: u.port });
}
/** `text` with `from` replaced by `to`, which must be there: the kubeadm Corefile must not drift silently. */
const edit = (text: string, from: string, to: string): string => {
  if (!text.includes(from)) throw new Error(`the kubeadm Corefile no longer has ${JSON.stringify(from)}`);
  return text.replace(from, to);
};
// The kubeadm default Corefile (test/support/kubeadm.ts) with only what a benchmark on loopback must change, as
// bench/run.sh -C kubeadm: the API through the fake's kubeconfig, loopback ports, the bench upstream.
const kubeadmCorefile = (): string => {
  let c = edit(KUBEADM_COREFILE, '.:53 {\n', `.:${opts.port} {\n    bind 127.0.0.1\n`);
  c = edit(c, '    health {', `    health 127.0.0.1:${opts.port + 2} {`);
  c = edit(c, '    ready\n', `    ready 127.0.0.1:${opts.port + 3}\n`);
  c = edit(c, 'kubernetes cluster.local in-addr.arpa ip6.arpa {\n', `kubernetes cluster.local in-addr.arpa ip6.arpa {\n       ${source}\n`);
  c = edit(c, 'prometheus :9153', `prometheus 127.0.0.1:${opts.port + 4}`);
  return edit(c, 'forward . /etc/resolv.conf', `forward . 127.0.0.1:${upPort}`);
};
const corefile =
  opts.corefile === 'kubernetes'
    ? `.:${opts.port} {\n  bind 127.0.0.1\n  kubernetes cluster.local in-addr.arpa ip6.arpa {\n    ${source}\n  }\n}\n`
    : kubeadmCorefile();
writeFileSync(`${tmp}/Corefile`, corefile);
const env = {
  ...process.env,
  ...inCluster,
  BENCH_APPLIED_LOG: logs.applied,
  ...(opts.trace ? { BENCH_STALL_LOG: logs.clusterdns } : {}),
  ...(opts.profile ? { BENCH_PROF_FILE: opts.profile } : {}),
};
const t0 = Date.now();
const preload = ['--import', hook, ...(opts.profile ? ['--import', join(bench, 'prof-hook.mjs')] : [])];
const [cdCmd, cdArgs] = pinned(0, 'node', [...preload, join(process.env.CLUSTERDNS_DIST ?? join(root, 'dist'), 'bin/clusterdns.js'), '-conf', `${tmp}/Corefile`]);
// Through nice(1), so that every thread of clusterdns (GC helpers included) has the priority, not only the first.
const cd = opts.nice
  ? spawn('nice', ['-n', String(opts.nice), cdCmd, ...cdArgs], { stdio: ['ignore', 'pipe', 'inherit'], env })
  : spawn(cdCmd, cdArgs, { stdio: ['ignore', 'pipe', 'inherit'], env });
children.push(cd);
let synced = 0;
// taskset and nice exec the command, so the child's pid is clusterdns's either way.
const cdPid = cd.pid!;
cd.stdout!.on('data', (d: Buffer) => {
  for (const l of d.toString().split('\n')) {
    if (l.includes('connecting to the Kubernetes API')) console.log('connect after', Date.now() - t0, 'ms');
    if (l.includes('Kubernetes API synced')) {
      synced = Date.now();
      console.log('synced after', synced - t0, 'ms', l.slice(0, 300));
    }
  }
});
const syncDeadline = Date.now() + 180_000;
while (!synced) {
  if (Date.now() > syncDeadline || cd.exitCode !== null) throw new Error('clusterdns did not sync within 180 s');
  await sleep(100);
}
await sleep(2000);
const st = readFileSync(`/proc/${cdPid}/status`, 'utf8');
console.log(st.split('\n').filter((l) => /VmRSS|VmHWM/.test(l)).join(' '));

// ---- fill the reply memo and the cache as traffic would
if (opts.fill) {
  for (const mix of opts.corefile === 'kubeadm' ? ['ptr', 'forward'] : ['ptr']) {
    const file = join(cacheDir, 'queries', `${mix}.txt`);
    if (!existsSync(file)) throw new Error(`--fill: no ${file}`);
    const [cmd, args] = pinned(1, 'dnsperf', ['-s', '127.0.0.1', '-p', String(opts.port), '-d', file, '-n', '1', '-c', '1', '-q', '100']);
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`--fill: dnsperf failed: ${r.error?.message ?? r.stderr}`);
    console.log(`filled with ${mix}:`, /Queries completed:\s+(\d+)/.exec(r.stdout)?.[1] ?? '?', 'answers');
  }
}

// ---- programming latency
const NS = 'probe';
const SVC = 'probe';
const epName = (k: number): string => `p-${k}`;
const qname = (k: number): string => `${epName(k)}.${SVC}.${NS}.svc.cluster.local`;
const addresses = Array.from({ length: opts.endpoints }, (_, k) => `10.250.${k >> 8}.${(k & 255) + 1}`);
// The EndpointSlice controller's trigger time, so that coredns_kubernetes_dns_programming_duration_seconds observes
// every sample and can be checked against this harness's own figures (kubeadm: the Corefile has prometheus).
const slice = (triggered = Date.now()): Record<string, unknown> => ({
  apiVersion: 'discovery.k8s.io/v1',
  kind: 'EndpointSlice',
  metadata: {
    name: `${SVC}-1`,
    namespace: NS,
    labels: { 'kubernetes.io/service-name': SVC },
    annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': new Date(triggered).toISOString() },
  },
  addressType: 'IPv4',
  endpoints: addresses.map((ip, k) => ({ addresses: [ip], hostname: epName(k), conditions: { ready: true } })),
  ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
});
await write('create', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
await write('create', { apiVersion: 'v1', kind: 'Service', metadata: { name: SVC, namespace: NS }, spec: { clusterIP: 'None', clusterIPs: ['None'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } });
await write('create', slice());
const dns = client(opts.port);
interface Answer { rcode: number; addrs: string[]; at: number }
const ask = (name: string): Promise<Answer | null> => dns.query(name, 'A', 200) as Promise<Answer | null>;
for (const deadline = Date.now() + 10_000; ; ) {
  const r = await ask(qname(0));
  if (r?.addrs.includes(addresses[0]!)) break;
  if (Date.now() > deadline) throw new Error('the probe Service was not served within 10 s');
  await sleep(10);
}
// Warm the name of every endpoint the samples will ask for (first answers take the general path).
for (let k = 0; k < Math.min(opts.endpoints, opts.samples); k++) await ask(qname(k));

/** The programming-duration histogram's cumulative bucket counts by `le` (kubeadm: prometheus on port + 4). */
async function scrapeProgramming(): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${opts.port + 4}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^coredns_kubernetes_dns_programming_duration_seconds_bucket\{[^}]*le="([^"]+)"[^}]*\} (\d+)/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}
const metricsBefore = opts.corefile === 'kubeadm' ? await scrapeProgramming() : null;

interface Sample { triggered: number; wrote: number; encodeMs: number; applied?: number; arrived?: number; answered: number; ms: number; appliedMs?: number; polls: number }
const samples: Sample[] = [];
let loadGen: ChildProcess | null = null;
if (opts.load > 0) {
  // Interleaved, so every stretch of the run has every kind of question.
  const mixes = ['clusterip-a', 'headless-a', 'ptr', ...(opts.corefile === 'kubeadm' ? ['forward'] : [])].map((m) =>
    readFileSync(join(cacheDir, 'queries', `${m}.txt`), 'utf8').split('\n').filter(Boolean),
  );
  const lines: string[] = [];
  for (let i = 0; i < Math.max(...mixes.map((m) => m.length)); i++) for (const m of mixes) if (i < m.length) lines.push(m[i]!);
  writeFileSync(`${tmp}/load.txt`, lines.join('\n') + '\n');
  // Bounded: long enough for the samples at their slowest, killed once they are done.
  const secs = Math.ceil((opts.samples * (opts.gapMs + 50)) / 1000) + 10;
  const [cmd, args] = pinned(1, 'dnsperf', ['-s', '127.0.0.1', '-p', String(opts.port), '-d', `${tmp}/load.txt`, '-l', String(secs), '-Q', String(opts.load), '-c', '1', '-q', '100']);
  loadGen = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(loadGen);
  await sleep(1000);
}
const stopSelfLog = opts.trace ? startStallLog(logs.probe) : () => {};
const cpu0 = cpuTimes();
const load0 = loadavg();
if (opts.profile) process.kill(cdPid, 'SIGUSR2');
const cdCpu0 = processCpuMs(cdPid);
const apiCpu0 = processCpuMs(api.pid!);
for (let i = 0; i < opts.samples; i++) {
  const k = i % opts.endpoints;
  // Fresh addresses, none reused: a repeated one would count as seen at once.
  const ip = `10.251.${(i >> 8) & 255}.${i & 255}`;
  addresses[k] = ip;
  const triggered = Date.now();
  const { t: wrote, d: encodeMs } = await write('update', slice(triggered));
  let polls = 0;
  let answered = 0;
  for (;;) {
    polls++;
    const r = await ask(qname(k));
    if (r?.addrs.includes(ip)) {
      answered = performance.timeOrigin + r.at;
      break;
    }
    if (epochNow() - wrote > 5000) throw new Error(`no answer with ${ip} after 5 s`);
  }
  samples.push({ triggered, wrote, encodeMs, answered, ms: answered - wrote, polls });
  if (opts.gapMs) await sleep(opts.gapMs);
}
const cdCpuMs = processCpuMs(cdPid) - cdCpu0;
let loadSummary = '';
if (loadGen) {
  const out: Buffer[] = [];
  loadGen.stdout!.on('data', (d: Buffer) => out.push(d));
  const ended = new Promise((r) => loadGen!.once('exit', r));
  loadGen.kill('SIGINT'); // dnsperf prints its statistics when interrupted
  await Promise.race([ended, sleep(5000)]);
  const text = Buffer.concat(out).toString();
  loadSummary = `dnsperf: ${/Queries completed:\s+(\d+)/.exec(text)?.[1] ?? '?'} answered, ${/Queries lost:\s+(\d+)/.exec(text)?.[1] ?? '?'} lost, ${/Queries per second:\s+([\d.]+)/.exec(text)?.[1] ?? '?'} QPS`;
}
if (opts.profile) process.kill(cdPid, 'SIGUSR2');
const apiCpuMs = processCpuMs(api.pid!) - apiCpu0;
const cpu1 = cpuTimes();
const load1 = loadavg();
stopSelfLog();
dns.close();
await sleep(opts.profile ? 1500 : 300); // the applied log is flushed every 100 ms; the profile takes a moment

// Line clusterdns's applied batches up with the samples: the first endpointslices batch that arrived after the write.
interface Ev { k: string; t: number; d: number; kind?: string; cpu?: number; who?: string; resource?: string; events?: number }
const readLog = (file: string, who: string): Ev[] => {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => ({ ...(JSON.parse(l) as Ev), who }));
  } catch {
    return [];
  }
};
const applied = readLog(logs.applied, 'clusterdns').filter((e) => e.resource === 'endpointslices');
let j = 0;
for (const s of samples) {
  while (j < applied.length && applied[j]!.t < s.wrote) j++;
  const a = applied[j];
  if (a && a.t <= s.answered) {
    s.arrived = a.t;
    s.applied = a.t + a.d;
    s.appliedMs = s.applied - s.wrote;
    j++;
  }
}
const figuresOf = (xs: number[]): { samples: number; min: number; p50: number; p90: number; p99: number; p999: number; max: number } => {
  const sorted = xs.slice().sort((a, b) => a - b);
  return { samples: sorted.length, min: sorted[0]!, p50: pct(sorted, 50), p90: pct(sorted, 90), p99: pct(sorted, 99), p999: pct(sorted, 99.9), max: sorted.at(-1)! };
};
const line = (what: string, g: ReturnType<typeof figuresOf>): string =>
  `${what}: min ${f(g.min)} p50 ${f(g.p50)} p90 ${f(g.p90)} p99 ${f(g.p99)}${g.samples >= 1000 ? ` p99.9 ${f(g.p999)}` : ''} max ${f(g.max)} ms` +
  (g.samples < 100 ? ' (under 100 samples the nearest-rank p99 is the maximum)' : '');
const answeredFig = figuresOf(samples.map((s) => s.ms));
const appliedSamples = samples.filter((s) => s.appliedMs !== undefined);
const appliedFig = appliedSamples.length ? figuresOf(appliedSamples.map((s) => s.appliedMs!)) : undefined;
const busyPct = (100 * (cpu1.busy - cpu0.busy)) / Math.max(1, cpu1.total - cpu0.total);
console.log(
  `programming latency over ${samples.length} EndpointSlice updates (${opts.endpoints} endpoint${opts.endpoints > 1 ? 's' : ''} per slice, ${opts.gapMs} ms apart, ${opts.corefile} Corefile${opts.fill ? ', filled' : ''}${opts.load ? `, ${opts.load} QPS of queries` : ''}${opts.nice ? `, nice ${opts.nice}` : ''}${opts.pin ? ', pinned' : ''}):`,
);
if (appliedFig) console.log(`  ${line(`write → applied by clusterdns (${appliedFig.samples} samples)`, appliedFig)}`);
else console.log('  write → applied: no applied batches were logged');
console.log(`  ${line('write → answer read by the probe', answeredFig)}`);
const stage = (pick: (s: Sample) => number): string => {
  const g = figuresOf(appliedSamples.map(pick));
  return `p50 ${f(g.p50)} p99 ${f(g.p99)} max ${f(g.max)}`;
};
if (appliedSamples.length) {
  console.log(`  stages (ms): write → arrived ${stage((s) => s.arrived! - s.wrote)}; arrived → applied ${stage((s) => s.applied! - s.arrived!)}; applied → answer ${stage((s) => s.answered - s.applied!)}`);
}
console.log(
  `  CPU: clusterdns ${f(cdCpuMs / samples.length)} ms per sample, fake API server ${f(apiCpuMs / samples.length)} ms per sample (10 ms ticks, over all samples; ` +
    `the fake stored and encoded each update in ${f(figuresOf(samples.map((s) => s.encodeMs)).p50)} ms at p50, before the write); ` +
    `${loadSummary ? `${loadSummary}; ` : ''}machine ${busyPct.toFixed(0)}% busy while sampling; load average ${load0.map((x) => x.toFixed(2)).join(' ')} before, ${load1.map((x) => x.toFixed(2)).join(' ')} after`,
);

// The programming-duration metric must say what this harness saw: from each trigger time until clusterdns had
// applied the update, in CoreDNS's buckets. The metric reads the wall clock in whole milliseconds (Date.now()), and
// so does the harness for this check: the counts should then agree but for a sample whose applied time and the
// metric's reading fall on two sides of a millisecond.
if (metricsBefore !== null && appliedSamples.length) {
  const metricsAfter = await scrapeProgramming();
  const les = ['0.001', '0.002', '0.004', '0.008', '0.016', '0.032', '+Inf'];
  const mine = (le: string): number => appliedSamples.filter((s) => Math.floor(s.applied!) - s.triggered <= Number(le === '+Inf' ? Infinity : le) * 1000).length;
  console.log(
    '  coredns_kubernetes_dns_programming_duration_seconds over the samples (metric / harness): ' +
      les.map((le) => `≤ ${le === '+Inf' ? 'all' : `${Number(le) * 1000} ms`} ${(metricsAfter.get(le) ?? NaN) - (metricsBefore.get(le) ?? 0)} / ${mine(le)}`).join(', '),
  );
}

// With --trace: what overlapped each slow sample (slow: over 3 × p50 and over 3 ms, end to end).
let attribution: Record<string, unknown> | undefined;
if (opts.trace) {
  const from = samples[0]!.wrote;
  const to = samples.at(-1)!.answered;
  const evs = [...readLog(logs.clusterdns, 'clusterdns'), ...readLog(logs.api, 'api'), ...readLog(logs.probe, 'probe')].filter((e) => e.t + e.d >= from && e.t <= to);
  const slowMs = Math.max(3, 3 * answeredFig.p50);
  const slow = samples.filter((s) => s.ms > slowMs);
  const causes: Record<string, number> = {};
  const lines: string[] = [];
  for (const s of slow) {
    const over = evs.filter((e) => e.t < s.answered && e.t + e.d > s.wrote && e.d >= 1);
    // A stall with less than half its length in CPU time was the process not running, not work blocking it.
    const what = (e: Ev): string => (e.k === 'gc' ? `gc ${e.kind}` : (e.cpu ?? e.d) < e.d / 2 ? 'descheduled' : 'busy');
    const key = over.length === 0 ? 'nothing logged' : [...new Set(over.map((e) => `${e.who} ${what(e)}`))].sort().join(' + ');
    causes[key] = (causes[key] ?? 0) + 1;
    const stages = s.applied !== undefined ? ` [arrived +${f(s.arrived! - s.wrote)}, applied +${f(s.applied - s.wrote)}]` : ' [no applied batch]';
    lines.push(`  ${f(s.ms)} ms (${s.polls} polls)${stages}: ${over.map((e) => `${e.who} ${e.k}${e.kind ? ` ${e.kind}` : ''} ${f(e.d)} ms${e.cpu !== undefined ? ` (cpu ${f(e.cpu)})` : ''} at +${f(e.t - s.wrote)}`).join(', ') || 'nothing ≥ 1 ms logged'}`);
  }
  const gcTotals = (who: string): string => {
    const by: Record<string, { n: number; max: number }> = {};
    for (const e of evs.filter((e) => e.who === who && e.k === 'gc')) {
      const b = (by[e.kind!] ??= { n: 0, max: 0 });
      b.n++;
      b.max = Math.max(b.max, e.d);
    }
    return Object.entries(by).map(([k, v]) => `${k} ×${v.n} (max ${f(v.max)} ms)`).join(', ') || 'none';
  };
  const stallTotals = (who: string): string => {
    const st = evs.filter((e) => e.who === who && e.k === 'stall');
    const desched = st.filter((e) => (e.cpu ?? e.d) < e.d / 2);
    return `${st.length} stalls (${desched.length} descheduled, max ${f(Math.max(0, ...st.map((e) => e.d)))} ms)`;
  };
  console.log(`GC during the samples: clusterdns ${gcTotals('clusterdns')}; fake API ${gcTotals('api')}; probe ${gcTotals('probe')}`);
  console.log(`event-loop stalls > 2 ms during the samples: clusterdns ${stallTotals('clusterdns')}; fake API ${stallTotals('api')}; probe ${stallTotals('probe')}`);
  console.log(`${slow.length} samples over ${f(slowMs)} ms end to end; what overlapped them (GC pauses and event-loop stalls ≥ 1 ms):`);
  for (const [k, v] of Object.entries(causes).sort((a, b) => b[1] - a[1])) console.log(`  ${v} × ${k}`);
  for (const l of lines) console.log(l);
  attribution = { slowMs, causes, slow: lines };
}
if (opts.json) {
  const meta = { opts, cdCpuMsPerSample: cdCpuMs / samples.length, apiCpuMsPerSample: apiCpuMs / samples.length, busyPct, load: [load0, load1] };
  writeFileSync(opts.json, JSON.stringify({ meta, figures: { applied: appliedFig, answered: answeredFig }, samples, attribution }, null, 2) + '\n');
}
cd.kill('SIGTERM');
api.send({ op: 'stop' });
for (const c of children) if (c !== cd && c !== api) c.kill('SIGTERM');
