/**
 * A real Kubernetes control plane for tests: etcd and kube-apiserver (built by test/cluster/build.sh) on 127.0.0.1,
 * with generated certificates, a service-account signing key and a static admin token, in a fresh temp directory.
 *
 * What a control plane without controller-manager, scheduler and kubelet does not do (tests do it themselves):
 * no EndpointSlices for Services (create them), no `default` ServiceAccounts (the ServiceAccount admission plugin is
 * off so Pods can be created), no ServiceAccount token Secrets (use TokenRequest: {@link ControlPlane.serviceAccountToken}),
 * no Pod status (write it through `/status`), no garbage collection, and namespace deletion never finishes.
 * See /work/shared/reference/real-apiserver.md §4.8.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/** Where build.sh caches binaries (`$CLUSTERDNS_CACHE/bin`, default `~/.cache/clusterdns/bin`). */
export function binDir(): string {
  return path.join(process.env.CLUSTERDNS_CACHE ?? path.join(os.homedir(), '.cache', 'clusterdns'), 'bin');
}

/** The binaries one build produced, read from `<binDir>/versions.env`. */
export interface Binaries {
  k8sVersion: string;
  etcdVersion: string;
  kubeApiserver: string;
  etcd: string;
  /** Absent when build.sh ran with --no-kubectl. */
  kubectl?: string;
}

/** The cached binaries, or a reason why there are none (build.sh has not run, or a binary is missing). */
export function findBinaries(dir = binDir()): Binaries | { missing: string } {
  const envFile = path.join(dir, 'versions.env');
  if (!existsSync(envFile)) return { missing: `${envFile} not found: run test/cluster/build.sh` };
  const env: Record<string, string> = {};
  for (const line of readFileSync(envFile, 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
  const b: Binaries = {
    k8sVersion: env.K8S_VERSION ?? '',
    etcdVersion: env.ETCD_VERSION ?? '',
    kubeApiserver: env.KUBE_APISERVER ?? '',
    etcd: env.ETCD ?? '',
    ...(env.KUBECTL ? { kubectl: env.KUBECTL } : {}),
  };
  for (const f of [b.kubeApiserver, b.etcd]) if (!f || !existsSync(f)) return { missing: `binary ${f || '(unnamed)'} not found: run test/cluster/build.sh` };
  return b;
}

/** Options of {@link startControlPlane}. */
export interface ControlPlaneOptions {
  /** Default: {@link findBinaries}. */
  binaries?: Binaries;
  /** `--service-cluster-ip-range`; default dual-stack `10.96.0.0/16,fd00:10:96::/112`. */
  serviceCidrs?: string;
  /** How long to wait for `/readyz` and the `default` namespace; default 60 s (small CI boxes are slow). */
  startTimeoutMs?: number;
  /** Keep the temp directory (certs, logs, etcd data) after stop(), for debugging. Also: CLUSTERDNS_KEEP_CLUSTER=1. */
  keepDir?: boolean;
  /** Extra kube-apiserver flags. */
  extraApiserverArgs?: string[];
}

/** The answer of {@link ControlPlane.request}: status code and the parsed JSON body (raw text if not JSON). */
export interface ApiResponse<T = any> {
  status: number;
  body: T;
  text: string;
}

/** A request's credentials: the API server URL, its CA, and a bearer token. */
export interface ApiCredentials {
  url: string;
  caFile: string;
  token: string;
}

/** A running etcd + kube-apiserver. */
export interface ControlPlane {
  /** `https://127.0.0.1:<port>` */
  url: string;
  /** Bearer token of user `admin` in group `system:masters` (bypasses RBAC). */
  adminToken: string;
  /** CA that signed the serving certificate (its SANs: 127.0.0.1, ::1, localhost, kubernetes.default.svc, 10.96.0.1). */
  caFile: string;
  /** The temp directory: certs, `etcd.log`, `apiserver.log`, `etcd/` data. */
  dir: string;
  /** A kubeconfig for the admin (for kubectl). */
  adminKubeconfig: string;
  /** `--advertise-address`: the one endpoint of the `default/kubernetes` Service's EndpointSlice. */
  advertiseAddress: string;
  binaries: Binaries;
  /** Admin request. `body` is sent as JSON; `contentType` overrides (e.g. merge-patch). Never throws on HTTP errors. */
  request<T = any>(method: string, apiPath: string, body?: unknown, contentType?: string): Promise<ApiResponse<T>>;
  /** Same as `request` but throws unless the status is 2xx; resolves with the body. */
  must<T = any>(method: string, apiPath: string, body?: unknown, contentType?: string): Promise<T>;
  /** A TokenRequest token for the ServiceAccount (which must exist). */
  serviceAccountToken(namespace: string, name: string, expirationSeconds?: number): Promise<string>;
  /** Write a kubeconfig that connects with `token` (default: the admin token); returns its path. */
  writeKubeconfig(file: string, token?: string): string;
  /**
   * Stop kube-apiserver only; etcd keeps the data. SIGTERM, then SIGKILL after `graceMs` (default 5 s): with watches
   * open, kube-apiserver 1.36 stops listening at once but does not exit until the watch connections go away.
   */
  stopApiserver(graceMs?: number): Promise<void>;
  /** Start kube-apiserver again on the same port and wait until it is ready. */
  startApiserver(): Promise<void>;
  /** Tail of the apiserver log (for failure messages). */
  apiserverLog(lines?: number): string;
  /** Stop both processes and remove the temp directory. Safe to call twice. */
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 at the time of the call. */
export async function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** An HTTPS request with a bearer token; resolves for every HTTP status, rejects on network errors. */
export function apiRequest<T = any>(cred: ApiCredentials, method: string, apiPath: string, body?: unknown, contentType = 'application/json'): Promise<ApiResponse<T>> {
  const url = new URL(apiPath, cred.url);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method,
        ca: readFileSync(cred.caFile),
        headers: {
          authorization: `Bearer ${cred.token}`,
          accept: 'application/json',
          ...(payload !== undefined ? { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) } : {}),
        },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // not JSON (e.g. /readyz's "ok"): keep the text
          }
          resolve({ status: res.statusCode ?? 0, body: parsed as T, text });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${apiPath}: timed out`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** Write a kubeconfig for `server` with `token`, trusting `caFile`. */
export function writeKubeconfig(file: string, cred: ApiCredentials, user = 'test'): string {
  // Connect by IP: the serving cert is checked by IP SAN, and "localhost" may resolve to ::1 first.
  writeFileSync(
    file,
    [
      'apiVersion: v1',
      'kind: Config',
      'clusters:',
      `- name: test`,
      `  cluster: {server: "${cred.url}", certificate-authority: "${cred.caFile}"}`,
      'users:',
      `- name: ${user}`,
      `  user: {token: "${cred.token}"}`,
      'contexts:',
      `- name: test`,
      `  context: {cluster: test, user: ${user}}`,
      'current-context: test',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  return file;
}

function openssl(cwd: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** CA, apiserver serving cert (IP SANs), service-account key and the static token file, all in `dir`. */
function generateCredentials(dir: string, adminToken: string): void {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(dir, 'req', '-x509', ...ec, '-days', '3', '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=clusterdns-test-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  openssl(dir, 'req', ...ec, '-keyout', 'apiserver.key', '-out', 'apiserver.csr', '-subj', '/CN=kube-apiserver');
  writeFileSync(
    path.join(dir, 'san.ext'),
    'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1\n' +
      'extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n',
  );
  openssl(dir, 'x509', '-req', '-in', 'apiserver.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '3',
    '-out', 'apiserver.crt', '-extfile', 'san.ext');
  openssl(dir, 'ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'sa.key');
  // token,user,uid,"groups": system:masters bypasses RBAC, so the harness can do anything while the DNS server runs
  // with only the RBAC that deploy/ grants it.
  writeFileSync(path.join(dir, 'tokens.csv'), `${adminToken},admin,admin-uid,"system:masters"\n`, { mode: 0o600 });
}

/** Not loopback (the `kubernetes` Service's endpoints are validated), not this host's: TEST-NET-2, nobody uses it. */
const ADVERTISE_ADDRESS = '198.51.100.10';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** util-linux's setpriv, if present: it sets the parent-death signal and execs, so the pid stays the daemon's. */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((f) => existsSync(f));

/**
 * `[command, args]` that run `bin args` so that it gets SIGKILL when this process dies: process.on('exit') does not
 * run when tap kills a timed-out test with a signal, the kernel's parent-death signal does. Unchanged without setpriv.
 */
export function dieWithParent(bin: string, args: string[]): [string, string[]] {
  return SETPRIV ? [SETPRIV, ['--pdeathsig', 'KILL', '--', bin, ...args]] : [bin, args];
}

/** Spawn with stdout+stderr appended to `logFile`; the child dies with this process. */
function spawnLogged(bin: string, args: string[], logFile: string): ChildProcess {
  const fd = openSync(logFile, 'a');
  try {
    return spawn(...dieWithParent(bin, args), { stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
}

async function killAndWait(child: ChildProcess | undefined, graceMs = 15_000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function tail(file: string, lines = 40): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Start etcd and kube-apiserver on loopback and wait until the API is ready. */
export async function startControlPlane(o: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const found = o.binaries ?? findBinaries();
  if ('missing' in found) throw new Error(found.missing);
  const bins = found;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'clusterdns-cp-'));
  const keep = o.keepDir ?? process.env.CLUSTERDNS_KEEP_CLUSTER === '1';
  const adminToken = randomBytes(24).toString('hex');
  generateCredentials(dir, adminToken);
  const caFile = path.join(dir, 'ca.crt');
  const timeoutMs = o.startTimeoutMs ?? 60_000;

  let etcd: ChildProcess | undefined;
  let apiserver: ChildProcess | undefined;
  let stopped = false;
  // A crashed test run must not leave daemons behind: kill them when this process exits.
  const onExit = () => {
    etcd?.kill('SIGKILL');
    apiserver?.kill('SIGKILL');
  };
  process.on('exit', onExit);

  const cleanup = async () => {
    if (stopped) return;
    stopped = true;
    await killAndWait(apiserver);
    await killAndWait(etcd);
    process.off('exit', onExit);
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };

  try {
    // etcd: client and peer on loopback ports nobody else uses; no fsync (durability is irrelevant, speed is not).
    const etcdPort = await freeTcpPort();
    const etcdUrl = `http://127.0.0.1:${etcdPort}`;
    const etcdLog = path.join(dir, 'etcd.log');
    etcd = spawnLogged(bins.etcd, [
      '--name', 'test', '--data-dir', path.join(dir, 'etcd'),
      '--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl,
      '--listen-peer-urls', 'http://127.0.0.1:0',
      '--unsafe-no-fsync', '--log-level', 'warn',
      '--quota-backend-bytes', String(1 << 30),
    ], etcdLog);
    const etcdUp = Date.now();
    for (;;) {
      if (etcd.exitCode !== null) throw new Error(`etcd exited with ${etcd.exitCode}:\n${tail(etcdLog)}`);
      const ok = await fetch(`${etcdUrl}/health`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() - etcdUp > timeoutMs) throw new Error(`etcd not healthy after ${timeoutMs} ms:\n${tail(etcdLog)}`);
      await sleep(100);
    }

    const port = await freeTcpPort();
    const url = `https://127.0.0.1:${port}`;
    const cred: ApiCredentials = { url, caFile, token: adminToken };
    const apiLog = path.join(dir, 'apiserver.log');
    const apiArgs = [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1', `--secure-port=${port}`,
      // --cert-dir defaults to /var/run/kubernetes (not writable unprivileged); point everything into the temp dir.
      `--cert-dir=${dir}`,
      `--tls-cert-file=${path.join(dir, 'apiserver.crt')}`, `--tls-private-key-file=${path.join(dir, 'apiserver.key')}`,
      `--client-ca-file=${caFile}`,
      `--service-cluster-ip-range=${o.serviceCidrs ?? '10.96.0.0/16,fd00:10:96::/112'}`,
      // Required since 1.20, and what TokenRequest signs with.
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-signing-key-file=${path.join(dir, 'sa.key')}`, `--service-account-key-file=${path.join(dir, 'sa.key')}`,
      '--authorization-mode=Node,RBAC',
      `--token-auth-file=${path.join(dir, 'tokens.csv')}`,
      // No controller-manager creates `default` ServiceAccounts, so this plugin would reject every Pod.
      '--disable-admission-plugins=ServiceAccount',
      `--advertise-address=${ADVERTISE_ADDRESS}`,
      '--allow-privileged=true',
      '--profiling=false',
      '--v=1',
      ...(o.extraApiserverArgs ?? []),
    ];

    const startApiserver = async (): Promise<void> => {
      if (apiserver && apiserver.exitCode === null && apiserver.signalCode === null) throw new Error('kube-apiserver is already running');
      writeFileSync(apiLog, `--- kube-apiserver start ${new Date().toISOString()}\n`, { flag: 'a' });
      const child = spawnLogged(bins.kubeApiserver, apiArgs, apiLog);
      apiserver = child;
      const began = Date.now();
      // /readyz answers 401/403/500 until authn, the RBAC bootstrap and storage are up; then the apiserver creates
      // the default namespaces itself.
      for (;;) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`kube-apiserver exited (${child.exitCode ?? child.signalCode}):\n${tail(apiLog)}`);
        const ready = await apiRequest(cred, 'GET', '/readyz').then((r) => r.status === 200, () => false);
        if (ready) {
          const ns = await apiRequest(cred, 'GET', '/api/v1/namespaces/default').then((r) => r.status === 200, () => false);
          if (ns) return;
        }
        if (Date.now() - began > timeoutMs) {
          const verbose = await apiRequest(cred, 'GET', '/readyz?verbose').then((r) => r.text, (e: Error) => e.message);
          throw new Error(`kube-apiserver not ready after ${timeoutMs} ms:\n${verbose}\n${tail(apiLog)}`);
        }
        await sleep(250);
      }
    };
    await startApiserver();

    const adminKubeconfig = writeKubeconfig(path.join(dir, 'admin.kubeconfig'), cred, 'admin');
    const cp: ControlPlane = {
      url,
      adminToken,
      caFile,
      dir,
      adminKubeconfig,
      advertiseAddress: ADVERTISE_ADDRESS,
      binaries: bins,
      request: (method, apiPath, body, contentType) => apiRequest(cred, method, apiPath, body, contentType),
      async must(method, apiPath, body, contentType) {
        const r = await apiRequest(cred, method, apiPath, body, contentType);
        if (r.status < 200 || r.status > 299) throw new Error(`${method} ${apiPath} -> ${r.status}: ${r.text.slice(0, 500)}`);
        return r.body;
      },
      async serviceAccountToken(namespace, name, expirationSeconds = 3600) {
        const r = await cp.must('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenRequest',
          spec: { expirationSeconds },
        });
        return (r as { status: { token: string } }).status.token;
      },
      writeKubeconfig: (file, token) => writeKubeconfig(file, { ...cred, token: token ?? adminToken }),
      stopApiserver: (graceMs = 5000) => killAndWait(apiserver, graceMs),
      startApiserver,
      apiserverLog: (lines = 40) => tail(apiLog, lines),
      stop: cleanup,
    };
    return cp;
  } catch (e) {
    await cleanup().catch(() => undefined);
    if (keep) (e as Error).message += `\n(control-plane files kept in ${dir})`;
    throw e;
  }
}
