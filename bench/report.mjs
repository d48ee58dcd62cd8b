#!/usr/bin/env node
// Use: node bench/report.mjs OUTDIR
// Turns the raw outputs bench/run.sh left in OUTDIR (facts.txt, dnsperf-*.txt, cpu-*.txt, upstream-*.txt, prog.json,
// cluster-meta.json, profile-top.md) into markdown: machine, Corefile mode, cluster, per-mix throughput against the
// ceiling, the forward mix's cache misses, memory, sync and programming latency, and the issue 5 goals with
// pass/fail. Also writes OUTDIR/results.json.
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

// Runs are labelled `MIX@ROUND` (clusterdns) and `ceiling@MIX@ROUND` (the ceiling run just before it).
const runs = {};
for (const f of readdirSync(dir)) {
  const mm = f.match(/^dnsperf-(.+)\.txt$/);
  if (!mm) continue;
  const r = parseDnsperf(read(f));
  r.serverCpu = num(read(`cpu-${mm[1]}.txt`)?.trim());
  runs[mm[1]] = r;
}
/** Median; for an even count, the mean of the two middle values. */
const median = (xs) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const h = v.length >> 1;
  return v.length % 2 ? v[h] : (v[h - 1] + v[h]) / 2;
};
const ORDER = ['clusterip-a', 'headless-a', 'endpoint-a', 'srv', 'ptr', 'aaaa-nodata', 'nxdomain-search', 'forward'];
const isProfiled = (mix) => mix.endsWith('-profiled');
const rank = (mix) => (ORDER.indexOf(mix) + 1 || 99) + (isProfiled(mix) ? 100 : 0);
const byMix = new Map();
for (const [label, r] of Object.entries(runs)) {
  const parts = label.split('@');
  const isCeil = parts[0] === 'ceiling';
  const mix = isCeil ? parts[1] : parts[0];
  const round = parts.at(-1);
  if (!byMix.has(mix)) byMix.set(mix, new Map());
  const rounds = byMix.get(mix);
  if (!rounds.has(round)) rounds.set(round, {});
  rounds.get(round)[isCeil ? 'ceil' : 'cd'] = r;
}
const mixes = [...byMix.keys()].sort((a, b) => rank(a) - rank(b));
/** Per mix: medians over rounds, the ratio taken within each round (clusterdns QPS / the ceiling run before it). */
const summary = {};
for (const mix of mixes) {
  const rs = [...byMix.get(mix).values()];
  const cd = rs.map((x) => x.cd).filter(Boolean);
  const ratios = rs.filter((x) => x.cd && x.ceil).map((x) => x.cd.qps / x.ceil.qps);
  // Server CPU time per answered query (µs). On a shared machine the client is often starved, so QPS ratios wobble;
  // the CPU each server spends per query does not depend on how fast the client sends.
  const usPerQ = (r) => (r && r.qps > 0 && r.serverCpu > 0 ? (r.serverCpu / 100 / r.qps) * 1e6 : NaN);
  const cpuRatios = rs.filter((x) => x.cd && x.ceil).map((x) => usPerQ(x.ceil) / usPerQ(x.cd));
  summary[mix] = {
    rounds: cd.length,
    qps: median(cd.map((r) => r.qps)),
    qpsMin: Math.min(...cd.map((r) => r.qps)),
    qpsMax: Math.max(...cd.map((r) => r.qps)),
    ceilingQps: median(rs.map((x) => x.ceil?.qps)),
    ceilingCpu: median(rs.map((x) => x.ceil?.serverCpu)),
    ratio: median(ratios),
    ratioMin: ratios.length ? Math.min(...ratios) : NaN,
    ratioMax: ratios.length ? Math.max(...ratios) : NaN,
    usPerQuery: median(cd.map(usPerQ)),
    ceilingUsPerQuery: median(rs.map((x) => usPerQ(x.ceil))),
    cpuRatio: median(cpuRatios),
    avgMs: median(cd.map((r) => r.avgMs)),
    maxMs: Math.max(...cd.map((r) => r.maxMs)),
    lost: cd.reduce((a, r) => a + (r.lost || 0), 0),
    serverCpu: median(cd.map((r) => r.serverCpu)),
    respBytes: median(cd.map((r) => r.respBytes)),
    rcodes: cd[0]?.rcodes ?? '',
  };
}

// The forward mix (kubeadm mode): upstream-<label>.txt holds the upstream's query count before and after the
// measured run, so the difference is what the cache did not answer.
const forwardRuns = [];
for (const f of readdirSync(dir)) {
  const mm = f.match(/^upstream-(.+)\.txt$/);
  if (!mm) continue;
  const [before, after] = read(f).trim().split(/\s+/).map(Number);
  const fill = read(`fill-${mm[1]}.txt`);
  forwardRuns.push({
    label: mm[1],
    upstreamQueries: after - before,
    completed: runs[mm[1]]?.completed ?? NaN,
    fill: fill ? parseDnsperf(fill) : null,
  });
}
forwardRuns.sort((a, b) => (a.label < b.label ? -1 : 1));
const misses = forwardRuns.filter((r) => !isProfiled(r.label.split('@')[0]));
const missTotal = misses.reduce((a, r) => a + r.upstreamQueries, 0);
const missOf = misses.reduce((a, r) => a + (r.completed || 0), 0);

const f0 = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
const f3 = (x) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
const mb = (kb) => (Number.isFinite(num(kb)) ? (num(kb) / 1024).toFixed(1) : 'n/a');
const meta = JSON.parse(read('cluster-meta.json') ?? '{}');
const prog = JSON.parse(read('prog.json') ?? 'null');
const progBig = JSON.parse(read('prog-big.json') ?? 'null');
// starts.txt: one line per start, `first-answer-ms fixture-loaded-ms VmRSS-kB VmHWM-kB [cpu-ms-at-first-answer]`;
// older runs used facts only.
const starts = (read('starts.txt') ?? '')
  .trim()
  .split('\n')
  .filter(Boolean)
  .map((l) => l.split(' ').map(Number));
if (starts.length > 0) {
  facts.sync_first_answer_ms = median(starts.map((x) => x[0]));
  facts.sync_fixture_loaded_ms = median(starts.map((x) => x[1]));
  facts.rss_after_sync_kb = median(starts.map((x) => x[2]));
  facts.hwm_after_sync_kb = median(starts.map((x) => x[3]));
  if (starts.every((x) => Number.isFinite(x[4]))) facts.sync_cpu_ms = median(starts.map((x) => x[4]));
}

const out = [];
const p = (s = '') => out.push(s);
p(`Machine: ${facts.nproc} CPUs, ${facts.cpu_model}, ${mb(facts.mem_total_kb)} MB RAM, Linux ${facts.kernel}, Node ${facts.node_version}, dnsperf ${facts.dnsperf_version}`);
const mode = facts.corefile_mode ?? 'kubernetes';
p(`Corefile: **${mode}** (${mode === 'kubeadm' ? 'the kubeadm default: errors, health, ready, kubernetes, prometheus, forward to bench/upstream.mjs, cache 30, loop, reload, loadbalance' : 'the kubernetes plugin alone'}; \`Corefile\` in the output directory)${facts.clusterdns_dist ? `, build ${facts.clusterdns_dist}` : ''}`);
p(`Command: \`${facts.command}\` (dnsperf -l ${facts.secs} -c ${facts.dnsperf_clients ?? 1} -q 100 on cpu${facts.client_cpus ?? process.env.CLIENT_CPU ?? 1}, servers on cpu${facts.server_cpus ?? process.env.SERVER_CPU ?? 0}, ${facts.rounds} round(s))`);
if (facts.clusterdns_node_version) p(`clusterdns: ${facts.workers ?? 1} worker(s) (\`-workers ${facts.workers ?? 1}\`) on Node ${facts.clusterdns_node_version}`);
if (meta.services !== undefined) {
  const kinds = Object.entries(meta.servicesByKind ?? {}).map(([k, v]) => `${k} ${v}`).join(', ');
  p(`Cluster: ${meta.namespaces} namespaces, ${meta.services} services (${kinds}), ${meta.endpoints} endpoints in ${meta.endpointSlices} EndpointSlices (max ${meta.maxEndpointsPerService} per service), ${mb(num(facts.cluster_json_bytes) / 1024)} MB of JSON`);
}
if (meta.forward && summary.forward) {
  p(`Forward mix: ${f0(num(facts.forward_lines))} questions (${f0(meta.forward.hostnames)} hostnames outside the cluster asked A and AAAA, ${f0(meta.forward.nxdomain)} misspelt names NXDOMAIN), answered by bench/upstream.mjs with TTL ${meta.forward.ttl} s (capped at 30 s by cache 30); each measured run follows one unrecorded pass that fills the cache.`);
}
p();
const multi = mixes.some((k) => summary[k].rounds > 1);
p(`| mix | QPS${multi ? ' (median, min–max)' : ''} | ceiling QPS (CPU %) | vs ceiling${multi ? ' (median, min–max)' : ''} | server CPU µs/query (ceiling) | CPU-normalised ratio | mean latency ms | max latency ms | lost | server CPU % | response B | rcodes (first round) |`);
p(`|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|`);
for (const k of mixes) {
  const r = summary[k];
  const q = multi ? `${f0(r.qps)} (${f0(r.qpsMin)}–${f0(r.qpsMax)})` : f0(r.qps);
  const ra = multi ? `**${f2(r.ratio)}** (${f2(r.ratioMin)}–${f2(r.ratioMax)})` : `**${f2(r.ratio)}**`;
  const ceil = Number.isFinite(r.ceilingQps) ? `${f0(r.ceilingQps)} (${f0(r.ceilingCpu)})` : '–';
  const us = `${f2(r.usPerQuery)} (${f2(r.ceilingUsPerQuery)})`;
  p(`| ${k} | ${q} | ${ceil} | ${Number.isFinite(r.ratio) ? ra : '–'} | ${us} | ${f2(r.cpuRatio)} | ${f3(r.avgMs)} | ${f2(r.maxMs)} | ${f0(r.lost)} | ${f0(r.serverCpu)} | ${f0(r.respBytes)} | ${r.rcodes} |`);
}
if (existsSync(join(dir, 'noisy.txt'))) {
  p();
  p(`Warning: the machine was busy before ${read('noisy.txt').trim().split('\n').length} of the runs (no 1 s window with < 15% CPU busy); a server CPU % well under 100 means the server was not the bottleneck in that run.`);
}
if (forwardRuns.length > 0) {
  p();
  const fills = forwardRuns.map((r) => `${r.label}: fill pass ${f0(r.fill?.completed)} answered (${r.fill?.rcodes ?? 'n/a'}), ${f0(r.upstreamQueries)} of ${f0(r.completed)} queries reached the upstream during the run`);
  p(`Forwarded names from cache: ${missOf > 0 ? `${((1 - missTotal / missOf) * 100).toFixed(2)}% of the measured queries answered without the upstream` : 'n/a'} (${fills.join('; ')}).`);
}
p();
const each = starts.length > 1 ? ` (median of ${starts.length} starts: ${starts.map((x) => f0(x[0])).join(', ')} ms)` : '';
const cpuEach = facts.sync_cpu_ms !== undefined ? `; CPU time of the process at the first answer ${f0(num(facts.sync_cpu_ms))} ms${starts.length > 1 ? ` (median; ${starts.map((x) => f0(x[4])).join(', ')} ms)` : ''}` : '';
p(`Sync: first answer ${f0(num(facts.sync_first_answer_ms))} ms after start${each}; "fixture loaded" logged at ${f0(num(facts.sync_fixture_loaded_ms))} ms${cpuEach}.`);
if (starts.length > 0) p(`Memory after sync, each start: ${starts.map((x) => mb(x[2])).join(', ')} MB (peaks ${starts.map((x) => mb(x[3])).join(', ')} MB).`);
p(`Memory: VmRSS ${mb(facts.rss_after_sync_kb)} MB after sync (peak so far ${mb(facts.hwm_after_sync_kb)} MB); ${mb(facts.rss_after_load_kb)} MB after the mixes (peak ${mb(facts.hwm_after_load_kb)} MB).`);
if (prog) {
  p(`Programming latency, small fixture (${prog.seen}/${prog.iterations} edits seen, file rename to first answer with the new address, includes the fixture watcher's debounce): min ${f2(prog.min)} ms, p50 ${f2(prog.p50)} ms, p90 ${f2(prog.p90)} ms, p99 ${f2(prog.p99)} ms, max ${f2(prog.max)} ms.`);
}
if (progBig) {
  p(`Programming latency, slice file beside the big cluster (${progBig.seen}/${progBig.iterations} edits seen; every edit reloads the whole directory): min ${f0(progBig.min)} ms, p50 ${f0(progBig.p50)} ms, max ${f0(progBig.max)} ms; peak RSS ${mb(facts.hwm_prog_big_kb)} MB.`);
}

// Issue 5 goals.
const ratio = (k) => summary[k]?.ratio;
const clusterMixes = mixes.filter((k) => k !== 'forward' && !isProfiled(k));
const worst = clusterMixes.reduce((w, k) => (w === null || ratio(k) < ratio(w) ? k : w), null);
const cpuR = (k) => summary[k]?.cpuRatio;
const worstCpu = clusterMixes.reduce((w, k) => (w === null || cpuR(k) < cpuR(w) ? k : w), null);
/** Whether `x` meets `test`, or null when it was not measured in this run (the mix was not run, and so on). */
const meets = (x, test) => (Number.isFinite(x) ? test(x) : null);
const goals = [
  ['ClusterIP A ≥ 90% of the ceiling', `${f2(ratio('clusterip-a'))} (CPU-normalised ${f2(cpuR('clusterip-a'))})`, meets(ratio('clusterip-a'), (r) => r >= 0.9)],
  [
    'every cluster mix ≥ 80% of the ceiling',
    worst ? `worst ${worst} ${f2(ratio(worst))} (CPU-normalised: worst ${worstCpu} ${f2(cpuR(worstCpu))})` : 'n/a',
    meets(worst === null ? NaN : ratio(worst), (r) => r >= 0.8),
  ],
  ['RSS ≤ 100 MB (after sync)', `${mb(facts.rss_after_sync_kb)} MB`, meets(num(facts.rss_after_sync_kb), (kb) => kb <= 100 * 1024)],
  ['sync ≤ 2 s (first answer)', `${f0(num(facts.sync_first_answer_ms))} ms${facts.sync_cpu_ms !== undefined ? ` (${f0(num(facts.sync_cpu_ms))} ms of CPU)` : ''}`, meets(num(facts.sync_first_answer_ms), (ms) => ms <= 2000)],
  ['programming p99 ≤ 10 ms', prog ? `${f2(prog.p99)} ms over ${prog.seen} fixture edits, 50 ms debounce included (the API path: bench/api-sync.ts)${prog.seen < 100 ? ` (${prog.seen} samples: nearest-rank p99 is the maximum below 100)` : ''}` : 'not measured', meets(prog?.p99 ?? NaN, (ms) => ms <= 10)],
  [
    'cached forwarded names ≥ 70% of the ceiling',
    summary.forward
      ? `${f2(ratio('forward'))} (CPU-normalised ${f2(cpuR('forward'))}; ${f0(missTotal)} cache misses in ${f0(missOf)} queries)`
      : mode === 'kubeadm' ? 'forward mix not run' : 'not measured (needs -C kubeadm)',
    meets(summary.forward ? ratio('forward') : NaN, (r) => r >= 0.7),
  ],
];
p();
p(`| goal (issue 5), ${mode} Corefile | measured | met |`);
p(`|---|---|---|`);
for (const [g, v, ok] of goals) p(`| ${g} | ${v} | ${ok === null ? 'not measured' : ok ? 'yes' : '**no**'} |`);
const top = read('profile-top.md');
if (top) {
  p();
  p(`CPU profile of the ${facts.profiled_mix ?? 'clusterip-a'} mix (load window only):`);
  p();
  p(top.trim());
}
console.log(out.join('\n'));
writeFileSync(join(dir, 'results.json'), JSON.stringify({ mode, facts, summary, runs, forwardRuns, starts, prog, progBig, meta, goals }, null, 2) + '\n');
