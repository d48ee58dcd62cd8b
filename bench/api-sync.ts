// API-mode sync and memory: loads the generated bench cluster into the fake API server (test/support) and measures
// how long clusterdns takes to list it and its RSS after sync. Run after `npm run build` and one `npm run bench`
// (which generates the cluster):
//   node --import=@isaacs/ts-node-temp-fork-for-pr-2009/import bench/api-sync.ts ~/.cache/clusterdns/bench/s10000-e150000-*/cluster
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeApiServer, writeKubeconfig } from '../test/support/fake-apiserver.js';
const dir = process.argv[2]!;
const tmp = mkdtempSync(join(tmpdir(), 'clusterdns-api-sync-'));
const list = JSON.parse(readFileSync(`${dir}/cluster.json`, 'utf8'));
const api = await FakeApiServer.start({ historyLimit: 10 });
let n = 0;
for (const o of list.items) { if (['Namespace','Service','EndpointSlice'].includes(o.kind)) { api.create(o); n++; } }
console.log('loaded', n);
const kc = writeKubeconfig(`${tmp}/kc`, { server: api.url });
writeFileSync(`${tmp}/Corefile`, `.:15399 {\n  bind 127.0.0.1\n  kubernetes cluster.local in-addr.arpa ip6.arpa {\n    kubeconfig ${kc}\n  }\n}\n`);
const t0 = Date.now();
const p = spawn('node', [new URL('../dist/bin/clusterdns.js', import.meta.url).pathname, '-conf', `${tmp}/Corefile`], { stdio: ['ignore', 'pipe', 'inherit'] });
process.on('exit', () => p.kill('SIGKILL'));
let synced = 0;
p.stdout.on('data', (d: Buffer) => { for (const l of d.toString().split('\n')) { if (l.includes('connecting to the Kubernetes API')) console.log('connect after', Date.now() - t0, 'ms'); if (l.includes('Kubernetes API synced')) { synced = Date.now(); console.log('synced after', synced - t0, 'ms', l.slice(0, 300)); } } });
while (!synced) await new Promise(r => setTimeout(r, 100));
await new Promise(r => setTimeout(r, 2000));
const st = readFileSync(`/proc/${p.pid}/status`, 'utf8');
console.log(st.split('\n').filter(l => /VmRSS|VmHWM/.test(l)).join(' '));

// Programming latency through the API: rewrite one headless Service's EndpointSlice with a new address (a watch
// event), then ask back-to-back until that address is served. Each sample: write → first answer with it.
const { ask } = await import('../test/support/client.js');
api.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'probe' } });
api.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'probe', namespace: 'probe' }, spec: { clusterIP: 'None', clusterIPs: ['None'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] } });
const slice = (ip: string) => ({ apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'probe-1', namespace: 'probe', labels: { 'kubernetes.io/service-name': 'probe' } }, addressType: 'IPv4', endpoints: [{ addresses: [ip], conditions: { ready: true } }], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] });
api.create(slice('10.250.0.1'));
const samples: number[] = [];
for (let i = 2; i <= 51; i++) {
  const ip = `10.250.0.${i}`;
  const began = performance.now();
  api.update(slice(ip));
  for (;;) {
    const r = await ask(15399, 'probe.probe.svc.cluster.local', 'A');
    if (r.answers?.some((a) => (a as { data?: unknown }).data === ip)) break;
    if (performance.now() - began > 5000) throw new Error(`no answer with ${ip} after 5 s`);
  }
  samples.push(performance.now() - began);
}
samples.sort((a, b) => a - b);
const q = (f: number) => samples[Math.min(samples.length - 1, Math.floor(f * samples.length))]!.toFixed(2);
console.log(`programming latency over ${samples.length} EndpointSlice updates: min ${q(0)} p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} max ${samples.at(-1)!.toFixed(2)} ms`);
p.kill('SIGTERM'); await api.stop();
