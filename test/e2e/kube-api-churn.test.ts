// Randomized churn: thousands of random API writes (Services, EndpointSlices, Namespaces) with watch drops, 410s,
// compactions, 500s and API restarts in between. Afterwards every name's answer from the API-fed server must equal
// the answer of a second server fed the final API state as a fixture file (the model of the final state: same zone
// code, independent data path). A seeded PRNG makes a failure reproducible: the seed is in the test name.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ask, rcodeOf } from '../support/client.js';
import { pollUntil, section, tempDir } from '../support/e2e-cluster.js';
import { FakeApiServer, writeKubeconfig } from '../support/fake-apiserver.js';
import { startServer } from '../support/server.js';
import { apiNamespace, apiService, apiSlice, type ApiEndpoint, type Raw } from '../support/api-objects.js';

const SEED = Number(process.env.CHURN_SEED ?? 20261122);
const OPS = Number(process.env.CHURN_OPS ?? 3000);
const Z = 'cluster.local';

Object.assign(process.env, {
  CLUSTERDNS_API_STALL_MS: '1000',
  CLUSTERDNS_API_BACKOFF_INITIAL_MS: '20',
  CLUSTERDNS_API_BACKOFF_MAX_MS: '200',
  CLUSTERDNS_API_HEALTHY_MS: '100',
  CLUSTERDNS_API_PAGE_SIZE: '7',
});

/** mulberry32: small, fast, good enough to pick test operations. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = s;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

t.test(`churn with faults (seed ${SEED}, ${OPS} operations)`, async (t) => {
  const rnd = prng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const api = await FakeApiServer.start({ token: 'churn' });
  t.teardown(() => api.stop());
  const { dir, cleanup } = tempDir('churn');
  t.teardown(cleanup);

  // The final API state, kept by the test itself: key `Kind/ns/name` → raw object.
  const state = new Map<string, Raw>();
  const key = (kind: string, ns: string, name: string) => `${kind}/${ns}/${name}`;
  const write = (obj: Raw) => {
    const m = obj.metadata as { namespace?: string; name: string };
    const k = key(obj.kind as string, m.namespace ?? '', m.name);
    if (state.has(k)) api.update(obj);
    else api.create(obj);
    state.set(k, obj);
  };
  const remove = (kind: string, ns: string, name: string) => {
    if (!state.delete(key(kind, ns, name))) return;
    api.remove(kind, ns, name);
  };

  const NAMESPACES = ['n0', 'n1', 'n2', 'n3'];
  const SERVICES = Array.from({ length: 30 }, (_, i) => `svc${i}`);
  const HOSTS = ['', '', 'h0', 'h1', 'h2'];
  for (const ns of NAMESPACES.slice(0, 3)) write(apiNamespace(ns));

  const ip = () => `10.244.${Math.floor(rnd() * 4)}.${1 + Math.floor(rnd() * 30)}`;
  const clusterIP = () => `10.96.${Math.floor(rnd() * 4)}.${1 + Math.floor(rnd() * 60)}`;
  const endpoints = (): ApiEndpoint[] =>
    Array.from({ length: Math.floor(rnd() * 4) }, () => ({ ip: ip(), ready: rnd() < 0.8, hostname: pick(HOSTS) || undefined }));

  const srv = await (async () => {
    const kc = path.join(dir, 'kubeconfig');
    writeKubeconfig(kc, { server: api.url, token: 'churn' });
    return startServer(`.:0 {\n    kubernetes ${Z} in-addr.arpa {\n        kubeconfig ${kc}\n    }\n}\n`);
  })();
  t.teardown(() => srv.stop());

  const faults: Array<[string, () => unknown]> = [
    ['drop watches', () => api.dropWatches()],
    ['close watches', () => api.closeWatches()],
    ['in-stream 410', () => api.sendError(undefined, 410)],
    ['compact + drop', () => (api.compact(), api.dropWatches())],
    ['500s', () => (api.failNext(3, { status: 500 }), api.dropWatches())],
  ];
  const faultLog: string[] = [];
  const randomOp = () => {
    const ns = pick(NAMESPACES);
    const name = pick(SERVICES);
    const r = rnd();
    if (r < 0.3) {
      const headless = rnd() < 0.3;
      const ext = !headless && rnd() < 0.1;
      write(apiService(ns, name, ext ? { externalName: `${name}.example.org` } : { clusterIPs: headless ? ['None'] : [clusterIP()], ports: [['http', 'TCP', 80 + Math.floor(rnd() * 3)]] }));
    } else if (r < 0.4) {
      remove('Service', ns, name);
    } else if (r < 0.8) {
      write(apiSlice(ns, `${name}-${pick(['a', 'b'])}`, name, endpoints(), [['http', 'TCP', 80]]));
    } else if (r < 0.9) {
      remove('EndpointSlice', ns, `${name}-${pick(['a', 'b'])}`);
    } else if (r < 0.95) {
      write(apiNamespace(ns));
    } else {
      remove('Namespace', '', ns);
    }
  };
  // Four fifths of the operations with a fault every 250 (a re-list heals lost events, so the last fifth runs
  // without faults: a watch that drops or garbles events cannot hide behind a final re-list).
  const faultyOps = Math.floor(OPS * 0.8);
  for (let i = 0; i < faultyOps; i++) {
    randomOp();
    if (i % 250 === 125) {
      const [what, fault] = pick(faults);
      faultLog.push(what);
      fault();
    }
    // Let the server read the stream now and then, so faults hit watches in every state.
    if (i % 50 === 0) await new Promise((res) => setImmediate(res));
  }
  const restarting = api.restart({ downMs: 300 });
  faultLog.push('restart');
  await restarting;
  // Give the watches time to come back (and re-list if they must) before the fault-free tail.
  await pollUntil(() => api.watchCount() >= 3, 5000);
  const relistsBefore = api.requests.filter((r) => !r.watch).length;
  for (let i = faultyOps; i < OPS; i++) {
    randomOp();
    if (i % 50 === 0) await new Promise((res) => setImmediate(res));
  }
  write(apiService('n0', 'final', { clusterIPs: ['10.96.9.9'] }));
  t.comment(`faults: ${faultLog.join(', ')}`);

  // The model of the final state, served from a fixture by a second server.
  const fixture = path.join(dir, 'final.json');
  writeFileSync(fixture, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [...state.values()] }));
  const model = await startServer(`.:0 {\n    kubernetes ${Z} in-addr.arpa {\n        fixture ${fixture}\n    }\n}\n`);
  t.teardown(() => model.stop());

  const questions: Array<[string, string]> = [];
  for (const ns of NAMESPACES) {
    questions.push([`${ns}.svc.${Z}`, 'A']);
    for (const s of [...SERVICES, 'final']) {
      const base = `${s}.${ns}.svc.${Z}`;
      questions.push([base, 'A'], [base, 'SRV'], [base, 'CNAME'], [`_http._tcp.${base}`, 'SRV']);
      for (const h of HOSTS.filter(Boolean)) questions.push([`${h}.${base}`, 'A']);
    }
  }
  for (let a = 0; a < 4; a++) for (let b = 1; b <= 30; b++) questions.push([`${b}.${a}.244.10.in-addr.arpa`, 'PTR']);
  for (let a = 0; a < 4; a++) for (let b = 1; b <= 60; b++) questions.push([`${b}.${a}.96.10.in-addr.arpa`, 'PTR']);

  const answer = async (port: number, [name, type]: [string, string]) => {
    const r = await ask(port, name, type);
    return `${rcodeOf(r)} ${section(r, 'answers', { sort: true }).join(' | ')}`;
  };
  let diffs: string[] = [];
  const converged = await pollUntil(
    async () => {
      diffs = [];
      for (const q of questions) {
        const [got, want] = await Promise.all([answer(srv.port, q), answer(model.port, q)]);
        if (got !== want) diffs.push(`${q.join(' ')}: API-fed ${got} / model ${want}`);
        if (diffs.length > 10) break;
      }
      return diffs.length === 0;
    },
    15_000,
    200,
  );
  t.ok(converged.ok, `all ${questions.length} answers equal the model of the final API state (${converged.ms} ms)`);
  if (!converged.ok) t.comment(diffs.join('\n'));
  t.ok(state.size > 20, `the final state is not trivial (${state.size} objects)`);
  t.equal(api.requests.filter((r) => !r.watch).length, relistsBefore, 'the fault-free tail was served by watches alone (no re-list)');
  t.notOk(srv.logs.some((l) => l.level === 60), 'nothing fatal logged');
});
