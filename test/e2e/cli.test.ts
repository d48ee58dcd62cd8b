// The built command line (dist/bin/clusterdns.js) as a process: flags, configuration errors and exit codes,
// the default configuration, serving the demo, the pid file and shutdown on SIGTERM.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { ask, rcodeOf } from '../support/client.js';
import { ensureBuilt, killAll, runCli, type Proc } from '../support/cli.js';
import { DEMO_DIR, REPO_ROOT, freePort, pollUntil, section, tempDir } from '../support/e2e-cluster.js';

const VERSION = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const { dir: TMP, cleanup } = tempDir('cli');
t.teardown(cleanup);

t.before(ensureBuilt);

const run = (args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Proc => runCli(args, o);
t.teardown(killAll);

/** Run to completion (with a time limit). */
async function runToEnd(args: string[], o: { cwd?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = run(args, o);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  const { code } = await p.exited;
  clearTimeout(timer);
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

/** Wait until the process printed its start-up lines (it listens before it prints them). */
async function started(p: Proc, what: RegExp): Promise<void> {
  const r = await pollUntil(() => what.test(p.stdout()) || p.child.exitCode !== null, 8000, 25);
  if (!r.ok || p.child.exitCode !== null) throw new Error(`clusterdns did not start (exit ${p.child.exitCode}):\nstdout: ${p.stdout()}\nstderr: ${p.stderr()}`);
}

t.test('-version prints clusterdns-<package version> and the platform line, exit 0', async (t) => {
  // Processes take ~0.5 s to start: run independent ones side by side.
  const [r, dashdash] = await Promise.all([runToEnd(['-version']), runToEnd(['--version'])]);
  t.equal(r.code, 0);
  const lines = r.stdout.trim().split('\n');
  t.equal(lines[0], `clusterdns-${VERSION}`);
  t.equal(lines[1], `${process.platform}/${process.arch}, node ${process.version}`);
  t.equal(r.stderr, '');
  t.equal(dashdash.stdout.split('\n')[0], `clusterdns-${VERSION}`, 'Go flags take -- too');
});

t.test('-plugins lists the server type and the plugins', async (t) => {
  const r = await runToEnd(['-plugins']);
  t.equal(r.code, 0);
  t.match(r.stdout, /^Server types:\n {2}dns\n/);
  for (const p of ['bind', 'errors', 'kubernetes', 'log', 'whoami']) t.match(r.stdout, new RegExp(`^  dns\\.${p}$`, 'm'), `dns.${p}`);
});

t.test('configuration errors exit 1 and name file:line', async (t) => {
  const unknown = path.join(TMP, 'unknown.Corefile');
  writeFileSync(unknown, '.:0 {\n    whoami\n    nosuchplugin\n}\n');

  const badOpt = path.join(TMP, 'badopt.Corefile');
  writeFileSync(badOpt, `.:0 {\n    kubernetes cluster.local {\n        fixture ${DEMO_DIR}\n        bogus 1\n    }\n}\n`);

  const badPods = path.join(TMP, 'badpods.Corefile');
  writeFileSync(badPods, `.:0 {\n    kubernetes cluster.local {\n        fixture ${DEMO_DIR}\n        pods maybe\n    }\n}\n`);
  const [a, b, c, missing] = await Promise.all([
    runToEnd(['-conf', unknown]),
    runToEnd(['-conf', badOpt]),
    runToEnd(['-conf', badPods]),
    runToEnd(['-conf', path.join(TMP, 'no-such-Corefile')]),
  ]);
  t.equal(a.code, 1);
  t.match(a.stderr, `${unknown}:3`);
  t.match(a.stderr, /Unknown directive 'nosuchplugin'/);
  t.equal(a.stdout, '', 'nothing printed on stdout: no server started');
  t.equal(b.code, 1);
  t.match(b.stderr, `${badOpt}:4`);
  t.match(b.stderr, /unknown property 'bogus'/);
  t.equal(c.code, 1);
  t.match(c.stderr, `${badPods}:4`);

  t.equal(missing.code, 1, 'a missing -conf file');
  t.match(missing.stderr, 'no-such-Corefile');
});

t.test('flag errors exit 2 with the usage', async (t) => {
  const [r, port, missingArg] = await Promise.all([runToEnd(['-nosuch']), runToEnd(['-dns.port', 'http']), runToEnd(['-conf'])]);
  t.equal(r.code, 2);
  t.match(r.stderr, 'flag provided but not defined: -nosuch');
  t.match(r.stderr, 'Usage of clusterdns:');
  t.equal(port.code, 2, 'a non-numeric port');
  t.equal(missingArg.code, 2, 'a flag without its value');
});

t.test('no -conf and no ./Corefile: the default whoami + log config on -dns.port', async (t) => {
  const { dir, cleanup } = tempDir('cli-default');
  t.teardown(cleanup);
  const port = await freePort();
  const p = run(['-dns.port', String(port)], { cwd: dir });
  await started(p, new RegExp(`^\\.:${port}$`, 'm'));
  t.match(p.stdout(), `clusterdns-${VERSION}`, 'start-up banner');
  const r = await ask(port, 'example.com', 'A');
  t.equal(rcodeOf(r), 'NOERROR');
  t.same(section(r, 'additionals', { ttl: false }).filter((l) => / A /.test(l)), ['example.com A 127.0.0.1'], 'whoami answers the client address');
  // `log` writes one line per query in CoreDNS's common format.
  const logLine = /127\.0\.0\.1:\d+ - 4660 \\?"A IN example\.com\. udp \d+ false 512\\?" NOERROR qr,aa,rd \d+ [\d.]+s/;
  const logged = await pollUntil(() => logLine.test(p.stdout()), 2000, 25);
  t.ok(logged.ok, `the query is logged: ${p.stdout()}`);
  p.child.kill('SIGTERM');
  t.same(await p.exited, { code: 0, signal: null }, 'SIGTERM: exit 0');
});

t.test('-conf with the demo Corefile on a free port ({$PORT}), -pidfile, SIGTERM exits 0', async (t) => {
  const port = await freePort();
  // The demo Corefile pins 127.0.0.1:1053 and `fixture .`: copy it with the port from the environment and the
  // fixture path made absolute.
  const demo = readFileSync(path.join(DEMO_DIR, 'Corefile'), 'utf8');
  const text = demo.replace(/^\.:1053 \{/m, '.:{$PORT} {').replace(/fixture \.$/m, `fixture ${DEMO_DIR}`);
  t.not(text, demo, 'the demo Corefile was adapted');
  t.match(text, '.:{$PORT} {');
  const conf = path.join(TMP, 'demo.Corefile');
  writeFileSync(conf, text);
  const pidfile = path.join(TMP, 'clusterdns.pid');
  const p = run(['-conf', conf, '-pidfile', pidfile], { env: { PORT: String(port) } });
  await started(p, new RegExp(`:${port}\\b`));
  t.equal(readFileSync(pidfile, 'utf8').trim(), String(p.child.pid), 'pid file holds the process id');

  const a = await ask(port, 'nginx-basic.default.svc.cluster.local', 'A');
  t.same(section(a, 'answers'), ['nginx-basic.default.svc.cluster.local 30 A 10.100.49.21']);
  const s = await ask(port, '_tcp-kafka._tcp.kafka-headless.kafka.svc.cluster.local', 'SRV', { tcp: true });
  t.equal(s.answers!.length, 3, 'TCP too');
  t.equal(rcodeOf(await ask(port, 'nosuch.default.svc.cluster.local', 'A')), 'NXDOMAIN');

  p.child.kill('SIGTERM');
  t.same(await p.exited, { code: 0, signal: null }, 'SIGTERM: exit 0');
  t.notOk(existsSync(pidfile), 'pid file removed on shutdown');
});

// CoreDNS core/dnsserver/onstartup.go startUpZones: a listener bound to a specific address is announced as
// `<zone>:<port> on <ip>` (e.g. `.:1053 on 127.0.0.1`); without bind just `<zone>:<port>`.
t.test('start-up banner with bind 127.0.0.1 reads `.:<port> on 127.0.0.1`, as CoreDNS prints it', async (t) => {
  const port = await freePort();
  const conf = path.join(TMP, 'bound.Corefile');
  writeFileSync(conf, `.:${port} {\n    bind 127.0.0.1\n    whoami\n}\n`);
  const p = run(['-conf', conf]);
  await started(p, new RegExp(`clusterdns-${VERSION.replace(/\./g, '\\.')}`));
  t.match(p.stdout(), new RegExp(`^\\.:${port} on 127\\.0\\.0\\.1$`, 'm'), `banner: ${JSON.stringify(p.stdout())}`);
  p.child.kill('SIGTERM');
  t.same(await p.exited, { code: 0, signal: null });
});
