/**
 * GET requests to the Kubernetes API over one keep-alive agent, with the Corefile's client limits
 * (`apiserver_qps`, `apiserver_burst`, `apiserver_max_inflight`) and a hook for request metrics.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { ApiConnection } from './connection.js';
import { BadListPage, readListPage, type ListEnvelope } from './list-page.js';

/** Request counts and timings, for `coredns_kubernetes_rest_client_*` metrics. */
export interface RequestObserver {
  /** One request finished its headers (status) or failed before them (status 0). */
  request(method: string, host: string, status: number, seconds: number): void;
  /** Time spent waiting for the client-side rate limiter. */
  rateLimited?(method: string, host: string, seconds: number): void;
}

/** Client limits; 0 means unlimited. */
export interface ClientLimits {
  qps: number;
  burst: number;
  /** Concurrent non-watch requests. Watches are long-running and, as in the apiserver's own limit, not counted. */
  maxInflight: number;
}

/** A non-2xx answer, with the Status object's reason and message when the API sent one. */
export class ApiError extends Error {
  /** How long the server asked us to wait (`Retry-After`, or the Status's `details.retryAfterSeconds`); 0 if not. */
  readonly retryAfterMs: number;
  /** The error came as an ERROR event inside a watch stream, not as an HTTP status. */
  readonly inStream: boolean;
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    o: { retryAfterMs?: number; inStream?: boolean } = {},
  ) {
    super(message);
    this.retryAfterMs = o.retryAfterMs ?? 0;
    this.inStream = o.inStream ?? false;
  }
}

/** A request that sent nothing for too long. */
export class RequestTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
}

/** A token bucket: `qps` tokens a second, at most `burst` saved up (burst 0 = qps rounded up, at least 1). */
class RateLimiter {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #last = performance.now();
  constructor(qps: number, burst: number) {
    this.#rate = qps;
    this.#burst = burst > 0 ? burst : Math.max(1, Math.ceil(qps));
    this.#tokens = this.#burst;
  }
  /** Milliseconds to wait before the next request may start (and takes its token). */
  reserve(): number {
    const now = performance.now();
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#rate);
    this.#last = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.#rate) * 1000;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    function done(): void {
      signal?.removeEventListener('abort', abort);
      resolve();
    }
    function abort(): void {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener('abort', abort, { once: true });
  });
}

/** Reads a whole response body as text. */
export function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('response aborted')));
  });
}

/**
 * Builds an ApiError from a non-2xx response body (a `Status` object when the apiserver wrote it) and its
 * `Retry-After` header (seconds).
 */
export function apiError(status: number, body: string, retryAfter?: string | string[]): ApiError {
  let reason = '';
  let message = body.trim().slice(0, 300) || `HTTP ${status}`;
  let retryAfterMs = 0;
  const header = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
  if (Number.isFinite(header) && header > 0) retryAfterMs = header * 1000;
  try {
    const s = JSON.parse(body) as { reason?: unknown; message?: unknown; details?: { retryAfterSeconds?: unknown } };
    if (typeof s.reason === 'string') reason = s.reason;
    if (typeof s.message === 'string' && s.message) message = s.message;
    const secs = Number(s.details?.retryAfterSeconds);
    if (!retryAfterMs && Number.isFinite(secs) && secs > 0) retryAfterMs = secs * 1000;
  } catch {
    // Not JSON (a proxy's HTML page, say): keep the text.
  }
  // Never wait longer than a minute on the server's word.
  return new ApiError(status, reason, message, { retryAfterMs: Math.min(retryAfterMs, 60_000) });
}

/** The `code` of a body that is a `Status` other than Success (an error sent with a 2xx), else 0 (500 without a code). */
function statusFailure(body: string): number {
  try {
    const s = JSON.parse(body) as { kind?: unknown; status?: unknown; code?: unknown };
    if (s?.kind !== 'Status' || typeof s.status !== 'string' || s.status === '' || s.status === 'Success') return 0;
    return Number.isInteger(s.code) && (s.code as number) > 0 ? (s.code as number) : 500;
  } catch {
    return 0;
  }
}

/** Issues GETs against one API server. */
export class ApiClient {
  readonly #conn: ApiConnection;
  readonly #limiter: RateLimiter | null;
  readonly #maxInflight: number;
  readonly #observer: RequestObserver | undefined;
  #inflight = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(conn: ApiConnection, limits: ClientLimits, observer?: RequestObserver) {
    this.#conn = conn;
    this.#limiter = limits.qps > 0 ? new RateLimiter(limits.qps, limits.burst) : null;
    this.#maxInflight = limits.maxInflight;
    this.#observer = observer;
  }

  /** The server's host:port, the `host` label of request metrics (client-go always includes the port). */
  get host(): string {
    const u = this.#conn.server;
    return `${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`;
  }

  /**
   * GETs `path?query`. Resolves with the response once headers arrive (any status; the caller reads or discards the
   * body); rejects on network errors or when `signal` aborts. `watch` requests skip the in-flight limit.
   */
  async get(path: string, query: Record<string, string>, signal: AbortSignal, o: { watch?: boolean; timeoutMs?: number } = {}): Promise<IncomingMessage> {
    const watch = o.watch ?? false;
    if (this.#limiter) {
      const wait = this.#limiter.reserve();
      if (wait > 0) {
        await sleep(wait, signal);
        this.#observer?.rateLimited?.('GET', this.host, wait / 1000);
      }
    }
    const limited = !watch && this.#maxInflight > 0;
    if (limited) await this.#acquire(signal);
    let released = !limited;
    const release = (): void => {
      if (released) return;
      released = true;
      this.#inflight--;
      this.#waiting.shift()?.();
    };
    try {
      const res = await this.#send(path, query, signal, o.timeoutMs ?? 0, watch);
      // A list holds its slot until its body is read; a watch never held one.
      if (limited) {
        res.once('end', release);
        res.once('close', release);
      }
      return res;
    } catch (err) {
      release();
      throw err;
    }
  }

  /**
   * GETs one page of a list, handing each item to `onItem` as it is parsed (lib/kube/api/list-page.ts), and resolves
   * with the list's envelope (its metadata). Non-2xx, and a `Status` of failure sent with a 2xx (which client-go
   * also takes for that error), become an ApiError; a page that is not a well-formed List an ApiError
   * `BadResponse`. Items handed over before a failure belong to a page that failed: the caller drops the listing.
   */
  async getList(path: string, query: Record<string, string>, signal: AbortSignal, timeoutMs: number, onItem: (item: unknown) => void): Promise<ListEnvelope> {
    const res = await this.get(path, query, signal, { timeoutMs });
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) throw apiError(status, await readBody(res), res.headers['retry-after']);
    try {
      return await readListPage(res, onItem);
    } catch (err) {
      if (!(err instanceof BadListPage)) throw err;
      const failure = err.body === null ? 0 : statusFailure(err.body);
      if (failure) throw apiError(failure, err.body!, res.headers['retry-after']);
      throw new ApiError(status, 'BadResponse', `${err.message}: ${path}`);
    }
  }

  async #acquire(signal: AbortSignal): Promise<void> {
    while (this.#inflight >= this.#maxInflight) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          const i = this.#waiting.indexOf(wake);
          if (i >= 0) this.#waiting.splice(i, 1);
          reject(signal.reason);
        };
        const wake = (): void => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        };
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        this.#waiting.push(wake);
      });
    }
    this.#inflight++;
  }

  /**
   * Sends one GET. With `timeoutMs`, a socket silent for that long (before the headers, or while a non-watch body
   * streams) fails the request; for a watch the caller's stall detection takes over once the headers are in.
   */
  async #send(path: string, query: Record<string, string>, signal: AbortSignal, timeoutMs: number, watch: boolean): Promise<IncomingMessage> {
    const url = new URL(this.#conn.base + path);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const headers = { accept: 'application/json', 'user-agent': USER_AGENT, ...(await this.#conn.headers()) };
    const started = performance.now();
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<IncomingMessage>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      // Abort by hand rather than with http's `signal` option: that listener stays on the signal after the response
      // ended, and aborting later destroyed a keep-alive socket already lent to another request.
      let response: IncomingMessage | null = null;
      const req = send(url, { method: 'GET', headers, agent: this.#conn.agent }, (res) => {
        response = res;
        if (watch) req.setTimeout(0);
        this.#observer?.request('GET', this.host, res.statusCode ?? 0, (performance.now() - started) / 1000);
        resolve(res);
      });
      if (timeoutMs > 0) {
        req.setTimeout(timeoutMs, () => req.destroy(new RequestTimeoutError(`no data from the API server for ${timeoutMs} ms`)));
      }
      const onAbort = (): void => {
        // A response the parser has completed already gave its keep-alive socket back to the agent (its 'end' may
        // still be queued): destroying the request now would destroy a socket another request may be using.
        if (response?.complete) return;
        req.destroy(new AbortedError());
      };
      signal.addEventListener('abort', onAbort, { once: true });
      req.once('close', () => signal.removeEventListener('abort', onAbort));
      req.on('error', (err) => {
        // Errors after the response arrived (an aborted watch) were counted with the response already.
        if (response === null) this.#observer?.request('GET', this.host, 0, (performance.now() - started) / 1000);
        reject(err);
      });
      req.end();
    });
  }
}

/** A request we aborted ourselves (stop, or a watch being replaced). */
export class AbortedError extends Error {
  constructor() {
    super('request aborted');
    this.name = 'AbortError';
  }
}

/** Sent as User-Agent, so API server audit logs name us (CoreDNS sends `coredns/<version> ...`). */
export const USER_AGENT = `clusterdns (${process.platform}/${process.arch}) node/${process.versions.node}`;
