/**
 * How clusterdns reaches the Kubernetes API, chosen exactly as CoreDNS does (plugin/kubernetes kubernetes.go
 * getClientConfig): `kubeconfig FILE [CONTEXT]` wins; else `endpoint URL` (with `tls CERT KEY CACERT` for a client
 * certificate and CA); else the in-cluster service account.
 *
 * A kubeconfig's credentials come from @kubernetes/client-node's KubeConfig, so every auth mode a kubeconfig can
 * hold (tokens, client certificates, token files, exec plugins, OIDC) works as in kubectl. The library is imported
 * only then: it costs ~0.5 s at start and ~40 MB of RSS after a sync (~70 MB just after the import). The in-cluster service account (what a Deployment in kube-system
 * uses) and `endpoint` need only files, read here: a token file, a CA, a client certificate. The requests
 * themselves are ours (lib/kube/api/client.ts): client-node 1.4's informers keep whole objects, do not page lists
 * and never time out a dead watch.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Agent as HttpAgent, OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { isIPv6 } from 'node:net';

/** What the Corefile says about the connection (lib/plugins/kubernetes/setup.ts). */
export interface ConnectionSpec {
  kubeconfig: { file: string; context: string } | null;
  /** The first `endpoint` URL, or null. */
  endpoint: string | null;
  tls: { cert: string; key: string; ca: string } | null;
}

/** A chosen API server and the credentials for it. */
export interface ApiConnection {
  /** The API server's URL. */
  readonly server: URL;
  /** The URL that request paths (`/api/v1/...`) are appended to: the server URL without a trailing slash. */
  readonly base: string;
  /** For logs: which mode and server. */
  readonly description: string;
  /** One agent for every request to this server (TLS material is loaded once; sockets are kept alive). */
  readonly agent: HttpAgent;
  /** Headers to send with a request (Authorization, impersonation); re-read per request so rotated tokens work. */
  headers(): Promise<OutgoingHttpHeaders>;
  /** Releases the agent's sockets. */
  close(): void;
}

/** Where the in-cluster service account lives; `prefix` lets tests point it at a temporary directory. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Environment variable naming a directory that stands in for `/` when looking up the in-cluster service account. */
export const SERVICE_ACCOUNT_ROOT_ENV = 'CLUSTERDNS_SERVICEACCOUNT_ROOT';

/** A connection problem found before any request: the server cannot start with this configuration. */
export class ConnectionError extends Error {}

type KubeConfigT = import('@kubernetes/client-node').KubeConfig;

/**
 * Chooses and prepares the connection for `spec`.
 * @throws ConnectionError when the configuration cannot work (missing file, unknown context, no in-cluster env).
 */
export async function connect(spec: ConnectionSpec, env: NodeJS.ProcessEnv = process.env): Promise<ApiConnection> {
  if (spec.kubeconfig) return fromKubeconfig(spec.kubeconfig);
  if (spec.endpoint) {
    // CoreDNS builds a bare rest.Config for the endpoint: no token, a client certificate and CA only with `tls`.
    for (const f of spec.tls ? [spec.tls.cert, spec.tls.key, spec.tls.ca] : []) {
      if (!existsSync(f)) throw new ConnectionError(`tls ${f}: no such file`);
    }
    const url = parseServer(spec.endpoint);
    return fileConnection(url, `endpoint ${spec.endpoint}${spec.tls ? ' with tls' : ''} (${url.origin})`, {
      ca: spec.tls?.ca,
      cert: spec.tls?.cert,
      key: spec.tls?.key,
    });
  }
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  // The message client-go's rest.InClusterConfig gives, which CoreDNS users will recognise.
  if (!host || !port) {
    throw new ConnectionError('unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined');
  }
  const dir = `${env[SERVICE_ACCOUNT_ROOT_ENV] ?? ''}${SERVICE_ACCOUNT_DIR}`;
  const token = `${dir}/token`;
  if (!existsSync(token)) throw new ConnectionError(`unable to load in-cluster configuration: open ${token}: no such file or directory`);
  // client-go always speaks https in-cluster, and goes on with the system's roots when ca.crt cannot be read.
  const url = parseServer(`https://${isIPv6(host) ? `[${host}]` : host}:${port}`);
  const ca = `${dir}/ca.crt`;
  return fileConnection(url, `in-cluster (${url.origin})`, { ca: existsSync(ca) ? ca : undefined, tokenFile: token });
}

function parseServer(server: string): URL {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new ConnectionError(`invalid API server URL: ${JSON.stringify(server)}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConnectionError(`unsupported API server URL scheme: ${server}`);
  return url;
}

/** Files a connection without a kubeconfig may name: TLS material, read once, and a bearer token file. */
interface FileCredentials {
  ca?: string;
  cert?: string;
  key?: string;
  /** Re-read for every request, so a rotated (projected) service-account token is used as soon as it is written. */
  tokenFile?: string;
}

async function fileConnection(server: URL, description: string, files: FileCredentials): Promise<ApiConnection> {
  const read = (f: string | undefined): Buffer | undefined => {
    if (f === undefined) return undefined;
    try {
      return readFileSync(f);
    } catch (err) {
      throw new ConnectionError(`${f}: ${(err as Error).message}`);
    }
  };
  const tokenFile = files.tokenFile;
  return connection(server, description, { ca: read(files.ca), cert: read(files.cert), key: read(files.key) }, async () => {
    if (tokenFile === undefined) return {};
    // client-go trims token files: a trailing newline would make the header invalid.
    return { Authorization: `Bearer ${(await readFile(tokenFile, 'utf8')).trim()}` };
  });
}

/** An ApiConnection to `server` with one keep-alive agent (TLS material as given) and `headers` per request. */
async function connection(
  server: URL,
  description: string,
  tls: import('node:tls').ConnectionOptions,
  headers: () => Promise<OutgoingHttpHeaders>,
): Promise<ApiConnection> {
  const agent =
    server.protocol === 'https:'
      ? new HttpsAgent({ keepAlive: true, rejectUnauthorized: true, ...tls })
      : new (await import('node:http')).Agent({ keepAlive: true });
  return {
    server,
    base: server.href.replace(/\/+$/, ''),
    description,
    agent,
    headers,
    close() {
      agent.destroy();
    },
  };
}

/** A kubeconfig's cluster and user, through client-node (every auth mode kubectl knows). */
async function fromKubeconfig({ file, context }: { file: string; context: string }): Promise<ApiConnection> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  if (!existsSync(file)) throw new ConnectionError(`kubeconfig ${file}: no such file`);
  try {
    kc.loadFromFile(file);
  } catch (err) {
    throw new ConnectionError(`kubeconfig ${file}: ${(err as Error).message}`);
  }
  if (context) {
    if (!kc.getContextObject(context)) throw new ConnectionError(`kubeconfig ${file}: context "${context}" does not exist`);
    kc.setCurrentContext(context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new ConnectionError(`kubeconfig ${file}: the current context names no cluster`);
  const mode = `kubeconfig ${file}${context ? ` context ${context}` : ''}`;
  const url = parseServer(cluster.server);
  return makeConnection(kc, url, `${mode} (${url.origin})`);
}

async function makeConnection(kc: KubeConfigT, server: URL, description: string): Promise<ApiConnection> {
  if (server.protocol === 'http:') {
    // client-node refuses plain http unless TLS verification is off; there is no TLS to verify, and client-go takes
    // an http server from a kubeconfig, so mark the cluster accordingly. Only the credentials are taken from it.
    const current = kc.getCurrentCluster();
    kc.clusters = kc.clusters.map((c) => (c.name === current?.name ? { ...c, skipTLSVerify: true } : c));
  }
  // Ask client-node once for TLS material; it also builds an agent of its own, which we do not use (a fresh agent
  // per request is what leaked sockets in client-node 1.x).
  const probe: import('node:https').RequestOptions = {};
  await kc.applyToHTTPSOptions(probe);
  const tls = { ca: probe.ca, cert: probe.cert, key: probe.key, rejectUnauthorized: probe.rejectUnauthorized ?? true, servername: probe.servername };
  return connection(server, description, tls, async () => {
    const opts: import('node:https').RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    // Basic auth (kubeconfig username/password) comes back as `auth`, not a header.
    const headers: OutgoingHttpHeaders = { ...((opts.headers ?? {}) as OutgoingHttpHeaders) };
    // client-go trims token files; client-node does not, and a trailing newline makes the header invalid.
    for (const k of Object.keys(headers)) {
      const v = headers[k];
      if (typeof v === 'string') headers[k] = v.trim();
    }
    if (opts.auth) headers.authorization = 'Basic ' + Buffer.from(opts.auth).toString('base64');
    (opts.agent as HttpAgent | undefined)?.destroy();
    return headers;
  });
}
