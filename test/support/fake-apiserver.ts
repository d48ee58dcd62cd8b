/**
 * A fake kube-apiserver for tests: list (with limit/continue chunking served from a consistent snapshot), chunked
 * JSON-lines watch (replay from a resourceVersion, 410 Expired, bookmarks, selectors, timeoutSeconds), bearer-token
 * and client-certificate authentication, RBAC-like 403s, and controls to inject the faults a real cluster produces
 * (dropped or stalled watches, compaction, restarts, 5xx). Serves Services, EndpointSlices, Namespaces and Pods.
 *
 * It shares no code with lib/ (its selector matcher is its own), so it is an independent check of the API client.
 * Wire shapes follow kube-apiserver (staging/src/k8s.io/apiserver: endpoints/handlers, storage/cacher,
 * storage/etcd3), learnt from its behaviour, not copied.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import YAML from 'yaml';
import { makeTestPKI, type TestPKI } from './certs.js';

// ---------------------------------------------------------------------------------------------------------------
// Resources

/** The resources the fake serves. */
export type Resource = 'services' | 'endpointslices' | 'namespaces' | 'pods';
/** Request verbs the fake distinguishes (all are HTTP GET). */
export type Verb = 'list' | 'watch' | 'get';
/** Watch event types. */
export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

interface ResourceInfo {
  group: '' | 'discovery.k8s.io';
  apiVersion: string;
  kind: string;
  namespaced: boolean;
  /** Field selector labels beyond metadata.name/metadata.namespace, with how to read each. */
  fields: Record<string, (o: StoredObject) => string>;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));
const sub = (o: StoredObject, k: string): Record<string, unknown> => (o[k] && typeof o[k] === 'object' ? (o[k] as Record<string, unknown>) : {});

// kube-apiserver pkg/registry/core/pod/strategy.go ToSelectableFields and namespace strategy: the only field labels
// these resources accept besides metadata.name and metadata.namespace.
const RESOURCES: Record<Resource, ResourceInfo> = {
  services: { group: '', apiVersion: 'v1', kind: 'Service', namespaced: true, fields: {} },
  endpointslices: { group: 'discovery.k8s.io', apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', namespaced: true, fields: {} },
  namespaces: { group: '', apiVersion: 'v1', kind: 'Namespace', namespaced: false, fields: { 'status.phase': (o) => str(sub(o, 'status').phase) } },
  pods: {
    group: '', apiVersion: 'v1', kind: 'Pod', namespaced: true,
    fields: {
      'spec.nodeName': (o) => str(sub(o, 'spec').nodeName),
      'spec.restartPolicy': (o) => str(sub(o, 'spec').restartPolicy),
      'spec.schedulerName': (o) => str(sub(o, 'spec').schedulerName),
      'spec.serviceAccountName': (o) => str(sub(o, 'spec').serviceAccountName),
      'spec.hostNetwork': (o) => String(sub(o, 'spec').hostNetwork === true),
      'status.phase': (o) => str(sub(o, 'status').phase),
      'status.podIP': (o) => str(sub(o, 'status').podIP),
      'status.nominatedNodeName': (o) => str(sub(o, 'status').nominatedNodeName),
    },
  },
};

/** All resources, in a fixed order. */
export const ALL_RESOURCES: readonly Resource[] = ['services', 'endpointslices', 'namespaces', 'pods'];

/** Maps a kind (`Service`), resource (`services`) or short name (`svc`, `ep`... ) to a resource, case-insensitively. */
export function resourceOf(kindOrResource: string): Resource {
  const k = kindOrResource.toLowerCase();
  for (const r of ALL_RESOURCES) {
    if (k === r || k === RESOURCES[r].kind.toLowerCase()) return r;
  }
  const short: Record<string, Resource> = { svc: 'services', ns: 'namespaces', po: 'pods', endpointslice: 'endpointslices' };
  const r = short[k];
  if (!r) throw new Error(`fake-apiserver: unknown kind or resource ${JSON.stringify(kindOrResource)}`);
  return r;
}

// ---------------------------------------------------------------------------------------------------------------
// Objects and Status

/** Object metadata as stored (stamped by the fake). */
export interface StoredMeta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  creationTimestamp: string;
  labels?: Record<string, string>;
  [key: string]: unknown;
}

/** An object as stored and served: plain JSON with apiVersion, kind and stamped metadata. */
export interface StoredObject {
  apiVersion: string;
  kind: string;
  metadata: StoredMeta;
  [key: string]: unknown;
}

/** A metav1.Status body, as the apiserver sends on errors (and inside watch ERROR events). */
export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: { continue?: string };
  status: 'Failure';
  message: string;
  reason: string;
  details?: Record<string, unknown>;
  code: number;
}

// k8s.io/apimachinery/pkg/api/errors: the StatusReason of each code the fake produces.
const REASONS: Record<number, string> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed', 409: 'Conflict',
  410: 'Expired', 422: 'Invalid', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout',
};

/** Builds a Failure Status for `code` (reason from the code unless given). */
export function statusOf(code: number, message: string, reason?: string, details?: Record<string, unknown>): Status {
  const s: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: reason ?? REASONS[code] ?? '', code };
  if (details) s.details = details;
  return s;
}

/** Thrown by the write methods (create on an existing name, update/remove of a missing object). */
export class FakeApiError extends Error {
  readonly code: number;
  readonly status: Status;
  constructor(status: Status) {
    super(status.message);
    this.name = 'FakeApiError';
    this.code = status.code;
    this.status = status;
  }
}

function tooOld(rv: number, oldest: number): Status {
  // storage/cacher watch_cache.go: "too old resource version: %d (%d)" with the oldest still-held RV minus one.
  return statusOf(410, `too old resource version: ${rv} (${oldest})`, 'Expired');
}

function tooLarge(rv: number, current: number): Status {
  // storage/errors.go NewTooLargeResourceVersionError.
  return statusOf(504, `Too large resource version: ${rv}, current: ${current}`, 'Timeout', {
    causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
    retryAfterSeconds: 1,
  });
}

const CONTINUE_EXPIRED =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without ' +
  'the continue parameter, or use the continue token in this response to retrieve the remainder of the results. ' +
  'Continuing with the provided token results in an inconsistent list - objects that were created, modified, or ' +
  'deleted between the time the first chunk was returned and now may show up in the list.';

class BadRequest extends Error {}

// ---------------------------------------------------------------------------------------------------------------
// Label selectors (k8s.io/apimachinery/pkg/labels grammar)

type LabelOp = 'in' | 'notin' | 'exists' | 'notexists' | 'gt' | 'lt';
interface LabelReq {
  key: string;
  op: LabelOp;
  values: string[];
}

const QUALIFIED_NAME = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkKey(key: string): string {
  const name = key.includes('/') ? key.slice(key.indexOf('/') + 1) : key;
  const prefix = key.includes('/') ? key.slice(0, key.indexOf('/')) : '';
  if (!QUALIFIED_NAME.test(key) || name.length > 63 || prefix.length > 253) {
    throw new BadRequest(`unable to parse requirement: invalid label key ${JSON.stringify(key)}`);
  }
  return key;
}

function checkValue(v: string): string {
  if (!LABEL_VALUE.test(v) || v.length > 63) throw new BadRequest(`unable to parse requirement: invalid label value: ${JSON.stringify(v)}`);
  return v;
}

/** Splits on commas outside parentheses. */
function splitTop(s: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts;
}

/** Parses a label selector; throws on a malformed one (the server answers 400). */
function parseLabelSelector(sel: string): LabelReq[] {
  if (sel.trim() === '') return [];
  return splitTop(sel).map((raw) => {
    const part = raw.trim();
    if (part === '') throw new BadRequest(`unable to parse requirement: found '', expected: identifier (in ${JSON.stringify(sel)})`);
    let m = /^!\s*([^\s!=<>(),]+)$/.exec(part);
    if (m) return { key: checkKey(m[1]!), op: 'notexists', values: [] };
    m = /^([^\s!=<>(),]+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(part);
    if (m) {
      const values = m[3]!.split(',').map((v) => checkValue(v.trim()));
      // labels/selector.go: "for 'in', 'notin' operators, values set can't be empty".
      if (m[3]!.trim() === '') throw new BadRequest(`unable to parse requirement: values set can't be empty for ${m[2]}`);
      return { key: checkKey(m[1]!), op: m[2] as LabelOp, values };
    }
    m = /^([^\s!=<>(),]+)\s*(==|!=|=|>|<)\s*([^\s!=<>(),]*)$/.exec(part);
    if (m) {
      const key = checkKey(m[1]!);
      const value = checkValue(m[3]!);
      if (m[2] === '>' || m[2] === '<') {
        if (!/^-?\d+$/.test(value)) throw new BadRequest(`unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer`);
        return { key, op: m[2] === '>' ? 'gt' : 'lt', values: [value] };
      }
      return { key, op: m[2] === '!=' ? 'notin' : 'in', values: [value] };
    }
    m = /^([^\s!=<>(),]+)$/.exec(part);
    if (m) return { key: checkKey(m[1]!), op: 'exists', values: [] };
    throw new BadRequest(`unable to parse requirement: cannot parse ${JSON.stringify(part)}`);
  });
}

function labelsMatch(reqs: LabelReq[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case 'exists': return has;
      case 'notexists': return !has;
      case 'in': return has && r.values.includes(v!);
      // `a!=b` and `a notin (b)` also match objects without the label.
      case 'notin': return !has || !r.values.includes(v!);
      case 'gt': return has && /^-?\d+$/.test(v!) && Number(v) > Number(r.values[0]);
      case 'lt': return has && /^-?\d+$/.test(v!) && Number(v) < Number(r.values[0]);
    }
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Field selectors (k8s.io/apimachinery/pkg/fields grammar: `f=v`, `f==v`, `f!=v`, comma = AND, `\` escapes)

interface FieldReq {
  field: string;
  not: boolean;
  value: string;
}

function parseFieldSelector(sel: string, resource: Resource): FieldReq[] {
  if (sel.trim() === '') return [];
  const terms: string[] = [];
  let cur = '';
  for (let i = 0; i < sel.length; i++) {
    const c = sel[i]!;
    if (c === '\\' && i + 1 < sel.length) {
      cur += c + sel[i + 1];
      i++;
    } else if (c === ',') {
      terms.push(cur);
      cur = '';
    } else cur += c;
  }
  terms.push(cur);
  return terms.map((term) => {
    // The first unescaped operator splits field from value; `!=` and `==` win over `=` at the same position.
    let at = -1;
    let op = '';
    for (let i = 0; i < term.length && at < 0; i++) {
      if (term[i] === '\\') {
        i++;
        continue;
      }
      for (const o of ['!=', '==', '=']) {
        if (term.startsWith(o, i)) {
          at = i;
          op = o;
          break;
        }
      }
    }
    if (at < 0) throw new BadRequest(`invalid selector: '${sel}'; can't understand '${term}'`);
    const field = term.slice(0, at).trim();
    const raw = term.slice(at + op.length);
    let value = '';
    for (let i = 0; i < raw.length; i++) {
      if (raw[i] === '\\') {
        const n = raw[i + 1];
        if (n !== '\\' && n !== ',' && n !== '=') throw new BadRequest(`invalid field selector: invalid escape sequence in ${JSON.stringify(raw)}`);
        value += n;
        i++;
      } else if (raw[i] === '=' || (raw[i] === '!' && raw[i + 1] === '=')) {
        throw new BadRequest(`invalid field selector: unescaped operator in value ${JSON.stringify(raw)}`);
      } else value += raw[i];
    }
    if (field !== 'metadata.name' && field !== 'metadata.namespace' && !RESOURCES[resource].fields[field]) {
      // registry generic/registry/store.go: the conversion func rejects unknown field labels.
      throw new BadRequest(`field label not supported: ${field}`);
    }
    return { field, not: op === '!=', value };
  });
}

function fieldsMatch(reqs: FieldReq[], resource: Resource, o: StoredObject): boolean {
  return reqs.every((r) => {
    const v = r.field === 'metadata.name' ? o.metadata.name
      : r.field === 'metadata.namespace' ? o.metadata.namespace ?? ''
      : RESOURCES[resource].fields[r.field]!(o);
    return (v === r.value) !== r.not;
  });
}

/** A parsed label + field selector plus an optional namespace scope. */
interface Filter {
  namespace: string | undefined;
  labels: LabelReq[];
  fields: FieldReq[];
  /** Whether any selector was given (the apiserver only reports remainingItemCount without one). */
  selective: boolean;
}

function matches(f: Filter, resource: Resource, o: StoredObject | undefined): boolean {
  if (!o) return false;
  if (f.namespace !== undefined && o.metadata.namespace !== f.namespace) return false;
  return labelsMatch(f.labels, o.metadata.labels) && fieldsMatch(f.fields, resource, o);
}

// ---------------------------------------------------------------------------------------------------------------
// Store with history (etcd-like: one global revision counter)

interface HistoryEvent {
  rv: number;
  resource: Resource;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  key: string;
  /** The object after the event; for DELETED, the last state stamped with the deletion's RV (as etcd3 watch does). */
  object: StoredObject;
  /** The state before the event (MODIFIED, DELETED). */
  prev?: StoredObject;
}

const keyOf = (namespace: string | undefined, name: string): string => (namespace ? `${namespace}/${name}` : name);

// ---------------------------------------------------------------------------------------------------------------
// The server

/** Options of {@link FakeApiServer.start}. */
export interface FakeApiServerOptions {
  /** Port on 127.0.0.1 (default 0: chosen by the OS; kept across restart()). */
  port?: number;
  /** Require `Authorization: Bearer <token>` (or a client certificate when `clientCA`). */
  token?: string;
  /** Serve HTTPS with a certificate from {@link makeTestPKI} (see `pki`). */
  tls?: boolean;
  /** With `tls`: request a client certificate and accept one signed by the test CA as authentication. */
  clientCA?: boolean;
  /** Use this PKI instead of the default {@link makeTestPKI}(). */
  pki?: TestPKI;
  /** Events kept for watch replay and consistent continue pages (default 1000). */
  historyLimit?: number;
  /** Answer a too-old watch resourceVersion with HTTP 410 (old apiservers) instead of 200 + an ERROR event. */
  expiredAsHttp410?: boolean;
  /** Send a BOOKMARK to bookmark-enabled watches this often (default: never; the real server does about every 60 s). */
  bookmarkIntervalMs?: number;
  /** How long a list/watch with a resourceVersion ahead of the store waits before 504 "Too large" (default 3000, as the apiserver). */
  tooLargeWaitMs?: number;
  /** The first resourceVersion handed out is this plus one (default 1000). */
  initialResourceVersion?: number;
}

/** One request the fake received. */
export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  /** How the request authenticated: a valid client certificate wins over a token, as in the apiserver's union authenticator. */
  auth: 'token' | 'cert' | 'none';
  /** The HTTP status sent (0 until decided). */
  status: number;
  watch: boolean;
  /** Date.now() when the request arrived. */
  at: number;
  /** The resource addressed, if any. */
  resource?: Resource;
  verb?: Verb;
  namespace?: string;
}

/** Options of {@link FakeApiServer.failNext}. */
export interface FailOptions {
  /** HTTP status (default 500). 429 and 503 responses carry `Retry-After: 1`. */
  status?: number;
  verb?: Verb;
  resource?: Resource;
}

interface Watcher {
  resource: Resource;
  filter: Filter;
  bookmarks: boolean;
  res: http.ServerResponse;
  /** Events with an RV at or below this are not sent (the watch's starting RV). */
  sinceRv: number;
  stalled: boolean;
  ended: boolean;
  timers: NodeJS.Timeout[];
}

interface FailRule {
  left: number;
  status: number;
  verb?: Verb;
  resource?: Resource;
}

interface Route {
  resource: Resource;
  namespace: string | undefined;
  name: string | undefined;
}

const USER_TOKEN = 'system:serviceaccount:kube-system:clusterdns';

/** A fake kube-apiserver on 127.0.0.1. Create with {@link FakeApiServer.start}; always `stop()` it. */
export class FakeApiServer {
  /** `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`. */
  url = '';
  /** The port (fixed after the first listen, reused by restart()). */
  port = 0;
  /** The PKI when `tls` (CA to trust, client certificate to present). */
  readonly pki: TestPKI | undefined;
  /** Every request received, in arrival order. */
  readonly requests: RequestRecord[] = [];
  /** Switch between 200 + ERROR event (false, today's servers) and HTTP 410 (true) for too-old watch RVs. */
  expiredAsHttp410: boolean;

  readonly #opts: FakeApiServerOptions;
  readonly #objects = new Map<Resource, Map<string, StoredObject>>(ALL_RESOURCES.map((r) => [r, new Map()]));
  #history: HistoryEvent[] = [];
  #rv: number;
  /** Every event with rv > #oldest is still in #history. */
  #oldest: number;
  readonly #historyLimit: number;
  readonly #watchers = new Set<Watcher>();
  readonly #sockets = new Set<Socket>();
  readonly #stalled = new Set<Resource>();
  readonly #forbidden = new Map<Resource, Set<Verb>>();
  #fail: FailRule[] = [];
  #server: http.Server | https.Server | null = null;
  #bookmarkTimer: NodeJS.Timeout | undefined;
  #stopped = false;

  private constructor(opts: FakeApiServerOptions, pki: TestPKI | undefined) {
    this.#opts = opts;
    this.pki = pki;
    this.expiredAsHttp410 = opts.expiredAsHttp410 ?? false;
    this.#historyLimit = opts.historyLimit ?? 1000;
    this.#rv = opts.initialResourceVersion ?? 1000;
    this.#oldest = this.#rv;
  }

  /** Starts a fake apiserver listening on 127.0.0.1. */
  static async start(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    if (opts.clientCA && !opts.tls) throw new Error('fake-apiserver: clientCA needs tls');
    const pki = opts.tls ? opts.pki ?? (await makeTestPKI()) : undefined;
    const s = new FakeApiServer(opts, pki);
    s.port = opts.port ?? 0;
    await s.#listen();
    if (opts.bookmarkIntervalMs) {
      s.#bookmarkTimer = setInterval(() => s.bookmark(), opts.bookmarkIntervalMs);
      s.#bookmarkTimer.unref();
    }
    return s;
  }

  /** The current resourceVersion (the latest write's), as a string like the API's. */
  get resourceVersion(): string {
    return String(this.#rv);
  }

  // ------------------------------------------------------------------ listening

  async #listen(): Promise<void> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => this.#handle(req, res);
    let server: http.Server | https.Server;
    if (this.pki) {
      server = https.createServer({
        key: readFileSync(this.pki.serverKeyFile),
        cert: readFileSync(this.pki.serverCertFile),
        // Like kube-apiserver's --client-ca-file: ask for a certificate, but let token users in without one.
        ...(this.#opts.clientCA ? { ca: this.pki.caPem, requestCert: true, rejectUnauthorized: false } : {}),
      }, handler);
    } else {
      server = http.createServer(handler);
    }
    server.on('connection', (sock: Socket) => {
      this.#sockets.add(sock);
      sock.on('close', () => this.#sockets.delete(sock));
    });
    // Quiet client resets (dropped watches, killed clients) instead of crashing the test process.
    server.on('clientError', (_err, sock) => sock.destroy());
    server.on('tlsClientError', (_err, sock) => sock.destroy());
    // Go's apiserver keeps idle keep-alive connections ~90 s; node's 5 s default would race a client reusing a
    // pooled socket just as the server closes it (ECONNRESET) in ways a real apiserver never does.
    server.keepAliveTimeout = 90_000;
    server.headersTimeout = 95_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.#server = server;
    const addr = server.address();
    if (addr && typeof addr === 'object') this.port = addr.port;
    this.url = `${this.pki ? 'https' : 'http'}://127.0.0.1:${this.port}`;
  }

  async #closeListener(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const w of [...this.#watchers]) this.#endWatch(w, 'destroy');
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Closes every connection (keep-alive ones too) and the listener. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#bookmarkTimer);
    await this.#closeListener();
  }

  /**
   * Simulates an apiserver restart: destroys every connection, closes the listener, stays down `downMs` (clients
   * get ECONNREFUSED meanwhile), then listens again on the same port. With `newEpoch`, also behaves like etcd
   * restored from a backup: the RV counter jumps far ahead and history is dropped, so every older RV is 410.
   */
  async restart(opts: { newEpoch?: boolean; downMs?: number } = {}): Promise<void> {
    await this.#closeListener();
    if (opts.newEpoch) {
      this.#rv += 1_000_000;
      this.#dropHistory();
    }
    if (opts.downMs) await new Promise((r) => setTimeout(r, opts.downMs));
    if (!this.#stopped) await this.#listen();
  }

  // ------------------------------------------------------------------ writes

  #stamp(obj: Record<string, unknown>): { resource: Resource; key: string; stored: StoredObject } {
    const apiVersion = obj.apiVersion;
    const kind = obj.kind;
    if (typeof apiVersion !== 'string' || typeof kind !== 'string') throw new Error('fake-apiserver: object needs apiVersion and kind');
    const resource = resourceOf(kind);
    const info = RESOURCES[resource];
    if (apiVersion !== info.apiVersion) throw new Error(`fake-apiserver: ${kind} must be ${info.apiVersion}, not ${apiVersion}`);
    const stored = structuredClone(obj) as StoredObject;
    const meta = (stored.metadata ?? {}) as StoredMeta;
    stored.metadata = meta;
    if (typeof meta.name !== 'string' || meta.name === '') throw new Error(`fake-apiserver: ${kind} needs metadata.name`);
    if (info.namespaced) meta.namespace = typeof meta.namespace === 'string' && meta.namespace ? meta.namespace : 'default';
    else delete meta.namespace;
    return { resource, key: keyOf(meta.namespace, meta.name), stored };
  }

  #record(ev: HistoryEvent): void {
    this.#history.push(ev);
    while (this.#history.length > this.#historyLimit) this.#oldest = this.#history.shift()!.rv;
    for (const w of this.#watchers) {
      if (w.resource === ev.resource) this.#deliver(w, ev);
    }
  }

  /**
   * Stores a new object (stamping uid, creationTimestamp, resourceVersion; a namespaced object without a namespace
   * goes to `default`) and notifies watchers. Throws {@link FakeApiError} 409 if it exists.
   */
  create(obj: Record<string, unknown>): StoredObject {
    const { resource, key, stored } = this.#stamp(obj);
    const coll = this.#objects.get(resource)!;
    if (coll.has(key)) {
      throw new FakeApiError(statusOf(409, `${resource}${groupSuffix(resource)} "${stored.metadata.name}" already exists`, 'AlreadyExists',
        { name: stored.metadata.name, group: RESOURCES[resource].group || undefined, kind: resource }));
    }
    stored.metadata.uid = randomUUID();
    stored.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    stored.metadata.resourceVersion = String(++this.#rv);
    coll.set(key, stored);
    this.#record({ rv: this.#rv, resource, type: 'ADDED', key, object: stored });
    return structuredClone(stored);
  }

  /**
   * Replaces an existing object (keeping uid and creationTimestamp), bumps its resourceVersion and notifies
   * watchers, even when nothing changed. Unconditional: a resourceVersion in `obj` is ignored. 404 if missing.
   */
  update(obj: Record<string, unknown>): StoredObject {
    const { resource, key, stored } = this.#stamp(obj);
    const coll = this.#objects.get(resource)!;
    const prev = coll.get(key);
    if (!prev) throw new FakeApiError(notFound(resource, stored.metadata.name));
    stored.metadata.uid = prev.metadata.uid;
    stored.metadata.creationTimestamp = prev.metadata.creationTimestamp;
    stored.metadata.resourceVersion = String(++this.#rv);
    coll.set(key, stored);
    this.#record({ rv: this.#rv, resource, type: 'MODIFIED', key, object: stored, prev });
    return structuredClone(stored);
  }

  /** Creates or updates. */
  apply(obj: Record<string, unknown>): StoredObject {
    const { resource, key } = this.#stamp(obj);
    return this.#objects.get(resource)!.has(key) ? this.update(obj) : this.create(obj);
  }

  /**
   * Deletes an object and notifies watchers (DELETED carries the last state with the deletion's resourceVersion).
   * For Namespaces pass the name as `name` (namespace ignored) or as the second argument alone. No cascade.
   * Returns the deleted object; 404 if missing.
   */
  remove(kindOrResource: string, namespace: string | null | undefined, name?: string): StoredObject {
    const resource = resourceOf(kindOrResource);
    const { key, objName } = this.#keyFor(resource, namespace, name);
    const coll = this.#objects.get(resource)!;
    const prev = coll.get(key);
    if (!prev) throw new FakeApiError(notFound(resource, objName));
    coll.delete(key);
    const object = structuredClone(prev);
    object.metadata.resourceVersion = String(++this.#rv);
    this.#record({ rv: this.#rv, resource, type: 'DELETED', key, object, prev });
    return structuredClone(object);
  }

  /** The stored object (a copy), or undefined. Same addressing as {@link remove}. */
  get(kindOrResource: string, namespace: string | null | undefined, name?: string): StoredObject | undefined {
    const resource = resourceOf(kindOrResource);
    const o = this.#objects.get(resource)!.get(this.#keyFor(resource, namespace, name).key);
    return o && structuredClone(o);
  }

  /** All stored objects of a resource (copies), sorted by namespace/name. */
  list(kindOrResource: string): StoredObject[] {
    const coll = this.#objects.get(resourceOf(kindOrResource))!;
    return [...coll.keys()].sort(byKey).map((k) => structuredClone(coll.get(k)!));
  }

  #keyFor(resource: Resource, namespace: string | null | undefined, name: string | undefined): { key: string; objName: string } {
    if (RESOURCES[resource].namespaced) {
      if (!name) throw new Error(`fake-apiserver: ${resource} need a namespace and a name`);
      return { key: keyOf(namespace || 'default', name), objName: name };
    }
    const n = name ?? namespace ?? '';
    return { key: n, objName: n };
  }

  // ------------------------------------------------------------------ controls

  /** Destroys open watch sockets abruptly (the client sees a premature close, no terminating chunk). */
  dropWatches(resource?: Resource): number {
    return this.#endMatching(resource, 'destroy');
  }

  /** Ends open watch responses cleanly (terminating chunk), like a server-side timeout. */
  closeWatches(resource?: Resource): number {
    return this.#endMatching(resource, 'end');
  }

  /**
   * `on` (default): open watches of `resource` (all when omitted) stay open but receive nothing more, and new ones
   * get response headers and then nothing, like a dead TCP path. `on=false` lets only watches opened afterwards work;
   * the stalled ones stay stalled (they no longer time out either) until dropped, closed or the client gives up.
   */
  stall(resource?: Resource, on = true): void {
    for (const r of resource ? [resource] : ALL_RESOURCES) {
      if (on) this.#stalled.add(r);
      else this.#stalled.delete(r);
    }
    if (!on) return;
    for (const w of this.#watchers) {
      if (!resource || w.resource === resource) this.#stallWatch(w);
    }
  }

  /** The next `n` requests matching `verb`/`resource` (any when omitted; API resources only) fail with `status`. */
  failNext(n: number, opts: FailOptions = {}): void {
    this.#fail.push({ left: n, status: opts.status ?? 500, verb: opts.verb, resource: opts.resource });
  }

  /**
   * Forgets history, like etcd compaction: every resourceVersion handed out before this call becomes too old (410
   * for watches, lists at an exact RV and continue tokens). The counter is bumped once, as the unrelated writes of
   * a real cluster (leases, events) would have done, so the compaction point is past every RV a client holds.
   */
  compact(): void {
    this.#rv++;
    this.#dropHistory();
  }

  #dropHistory(): void {
    this.#history = [];
    this.#oldest = this.#rv;
  }

  /** Sends an in-stream ERROR event with a Status of `code` to open (non-stalled) watches, then ends them cleanly. */
  sendError(resource?: Resource, code = 410): number {
    let n = 0;
    for (const w of [...this.#watchers]) {
      if ((resource && w.resource !== resource) || w.stalled) continue;
      const status = code === 410 ? tooOld(w.sinceRv, this.#oldest) : statusOf(code, `injected error ${code}`);
      this.#write(w, 'ERROR', status);
      this.#endWatch(w, 'end');
      n++;
    }
    return n;
  }

  /** Sends a BOOKMARK at the current resourceVersion to open watches that asked for bookmarks. */
  bookmark(resource?: Resource): number {
    let n = 0;
    for (const w of this.#watchers) {
      if ((resource && w.resource !== resource) || w.stalled || !w.bookmarks) continue;
      this.#sendBookmark(w);
      n++;
    }
    return n;
  }

  /** Makes list/watch/get of `resource` answer 403 (default: every verb) until {@link allow}. */
  forbid(resource: Resource, verbs: Verb[] = ['list', 'watch', 'get']): void {
    const set = this.#forbidden.get(resource) ?? new Set<Verb>();
    for (const v of verbs) set.add(v);
    this.#forbidden.set(resource, set);
  }

  /** Undoes {@link forbid} for `resource` (all verbs). */
  allow(resource: Resource): void {
    this.#forbidden.delete(resource);
  }

  /** Open watches (of `resource`, or all), stalled ones included. */
  watchCount(resource?: Resource): number {
    let n = 0;
    for (const w of this.#watchers) if (!resource || w.resource === resource) n++;
    return n;
  }

  /** Requests of `resource`/`verb` so far (a filter over {@link requests}). */
  requestsOf(resource?: Resource, verb?: Verb): RequestRecord[] {
    return this.requests.filter((r) => (!resource || r.resource === resource) && (!verb || r.verb === verb));
  }

  /** Polls `pred` until it returns a truthy value (resolved with it); rejects after `timeoutMs` (default 5000). */
  waitFor<T>(pred: () => T, timeoutMs = 5000, what = 'condition'): Promise<NonNullable<T>> {
    return until(pred, timeoutMs, what);
  }

  // ------------------------------------------------------------------ HTTP

  #authenticate(req: http.IncomingMessage): { auth: RequestRecord['auth']; user: string | null } {
    const sock = req.socket as Partial<TLSSocket>;
    if (this.#opts.clientCA && sock.authorized && sock.getPeerCertificate) {
      const cn = sock.getPeerCertificate().subject?.CN;
      if (cn) return { auth: 'cert', user: String(cn) };
    }
    const h = req.headers.authorization;
    const bearer = h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined;
    if (this.#opts.token !== undefined && bearer === this.#opts.token) return { auth: 'token', user: USER_TOKEN };
    // With authentication configured, nothing else gets in (401); without, everyone does (as the token's user or
    // system:anonymous).
    if (this.#opts.token !== undefined || this.#opts.clientCA) return { auth: 'none', user: null };
    return bearer !== undefined ? { auth: 'token', user: USER_TOKEN } : { auth: 'none', user: 'system:anonymous' };
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const { auth, user } = this.#authenticate(req);
    const rec: RequestRecord = {
      method: req.method ?? 'GET', path: url.pathname, query, auth, status: 0, watch: false, at: Date.now(),
    };
    this.requests.push(rec);
    const send = (code: number, body: unknown, headers: Record<string, string> = {}): void => {
      rec.status = code;
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(code, {
        'Content-Type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
        'Cache-Control': 'no-cache, private',
        'Content-Length': String(Buffer.byteLength(text)),
        ...headers,
      });
      res.end(text);
    };
    const fail = (s: Status, headers?: Record<string, string>): void => send(s.code, s, headers);
    req.resume();

    if (user === null) return fail(statusOf(401, 'Unauthorized'));
    if (req.method !== 'GET') return fail(statusOf(405, `the server does not allow this method on the requested resource`));

    switch (url.pathname) {
      case '/healthz': case '/livez': case '/readyz': return send(200, 'ok');
      case '/version':
        return send(200, { major: '1', minor: '31', gitVersion: 'v1.31.0-fake', gitCommit: '0000000000000000000000000000000000000000', gitTreeState: 'clean',
          buildDate: '2026-01-01T00:00:00Z', goVersion: 'go1.22.0', compiler: 'gc', platform: 'linux/amd64' });
    }

    let route: Route | null;
    try {
      route = parsePath(url.pathname);
    } catch {
      route = null;
    }
    if (!route) return fail(statusOf(404, 'the server could not find the requested resource', 'NotFound', {}));
    const isWatch = route.name === undefined && ['true', '1', 't', 'T', 'TRUE', 'True'].includes(query.watch ?? '');
    const verb: Verb = route.name !== undefined ? 'get' : isWatch ? 'watch' : 'list';
    Object.assign(rec, { resource: route.resource, verb, watch: isWatch });
    if (route.namespace !== undefined) rec.namespace = route.namespace;

    const rule = this.#fail.find((f) => f.left > 0 && (!f.verb || f.verb === verb) && (!f.resource || f.resource === route.resource));
    if (rule) {
      rule.left--;
      this.#fail = this.#fail.filter((f) => f.left > 0);
      const s = rule.status === 410 ? tooOld(Number(query.resourceVersion) || 0, this.#oldest) : statusOf(rule.status, `injected failure ${rule.status}`);
      return fail(s, rule.status === 429 || rule.status === 503 ? { 'Retry-After': '1' } : {});
    }

    if (this.#forbidden.get(route.resource)?.has(verb)) return fail(forbidden(user, verb, route));

    try {
      if (verb === 'get') {
        const o = this.#objects.get(route.resource)!.get(keyOf(route.namespace, route.name!));
        return o ? send(200, o) : fail(notFound(route.resource, route.name!));
      }
      const filter: Filter = {
        namespace: route.namespace,
        labels: parseLabelSelector(query.labelSelector ?? ''),
        fields: parseFieldSelector(query.fieldSelector ?? '', route.resource),
        selective: Boolean(query.labelSelector || query.fieldSelector),
      };
      if (isWatch) this.#watch(route.resource, filter, query, rec, res, fail);
      else this.#list(route.resource, filter, query, (code, body) => send(code, body), fail);
    } catch (e) {
      if (e instanceof BadRequest) return fail(statusOf(400, e.message));
      throw e;
    }
  }

  // ------------------------------------------------------------------ list

  /** The objects of `resource` as they were at `rv` (which must be >= #oldest), by key. */
  #snapshot(resource: Resource, rv: number): Map<string, StoredObject> {
    const m = new Map(this.#objects.get(resource)!);
    for (let i = this.#history.length - 1; i >= 0 && this.#history[i]!.rv > rv; i--) {
      const e = this.#history[i]!;
      if (e.resource !== resource) continue;
      if (e.type === 'ADDED') m.delete(e.key);
      else m.set(e.key, e.prev!);
    }
    return m;
  }

  #list(resource: Resource, filter: Filter, q: Record<string, string>, ok: (code: number, body: unknown) => void, fail: (s: Status) => void,
    waited = 0): void {
    const rvParam = q.resourceVersion ?? '';
    const match = q.resourceVersionMatch ?? '';
    let limit = q.limit !== undefined && q.limit !== '' ? Number(q.limit) : 0;
    if (!Number.isInteger(limit)) throw new BadRequest(`limit: Invalid value: ${JSON.stringify(q.limit)}`);
    if (limit < 0) limit = 0;
    if (match && !['Exact', 'NotOlderThan'].includes(match)) throw new BadRequest(`resourceVersionMatch: Unsupported value: "${match}"`);
    if (match && rvParam === '') throw new BadRequest('resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided');
    if (rvParam !== '' && !/^\d+$/.test(rvParam)) throw new BadRequest(`resourceVersion: Invalid value: ${JSON.stringify(rvParam)}: must be an unsigned integer`);

    let snapRv = this.#rv;
    let start = '';
    if (q.continue) {
      // apimachinery validation: a continue token already pins the resourceVersion.
      if (rvParam !== '' && rvParam !== '0') throw new BadRequest('specifying resource version is not allowed when using continue');
      const tok = decodeContinue(q.continue);
      start = tok.start;
      if (tok.rv !== -1) {
        if (tok.rv < this.#oldest) {
          // storage/etcd3 store.go: a compacted continue RV answers 410 with an "inconsistent continue" token that
          // lists the rest at the latest RV.
          const s = statusOf(410, CONTINUE_EXPIRED, 'Expired');
          s.metadata.continue = encodeContinue(-1, start);
          return fail(s);
        }
        snapRv = tok.rv;
      }
    } else if (rvParam !== '' && rvParam !== '0') {
      const want = Number(rvParam);
      if (want > this.#rv) {
        // The apiserver waits (up to 3 s) for its cache to catch up before answering 504.
        const wait = this.#opts.tooLargeWaitMs ?? 3000;
        if (waited >= wait) return fail(tooLarge(want, this.#rv));
        setTimeout(() => this.#list(resource, filter, q, ok, fail, waited + 50), 50).unref();
        return;
      }
      if (match === 'Exact') {
        if (want < this.#oldest) return fail(tooOld(want, this.#oldest));
        snapRv = want;
      }
    } else if (rvParam === '0' && match === 'Exact') {
      throw new BadRequest('resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"');
    } else if (rvParam === '0') {
      // RV=0 ("any") is served from the watch cache, which ignores limit.
      limit = 0;
    }

    const snap = this.#snapshot(resource, snapRv);
    const keys = [...snap.keys()].filter((k) => filter.namespace === undefined || k.startsWith(`${filter.namespace}/`)).sort(byKey);
    let i = start ? keys.findIndex((k) => k >= start) : 0;
    if (i < 0) i = keys.length;
    const items: Record<string, unknown>[] = [];
    let last = '';
    for (; i < keys.length && (limit === 0 || items.length < limit); i++) {
      const o = snap.get(keys[i]!)!;
      last = keys[i]!;
      if (matches(filter, resource, o)) items.push(listItem(o));
    }
    const info = RESOURCES[resource];
    const metadata: Record<string, unknown> = { resourceVersion: String(snapRv) };
    if (limit > 0 && i < keys.length) {
      metadata.continue = encodeContinue(snapRv, `${last}\u0000`);
      if (!filter.selective) metadata.remainingItemCount = keys.length - i;
    }
    ok(200, { kind: `${info.kind}List`, apiVersion: info.apiVersion, metadata, items });
  }

  // ------------------------------------------------------------------ watch

  #watch(resource: Resource, filter: Filter, q: Record<string, string>, rec: RequestRecord, res: http.ServerResponse, fail: (s: Status) => void): void {
    const rvParam = q.resourceVersion ?? '';
    if (rvParam !== '' && !/^\d+$/.test(rvParam)) throw new BadRequest(`resourceVersion: Invalid value: ${JSON.stringify(rvParam)}`);
    const fromRv = rvParam === '' ? 0 : Number(rvParam);
    const initial = fromRv === 0 || q.sendInitialEvents === 'true';
    if (!initial && fromRv < this.#oldest && this.expiredAsHttp410 && !this.#stalled.has(resource)) return fail(tooOld(fromRv, this.#oldest));

    rec.status = 200;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    // Real apiservers send the headers at once; clients (client-node's informer.start()) wait for them.
    res.flushHeaders();
    const w: Watcher = {
      resource, filter, res, bookmarks: q.allowWatchBookmarks === 'true', sinceRv: fromRv, stalled: false, ended: false, timers: [],
    };
    this.#watchers.add(w);
    res.on('close', () => this.#forget(w));

    if (this.#stalled.has(resource)) {
      this.#stallWatch(w);
      return;
    }
    const timeout = q.timeoutSeconds ? Number(q.timeoutSeconds) : 0;
    if (timeout > 0) w.timers.push(setTimeout(() => this.#endWatch(w, 'end'), timeout * 1000));

    if (initial) {
      // "Get state and start at most recent": synthetic ADDED for every current match, then live events.
      const coll = this.#objects.get(resource)!;
      for (const k of [...coll.keys()].sort(byKey)) {
        const o = coll.get(k)!;
        if (matches(filter, resource, o)) this.#write(w, 'ADDED', o);
      }
      w.sinceRv = this.#rv;
      // KEP-3157 streaming lists: the end of the initial events is marked by a bookmark with this annotation.
      if (q.sendInitialEvents === 'true' && w.bookmarks) {
        this.#write(w, 'BOOKMARK', { kind: RESOURCES[resource].kind, apiVersion: RESOURCES[resource].apiVersion,
          metadata: { resourceVersion: String(this.#rv), annotations: { 'k8s.io/initial-events-end': 'true' } } });
      }
      return;
    }
    if (fromRv < this.#oldest) {
      // Today's apiservers accept the watch and report the expiry in-stream, then end it.
      this.#write(w, 'ERROR', tooOld(fromRv, this.#oldest));
      this.#endWatch(w, 'end');
      return;
    }
    if (fromRv > this.#rv) {
      const wait = this.#opts.tooLargeWaitMs ?? 3000;
      w.timers.push(setTimeout(() => {
        if (this.#rv < fromRv && !w.stalled) {
          this.#write(w, 'ERROR', tooLarge(fromRv, this.#rv));
          this.#endWatch(w, 'end');
        }
      }, wait));
      return;
    }
    for (const ev of this.#history) {
      if (ev.rv > fromRv && ev.resource === resource) this.#deliver(w, ev);
    }
  }

  /** Sends `ev` to `w` as the apiserver's cacheWatcher would: selector transitions become ADDED/DELETED. */
  #deliver(w: Watcher, ev: HistoryEvent): void {
    if (w.stalled || w.ended || ev.rv <= w.sinceRv) return;
    const now = matches(w.filter, w.resource, ev.type === 'DELETED' ? undefined : ev.object);
    const before = matches(w.filter, w.resource, ev.prev);
    if (ev.type === 'DELETED') {
      if (before) this.#write(w, 'DELETED', ev.object);
    } else if (now && before) this.#write(w, 'MODIFIED', ev.object);
    else if (now) this.#write(w, 'ADDED', ev.object);
    else if (before) {
      // storage/cacher cache_watcher.go: leaving the selector is a DELETED of the previous state at the new RV.
      const gone = structuredClone(ev.prev!);
      gone.metadata.resourceVersion = String(ev.rv);
      this.#write(w, 'DELETED', gone);
    }
  }

  #sendBookmark(w: Watcher): void {
    const info = RESOURCES[w.resource];
    this.#write(w, 'BOOKMARK', { kind: info.kind, apiVersion: info.apiVersion, metadata: { resourceVersion: String(this.#rv) } });
  }

  #write(w: Watcher, type: EventType, object: unknown): void {
    if (w.ended) return;
    w.res.write(JSON.stringify({ type, object }) + '\n');
  }

  #stallWatch(w: Watcher): void {
    w.stalled = true;
    for (const t of w.timers) clearTimeout(t);
    w.timers = [];
  }

  #endWatch(w: Watcher, how: 'end' | 'destroy'): void {
    if (w.ended) return;
    w.ended = true;
    if (how === 'end') w.res.end();
    else w.res.socket?.destroy();
    this.#forget(w);
  }

  #forget(w: Watcher): void {
    w.ended = true;
    for (const t of w.timers) clearTimeout(t);
    this.#watchers.delete(w);
  }

  #endMatching(resource: Resource | undefined, how: 'end' | 'destroy'): number {
    let n = 0;
    for (const w of [...this.#watchers]) {
      if (resource && w.resource !== resource) continue;
      this.#endWatch(w, how);
      n++;
    }
    return n;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

const byKey = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const groupSuffix = (r: Resource): string => (RESOURCES[r].group ? `.${RESOURCES[r].group}` : '');

function listItem(o: StoredObject): Record<string, unknown> {
  // Items of a real list carry no kind/apiVersion (the list has them).
  const { kind: _k, apiVersion: _a, ...rest } = o;
  return rest;
}

function notFound(resource: Resource, name: string): Status {
  const details: Record<string, unknown> = { name, kind: resource };
  if (RESOURCES[resource].group) details.group = RESOURCES[resource].group;
  return statusOf(404, `${resource}${groupSuffix(resource)} "${name}" not found`, 'NotFound', details);
}

function forbidden(user: string, verb: Verb, route: Route): Status {
  // pkg/registry/rbac + endpoints/handlers/responsewriters: the wording of an RBAC denial.
  const { group } = RESOURCES[route.resource];
  const what = route.name !== undefined ? `${route.resource}${groupSuffix(route.resource)} "${route.name}"` : `${route.resource}${groupSuffix(route.resource)}`;
  const scope = route.namespace !== undefined ? `in the namespace "${route.namespace}"` : 'at the cluster scope';
  const details: Record<string, unknown> = {};
  if (route.name !== undefined) details.name = route.name;
  if (group) details.group = group;
  details.kind = route.resource;
  return statusOf(403, `${what} is forbidden: User "${user}" cannot ${verb} resource "${route.resource}" in API group "${group}" ${scope}`,
    'Forbidden', details);
}

/** Maps a request path to a resource route, or null (404). */
function parsePath(pathname: string): Route | null {
  const segs = pathname.split('/').filter((s) => s !== '').map(decodeURIComponent);
  let group: string;
  let rest: string[];
  if (segs[0] === 'api' && segs[1] === 'v1') {
    group = '';
    rest = segs.slice(2);
  } else if (segs[0] === 'apis' && segs[1] === 'discovery.k8s.io' && segs[2] === 'v1') {
    group = 'discovery.k8s.io';
    rest = segs.slice(3);
  } else return null;
  const inGroup = (r: string | undefined): Resource | null =>
    r !== undefined && (ALL_RESOURCES as readonly string[]).includes(r) && RESOURCES[r as Resource].group === group ? (r as Resource) : null;
  if (rest.length === 3 || rest.length === 4) {
    // /namespaces/{ns}/{resource}[/{name}]
    const r = inGroup(rest[2]);
    if (rest[0] !== 'namespaces' || !r || !RESOURCES[r].namespaced) return null;
    return { resource: r, namespace: rest[1], name: rest[3] };
  }
  if (rest.length === 1 || rest.length === 2) {
    const r = inGroup(rest[0]);
    if (!r) return null;
    // A single namespaced object needs its namespace in the path.
    if (rest.length === 2 && RESOURCES[r].namespaced) return null;
    return { resource: r, namespace: undefined, name: rest[1] };
  }
  return null;
}

/** A continue token as etcd3 store makes it: base64url of {"v":"meta.k8s.io/v1","rv":N,"start":"<key>\0"}. */
function encodeContinue(rv: number, start: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start })).toString('base64url');
}

function decodeContinue(token: string): { rv: number; start: string } {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { v?: unknown; rv?: unknown; start?: unknown };
    if (t.v === 'meta.k8s.io/v1' && typeof t.rv === 'number' && typeof t.start === 'string' && t.start !== '') return { rv: t.rv, start: t.start };
  } catch {
    // fall through to the 400 below
  }
  throw new BadRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
}

/**
 * Polls `pred` every 10 ms until it returns a truthy value and resolves with that value; rejects with an Error naming
 * `what` after `timeoutMs` (default 5000).
 */
export async function until<T>(pred: () => T, timeoutMs = 5000, what = 'condition'): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = pred();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// kubeconfig

/** One context of a kubeconfig written by {@link writeKubeconfig}. */
export interface KubeconfigContext {
  /** Context name (also used for its cluster and user). */
  name: string;
  server: string;
  token?: string;
  caFile?: string;
  clientCertFile?: string;
  clientKeyFile?: string;
  /** `insecure-skip-tls-verify` (default: true for http:// servers, which client-node 1.x requires, else false). */
  insecure?: boolean;
  namespace?: string;
}

/** Options of {@link writeKubeconfig}: the good context plus extra ones. */
export interface KubeconfigOptions extends Omit<KubeconfigContext, 'name'> {
  /** Name of the good context (default `fake`). */
  context?: string;
  /** `current-context` (default: the good context). */
  currentContext?: string;
  /**
   * Add a context named `wrong` (same credentials, server https://127.0.0.1:1 where nothing listens) unless false;
   * a test of `kubeconfig FILE CONTEXT` sets `currentContext: 'wrong'` and names the good one.
   */
  wrong?: boolean;
  /** More contexts. */
  contexts?: KubeconfigContext[];
}

/**
 * Writes a kubeconfig YAML file that @kubernetes/client-node's `KubeConfig.loadFromFile` accepts (clusters, users,
 * contexts, current-context; file paths for certificate-authority, client-certificate, client-key). Returns `path`.
 */
export function writeKubeconfig(path: string, opts: KubeconfigOptions): string {
  const good: KubeconfigContext = { ...opts, name: opts.context ?? 'fake' };
  const all: KubeconfigContext[] = [good];
  if (opts.wrong !== false) all.push({ ...good, name: 'wrong', server: 'https://127.0.0.1:1' });
  all.push(...(opts.contexts ?? []));
  const doc = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: all.map((c) => ({
      name: c.name,
      cluster: {
        server: c.server,
        ...(c.caFile ? { 'certificate-authority': c.caFile } : {}),
        ...((c.insecure ?? c.server.startsWith('http:')) ? { 'insecure-skip-tls-verify': true } : {}),
      },
    })),
    users: all.map((c) => ({
      name: c.name,
      user: {
        ...(c.token ? { token: c.token } : {}),
        ...(c.clientCertFile ? { 'client-certificate': c.clientCertFile } : {}),
        ...(c.clientKeyFile ? { 'client-key': c.clientKeyFile } : {}),
      },
    })),
    contexts: all.map((c) => ({ name: c.name, context: { cluster: c.name, user: c.name, ...(c.namespace ? { namespace: c.namespace } : {}) } })),
    'current-context': opts.currentContext ?? good.name,
    preferences: {},
  };
  writeFileSync(path, YAML.stringify(doc));
  return path;
}
