// The fake API server of bench/api-sync.ts in a process of its own, so that its heap (the whole generated cluster
// as API objects, ~20k of them) and its event loop are not those of the probe that times the samples: a GC pause or
// a busy tick here then delays the API server's write, as a busy kube-apiserver would, but never the clock.
//
// Started by bench/api-sync.ts with an IPC channel (child_process.fork); not meant to be run by hand:
//   node --import=@isaacs/ts-node-temp-fork-for-pr-2009/import bench/fake-api.ts CLUSTER_DIR [--tls TOKEN]
//   --tls TOKEN: serve HTTPS with a test CA and require `Authorization: Bearer TOKEN` (the in-cluster connection)
// Messages from the parent:  {id, op: 'create' | 'update', obj}   → {id, t, d}: t, the epoch ms (performance.timeOrigin
//                                                                   + now) when the fake had stored the object and
//                                                                   handed the watch event to the sockets (Node writes
//                                                                   them out at the end of this tick); d, how long
//                                                                   storing and encoding took before that
//                            {op: 'stop'}                         → closes the server and exits
// Sent once ready:           {ready: URL, loaded: N, ca?: the CA's PEM file with --tls}
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { FakeApiServer } from '../test/support/fake-apiserver.js';

const dir = process.argv[2];
if (!dir || !process.send) {
  console.error('bench/fake-api.ts is started by bench/api-sync.ts (it needs CLUSTER_DIR and an IPC channel)');
  process.exit(2);
}
const send = (m: unknown): void => void process.send!(m);

const token = process.argv[3] === '--tls' ? process.argv[4] : undefined;
const api = await FakeApiServer.start({ historyLimit: 10, ...(token ? { tls: true, token } : {}) });
let loaded = 0;
{
  // Scoped, so the parsed 55 MB list is garbage once loaded: only the stored objects stay.
  const list = JSON.parse(readFileSync(`${dir}/cluster.json`, 'utf8')) as { items: Record<string, unknown>[] };
  for (const o of list.items) {
    if (['Namespace', 'Service', 'EndpointSlice'].includes(o.kind as string)) {
      api.create(o);
      loaded++;
    }
  }
}

interface Request {
  id?: number;
  op: 'create' | 'update' | 'stop';
  obj?: Record<string, unknown>;
}

process.on('message', (m: Request) => {
  if (m.op === 'stop') {
    void api.stop().then(() => process.exit(0));
    return;
  }
  const began = performance.now();
  if (m.op === 'create') api.create(m.obj!);
  else api.update(m.obj!);
  const written = performance.now();
  send({ id: m.id, t: performance.timeOrigin + written, d: written - began });
});
// The parent gone (killed, crashed): nothing left to serve.
process.on('disconnect', () => void api.stop().then(() => process.exit(0)));
send({ ready: api.url, loaded, ca: api.pki?.caFile });
