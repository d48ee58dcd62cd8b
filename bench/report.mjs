#!/usr/bin/env node
// Use: node bench/report.mjs OUTDIR
// Turns the raw outputs bench/run.sh left in OUTDIR (facts.txt, dnsperf-*.txt, cpu-*.txt, prog.json,
// cluster-meta.json, profile-top.md) into markdown: machine, cluster, per-mix throughput against the ceiling, memory,
// sync and programming latency, and the issue 5 goals with pass/fail. Also writes OUTDIR/results.json.
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir) {
  console.error('Use: node bench/report.mjs OUTDIR');
  process.exit(2);
}
const read = (f) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : null);
const facts = Object.fromEntries(
  (read('facts.txt') ?? '')
    .split('\n')
    .filter((l) => l.includes('='))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
);
const num = (x) => (x === undefined || x === '' || x === null ? NaN : Number(x));

/** The figures of one dnsperf output. */
function parseDnsperf(text) {
  const m = (re) => text.match(re)?.[1];
  const lat = text.match(/Average Latency \(s\):\s+([\d.]+) \(min ([\d.]+), max ([\d.]+)\)/);
  return {
    qps: num(m(/Queries per second:\s+([\d.]+)/)),
    sent: num(m(/Queries sent:\s+(\d+)/)),
    completed: num(m(/Queries completed:\s+(\d+)/)),
    lost: num(m(/Queries lost:\s+(\d+)/)),
    rcodes: (m(/Response codes:\s+(.*)/) ?? '').trim(),
    respBytes: num(m(/Average packet size:.*response (\d+)/)),
    avgMs: lat ? Number(lat[1]) * 1000 : NaN,
    maxMs: lat ? Number(lat[3]) * 1000 : NaN,
  };
}

const runs = {};
for (const f of readdirSync(dir)) {
  const mm = f.match(/^dnsperf-(.+)\.txt$/);
  if (!mm) continue;
  const r = parseDnsperf(read(f));
  r.serverCpu = num(read(`cpu-${mm[1]}.txt`)?.trim());
  runs[mm[1]] = r;
}
const ceilings = ['ceiling-before', 'ceiling-after'].map((k) => runs[k]?.qps).filter((q) => q > 0);
const ceiling = ceilings.length ? ceilings.reduce((a, b) => a + b, 0) / ceilings.length : NaN;
const ORDER = ['clusterip-a', 'headless-a', 'endpoint-a', 'srv', 'ptr', 'aaaa-nodata', 'nxdomain-search', 'forward', 'clusterip-a-profiled'];
const mixes = Object.keys(runs)
  .filter((k) => !k.startsWith('ceiling'))
  .sort((a, b) => (ORDER.indexOf(a) + 1 || 99) - (ORDER.indexOf(b) + 1 || 99));

const f0 = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const f3 = (x) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
const mb = (kb) => (Number.isFinite(num(kb)) ? (num(kb) / 1024).toFixed(1) : 'n/a');
const meta = JSON.parse(read('cluster-meta.json') ?? '{}');
const prog = JSON.parse(read('prog.json') ?? 'null');

const out = [];
const p = (s = '') => out.push(s);
p(`Machine: ${facts.nproc} CPUs, ${facts.cpu_model}, ${mb(facts.mem_total_kb)} MB RAM, Linux ${facts.kernel}, Node ${facts.node_version}, dnsperf ${facts.dnsperf_version}`);
p(`Command: \`${facts.command}\` (dnsperf -l ${facts.secs} -c 1 -q 100 on cpu${process.env.CLIENT_CPU ?? 1}, server on cpu${process.env.SERVER_CPU ?? 0})`);
if (meta.services !== undefined) {
  const kinds = Object.entries(meta.servicesByKind ?? {}).map(([k, v]) => `${k} ${v}`).join(', ');
  p(`Cluster: ${meta.namespaces} namespaces, ${meta.services} services (${kinds}), ${meta.endpoints} endpoints in ${meta.endpointSlices} EndpointSlices (max ${meta.maxEndpointsPerService} per service), ${mb(num(facts.cluster_json_bytes) / 1024)} MB of JSON`);
}
p();
p(`| mix | QPS | vs ceiling | mean latency ms | max latency ms | lost | server CPU % | response B | rcodes |`);
p(`|---|---:|---:|---:|---:|---:|---:|---:|---|`);
for (const k of ['ceiling-before', 'ceiling-after']) {
  const r = runs[k];
  if (r) p(`| ${k} | ${f0(r.qps)} | ${f2(r.qps / ceiling)} | ${f3(r.avgMs)} | ${f2(r.maxMs)} | ${f0(r.lost)} | ${f0(r.serverCpu)} | ${f0(r.respBytes)} | ${r.rcodes} |`);
}
for (const k of mixes) {
  const r = runs[k];
  p(`| ${k} | ${f0(r.qps)} | **${f2(r.qps / ceiling)}** | ${f3(r.avgMs)} | ${f2(r.maxMs)} | ${f0(r.lost)} | ${f0(r.serverCpu)} | ${f0(r.respBytes)} | ${r.rcodes} |`);
}
p();
p(`Sync: first answer ${f0(num(facts.sync_first_answer_ms))} ms after start; "fixture loaded" logged at ${f0(num(facts.sync_fixture_loaded_ms))} ms.`);
p(`Memory: VmRSS ${mb(facts.rss_after_sync_kb)} MB after sync (peak so far ${mb(facts.hwm_after_sync_kb)} MB); ${mb(facts.rss_after_load_kb)} MB after the mixes (peak ${mb(facts.hwm_after_load_kb)} MB).`);
if (prog) {
  p(`Programming latency (${prog.seen}/${prog.iterations} edits seen, file rename to first answer with the new address, includes the fixture watcher's debounce): min ${f2(prog.min)} ms, p50 ${f2(prog.p50)} ms, p90 ${f2(prog.p90)} ms, p99 ${f2(prog.p99)} ms, max ${f2(prog.max)} ms.`);
}

// Issue 5 goals.
const ratio = (k) => runs[k]?.qps / ceiling;
const clusterMixes = mixes.filter((k) => k !== 'forward' && k !== 'clusterip-a-profiled');
const worst = clusterMixes.reduce((w, k) => (w === null || ratio(k) < ratio(w) ? k : w), null);
const goals = [
  ['ClusterIP A ≥ 90% of the ceiling', f2(ratio('clusterip-a')), ratio('clusterip-a') >= 0.9],
  ['every cluster mix ≥ 80% of the ceiling', worst ? `worst ${worst} ${f2(ratio(worst))}` : 'n/a', worst !== null && ratio(worst) >= 0.8],
  ['RSS ≤ 100 MB (after sync)', `${mb(facts.rss_after_sync_kb)} MB`, num(facts.rss_after_sync_kb) <= 100 * 1024],
  ['sync ≤ 2 s (first answer)', `${f0(num(facts.sync_first_answer_ms))} ms`, num(facts.sync_first_answer_ms) <= 2000],
  ['programming p99 ≤ 10 ms', prog ? `${f2(prog.p99)} ms` : 'not measured', prog !== null && prog.p99 <= 10],
];
p();
p(`| goal (issue 5) | measured | met |`);
p(`|---|---|---|`);
for (const [g, v, ok] of goals) p(`| ${g} | ${v} | ${ok ? 'yes' : '**no**'} |`);
const top = read('profile-top.md');
if (top) {
  p();
  p('CPU profile of the clusterip-a mix (load window only):');
  p();
  p(top.trim());
}
console.log(out.join('\n'));
writeFileSync(join(dir, 'results.json'), JSON.stringify({ facts, ceiling, runs, prog, meta, goals }, null, 2) + '\n');
