// Serving with several workers (-workers, lib/workers), end to end: the built command line under a Node.js with
// reusePort (Node 24 through npx; the suite itself runs on Node 20, which has none), real sockets from many source
// ports, dig, the HTTP plugins, signals and a fake API server. On Node 20 the same flag serves with one worker.
import dgram from 'node:dgram';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import t from 'tap';
import { reusePortUnsupported } from '../../lib/workers/reuse-port.js';
import { apiNamespace, apiService, apiSlice } from '../support/api-objects.js';
import { ask, buildQuery, dig, rcodeOf, sendTcp } from '../support/client.js';
import { ensureBuilt, killAll, runCli, type Proc } from '../support/cli.js';
import { DEMO_DIR, freePort, pollUntil, tempDir } from '../support/e2e-cluster.js';
import { FakeApiServer, writeKubeconfig } from '../support/fake-apiserver.js';
import { httpGet } from '../support/http.js';
import { reusePortNode } from '../support/reuse-port-node.js';
import dnsPacket from 'dns-packet';

const { dir: TMP, cleanup } = tempDir('workers');
t.teardown(cleanup);
t.teardown(killAll);
t.before(ensureBuilt);

const NAME = 'nginx-basic.default.svc.cluster.local';
const ADDR = '10.100.49.21';

/** Free ports for DNS and the three HTTP plugins. */
async function ports(): Promise<{ dns: number; health: number; ready: number; metrics: number }> {
  return { dns: await freePort(), health: await freePort(), ready: await freePort(), metrics: await freePort() };
}

/** A Corefile serving the demo cluster with every operational plugin on loopback; `extra` lines go in the block. */
function corefile(file: string, p: Awaited<ReturnType<typeof ports>>, kube = `fixture ${DEMO_DIR}`, extra = ''): string {
  writeFileSync(
    file,
    `.:${p.dns} {\n    bind 127.0.0.1\n    errors\n    log\n    health 127.0.0.1:${p.health} {\n        lameduck 500ms\n    }\n` +
      `    ready 127.0.0.1:${p.ready}\n    prometheus 127.0.0.1:${p.metrics}\n` +
      `    kubernetes cluster.local in-addr.arpa ip6.arpa {\n        ${kube}\n    }\n${extra}}\n`,
  );
  return file;
}

/** Wait for the start-up lines (printed once every worker listens). */
async function started(p: Proc, port: number): Promise<void> {
  const r = await pollUntil(() => p.stdout().includes(`.:${port} on 127.0.0.1`) || p.child.exitCode !== null, 30_000, 25);
  if (!r.ok || p.child.exitCode !== null) throw new Error(`clusterdns did not start (exit ${p.child.exitCode}):\nstdout: ${p.stdout()}\nstderr: ${p.stderr()}`);
}

/** Ask `name` A once from each of `n` new UDP sockets (each its own source port): [rcode, answers with TTL]. */
async function fromManyPorts(port: number, n: number, name = NAME): Promise<Array<{ rcode: string; answers: string[] }>> {
  return Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const r = await ask(port, name, 'A', { id: 1000 + i, timeoutMs: 3000 });
      return { rcode: rcodeOf(r), answers: (r.answers ?? []).map((a) => `${a.ttl} ${String(a.data)}`) };
    }),
  );
}

/** Workers that wrote a `log` plugin line about `name`. */
function workersLogging(p: Proc, name = NAME): Set<unknown> {
  return new Set(p.logs().filter((l) => l.plugin === 'log' && String(l.msg).includes(name)).map((l) => l.worker));
}

/** Sum of every `metric` sample on /metrics. */
async function metricSum(port: number, metric: string): Promise<number> {
  const { body } = await httpGet(port, '/metrics');
  let sum = 0;
  for (const line of body.split('\n')) if (line.startsWith(`${metric}{`) || line.startsWith(`${metric} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

const portIsFree = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind({ port, address: '127.0.0.1', exclusive: true }, () => {
      const srv = net.createServer();
      srv.once('error', () => s.close(() => resolve(false)));
      srv.listen(port, '127.0.0.1', () => srv.close(() => s.close(() => resolve(true))));
    });
  });

t.test('with Node.js 22.12 or newer', async (t) => {
  const node = await reusePortNode();
  if (node.skip !== undefined) {
    t.skip(`multi-worker tests need a Node.js with reusePort: ${node.skip}`);
    return;
  }
  const run = (args: string[], env: NodeJS.ProcessEnv = {}): Proc => runCli(args, { node: node.path, env });

  t.test('-workers 2: queries from many source ports reach both workers, all answered; /metrics counts them all', async (t) => {
    const p = await ports();
    const conf = corefile(path.join(TMP, 'spread.Corefile'), p);
    const pidfile = path.join(TMP, 'spread.pid');
    const proc = run(['-conf', conf, '-workers', '2', '-pidfile', pidfile]);
    await started(proc, p.dns);
    t.ok(proc.logs().some((l) => l.msg === 'serving with 2 workers (-workers 2), each address shared with SO_REUSEPORT'), 'the count is logged');
    t.equal(readFileSync(pidfile, 'utf8').trim(), String(proc.child.pid), '-pidfile names the process signals go to');

    const udp = await fromManyPorts(p.dns, 40);
    t.same(new Set(udp.map((r) => `${r.rcode} ${r.answers.join()}`)), new Set([`NOERROR 5 ${ADDR}`]), 'every UDP reply is right');
    const tcp = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const raw = await sendTcp(p.dns, buildQuery(NAME, 'A', { id: 2000 + i }), 3000);
        return raw === null ? 'no reply' : (dnsPacket.decode(raw).answers ?? []).map((a) => String(a.data)).join();
      }),
    );
    t.same(new Set(tcp), new Set([ADDR]), 'every TCP connection is answered');
    // dig is one client: each run has its own source port.
    for (let i = 0; i < 4; i++) t.match(await dig(p.dns, ['+short', NAME]), new RegExp(`^${ADDR.replaceAll('.', '\\.')}$`, 'm'), `dig ${i + 1}`);

    await pollUntil(() => proc.logs().filter((l) => l.plugin === 'log').length >= 52, 3000);
    const lines = proc.logs().filter((l) => l.plugin === 'log');
    t.equal(lines.length, 52, 'one log line per query, none lost or doubled');
    t.same(workersLogging(proc), new Set([0, 1]), 'both workers answered some');
    t.equal(await metricSum(p.metrics, 'coredns_dns_requests_total'), 52, '/metrics sums every worker');
    t.equal(await metricSum(p.metrics, 'coredns_dns_responses_total'), 52);
    t.equal(await metricSum(p.metrics, 'coredns_build_info'), 1, 'the build is one series at 1');
    t.equal(await metricSum(p.metrics, 'clusterdns_kubernetes_synced'), 0, 'fixture source: no API metric');
    const { body } = await httpGet(p.metrics, '/metrics');
    t.equal(body.match(/^process_cpu_user_seconds_total /gm)?.length, 1, 'process metrics once');
    t.same(await httpGet(p.health, '/health').then((r) => [r.status, r.body]), [200, 'OK']);
    t.same(await httpGet(p.ready, '/ready').then((r) => [r.status, r.body]), [200, 'OK']);

    proc.child.kill('SIGTERM');
    const exit = await proc.exited;
    t.same(exit, { code: 0, signal: null }, 'SIGTERM: exit 0');
    t.equal(proc.logs().filter((l) => l.msg === 'Going into lameduck mode for 500ms').length, 2, 'every worker drains (lameduck)');
    t.notOk(existsSync(pidfile), 'the pid file is removed');
    t.ok(await portIsFree(p.dns), 'every worker closed its sockets');
    t.equal(proc.stderr(), '');
  });

  t.test('SIGUSR1 reloads every worker; a broken Corefile keeps every worker on the running one', async (t) => {
    const p = await ports();
    const file = path.join(TMP, 'reload.Corefile');
    corefile(file, p, `fixture ${DEMO_DIR}\n        ttl 30`);
    const proc = run(['-conf', file, '-workers', '2']);
    await started(proc, p.dns);
    t.same(new Set((await fromManyPorts(p.dns, 16)).map((r) => r.answers.join())), new Set([`30 ${ADDR}`]));

    corefile(file, p, `fixture ${DEMO_DIR}\n        ttl 7`);
    proc.child.kill('SIGUSR1');
    const hashes = (): Array<Record<string, unknown>> => proc.logs().filter((l) => /^Running configuration SHA512/.test(String(l.msg)));
    t.ok((await pollUntil(() => hashes().length >= 4, 10_000)).ok, 'both workers logged the new configuration');
    const [first, second] = [hashes().slice(0, 2), hashes().slice(2)];
    t.same(new Set(second.map((l) => l.worker)), new Set([0, 1]), 'both workers switched');
    t.equal(new Set(second.map((l) => l.msg)).size, 1, 'to the same configuration');
    t.not(second[0]!.msg, first[0]!.msg);
    const after = await fromManyPorts(p.dns, 24);
    t.same(new Set(after.map((r) => r.answers.join())), new Set([`7 ${ADDR}`]), 'every source port gets the new TTL');
    t.same(workersLogging(proc), new Set([0, 1]));

    writeFileSync(file, `.:${p.dns} {\n    bind 127.0.0.1\n    nosuchplugin\n}\n`);
    proc.child.kill('SIGUSR1');
    t.ok((await pollUntil(() => proc.logs().some((l) => /reload failed/.test(String(l.msg))), 5000)).ok, 'the failed reload was logged');
    const failed = proc.logs().filter((l) => /reload failed/.test(String(l.msg)));
    t.equal(failed.length, 1, 'checked once, by the primary');
    t.match(failed[0]!.msg, /Unknown directive 'nosuchplugin'/);
    t.same(new Set((await fromManyPorts(p.dns, 24)).map((r) => r.answers.join())), new Set([`7 ${ADDR}`]), 'every worker kept the running one');
    t.equal(hashes().length, 4, 'no worker switched');
    t.equal(await metricSum(p.metrics, 'coredns_reload_failed_total'), 1);
    t.equal((await httpGet(p.metrics, '/metrics')).body.match(/^coredns_reload_version_info\{/gm)?.length, 1, 'one configuration running');
    t.equal(proc.logs().filter((l) => /reload failed/.test(String(l.msg))).length, 1, 'still one failure logged: no worker checked it again');

    proc.child.kill('SIGINT');
    t.same(await proc.exited, { code: 0, signal: null }, 'SIGINT: exit 0');
  });

  t.test('/ready is 200 only once every worker has synced with the API', async (t) => {
    const api = await FakeApiServer.start({ tls: false });
    t.teardown(() => api.stop());
    api.create(apiNamespace('default'));
    api.create(apiService('default', 'web', { clusterIPs: ['10.96.0.10'], ports: [['http', 'TCP', 80]] }));
    api.create(apiSlice('default', 'web-1', 'web', [{ ip: '10.244.0.10' }]));
    // A proxy in front of the API holds every list until the test releases it, one at a time.
    const held: Array<() => void> = [];
    const proxy = http.createServer((req, res) => {
      const forward = (): void => {
        const up = http.request({ host: '127.0.0.1', port: api.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        });
        up.on('error', () => res.destroy());
        req.pipe(up);
      };
      if (req.method === 'GET' && !/[?&]watch=(true|1)/.test(req.url ?? '')) held.push(forward);
      else forward();
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    t.teardown(() => {
      proxy.closeAllConnections();
      proxy.close();
    });
    const kubeconfig = writeKubeconfig(path.join(TMP, 'kubeconfig'), { server: `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}` });
    const p = await ports();
    const conf = corefile(path.join(TMP, 'ready.Corefile'), p, `kubeconfig ${kubeconfig}\n        startup_timeout 300ms`);
    const proc = run(['-conf', conf, '-workers', '2']);
    await started(proc, p.dns);
    t.same(await httpGet(p.ready, '/ready').then((r) => [r.status, r.body]), [503, 'kubernetes'], 'nobody synced');

    const web = 'web.default.svc.cluster.local';
    let mixedSeen = false;
    let readyWhileMixed = false;
    for (let round = 0; round < 40; round++) {
      const release = held.shift();
      if (release === undefined) {
        // Every list released so far: wait a little for more (a retry, another page), else done.
        if (!(await pollUntil(() => held.length > 0, 500)).ok) break;
        continue;
      }
      release();
      await new Promise((r) => setTimeout(r, 300));
      const rcodes = new Set((await fromManyPorts(p.dns, 12, web)).map((r) => r.rcode));
      if (rcodes.has('NOERROR') && rcodes.has('SERVFAIL')) {
        mixedSeen = true;
        const ready = await httpGet(p.ready, '/ready');
        if (ready.status !== 503 || ready.body !== 'kubernetes') readyWhileMixed = true;
      }
    }
    t.ok(mixedSeen, 'a moment came when one worker had synced and the other had not');
    t.notOk(readyWhileMixed, '/ready said 503 kubernetes then');
    t.same(new Set((await fromManyPorts(p.dns, 16, web)).map((r) => `${r.rcode} ${r.answers.join()}`)), new Set(['NOERROR 5 10.96.0.10']), 'both synced');
    t.same(await httpGet(p.ready, '/ready').then((r) => [r.status, r.body]), [200, 'OK'], 'then ready');
    t.equal(await metricSum(p.metrics, 'clusterdns_kubernetes_synced'), 1, 'synced: 1 when every worker is');
    proc.child.kill('SIGTERM');
    t.equal((await proc.exited).code, 0);
  });

  t.test('the worker count: from -workers, and by default from the cgroup CPU quota', async (t) => {
    const p = await ports();
    const conf = corefile(path.join(TMP, 'count.Corefile'), p);
    const three = run(['-conf', conf, '-workers', '3']);
    await started(three, p.dns);
    t.ok(three.logs().some((l) => l.msg === 'serving with 3 workers (-workers 3), each address shared with SO_REUSEPORT'));
    await fromManyPorts(p.dns, 45);
    await pollUntil(() => workersLogging(three).size === 3, 2000);
    t.same(workersLogging(three), new Set([0, 1, 2]), 'three workers answer');
    three.child.kill('SIGTERM');
    await three.exited;

    const v2 = path.join(TMP, 'cgroup-v2');
    mkdirSync(v2, { recursive: true });
    writeFileSync(path.join(v2, 'cgroup.controllers'), 'cpu memory\n');
    writeFileSync(path.join(v2, 'cpu.max'), '150000 100000\n');
    const want = Math.min(2, availableParallelism());
    const quota = run(['-conf', conf], { CLUSTERDNS_CGROUP_ROOT: v2 });
    await started(quota, p.dns);
    if (want > 1) t.ok(quota.logs().some((l) => l.msg === `serving with ${want} workers (CPU quota 1.5), each address shared with SO_REUSEPORT`), 'a 1.5-CPU quota: 2 workers');
    quota.child.kill('SIGTERM');
    await quota.exited;

    writeFileSync(path.join(v2, 'cpu.max'), 'max 100000\n');
    const none = run(['-conf', conf], { CLUSTERDNS_CGROUP_ROOT: v2 });
    await started(none, p.dns);
    await fromManyPorts(p.dns, 8);
    await pollUntil(() => none.logs().filter((l) => l.plugin === 'log').length >= 8, 2000);
    t.notOk(none.logs().some((l) => /^serving with/.test(String(l.msg))), 'no quota: one worker, nothing to say');
    t.same(workersLogging(none), new Set([undefined]), 'single-process log lines carry no worker');
    none.child.kill('SIGTERM');
    await none.exited;
  });

  t.test('loop: a forwarding loop through the workers is still found and ends the process', async (t) => {
    // Each worker probes with its own name, and a looping probe lands on any worker, so it takes more hops than
    // with one worker to come back to its own; it must still come back.
    const p = await ports();
    const conf = path.join(TMP, 'loop.Corefile');
    writeFileSync(conf, `.:${p.dns} {\n    bind 127.0.0.1\n    loop\n    forward . 127.0.0.1:${p.dns}\n}\n`);
    const proc = run(['-conf', conf, '-workers', '2']);
    const { code } = await proc.exited;
    t.equal(code, 1, 'the process ends with status 1');
    const said = proc.logs().find((l) => l.level === 'fatal');
    t.match(String(said?.msg), /^Loop \(127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+\) detected for zone "\."/, 'saying why');
  });

  t.test('an address taken by another process fails the start, also when that process shares it with SO_REUSEPORT', async (t) => {
    const p = await ports();
    const conf = corefile(path.join(TMP, 'taken.Corefile'), p);
    const holder = dgram.createSocket('udp4');
    await new Promise<void>((r) => holder.bind({ port: p.dns, address: '127.0.0.1', exclusive: true }, r));
    const plain = run(['-conf', conf, '-workers', '2']);
    t.equal((await plain.exited).code, 1);
    t.match(plain.stderr(), /EADDRINUSE/);
    t.equal(plain.stdout().includes(`.:${p.dns}`), false, 'no start-up lines');
    await new Promise<void>((r) => holder.close(() => r()));

    // A process of the same user holding the port with reusePort would let a shared bind join it silently.
    const script = `const d=require('dgram'),n=require('net');const s=d.createSocket({type:'udp4',reusePort:true});s.bind({port:${p.dns},address:'127.0.0.1'},()=>{n.createServer().listen({port:${p.dns},host:'127.0.0.1',reusePort:true},()=>console.log('holding'))});setTimeout(()=>process.exit(0),20000)`;
    const sharer = spawn(node.path!, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.teardown(() => sharer.kill('SIGKILL'));
    await new Promise<void>((r) => sharer.stdout.once('data', () => r()));
    const shared = run(['-conf', conf, '-workers', '2']);
    t.equal((await shared.exited).code, 1, 'not silently sharing the port');
    t.match(shared.stderr(), /EADDRINUSE/);
    sharer.kill('SIGKILL');
  });
});

t.test('without reusePort (this Node.js) -workers 2 serves with one worker and says so once', async (t) => {
  const why = await reusePortUnsupported();
  if (why === undefined) {
    t.skip(`${process.version} has reusePort; this test needs a runtime without it (Node 20)`);
    return;
  }
  const p = await ports();
  const conf = corefile(path.join(TMP, 'node20.Corefile'), p);
  const proc = runCli(['-conf', conf, '-workers', '2']);
  await started(proc, p.dns);
  const warned = proc.logs().filter((l) => /workers asked for/.test(String(l.msg)));
  t.equal(warned.length, 1, 'one line');
  t.match(warned[0]!.msg, /^2 workers asked for \(-workers 2\), but this runtime \(node v\d+\.\d+\.\d+\) cannot bind with reusePort \(Node\.js 22\.12 or newer can\): serving with 1 worker$/);
  t.equal(warned[0]!.level, 'warn');
  t.same(new Set((await fromManyPorts(p.dns, 12)).map((r) => r.answers.join())), new Set([`5 ${ADDR}`]), 'answers as usual');
  await pollUntil(() => proc.logs().filter((l) => l.plugin === 'log').length >= 12, 2000);
  t.same(workersLogging(proc), new Set([undefined]), 'one process, no worker field');
  t.notOk(proc.logs().some((l) => /^serving with/.test(String(l.msg))));
  proc.child.kill('SIGTERM');
  t.equal((await proc.exited).code, 0);
});

t.test('-workers takes a number or auto', async (t) => {
  const bad = runCli(['-workers', 'many']);
  t.equal((await bad.exited).code, 2);
  t.match(bad.stderr(), /^invalid workers: many \(a number up to 256, or auto\)$/m);
  t.match(bad.stderr(), /-workers string/, 'the usage names the flag');
});
