// API-mode sync, memory and programming latency: loads the generated bench cluster into the fake API server
// (test/support) and measures how long clusterdns takes to list it, its RSS after sync, and how long an
// EndpointSlice update takes to show up in DNS answers. Run after `npm run build` and one `npm run bench` (which
// generates the cluster):
//   node --import=@isaacs/ts-node-temp-fork-for-pr-2009/import bench/api-sync.ts CLUSTER_DIR [options]
//     CLUSTER_DIR     ~/.cache/clusterdns/bench/s10000-e150000-*/cluster
//     --samples N     programming-latency samples (default 500; nearest-rank percentiles, so p99 is a real p99
//                     from 100 samples on)
//     --gap MS        pause between one sample's answer and the next update (default 20), so samples are
//                     independent and none queues behind the previous one's work
//     --port P        clusterdns's DNS port on 127.0.0.1 (default $API_SYNC_PORT or 15399)
//     --trace         also log GC pauses and event-loop stalls of clusterdns and of this process
//                     (bench/stall-hook.mjs) and attribute every slow sample to what overlapped it
//     --json FILE     write the samples and figures as JSON
//
// Each sample: update one headless Service's EndpointSlice in the fake (the watch event is written at once), then
// query back-to-back over UDP until an answer carries the new address; the sample is update → that answer. It
// includes the watch event's delivery, clusterdns applying it and one DNS round trip.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { FakeApiServer, writeKubeconfig } from '../test/support/fake-apiserver.js';
// @ts-expect-error: a plain .mjs helper without type declarations
import { startStallLog } from './stall-hook.mjs';

function parseArgs(argv: string[]): { dir: string; samples: number; gapMs: number; port: number; trace: boolean; json?: string } {
  const o = { dir: '', samples: 500, gapMs: 20, port: Number(process.env.API_SYNC_PORT ?? 15399), trace: false, json: undefined as string | undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const num = (): number => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) throw new Error(`${a} needs a non-negative integer`);
      return v;
    };
    if (a === '--samples') o.samples = num();
    else if (a === '--gap') o.gapMs = num();
    else if (a === '--port') o.port = num();
    else if (a === '--trace') o.trace = true;
    else if (a === '--json') o.json = argv[++i];
    else if (a.startsWith('--')) throw new Error(`unknown option ${a} (see the head of bench/api-sync.ts)`);
    else o.dir = a;
  }
  if (!o.dir) throw new Error('Use: bench/api-sync.ts CLUSTER_DIR [--samples N] [--gap MS] [--port P] [--trace] [--json FILE]');
  if (o.samples < 1) throw new Error('--samples needs at least 1');
  return o;
}
const opts = parseArgs(process.argv.slice(2));

/** Nearest-rank percentile of ascending `sorted`: the smallest sample with at least p% of the samples at or below it. */
const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;

const tmp = mkdtempSync(join(tmpdir(), 'clusterdns-api-sync-'));
const api = await FakeApiServer.start({ historyLimit: 10 });
{
  // Scoped, so the parsed 55 MB list is garbage once loaded and this process (which also runs the fake API server
  // and the DNS client of the samples) does not carry it through the samples.
  const list = JSON.parse(readFileSync(`${opts.dir}/cluster.json`, 'utf8')) as { items: Record<string, unknown>[] };
  let n = 0;
  for (const o of list.items) {
    if (['Namespace', 'Service', 'EndpointSlice'].includes(o.kind as string)) {
      api.create(o);
      n++;
    }
  }
  console.log('loaded', n);
}
const kc = writeKubeconfig(`${tmp}/kc`, { server: api.url });
writeFileSync(`${tmp}/Corefile`, `.:${opts.port} {\n  bind 127.0.0.1\n  kubernetes cluster.local in-addr.arpa ip6.arpa {\n    kubeconfig ${kc}\n  }\n}\n`);
const childLog = `${tmp}/stalls-clusterdns.jsonl`;
const selfLog = `${tmp}/stalls-api-sync.jsonl`;
const nodeArgs = opts.trace ? ['--import', new URL('./stall-hook.mjs', import.meta.url).pathname] : [];
const env = opts.trace ? { ...process.env, BENCH_STALL_LOG: childLog } : process.env;
const t0 = Date.now();
const p = spawn('node', [...nodeArgs, new URL('../dist/bin/clusterdns.js', import.meta.url).pathname, '-conf', `${tmp}/Corefile`], {
  stdio: ['ignore', 'pipe', 'inherit'],
  env,
});
process.on('exit', () => p.kill('SIGKILL'));
let synced = 0;
p.stdout!.on('data', (d: Buffer) => {
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
  if (Date.now() > syncDeadline || p.exitCode !== null) throw new Error('clusterdns did not sync within 180 s');
  await new Promise((r) => setTimeout(r, 100));
}
await new Promise((r) => setTimeout(r, 2000));
const st = readFileSync(`/proc/${p.pid}/status`, 'utf8');
console.log(st.split('\n').filter((l) => /VmRSS|VmHWM/.test(l)).join(' '));

// Programming latency through the API.
const { ask } = await import('../test/support/client.js');
api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'probe' } });
api.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'probe', namespace: 'probe' }, spec: { clusterIP: 'None', clusterIPs: ['None'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } });
const slice = (ip: string): Record<string, unknown> => ({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'probe-1', namespace: 'probe', labels: { 'kubernetes.io/service-name': 'probe' } }, addressType: 'IPv4', endpoints: [{ addresses: [ip], conditions: { ready: true } }], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] });
api.create(slice('10.250.0.1'));
for (;;) {
  const r = await ask(opts.port, 'probe.probe.svc.cluster.local', 'A');
  if (r.answers?.some((a) => (a as { data?: unknown }).data === '10.250.0.1')) break;
  await new Promise((r) => setTimeout(r, 10));
}
const stopSelfLog = opts.trace ? startStallLog(selfLog) : () => {};
interface Sample { began: number; ms: number; polls: number }
const samples: Sample[] = [];
for (let i = 0; i < opts.samples; i++) {
  const ip = `10.251.${(i >> 8) & 255}.${i & 255}`;
  const began = performance.now();
  api.update(slice(ip));
  let polls = 0;
  for (;;) {
    polls++;
    const r = await ask(opts.port, 'probe.probe.svc.cluster.local', 'A');
    if (r.answers?.some((a) => (a as { data?: unknown }).data === ip)) break;
    if (performance.now() - began > 5000) throw new Error(`no answer with ${ip} after 5 s`);
  }
  samples.push({ began: performance.timeOrigin + began, ms: performance.now() - began, polls });
  if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
}
stopSelfLog();
const sorted = samples.map((s) => s.ms).sort((a, b) => a - b);
const f = (x: number): string => x.toFixed(2);
const figures = { samples: sorted.length, min: sorted[0]!, p50: pct(sorted, 50), p90: pct(sorted, 90), p99: pct(sorted, 99), p999: pct(sorted, 99.9), max: sorted.at(-1)! };
console.log(
  `programming latency over ${figures.samples} EndpointSlice updates (${opts.gapMs} ms apart): min ${f(figures.min)} p50 ${f(figures.p50)} p90 ${f(figures.p90)} p99 ${f(figures.p99)}${sorted.length >= 1000 ? ` p99.9 ${f(figures.p999)}` : ''} max ${f(figures.max)} ms` +
    (sorted.length < 100 ? ` (under 100 samples the nearest-rank p99 is the maximum)` : ''),
);

// With --trace: what overlapped each slow sample (slow: over 3 × p50 and over 3 ms).
interface Ev { k: string; t: number; d: number; kind?: string; cpu?: number; who?: string }
let attribution: Record<string, unknown> | undefined;
if (opts.trace) {
  await new Promise((r) => setTimeout(r, 100));
  const readLog = (file: string, who: string): Ev[] => {
    try {
      return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => ({ ...(JSON.parse(l) as Ev), who }));
    } catch {
      return [];
    }
  };
  // Only what happened while sampling (the child's log also holds its start and initial sync).
  const from = samples[0]!.began;
  const to = samples.at(-1)!.began + samples.at(-1)!.ms;
  const evs = [...readLog(childLog, 'clusterdns'), ...readLog(selfLog, 'api-sync')].filter((e) => e.t + e.d >= from && e.t <= to);
  const slowMs = Math.max(3, 3 * figures.p50);
  const slow = samples.filter((s) => s.ms > slowMs);
  const causes: Record<string, number> = {};
  const lines: string[] = [];
  for (const s of slow) {
    const end = s.began + s.ms;
    const over = evs.filter((e) => e.t < end && e.t + e.d > s.began && e.d >= 1);
    // A stall with less than half its length in CPU time was the process not running, not work blocking it.
    const what = (e: Ev): string => (e.k === 'gc' ? `gc ${e.kind}` : (e.cpu ?? e.d) < e.d / 2 ? 'descheduled' : 'busy');
    const key = over.length === 0 ? 'nothing logged' : [...new Set(over.map((e) => `${e.who} ${what(e)}`))].sort().join(' + ');
    causes[key] = (causes[key] ?? 0) + 1;
    lines.push(`  ${f(s.ms)} ms (${s.polls} polls): ${over.map((e) => `${e.who} ${e.k}${e.kind ? ` ${e.kind}` : ''} ${f(e.d)} ms${e.cpu !== undefined ? ` (cpu ${f(e.cpu)})` : ''} at +${f(e.t - s.began)}`).join(', ') || 'nothing ≥ 1 ms logged'}`);
  }
  const gcTotals = (who: string): string => {
    const g = evs.filter((e) => e.who === who && e.k === 'gc');
    const by: Record<string, { n: number; max: number }> = {};
    for (const e of g) {
      const b = (by[e.kind!] ??= { n: 0, max: 0 });
      b.n++;
      b.max = Math.max(b.max, e.d);
    }
    return Object.entries(by).map(([k, v]) => `${k} ×${v.n} (max ${f(v.max)} ms)`).join(', ') || 'none';
  };
  console.log(`GC during the samples: clusterdns ${gcTotals('clusterdns')}; api-sync ${gcTotals('api-sync')}`);
  console.log(`${slow.length} samples over ${f(slowMs)} ms; what overlapped them (GC pauses and event-loop stalls ≥ 1 ms):`);
  for (const [k, v] of Object.entries(causes).sort((a, b) => b[1] - a[1])) console.log(`  ${v} × ${k}`);
  for (const l of lines) console.log(l);
  attribution = { slowMs, causes, slow: lines };
}
if (opts.json) writeFileSync(opts.json, JSON.stringify({ figures, samples, attribution }, null, 2) + '\n');
p.kill('SIGTERM');
await api.stop();
