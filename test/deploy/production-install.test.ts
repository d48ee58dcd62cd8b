// The production install works without the dev dependencies: the two ways clusterdns ships are reproduced in clean
// temporary directories and served from. (1) The container image's runtime stage: package.json + package-lock.json,
// `npm ci --omit=dev`, the built dist/, `node dist/bin/clusterdns.js` (the Dockerfile's ENTRYPOINT; no Docker
// engine here, so its steps are replayed and its text is checked against them). (2) The npm package: `npm pack`,
// then `npm install --omit=dev <tarball>` and `node_modules/.bin/clusterdns`. Each is started on a Corefile like
// kubeadm's (on loopback, high ports, the demo fixture instead of the API) and queried with dig over UDP and TCP,
// plus /health, /ready and /metrics. Needs the npm registry (or a warm npm cache) and dig.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { parseAllDocuments } from 'yaml';
import { dig } from '../support/client.js';
import { requireDig } from '../support/e2e-dig.js';
import { REPO_ROOT, freePort, pollUntil, tempDir } from '../support/e2e-cluster.js';
import { httpGet } from '../support/http.js';

// Two npm installs (about 10 s each with a warm npm cache) run side by side; the whole file takes ~30 s. tap's
// per-file timeout (package.json, 120 s) bounds it; each npm command gets less, so a hung one fails by name.

const PKG = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  bin: Record<string, string>;
  files: string[];
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const { dir: TMP, cleanup } = tempDir('install');
t.teardown(cleanup);

// Child processes get neither tap's TypeScript loader hooks (NODE_OPTIONS) nor this npm run's package context.
const CHILD_ENV: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && !k.startsWith('npm_package_') && !k.startsWith('npm_lifecycle_')),
);

/** Run a command to completion; rejects with its output when it fails. */
function run(cmd: string, args: string[], cwd: string, timeoutMs = 90_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, env: CHILD_ENV, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

// ---- The Dockerfile, read as instructions ----

interface Instruction {
  op: string;
  args: string;
  stage: number;
}

/** The Dockerfile's instructions (continuation lines joined, comments dropped), each with its stage index. */
function dockerfile(): Instruction[] {
  const text = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const out: Instruction[] = [];
  let stage = -1;
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m || line.trimStart().startsWith('#')) continue;
    const op = m[1]!.toUpperCase();
    if (op === 'FROM') stage++;
    out.push({ op, args: m[2]!.replace(/\s+/g, ' ').trim(), stage });
  }
  return out;
}

/** Whether a .dockerignore pattern (the plain names and `*.ext` forms used there) excludes top-level `name`. */
function ignored(patterns: string[], name: string): boolean {
  return patterns.some((p) => (p.startsWith('*.') ? name.endsWith(p.slice(1)) : p.replace(/\/$/, '') === name));
}

t.test('the Dockerfile: two Node 24 stages, production deps only, non-root, the coredns command line', async (t) => {
  const ins = dockerfile();
  const final = Math.max(...ins.map((i) => i.stage));
  const inStage = (s: number, op: string): Instruction[] => ins.filter((i) => i.stage === s && i.op === op);
  t.equal(final, 1, 'a build stage and a runtime stage');
  const image = ins.find((i) => i.op === 'ARG' && i.args.startsWith('NODE_IMAGE='))?.args ?? '';
  t.match(image, /^NODE_IMAGE=node:24[.\d]*-(bookworm|trixie)-slim(@sha256:[0-9a-f]{64})?$/, 'Node 24 LTS, slim Debian');
  t.same(ins.filter((i) => i.op === 'FROM').map((i) => i.args.split(' ')[0]), ['${NODE_IMAGE}', '${NODE_IMAGE}']);

  const buildRuns = inStage(0, 'RUN').map((i) => i.args);
  t.ok(buildRuns.some((r) => /^npm ci\b/.test(r) && !r.includes('--omit=dev')), 'build stage: npm ci with dev deps');
  t.ok(buildRuns.includes('npm run build'), 'build stage: npm run build');
  // The build stage copies what tsconfig compiles, and .dockerignore lets it through.
  const tsconfig = JSON.parse(readFileSync(path.join(REPO_ROOT, 'tsconfig.json'), 'utf8')) as { include: string[] };
  const copied = inStage(0, 'COPY').flatMap((i) => i.args.split(' ').slice(0, -1));
  for (const inc of tsconfig.include) t.ok(copied.includes(inc.split('/')[0]!), `build stage copies ${inc.split('/')[0]}/ (tsconfig includes ${inc})`);
  const patterns = readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  for (const src of [...copied, ...inStage(1, 'COPY').filter((i) => !i.args.startsWith('--from')).flatMap((i) => i.args.split(' ').slice(0, -1))]) {
    t.notOk(ignored(patterns, src), `.dockerignore keeps ${src}`);
  }
  t.ok(ignored(patterns, 'node_modules') && ignored(patterns, 'dist') && ignored(patterns, '.git'), 'no host node_modules, dist or .git in the context');

  const runtimeRuns = inStage(1, 'RUN').map((i) => i.args);
  t.ok(runtimeRuns.some((r) => /^npm ci --omit=dev\b/.test(r)), 'runtime stage: npm ci --omit=dev');
  t.same(inStage(1, 'COPY').map((i) => i.args), ['package.json package-lock.json ./', '--from=build /src/dist ./dist']);
  const setcapAt = ins.findIndex((i) => i.stage === 1 && i.op === 'RUN' && /setcap cap_net_bind_service=\+ep/.test(i.args));
  const lastNpm = ins.findLastIndex((i) => i.stage === 1 && i.op === 'RUN' && i.args.includes('npm '));
  const userAt = ins.findIndex((i) => i.stage === 1 && i.op === 'USER');
  t.ok(setcapAt > lastNpm && setcapAt < userAt, 'setcap on node after the last npm step, before USER');
  t.match(inStage(1, 'USER')[0]?.args ?? '', /^[1-9]\d*:[1-9]\d*$/, 'numeric non-root USER uid:gid');
  t.same(inStage(1, 'ENTRYPOINT').map((i) => JSON.parse(i.args) as string[]), [['node', PKG.bin.clusterdns]], 'ENTRYPOINT runs the package bin');

  // CMD = the Deployment's args, so the image alone and the Deployment start the same way.
  const deployment = parseAllDocuments(readFileSync(path.join(REPO_ROOT, 'deploy', 'deployment.yaml'), 'utf8'))[0]!.toJS() as {
    spec: { template: { spec: { containers: Array<{ args: string[] }> } } };
  };
  t.same(JSON.parse(inStage(1, 'CMD')[0]!.args), deployment.spec.template.spec.containers[0]!.args);
  const exposed = inStage(1, 'EXPOSE').flatMap((i) => i.args.split(' '));
  for (const p of ['53/udp', '53/tcp', '9153/tcp']) t.ok(exposed.includes(p), `EXPOSE ${p}`);
});

t.test('package.json ships what a production install runs', async (t) => {
  t.ok(PKG.files.includes('dist'), 'files includes dist');
  t.equal(PKG.bin.clusterdns, 'dist/bin/clusterdns.js');
  for (const dev of ['tap', 'typescript']) t.notOk(PKG.dependencies[dev], `${dev} is not a runtime dependency`);
});

// ---- The two installs ----

interface Install {
  what: string;
  /** Where to run from. */
  cwd: string;
  /** The command line that starts clusterdns, before its flags. */
  command: [string, ...string[]];
}

/** The image's runtime stage replayed: lockfile install without dev deps, then the built dist/. */
async function imageLayout(): Promise<Install> {
  const app = path.join(TMP, 'image', 'app');
  mkdirSync(app, { recursive: true });
  for (const f of ['package.json', 'package-lock.json']) cpSync(path.join(REPO_ROOT, f), path.join(app, f));
  await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline'], app);
  cpSync(path.join(REPO_ROOT, 'dist'), path.join(app, 'dist'), { recursive: true });
  return { what: 'image layout (npm ci --omit=dev + dist/)', cwd: app, command: ['node', PKG.bin.clusterdns] };
}

/** The npm package: pack the repository, install the tarball without dev deps into an empty project. */
async function packageInstall(): Promise<Install & { packed: string[] }> {
  const out = path.join(TMP, 'pack');
  const proj = path.join(TMP, 'project');
  mkdirSync(out, { recursive: true });
  mkdirSync(proj, { recursive: true });
  const packed = JSON.parse(await run('npm', ['pack', '--json', '--pack-destination', out], REPO_ROOT)) as Array<{ filename: string; files: Array<{ path: string }> }>;
  writeFileSync(path.join(proj, 'package.json'), JSON.stringify({ name: 'clusterdns-install-probe', version: '0.0.0', private: true }));
  await run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', path.join(out, packed[0]!.filename)], proj);
  return {
    what: 'npm package (npm pack + npm install --omit=dev)',
    cwd: proj,
    command: [path.join(proj, 'node_modules', '.bin', 'clusterdns')],
    packed: packed[0]!.files.map((f) => f.path),
  };
}

let installs: [Install, Install & { packed: string[] }];

t.before(async () => {
  requireDig();
  // `npm test` builds first (pretest); a bare `npx tap` on a fresh checkout may not have.
  if (!existsSync(path.join(REPO_ROOT, PKG.bin.clusterdns))) execFileSync('npx', ['tsc', '-p', '.'], { cwd: REPO_ROOT, stdio: 'inherit' });
  installs = await Promise.all([imageLayout(), packageInstall()]);
});

const running = new Set<ChildProcess>();
t.teardown(() => {
  for (const c of running) if (c.exitCode === null) c.kill('SIGKILL');
});

/**
 * Packages whose names are devDependencies of clusterdns but that a production dependency needs itself (e.g.
 * @types/node, which @kubernetes/client-node depends on): read from the installed tree's hidden lockfile.
 */
function neededByProd(nodeModules: string): Set<string> {
  const lock = JSON.parse(readFileSync(path.join(nodeModules, '.package-lock.json'), 'utf8')) as {
    packages: Record<string, { dependencies?: Record<string, string> }>;
  };
  const names = new Set<string>();
  for (const [where, p] of Object.entries(lock.packages)) {
    if (where.endsWith(`node_modules/${PKG.name}`)) continue;
    for (const d of Object.keys(p.dependencies ?? {})) names.add(d);
  }
  return names;
}

async function checkInstall(t: Test, inst: Install): Promise<void> {
  const nodeModules = path.join(inst.cwd, 'node_modules');
  const needed = neededByProd(nodeModules);
  for (const dev of Object.keys(PKG.devDependencies)) {
    if (needed.has(dev)) continue;
    t.notOk(existsSync(path.join(nodeModules, dev)), `dev dependency ${dev} is not installed`);
  }
  for (const dep of Object.keys(PKG.dependencies)) t.ok(existsSync(path.join(nodeModules, dep, 'package.json')), `${dep} is installed`);

  const version = await run(inst.command[0], [...inst.command.slice(1), '-version'], inst.cwd, 20_000);
  t.equal(version.split('\n')[0], `clusterdns-${PKG.version}`, '-version finds the package version');

  const [dnsPort, healthPort, readyPort, metricsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const fixture = path.join(inst.cwd, 'cluster.yaml');
  cpSync(path.join(REPO_ROOT, 'fixtures', 'demo', 'cluster.yaml'), fixture);
  // The kubeadm Corefile on loopback and high ports, with the demo fixture in place of the API and without
  // forward/loop (no upstream resolver to rely on here).
  writeFileSync(path.join(inst.cwd, 'Corefile'), `.:${dnsPort} {
    bind 127.0.0.1
    errors
    health 127.0.0.1:${healthPort} {
       lameduck 1s
    }
    ready 127.0.0.1:${readyPort}
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       fixture ${fixture}
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus 127.0.0.1:${metricsPort}
    cache 30 {
       disable success cluster.local
       disable denial cluster.local
    }
    reload
    loadbalance
}
`);
  const child = spawn(inst.command[0], [...inst.command.slice(1), '-conf', 'Corefile'], { cwd: inst.cwd, env: CHILD_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString('utf8')));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => {
    running.delete(child);
    resolve(code);
  }));
  const up = await pollUntil(() => out.includes(`clusterdns-${PKG.version}`) || child.exitCode !== null, 15_000, 25);
  if (!up.ok || child.exitCode !== null) throw new Error(`${inst.what}: clusterdns did not start (exit ${child.exitCode})\nstdout: ${out}\nstderr: ${err}`);

  const short = async (args: string[]): Promise<string[]> => (await dig(dnsPort, ['+short', ...args])).trim().split('\n').filter(Boolean).sort();
  t.same(await short(['nginx-basic.default.svc.cluster.local', 'A']), ['10.100.49.21'], 'ClusterIP A over UDP');
  t.same(await short(['+tcp', 'nginx-basic.default.svc.cluster.local', 'A']), ['10.100.49.21'], 'ClusterIP A over TCP');
  t.same(await short(['_tcp-kafka._tcp.kafka-headless.kafka.svc.cluster.local', 'SRV']), [
    '0 33 9092 kafka-0.kafka-headless.kafka.svc.cluster.local.',
    '0 33 9092 kafka-1.kafka-headless.kafka.svc.cluster.local.',
    '0 33 9092 kafka-2.kafka-headless.kafka.svc.cluster.local.',
  ], 'headless SRV');
  t.same(await short(['-x', '10.100.49.21']), ['nginx-basic.default.svc.cluster.local.'], 'PTR');
  t.match(await dig(dnsPort, ['nope.default.svc.cluster.local', 'A']), /status: NXDOMAIN/, 'NXDOMAIN');

  t.match(await httpGet(healthPort, '/health'), { status: 200, body: 'OK' }, '/health');
  t.match(await httpGet(readyPort, '/ready'), { status: 200, body: 'OK' }, '/ready');
  const metrics = await httpGet(metricsPort, '/metrics');
  t.equal(metrics.status, 200, '/metrics');
  t.match(metrics.body, /^coredns_dns_requests_total\{[^}]*\} [1-9]/m, 'requests counted (prom-client present)');

  child.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM: clean exit after lameduck');
  t.equal(err, '', 'nothing on stderr');
}

t.test('the image layout starts and serves', async (t) => {
  await checkInstall(t, installs[0]);
});

t.test('the npm package installs without dev dependencies, starts and serves', async (t) => {
  const [, pkg] = installs;
  const need = ['package.json', PKG.bin.clusterdns, 'dist/lib/main.js', 'fixtures/demo/cluster.yaml', 'Corefile.example'];
  for (const f of need) t.ok(pkg.packed.includes(f), `the tarball has ${f}`);
  t.notOk(pkg.packed.some((f) => /^(test|bench|lib|bin|deploy)\//.test(f)), 'no sources, tests, benchmarks or manifests in the tarball');
  await checkInstall(t, pkg);
});
