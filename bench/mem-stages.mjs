#!/usr/bin/env node
// Use: node --expose-gc bench/mem-stages.mjs [FIXTURE] [--reload] [--no-target-refs]
//   FIXTURE defaults to the generated 10k/150k cluster in ~/.cache/clusterdns/bench (run bench/run.sh once).
//
// Where the memory of a loaded cluster goes, in-process and without a server: loads the fixture with
// dist/lib/kube/fixture-source.js, writes it into a ClusterModel, builds a ClusterZone over it, and after each
// stage forces a full GC and prints the live heap (heapUsed), what V8 holds (heapTotal) and VmRSS / VmHWM, plus
// the CPU time of each stage. With --reload, loads the same fixture again into the same model (as a fixture edit
// does) and prints the peak. --no-target-refs loads without endpoints' Pod names (FixtureSource's
// `targetRefNames: false`). Needs `npm run build` first.
import { readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc');
  process.exit(2);
}
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const reload = args.includes('--reload');
const loadOpts = { targetRefNames: !args.includes('--no-target-refs') };
let fixture = args.find((a) => !a.startsWith('--'));
if (fixture === undefined) {
  const cache = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'clusterdns', 'bench');
  const dir = readdirSync(cache).find((d) => d.startsWith('s10000-e150000-'));
  if (dir === undefined) {
    console.error(`no generated cluster in ${cache}: run bench/run.sh once, or name a fixture`);
    process.exit(2);
  }
  fixture = join(cache, dir, 'cluster');
}

const { loadFixture } = await import(join(root, 'dist/lib/kube/fixture-source.js'));
const { ClusterModel } = await import(join(root, 'dist/lib/kube/model.js'));
const { ClusterZone } = await import(join(root, 'dist/lib/zone/cluster-zone.js'));

const mb = (n) => (n / 1048576).toFixed(1);
const status = () => {
  const s = readFileSync('/proc/self/status', 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
};
let lastHeap = 0;
function stage(name, ms, cpuMs) {
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  const s = status();
  const delta = lastHeap === 0 ? '' : ` (+${mb(m.heapUsed - lastHeap)})`;
  lastHeap = m.heapUsed;
  const time = ms === undefined ? '' : ` ${ms.toFixed(0)} ms (${cpuMs.toFixed(0)} ms CPU)`;
  console.log(`${name.padEnd(10)} heapUsed ${mb(m.heapUsed)} MB${delta}, heapTotal ${mb(m.heapTotal)}, VmRSS ${mb(s.rss)}, VmHWM ${mb(s.hwm)}${time}`);
}
function timed(fn) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const v = fn();
  const c = process.cpuUsage(c0);
  return [v, performance.now() - t0, (c.user + c.system) / 1000];
}

console.log(`fixture ${fixture}, node ${process.version}`);
stage('start');
let [snap, ms, cpu] = timed(() => loadFixture(fixture, loadOpts));
const counts = `${snap.services.length} services, ${snap.endpointSlices.length} slices, ${snap.endpointSlices.reduce((n, s) => n + s.addresses.length, 0)} endpoint addresses`;
stage('parsed', ms, cpu);
const model = new ClusterModel();
[, ms, cpu] = timed(() => model.replace(snap));
snap = null;
stage('model', ms, cpu);
let zone;
[zone, ms, cpu] = timed(() => new ClusterZone(model, {}));
stage('zone', ms, cpu);
if (reload) {
  [, ms, cpu] = timed(() => model.replace(loadFixture(fixture, loadOpts)));
  stage('reloaded', ms, cpu);
}
console.log(counts, `(${zone.serviceCount} service names in the zone)`);
