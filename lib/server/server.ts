/**
 * A running DNS server built from a plan: chains per block, a dispatcher and a UDP + TCP listener pair per
 * listen address, plugin start-up and shutdown hooks.
 */
import type { Logger } from 'pino';
import type { Message } from '../dns/message.js';
import { Registry } from 'prom-client';
import type { PluginEnv, QueryObserver, Readiness } from '../plugin.js';
import type { Query } from '../query.js';
import { buildChain } from './chain.js';
import { Dispatcher, type RoutedBlock } from './dispatcher.js';
import { ReplyMemo } from './reply-memo.js';
import type { BlockPlan, ServerPlan } from './plan.js';
import { TcpListener } from './tcp.js';
import { UdpListener } from './udp.js';

/** Plugins whose presence lets non-IN classes into a block (CoreDNS EnableChaos). */
const ANY_CLASS_PLUGINS: ReadonlySet<string> = new Set(['chaos', 'forward', 'proxy']);

/** A bound listener, as tests and logs see it. */
export interface BoundAddress {
  host: string;
  port: number;
  label: string;
  /** The port the Corefile asked for (0 = any). */
  configured: number;
}

/** Bound ports by listen address as configured ({@link portKey}): what the other workers of the process bind. */
export type PortMap = ReadonlyMap<string, number>;

/** The key of a listen address in a {@link PortMap}. */
export function portKey(host: string, configured: number): string {
  return `${host}|${configured}`;
}

type Hook = () => void | Promise<void>;

interface Listener {
  dispatcher: Dispatcher;
  udp: UdpListener;
  tcp: TcpListener;
  host: string;
  /** The port the Corefile asked for (0 = any); `port` is the one bound. */
  configured: number;
  port: number;
  /** Handed over to the server that replaced this one on reload: not ours to close. */
  adopted: boolean;
}

export interface ServerOptions {
  /** How `fatal` ends the process (default process.exit). */
  exit?: (code: number) => void;
  /** Reuse a registry (on reload), so counters survive and the metrics endpoint keeps its listener. */
  metrics?: Registry;
  /** False turns the fast path (reply memo) off everywhere (tests compare both paths). Default on. */
  fastPath?: boolean;
  /** Bound on memoized replies per server block (default DEFAULT_MEMO_ENTRIES). */
  memoEntries?: number;
  /**
   * Share every DNS address with the other workers of the process (SO_REUSEPORT, lib/workers). The primary
   * worker first binds each address exclusively, so an address held by another process still fails the start.
   */
  reusePort?: boolean;
  /**
   * Secondary workers: the ports the primary bound, asked for just before binding (the primary may still be
   * starting); every listener binds the primary's port for its address, `.:0` keys included.
   */
  ports?: () => Promise<PortMap>;
}

export class DnsServer {
  private readonly log: Logger;
  private readonly plan: ServerPlan;
  private readonly startups: Hook[] = [];
  private readonly shutdowns: Hook[] = [];
  private readonly finalShutdowns: Hook[] = [];
  private readonly listening: Array<{ block: BlockPlan; fn: (bound: readonly BoundAddress[]) => void }> = [];
  private readonly exit: (code: number) => void;
  /** Per block: who wants to hear about invalidated names. */
  private readonly invalidation = new Map<BlockPlan, Array<(suffix: string) => void>>();
  private readonly observers: QueryObserver[] = [];
  /** Every readiness reporter registered by plugins (read by `ready`). */
  readonly readiness: Readiness[] = [];
  /** Metrics of this server instance and the ones it replaces on reload (exported by `prometheus`). */
  readonly metrics: Registry;
  private readonly listeners: Listener[] = [];
  private readonly byLabel = new Map<string, Dispatcher>();
  private stopped = false;
  private readonly reusePort: boolean;
  private readonly ports: (() => Promise<PortMap>) | undefined;

  /** Builds every chain (plugins' build() runs here); throws when a plugin cannot be built. */
  constructor(plan: ServerPlan, log: Logger, opts: ServerOptions = {}) {
    this.plan = plan;
    this.log = log;
    this.exit = opts.exit ?? ((code) => process.exit(code));
    this.metrics = opts.metrics ?? new Registry();
    this.reusePort = opts.reusePort === true;
    this.ports = opts.ports;
    const routed = new Map<BlockPlan, RoutedBlock>();
    for (const block of plan.blocks) {
      const opaque: string[] = [];
      const chain = buildChain(block, (name) => this.envFor(block, name), opaque);
      // The fast path's memo, per block: a reload builds a new instance, hence a new, empty memo.
      const keyFlags = block.plugins.some((p) => p.def.replayFlags === true);
      const memo = chain !== null && opaque.length === 0 && opts.fastPath !== false ? new ReplyMemo(opts.memoEntries, keyFlags) : null;
      if (memo !== null) this.addInvalidation(block, (suffix) => memo.invalidate(suffix));
      else if (chain !== null) log.debug({ zones: block.zones, opaque }, 'fast path off for this block: plugins that must see every query');
      routed.set(block, { chain, anyClass: block.plugins.some((p) => ANY_CLASS_PLUGINS.has(p.def.name)), memo });
    }
    for (const l of plan.listeners) {
      const zones = new Map<string, RoutedBlock>();
      for (const [zone, block] of l.zones) zones.set(zone, routed.get(block)!);
      const dispatcher = new Dispatcher(listenerLabel(l.host, l.port), zones, log, this.observers);
      this.listeners.push({
        dispatcher,
        udp: new UdpListener(dispatcher, log),
        tcp: new TcpListener(dispatcher, log),
        host: l.host,
        configured: l.port,
        port: l.port,
        adopted: false,
      });
    }
  }

  /** Add a per-query observer (metrics); it sees every query of every listener once it is answered. */
  observe(o: QueryObserver): void {
    this.observers.push(o);
    for (const l of this.listeners) l.dispatcher.observersChanged();
  }

  /**
   * Run the plugins' start-up hooks, then open every listener. With `previous` (reload), listeners on the same
   * address and port are taken over from it in place — the sockets stay open, so there is no gap — and only new
   * addresses are bound; if binding fails, the taken listeners go back to `previous` untouched.
   */
  async start(previous?: DnsServer): Promise<BoundAddress[]> {
    for (const fn of this.startups) await fn();
    const taken: Array<{ mine: Listener; theirs: Listener }> = [];
    try {
      for (const l of this.listeners) {
        const theirs = previous?.listeners.find((o) => !o.adopted && o.host === l.host && o.configured === l.configured);
        if (theirs) {
          taken.push({ mine: l, theirs });
          continue;
        }
        l.port = await this.bind(l);
      }
    } catch (err) {
      await Promise.all(this.listeners.filter((l) => !taken.some((x) => x.mine === l)).flatMap((l) => [l.udp.close(), l.tcp.close()]));
      throw err;
    }
    // Everything is bound: now swap, synchronously, so no query sees a half-switched server.
    for (const { mine, theirs } of taken) {
      theirs.adopted = true;
      mine.udp = theirs.udp;
      mine.tcp = theirs.tcp;
      mine.port = theirs.port;
      mine.udp.dispatcher = mine.dispatcher;
      mine.tcp.dispatcher = mine.dispatcher;
    }
    const bound: BoundAddress[] = [];
    for (const l of this.listeners) {
      l.dispatcher.label = listenerLabel(l.host, l.port);
      this.byLabel.set(l.dispatcher.label, l.dispatcher);
      bound.push({ host: l.host, port: l.port, label: l.dispatcher.label, configured: l.configured });
    }
    for (const { block, fn } of this.listening) {
      const mine = this.plan.listeners.flatMap((lp, i) => ([...lp.zones.values()].includes(block) ? [bound[i]!] : []));
      try {
        fn(mine);
      } catch (err) {
        this.log.error({ err }, 'listening hook failed');
      }
    }
    return bound;
  }

  /**
   * Stop this instance: for the last instance of the process (`final`) first the final-shutdown hooks — health's
   * lameduck sleeps there with every plugin still working — then the shutdown hooks (each once, errors logged),
   * then close the listeners no newer instance took over.
   */
  async stop(final = true): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const run = async (hooks: Hook[]): Promise<void> => {
      for (const fn of hooks) {
        try {
          await fn();
        } catch (err) {
          this.log.error({ err }, 'shutdown hook failed');
        }
      }
    };
    // Final hooks first: the lameduck wait happens while every plugin (forward's sockets too) still works.
    if (final) await run(this.finalShutdowns);
    await run(this.shutdowns);
    await Promise.all(this.listeners.filter((l) => !l.adopted).flatMap((l) => [l.udp.close(), l.tcp.close()]));
  }

  /** Bind one listener's UDP and TCP sockets; resolves with the port. */
  private async bind(l: Listener): Promise<number> {
    if (!this.reusePort) return bindPair(l, 10);
    if (this.ports !== undefined) {
      // A secondary worker joins the primary's sockets on the same port.
      l.port = (await this.ports()).get(portKey(l.host, l.configured)) ?? l.configured;
      return bindPair(l, 1, true);
    }
    // The primary: a socket of another process with SO_REUSEPORT (same user) would let a shared bind succeed and
    // silently split the traffic, so the address is first bound exclusively — failing as a single process does
    // when it is taken — then released and bound again, shared, on the same port.
    const port = await bindPair(l, 10);
    await Promise.all([l.udp.close(), l.tcp.close()]);
    l.port = port;
    return bindPair(l, 1, true);
  }

  /** Chains that threw, summed over listeners (coredns_panics_total). */
  get panics(): number {
    return this.listeners.reduce((n, l) => n + l.dispatcher.panics, 0);
  }

  private addInvalidation(block: BlockPlan, fn: (suffix: string) => void): void {
    const list = this.invalidation.get(block) ?? [];
    list.push(fn);
    this.invalidation.set(block, list);
  }

  private envFor(block: BlockPlan, plugin: string): PluginEnv {
    return {
      log: this.log.child({ plugin }),
      instance: this,
      plugins: block.plugins.map((p) => p.def.name),
      keys: block.keys,
      hosts: block.hosts,
      zones: block.zones,
      onStartup: (fn) => void this.startups.push(fn),
      onShutdown: (fn) => void this.shutdowns.push(fn),
      onFinalShutdown: (fn) => void this.finalShutdowns.push(fn),
      addReadiness: (r) => void this.readiness.push(r),
      readiness: () => this.readiness,
      metrics: this.metrics,
      observe: (o) => this.observe(o),
      panics: () => this.panics,
      onListening: (fn) => void this.listening.push({ block, fn }),
      invalidate: (suffix) => {
        for (const fn of this.invalidation.get(block) ?? []) fn(suffix);
      },
      onInvalidate: (fn) => this.addInvalidation(block, fn),
      fatal: (msg) => {
        this.log.child({ plugin }).fatal(msg);
        this.exit(1);
      },
      resolve: (name: string, type: number, from: Query): Promise<Message> => {
        const d = this.byLabel.get(from.server) ?? this.listeners[0]!.dispatcher;
        return d.resolve(name, type, from);
      },
    };
  }
}

/** `dns://:53`, `dns://127.0.0.1:1053`, `dns://[::1]:53`: the CoreDNS `server` label. */
export function listenerLabel(host: string, port: number): string {
  return `dns://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * Bind UDP and TCP on the same port. With port 0 the UDP socket picks a free port and TCP follows it; if TCP finds
 * that port taken, both retry with a fresh one.
 */
async function bindPair(l: Listener, tries: number, reusePort = false): Promise<number> {
  const port = await l.udp.listen(l.host, l.port, reusePort);
  try {
    await l.tcp.listen(l.host, port, reusePort);
    return port;
  } catch (err) {
    await l.udp.close();
    if (l.port === 0 && tries > 1 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE') return bindPair(l, tries - 1, reusePort);
    throw err;
  }
}
