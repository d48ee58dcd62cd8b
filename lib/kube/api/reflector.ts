/**
 * A reflector keeps one API collection (say, all Services, or the EndpointSlices of one namespace) mirrored into the
 * cluster model: list (paged), then watch from the list's resourceVersion, forever.
 *
 * Unlike client-node 1.4's informer (see ecosystem.md §1.6) it recovers from everything by itself:
 * - network errors, HTTP errors and failed lists retry with capped, jittered exponential backoff;
 * - 410 Gone (an expired resourceVersion, in the HTTP status or as an in-stream ERROR) re-lists;
 * - a watch that receives nothing (not even a bookmark) for `stallMs` is dropped and re-opened from its
 *   resourceVersion (a dead TCP path otherwise stalls it silently for many minutes);
 * - a clean end (the apiserver's `timeoutSeconds`) re-watches at once, without a re-list;
 * - an exception while applying events is logged and answered with a re-list; it never reaches the process.
 * Objects are converted to slim shapes as they arrive, page by page, so a re-list never holds the raw objects of
 * the whole collection: it builds the new slim listing and replaces that kind in the model in one batch.
 */
import { channel } from 'node:diagnostics_channel';
import type { Logger } from 'pino';
import type { ChangeEvent, Kind, KindMap, ModelSink } from '../types.js';
import { SlimPool, type SlimPoolOptions } from '../slim.js';
import { ApiError, apiError, readBody, type ApiClient } from './client.js';

/** Which collection a reflector mirrors and how to convert its objects. */
export interface CollectionSpec<K extends Kind = Kind> {
  kind: K;
  /** Plural resource name, as RBAC names it: `services`, `endpointslices`, `namespaces`, `pods`. */
  resource: string;
  /** API group ('' for core). */
  group: string;
  /** Collection path, e.g. `/api/v1/services` or `/api/v1/namespaces/team-a/services`. */
  path: string;
  /** The namespace the path is restricted to; '' for all namespaces (or cluster-scoped kinds). */
  namespace: string;
  labelSelector: string;
  fieldSelector: string;
  /** Raw API object → slim object; throws on garbage. `pool` shares strings within one listing. */
  slim(raw: unknown, pool?: SlimPool): KindMap[K];
}

/** Timings; the defaults suit a real cluster, tests shorten them. */
export interface ReflectorTiming {
  /** `limit` of each list page. */
  pageSize: number;
  /** The watch `timeoutSeconds` is drawn from [min, max) so many servers' watches do not expire together. */
  watchTimeoutSeconds: readonly [number, number];
  /** A watch with no bytes for this long is considered dead. Bookmarks arrive about once a minute. */
  stallMs: number;
  /** Backoff after failures: first delay and cap (jitter ±20%). */
  backoffInitialMs: number;
  backoffMaxMs: number;
  /** A watch that stayed open this long (or delivered an event) resets the backoff. */
  healthyMs: number;
  /** A list that sends nothing (headers or body) for this long, or a watch without headers, is abandoned. */
  requestTimeoutMs: number;
}

export const DEFAULT_TIMING: ReflectorTiming = {
  pageSize: 500,
  watchTimeoutSeconds: [300, 600],
  stallMs: 150_000,
  backoffInitialMs: 500,
  backoffMaxMs: 30_000,
  healthyMs: 10_000,
  requestTimeoutMs: 60_000,
};

/**
 * Timing overrides from the environment, for tests and unusual networks (not Corefile options: CoreDNS has none):
 * CLUSTERDNS_API_PAGE_SIZE, CLUSTERDNS_API_WATCH_TIMEOUT_SECONDS (one number or `min-max`), CLUSTERDNS_API_STALL_MS,
 * CLUSTERDNS_API_BACKOFF_INITIAL_MS, CLUSTERDNS_API_BACKOFF_MAX_MS, CLUSTERDNS_API_HEALTHY_MS, CLUSTERDNS_API_REQUEST_TIMEOUT_MS.
 * @throws Error naming the variable when a value is not a positive number.
 */
export function timingFromEnv(env: NodeJS.ProcessEnv): Partial<ReflectorTiming> {
  const out: { -readonly [K in keyof ReflectorTiming]?: ReflectorTiming[K] } = {};
  const num = (name: string): number | undefined => {
    const v = env[name];
    if (v === undefined || v === '') return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got ${JSON.stringify(v)}`);
    return n;
  };
  const page = num('CLUSTERDNS_API_PAGE_SIZE');
  if (page !== undefined) out.pageSize = Math.floor(page);
  const wt = env.CLUSTERDNS_API_WATCH_TIMEOUT_SECONDS;
  if (wt) {
    const [a, b = a] = wt.split('-').map(Number);
    // Whole seconds: the API takes an integer, and 0 would mean no server-side timeout at all.
    if (!Number.isInteger(a) || !Number.isInteger(b) || !(a! >= 1) || !(b! >= a!)) throw new Error(`CLUSTERDNS_API_WATCH_TIMEOUT_SECONDS must be N or MIN-MAX, got ${JSON.stringify(wt)}`);
    out.watchTimeoutSeconds = [a!, b!];
  }
  const stall = num('CLUSTERDNS_API_STALL_MS');
  if (stall !== undefined) out.stallMs = stall;
  const bi = num('CLUSTERDNS_API_BACKOFF_INITIAL_MS');
  if (bi !== undefined) out.backoffInitialMs = bi;
  const bm = num('CLUSTERDNS_API_BACKOFF_MAX_MS');
  if (bm !== undefined) out.backoffMaxMs = bm;
  const healthy = num('CLUSTERDNS_API_HEALTHY_MS');
  if (healthy !== undefined) out.healthyMs = healthy;
  const request = num('CLUSTERDNS_API_REQUEST_TIMEOUT_MS');
  if (request !== undefined) out.requestTimeoutMs = request;
  return out;
}

/** Why a watch was re-opened, the `reason` label of the restart metric. */
export type RestartReason = 'timeout' | 'expired' | 'stalled' | 'error' | 'apply';

/** What a reflector reports (metrics and the source's sync bookkeeping). */
export interface ReflectorHooks {
  /** A list completed and was applied. `first` is the reflector's first successful list. */
  listed?(spec: CollectionSpec, objects: number, pages: number, ms: number, first: boolean): void;
  /** Watch events were received (before applying). */
  events?(spec: CollectionSpec, count: number): void;
  /** A batch of watch events was applied: seconds from their arrival until the model (and zone) had them. */
  applied?(spec: CollectionSpec, seconds: number): void;
  restarted?(spec: CollectionSpec, reason: RestartReason): void;
}

/**
 * Name of the diagnostics channel on which every applied batch of watch events is published as
 * {@link AppliedMessage}, for tracing tools and benchmarks (bench/stall-hook.mjs lines programming-latency samples up
 * with it). Publishing costs nothing while nobody subscribes.
 */
export const APPLIED_CHANNEL = 'clusterdns:kubernetes:applied';

/** What {@link APPLIED_CHANNEL} carries: times are `performance.now()` milliseconds of this process. */
export interface AppliedMessage {
  resource: string;
  /** Object events in the batch. */
  events: number;
  /** When the chunk holding the batch's last line was received. */
  arrived: number;
  /** When the model, the zone and the caches had the batch (what `clusterdns_kubernetes_event_programming_seconds` ends at). */
  applied: number;
}

const appliedChannel = channel(APPLIED_CHANNEL);

/** Capped exponential backoff with ±20% jitter. */
export class Backoff {
  #next: number;
  constructor(
    readonly initialMs: number,
    readonly maxMs: number,
    readonly random: () => number = Math.random,
  ) {
    this.#next = initialMs;
  }
  /** The next delay; each call doubles the base up to the cap. */
  delay(): number {
    const base = this.#next;
    this.#next = Math.min(this.#next * 2, this.maxMs);
    return Math.round(base * (0.8 + 0.4 * this.random()));
  }
  reset(): void {
    this.#next = this.initialMs;
  }
}

type WatchEnd = 'timeout' | 'expired' | 'stalled' | 'quick';

interface RawEvent {
  type?: unknown;
  object?: { metadata?: { resourceVersion?: unknown }; code?: unknown; reason?: unknown; message?: unknown };
}

/** Mirrors one collection into a ModelSink until stopped. */
export class Reflector<K extends Kind = Kind> {
  readonly spec: CollectionSpec<K>;
  readonly #client: ApiClient;
  readonly #sink: ModelSink;
  readonly #log: Logger | undefined;
  readonly #timing: ReflectorTiming;
  readonly #hooks: ReflectorHooks;
  readonly #backoff: Backoff;
  readonly #stop = new AbortController();
  #rv: string | null = null;
  #synced = false;
  #running: Promise<void> | null = null;
  #sleepTimer: NodeJS.Timeout | null = null;
  #wakeSleep: (() => void) | null = null;
  // The condition last logged, so a persistent failure is logged once, not on every retry.
  #problem = '';
  // Whether this server ever sent us a bookmark: only then is a silent watch surely stalled.
  #sawBookmark = false;
  readonly #poolOptions: SlimPoolOptions;
  // Objects whose conversion failed are reported once per name and resourceVersion.
  readonly #badObjects = new Set<string>();

  constructor(
    spec: CollectionSpec<K>,
    client: ApiClient,
    sink: ModelSink,
    opts: { log?: Logger; timing?: ReflectorTiming; hooks?: ReflectorHooks; poolOptions?: SlimPoolOptions } = {},
  ) {
    this.#poolOptions = opts.poolOptions ?? {};
    this.spec = spec;
    this.#client = client;
    this.#sink = sink;
    this.#log = opts.log;
    this.#timing = opts.timing ?? DEFAULT_TIMING;
    this.#hooks = opts.hooks ?? {};
    this.#backoff = new Backoff(this.#timing.backoffInitialMs, this.#timing.backoffMaxMs);
  }

  /** True once the first list has been applied. */
  get synced(): boolean {
    return this.#synced;
  }

  /** The resourceVersion the next watch starts from (null: a list is due). */
  get resourceVersion(): string | null {
    return this.#rv;
  }

  /** Starts the list/watch loop (once). */
  start(): void {
    this.#running ??= this.#loop();
  }

  /** Stops: aborts the request in flight, cancels any backoff wait and resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.#stop.abort(new StopError());
    if (this.#sleepTimer) clearTimeout(this.#sleepTimer);
    this.#wakeSleep?.();
    await this.#running;
  }

  get #stopped(): boolean {
    return this.#stop.signal.aborted;
  }

  async #loop(): Promise<void> {
    try {
      await this.#cycle();
    } catch (err) {
      // Only a bug in the loop's own bookkeeping can get here; it must not become an unhandled rejection.
      this.#log?.error({ resource: this.spec.resource, err }, 'plugin/kubernetes: reflector stopped by an internal error');
    }
  }

  async #cycle(): Promise<void> {
    let expiredInARow = 0;
    while (!this.#stopped) {
      let delay = 0;
      try {
        if (this.#rv === null) await this.#list();
        const end = await this.#watch();
        if (end === 'expired') {
          this.#rv = null;
          this.#hooks.restarted?.(this.spec, 'expired');
          // A second 410 in a row (a server that keeps expiring us) backs off instead of hammering it; the backoff
          // only resets once a watch has been healthy, so it grows while this goes on.
          delay = ++expiredInARow > 1 ? this.#backoff.delay() : 0;
          this.#log?.info({ resource: this.spec.resource, namespace: this.spec.namespace || undefined }, 'watch expired (410 Gone), re-listing');
        } else {
          if (end !== 'quick') expiredInARow = 0;
          this.#hooks.restarted?.(this.spec, end === 'quick' ? 'timeout' : end);
          if (end === 'stalled') {
            // Without bookmarks (a watch cache turned off, some proxies) a quiet watch looks stalled: re-opening it
            // is cheap and harmless, so that is only worth a warning when this server does send bookmarks.
            const level = this.#sawBookmark ? 'warn' : 'debug';
            this.#log?.[level]({ resource: this.spec.resource, stallMs: this.#timing.stallMs }, 'watch received nothing for too long; re-opening it');
          }
          // A watch the server ends as soon as it opens gets the backoff, so a broken proxy is not hammered.
          if (end === 'quick') delay = this.#backoff.delay();
        }
      } catch (err) {
        if (this.#stopped) break;
        if (err instanceof ApiError && err.status === 410) {
          // An expired continue token mid-list: start the list again (at once the first time).
          this.#rv = null;
          delay = ++expiredInARow > 1 ? this.#backoff.delay() : 0;
          this.#hooks.restarted?.(this.spec, 'expired');
        } else {
          if (err instanceof ApiError && err.inStream && err.status !== 429) {
            // client-go re-lists after a watch error event: a resourceVersion the server cannot serve (504 "Too
            // large resource version" after etcd was restored from a backup, say) would otherwise be retried forever.
            this.#rv = null;
          }
          delay = this.#backoff.delay();
          // The server said when to come back (429, 503): not sooner.
          if (err instanceof ApiError && err.retryAfterMs > delay) delay = err.retryAfterMs;
          this.#report(err, delay);
          this.#hooks.restarted?.(this.spec, err instanceof ApplyError ? 'apply' : 'error');
        }
      }
      if (delay > 0) await this.#sleep(delay);
    }
  }

  /** Lists the whole collection page by page and replaces it in the model. */
  async #list(): Promise<void> {
    const started = performance.now();
    const objects: KindMap[K][] = [];
    let cont = '';
    let rv = '';
    let pages = 0;
    // One pool per listing: a big list shares its repeated strings, and nothing outlives the listing (a pool kept
    // for the process's life would hold every string ever seen).
    const pool = new SlimPool(this.#poolOptions);
    do {
      const query: Record<string, string> = { limit: String(this.#timing.pageSize) };
      if (cont) query.continue = cont;
      this.#addSelectors(query);
      const list = await this.#client.getList(this.spec.path, query, this.#stop.signal, this.#timing.requestTimeoutMs, (raw) => {
        const obj = this.#convert(raw, pool);
        if (obj) objects.push(obj);
      });
      if (this.#stopped) return;
      pages++;
      rv = typeof list.metadata?.resourceVersion === 'string' ? list.metadata.resourceVersion : '';
      cont = typeof list.metadata?.continue === 'string' ? list.metadata.continue : '';
    } while (cont);
    const ns = this.spec.namespace;
    try {
      this.#sink.replaceKind(this.spec.kind, objects, ns ? (o) => o.namespace === ns : undefined);
    } catch (err) {
      throw new ApplyError(err);
    }
    this.#rv = rv;
    const first = !this.#synced;
    this.#synced = true;
    this.#recovered();
    this.#hooks.listed?.(this.spec, objects.length, pages, performance.now() - started, first);
  }

  /** Opens a watch from the current resourceVersion and applies its events until it ends. */
  async #watch(): Promise<WatchEnd> {
    const perWatch = new AbortController();
    const signal = AbortSignal.any([this.#stop.signal, perWatch.signal]);
    const [lo, hi] = this.#timing.watchTimeoutSeconds;
    const query: Record<string, string> = {
      watch: 'true',
      resourceVersion: this.#rv ?? '',
      allowWatchBookmarks: 'true',
      timeoutSeconds: String(Math.floor(lo + Math.random() * Math.max(0, hi - lo))),
    };
    this.#addSelectors(query);
    const opened = performance.now();
    const res = await this.#client.get(this.spec.path, query, signal, { watch: true, timeoutMs: this.#timing.requestTimeoutMs });
    const status = res.statusCode ?? 0;
    if (status !== 200) {
      const body = await readBody(res).catch(() => '');
      if (status === 410) return 'expired';
      throw apiError(status, body, res.headers['retry-after']);
    }
    this.#recovered();
    return new Promise<WatchEnd>((resolve, reject) => {
      let settled = false;
      let delivered = false;
      let stallTimer: NodeJS.Timeout | null = null;
      const finish = (end: WatchEnd | Error): void => {
        if (settled) return;
        settled = true;
        if (stallTimer) clearTimeout(stallTimer);
        // A watch that worked for a while earned a fresh backoff, however it ended: rare drops hours apart must not
        // ramp the delay up to its cap.
        const healthy = delivered || performance.now() - opened >= this.#timing.healthyMs;
        if (healthy) this.#backoff.reset();
        if (end instanceof Error) {
          perWatch.abort();
          reject(end);
          return;
        }
        if (end !== 'timeout') perWatch.abort();
        resolve(end === 'timeout' && !healthy ? 'quick' : end);
      };
      const arm = (): void => {
        if (stallTimer) clearTimeout(stallTimer);
        stallTimer = setTimeout(() => finish('stalled'), this.#timing.stallMs);
        stallTimer.unref?.();
      };
      arm();
      let buffered = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (settled) return;
        const arrived = performance.now();
        arm();
        buffered += chunk;
        const cut = buffered.lastIndexOf('\n');
        if (cut < 0) return;
        const lines = buffered.slice(0, cut).split('\n');
        buffered = buffered.slice(cut + 1);
        try {
          const outcome = this.#handleLines(lines, arrived);
          if (outcome === 'expired') return finish('expired');
          if (outcome > 0) delivered = true;
        } catch (err) {
          finish(err as Error);
        }
      });
      res.on('end', () => {
        if (settled) return;
        try {
          if (buffered.trim() && this.#handleLines([buffered], performance.now()) === 'expired') return finish('expired');
        } catch (err) {
          return finish(err as Error);
        }
        finish('timeout');
      });
      res.on('close', () => {
        if (!res.complete) finish(new WatchLost(this.#stopped ? 'stopped' : 'watch connection closed before the end of the stream'));
      });
      res.on('error', (err) => finish(err));
    });
  }

  /**
   * Converts and applies the complete event lines of one chunk as one batch. Returns the number of applied
   * object events, or 'expired' for an in-stream 410.
   * @throws ApiError for other in-stream errors, ApplyError when the model rejects the batch.
   */
  #handleLines(lines: string[], arrived: number): number | 'expired' {
    const batch: ChangeEvent[] = [];
    const pool = new SlimPool(this.#poolOptions);
    let rv = this.#rv;
    let expired = false;
    for (const line of lines) {
      if (!line.trim()) continue;
      let ev: RawEvent;
      try {
        ev = JSON.parse(line) as RawEvent;
      } catch {
        throw new ApiError(0, 'BadResponse', `unparsable watch event: ${line.slice(0, 80)}`);
      }
      const type = ev.type;
      if (type === 'ERROR') {
        const code = Number(ev.object?.code ?? 0);
        if (code === 410) {
          expired = true;
          break;
        }
        const err = new ApiError(code, String(ev.object?.reason ?? ''), String(ev.object?.message ?? 'watch error event'), { inStream: true });
        throw err;
      }
      const evRV = ev.object?.metadata?.resourceVersion;
      if (typeof evRV === 'string' && evRV) rv = evRV;
      if (type === 'BOOKMARK') {
        this.#sawBookmark = true;
        continue;
      }
      if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') continue;
      const obj = this.#convert(ev.object, pool);
      if (!obj) {
        // A deletion needs only the name: an object we cannot convert must not outlive its deletion.
        const m = ev.object?.metadata as { namespace?: unknown; name?: unknown } | undefined;
        if (type === 'DELETED' && typeof m?.name === 'string') {
          const ref = { namespace: typeof m.namespace === 'string' ? m.namespace : '', name: m.name };
          batch.push({ kind: this.spec.kind, type: 'deleted', old: ref } as unknown as ChangeEvent);
        }
        continue;
      }
      batch.push((type === 'DELETED' ? { kind: this.spec.kind, type: 'deleted', old: obj } : { kind: this.spec.kind, type: type === 'ADDED' ? 'added' : 'modified', obj }) as ChangeEvent);
    }
    if (batch.length > 0) {
      this.#hooks.events?.(this.spec, batch.length);
      try {
        this.#sink.apply(batch);
      } catch (err) {
        // The model may be half-written: a re-list puts it right.
        this.#rv = null;
        throw new ApplyError(err);
      }
      const applied = performance.now();
      this.#hooks.applied?.(this.spec, (applied - arrived) / 1000);
      if (appliedChannel.hasSubscribers) {
        appliedChannel.publish({ resource: this.spec.resource, events: batch.length, arrived, applied } satisfies AppliedMessage);
      }
    }
    this.#rv = rv;
    return expired ? 'expired' : batch.length;
  }

  #convert(raw: unknown, pool: SlimPool): KindMap[K] | null {
    try {
      return this.spec.slim(raw, pool);
    } catch (err) {
      const meta = (raw as { metadata?: { namespace?: string; name?: string; resourceVersion?: string } } | null)?.metadata;
      const id = `${meta?.namespace ?? ''}/${meta?.name ?? '?'}@${meta?.resourceVersion ?? ''}`;
      if (!this.#badObjects.has(id)) {
        if (this.#badObjects.size > 1000) this.#badObjects.clear();
        this.#badObjects.add(id);
        this.#log?.warn({ resource: this.spec.resource, object: id }, `ignoring an object DNS cannot use: ${(err as Error).message}`);
      }
      return null;
    }
  }

  #addSelectors(query: Record<string, string>): void {
    if (this.spec.labelSelector) query.labelSelector = this.spec.labelSelector;
    if (this.spec.fieldSelector) query.fieldSelector = this.spec.fieldSelector;
  }

  #report(err: unknown, delayMs: number): void {
    const what = describeFailure(this.spec, err);
    if (what === this.#problem) {
      this.#log?.debug({ resource: this.spec.resource, retryInMs: delayMs }, what);
      return;
    }
    this.#problem = what;
    const fields = { resource: this.spec.resource, namespace: this.spec.namespace || undefined, retryInMs: delayMs };
    if (err instanceof ApplyError) this.#log?.error({ ...fields, err: err.cause }, what);
    // Being asked to slow down is the server working as designed, not a failure.
    else if (err instanceof ApiError && err.status === 429) this.#log?.warn(fields, what);
    else this.#log?.error(fields, what);
  }

  #recovered(): void {
    if (!this.#problem) return;
    this.#log?.info({ resource: this.spec.resource, namespace: this.spec.namespace || undefined }, 'Kubernetes API connection recovered');
    this.#problem = '';
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.#stopped) return resolve();
      this.#wakeSleep = resolve;
      this.#sleepTimer = setTimeout(resolve, ms);
    }).then(() => {
      this.#sleepTimer = null;
      this.#wakeSleep = null;
    });
  }
}

/** The reflector's own stop, distinguishable from real failures. */
class StopError extends Error {
  constructor() {
    super('stopped');
  }
}

/** A watch connection that ended without the end of its stream. */
class WatchLost extends Error {}

/** The model threw while applying a batch: a bug, answered with a re-list. */
class ApplyError extends Error {
  constructor(cause: unknown) {
    super(`applying ${String((cause as Error)?.message ?? cause)}`, { cause });
  }
}

/** The resource as RBAC and error messages name it: `endpointslices.discovery.k8s.io`. */
function qualified(spec: CollectionSpec): string {
  return spec.group ? `${spec.resource}.${spec.group}` : spec.resource;
}

/** One clear sentence for a failure, naming the missing permission for 401/403. */
export function describeFailure(spec: CollectionSpec, err: unknown): string {
  const scope = spec.namespace ? `in namespace ${spec.namespace}` : 'at the cluster scope';
  if (err instanceof ApiError) {
    if (err.status === 403) {
      return (
        `plugin/kubernetes: permission denied: cannot list/watch ${qualified(spec)} ${scope}; ` +
        `grant the verbs list and watch on "${spec.resource}" in API group "${spec.group}" to this server's identity ` +
        `(ClusterRole system:coredns). The API said: ${err.message}`
      );
    }
    if (err.status === 401) {
      return `plugin/kubernetes: unauthorized: the API server rejected our credentials (token or client certificate) for ${qualified(spec)}: ${err.message}`;
    }
    return `plugin/kubernetes: ${qualified(spec)} ${scope}: ${err.status ? `HTTP ${err.status}` : 'bad response'}${err.reason ? ` ${err.reason}` : ''}: ${err.message}`;
  }
  if (err instanceof ApplyError) return `plugin/kubernetes: failed to apply ${qualified(spec)} changes; re-listing: ${err.message}`;
  const e = err as NodeJS.ErrnoException;
  return `plugin/kubernetes: ${qualified(spec)} ${scope}: ${e?.code ? `${e.code} ` : ''}${e?.message ?? String(err)}`;
}
