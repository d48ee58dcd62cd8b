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
let synced = 0;
p.stdout.on('data', (d: Buffer) => { for (const l of d.toString().split('\n')) { if (l.includes('connecting to the Kubernetes API')) console.log('connect after', Date.now() - t0, 'ms'); if (l.includes('Kubernetes API synced')) { synced = Date.now(); console.log('synced after', synced - t0, 'ms', l.slice(0, 300)); } } });
while (!synced) await new Promise(r => setTimeout(r, 100));
await new Promise(r => setTimeout(r, 2000));
const st = readFileSync(`/proc/${p.pid}/status`, 'utf8');
console.log(st.split('\n').filter(l => /VmRSS|VmHWM/.test(l)).join(' '));
p.kill('SIGTERM'); await api.stop();
