/**
 * The secondary workers of a process, run from the primary (the main thread, itself worker 0): starts them, hands
 * them the primary's ports and configurations, asks them for metrics and readiness, stops them, and restarts one
 * that dies (logged; the process exits if workers keep dying, so the kubelet's restart policy takes over).
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { Followers, LoadedConfig, ReloadOutcome } from '../main.js';
import { parse as parseHealth } from '../plugins/health/setup.js';
import { portKey, type BoundAddress } from '../server/server.js';
import type { MetricsJson, PeerVerdict } from '../util/worker-peers.js';
import type { FromSecondary, PortList, SecondaryData, ToSecondary } from './protocol.js';

/** How long /metrics and /ready wait for a worker before leaving it out (metrics) or calling it not ready. */
const METRICS_TIMEOUT_MS = 2000;
const READY_TIMEOUT_MS = 1000;
/**
 * How long a worker may take to switch configuration (it builds a new zone, which may wait for an API sync) and to
 * stop (its lameduck, then shutdown: this long on top of the longest `health` lameduck configured) before it is
 * replaced or ended: a hung worker must not hold up every later reload or the process's exit.
 */
const RELOAD_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

/** The longest `health { lameduck }` of a configuration, in ms (0 without one). */
function longestLameduckMs(loaded: LoadedConfig): number {
  let ms = 0;
  for (const b of loaded.blocks) for (const d of b.directives) if (d.name.text === 'health') ms = Math.max(ms, parseHealth(d).lameduckMs);
  return ms;
}
/** The first restart waits this long, doubling for each failure in a row up to {@link RESTART_MAX_MS}. */
const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;
/** More unexpected exits than this within {@link CRASH_WINDOW_MS} end the process (exit status 1). */
export const CRASH_LIMIT = 5;
const CRASH_WINDOW_MS = 60_000;

export interface PoolOptions {
  /** Secondary workers to run (the process's worker count minus the primary). */
  secondaries: number;
  loaded: LoadedConfig;
  /** `-dns.port`. */
  port: number;
  log: Logger;
  /** How the process ends: a worker's plugin found it must stop (loop), or workers keep dying. Default process.exit. */
  exit?: (code: number) => void;
  /** The secondary's entry module (tests run stand-ins). */
  script?: URL;
  /** The first restart's delay (default {@link RESTART_MIN_MS}; tests shorten it). */
  restartMs?: number;
}

type State = 'starting' | 'running' | 'down';

/** One secondary and its thread (replaced on restart). */
class Member {
  worker: Worker | undefined;
  state: State = 'down';
  /** Settles when the current thread listens (or fails to). */
  started: Promise<void> = Promise.resolve();
  settle: { ok: () => void; fail: (err: Error) => void } = { ok: () => undefined, fail: () => undefined };
  /** What the thread reported or threw before it exited. */
  lastError: Error | undefined;
  failuresInRow = 0;
  readonly pending = new Map<number, (value: unknown) => void>();
  constructor(readonly index: number) {}
}

/** The messages that expect a reply. */
type Request = Extract<ToSecondary, { id: number }>;

const toPortList = (bound: readonly BoundAddress[]): PortList => bound.map((b) => [portKey(b.host, b.configured), b.port]);

export class WorkerPool implements Followers {
  private loaded: LoadedConfig;
  private ports: PortList | undefined;
  private readonly members: Member[];
  private readonly opts: PoolOptions;
  private readonly exit: (code: number) => void;
  private readonly script: URL;
  /** While true (the process's start), a failing worker fails the start instead of being restarted. */
  private starting = true;
  private stopping = false;
  private readonly deaths: number[] = [];
  private nextId = 1;

  constructor(opts: PoolOptions) {
    this.opts = opts;
    this.loaded = opts.loaded;
    this.exit = opts.exit ?? ((code) => process.exit(code));
    this.script = opts.script ?? new URL('./secondary.js', import.meta.url);
    this.members = Array.from({ length: opts.secondaries }, (_, i) => new Member(i + 1));
  }

  /** Start every secondary; resolves once all of them listen, rejects with the first failure (`worker N: ...`). */
  async start(): Promise<void> {
    for (const m of this.members) this.spawn(m);
    await Promise.all(this.members.map((m) => m.started));
    this.starting = false;
  }

  /** The primary is listening at `bound`: secondaries bind the same ports. */
  bound(bound: readonly BoundAddress[]): void {
    this.ports = toPortList(bound);
    for (const m of this.members) this.send(m, { type: 'ports', ports: this.ports });
  }

  /** Followers: the primary switched configuration; every secondary follows, or is replaced by one that runs it. */
  async reloaded(loaded: LoadedConfig, bound: readonly BoundAddress[]): Promise<void> {
    this.loaded = loaded;
    const ports = (this.ports = toPortList(bound));
    await Promise.all(
      this.members.map(async (m) => {
        if (m.state === 'down') return; // a restart picks up the new configuration
        if (m.state === 'running') {
          const outcome = (await this.request(m, { type: 'reload', id: 0, loaded, ports }, RELOAD_TIMEOUT_MS)) as ReloadOutcome | undefined;
          // stop() ends the wait at once: a shutdown must not sit behind a reload (the primary's stop waits for it).
          if (outcome === 'reloaded' || outcome === 'unchanged' || this.stopping) return;
          // A thread that exited meanwhile is restarted on the new configuration by its exit handler.
          if (outcome === undefined && m.worker === undefined) return;
          this.opts.log.error(`worker ${m.index} ${outcome === 'failed' ? 'could not switch' : 'did not answer in time when asked to switch'} to the new configuration; replacing it`);
        }
        await this.replace(m);
      }),
    );
  }

  /** Stop every secondary: each runs its shutdown (lameduck included) and answers, then its thread ends. */
  async stop(): Promise<void> {
    this.stopping = true;
    // Requests in flight (a reload) are answered now, so nothing waiting on them holds up the shutdown.
    for (const m of this.members) for (const done of [...m.pending.values()]) done(undefined);
    const stopTimeoutMs = STOP_TIMEOUT_MS + longestLameduckMs(this.loaded);
    await Promise.all(
      this.members.map(async (m) => {
        const w = m.worker;
        if (w === undefined) return;
        if (m.state === 'running') await this.request(m, { type: 'stop', id: 0 }, stopTimeoutMs);
        m.worker = undefined;
        m.state = 'down';
        await w.terminate();
      }),
    );
  }

  /** Peers: the metrics of every running secondary. */
  async metrics(): Promise<MetricsJson[]> {
    const all = await Promise.all(
      this.members.map((m) => (m.state === 'running' ? this.request(m, { type: 'metrics', id: 0 }, METRICS_TIMEOUT_MS) : undefined)),
    );
    return all.filter((x): x is MetricsJson => Array.isArray(x));
  }

  /** Peers: every secondary's readiness; one that is down or does not answer is not ready (`workerN`). */
  async readiness(continuously: boolean): Promise<PeerVerdict[]> {
    return Promise.all(
      this.members.map(async (m) => {
        const v = m.worker === undefined ? undefined : ((await this.request(m, { type: 'ready', id: 0, continuously }, READY_TIMEOUT_MS)) as PeerVerdict | undefined);
        return v ?? { ready: false, notReady: `worker${m.index}` };
      }),
    );
  }

  private spawn(m: Member): void {
    const data: SecondaryData = { index: m.index, loaded: this.loaded, port: this.opts.port, ports: this.ports };
    const w = new Worker(this.script, { workerData: data });
    m.worker = w;
    m.state = 'starting';
    m.lastError = undefined;
    m.started = new Promise<void>((ok, fail) => (m.settle = { ok, fail }));
    // Only the process's start awaits it; later failures are handled by the exit handler.
    m.started.catch(() => undefined);
    w.on('message', (msg: FromSecondary) => this.onMessage(m, w, msg));
    w.on('error', (err) => (m.lastError = err));
    w.on('exit', (code) => this.onExit(m, w, code));
  }

  private onMessage(m: Member, w: Worker, msg: FromSecondary): void {
    if (m.worker !== w) return;
    switch (msg.type) {
      case 'started':
        if (m.failuresInRow > 0) this.opts.log.info(`worker ${m.index} restarted`);
        m.state = 'running';
        m.failuresInRow = 0;
        m.settle.ok();
        return;
      case 'failed':
        m.lastError = new Error(msg.message);
        return;
      case 'reply':
        m.pending.get(msg.id)?.(msg.value);
        return;
      case 'exit':
        this.exit(msg.code);
        return;
    }
  }

  private onExit(m: Member, w: Worker, code: number): void {
    for (const resolve of [...m.pending.values()]) resolve(undefined);
    if (m.worker !== w) return; // replaced or stopped on purpose
    const wasStarting = m.state === 'starting';
    m.worker = undefined;
    m.state = 'down';
    if (this.stopping) return;
    const err = m.lastError ?? new Error(`exited with code ${code}`);
    // During the process's start, a worker that never listened fails the start; one that did, and died while the
    // others were still starting, is restarted like any later death.
    if (this.starting && wasStarting) {
      m.settle.fail(new Error(`worker ${m.index}: ${err.message}`));
      return;
    }
    const now = Date.now();
    this.deaths.push(now);
    while (this.deaths.length > 0 && this.deaths[0]! < now - CRASH_WINDOW_MS) this.deaths.shift();
    if (this.deaths.length > CRASH_LIMIT) {
      this.opts.log.fatal({ err }, `worker ${m.index} stopped: ${err.message}; workers stopped ${this.deaths.length} times within ${CRASH_WINDOW_MS / 1000}s, exiting`);
      this.exit(1);
      return;
    }
    const delay = Math.min((this.opts.restartMs ?? RESTART_MIN_MS) * 2 ** m.failuresInRow, RESTART_MAX_MS);
    m.failuresInRow++;
    this.opts.log.error({ err }, `worker ${m.index} stopped: ${err.message}; restarting it in ${delay}ms`);
    setTimeout(() => {
      if (!this.stopping && m.worker === undefined) this.spawn(m);
    }, delay).unref();
  }

  /** Replace `m`'s thread by a fresh one on the current configuration. */
  private async replace(m: Member): Promise<void> {
    const old = m.worker;
    // Whoever waits for the old thread to start (the process's start) waits for the new one instead.
    const waiting = m.state === 'starting' ? m.settle : undefined;
    m.worker = undefined;
    if (old !== undefined) await old.terminate();
    if (this.stopping) {
      waiting?.fail(new Error(`worker ${m.index}: stopped while starting`));
      return;
    }
    this.spawn(m);
    if (waiting !== undefined) m.started.then(waiting.ok, waiting.fail);
  }

  private send(m: Member, msg: ToSecondary): void {
    m.worker?.postMessage(msg);
  }

  /** Post a request and wait for its reply; undefined when the thread exits first or `timeoutMs` passes. */
  private request(m: Member, msg: Request, timeoutMs?: number): Promise<unknown> {
    if (m.worker === undefined) return Promise.resolve(undefined);
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => done(undefined), timeoutMs);
      const done = (value: unknown): void => {
        clearTimeout(timer);
        m.pending.delete(id);
        resolve(value);
      };
      m.pending.set(id, done);
      this.send(m, { ...msg, id } as Request);
    });
  }
}
