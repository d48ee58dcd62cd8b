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
}

type Hook = () => void | Promise<void>;

interface Listener {
  dispatcher: Dispatcher;
  udp: UdpListener;
  tcp: TcpListener;
  host: string;
  port: number;
}

export class DnsServer {
  private readonly log: Logger;
  private readonly plan: ServerPlan;
  private readonly startups: Hook[] = [];
  private readonly shutdowns: Hook[] = [];
  private readonly listening: Array<{ block: BlockPlan; fn: (bound: readonly BoundAddress[]) => void }> = [];
  private readonly exit: (code: number) => void;
  /** Per block: who wants to hear about invalidated names. */
  private readonly invalidation = new Map<BlockPlan, Array<(suffix: string) => void>>();
  private readonly observers: QueryObserver[] = [];
  /** Every readiness reporter registered by plugins (read by `ready`). */
  readonly readiness: Readiness[] = [];
  /** Metrics of this server instance (exported by `prometheus`). */
  readonly metrics = new Registry();
  private readonly listeners: Listener[] = [];
  private readonly byLabel = new Map<string, Dispatcher>();
  private stopped = false;

  /** Builds every chain (plugins' build() runs here); throws when a plugin cannot be built. */
  constructor(plan: ServerPlan, log: Logger, exit: (code: number) => void = (code) => process.exit(code)) {
    this.plan = plan;
    this.log = log;
    this.exit = exit;
    const routed = new Map<BlockPlan, RoutedBlock>();
    for (const block of plan.blocks) {
      const chain = buildChain(block, (name) => this.envFor(block, name));
      routed.set(block, { chain, anyClass: block.plugins.some((p) => ANY_CLASS_PLUGINS.has(p.def.name)) });
    }
    for (const l of plan.listeners) {
      const zones = new Map<string, RoutedBlock>();
      for (const [zone, block] of l.zones) zones.set(zone, routed.get(block)!);
      const dispatcher = new Dispatcher(listenerLabel(l.host, l.port), zones, log, this.observers);
      this.listeners.push({ dispatcher, udp: new UdpListener(dispatcher, log), tcp: new TcpListener(dispatcher, log), host: l.host, port: l.port });
    }
  }

  /** Add a per-query observer (metrics); it sees every query of every listener once it is answered. */
  observe(o: QueryObserver): void {
    this.observers.push(o);
  }

  /** Run the plugins' start-up hooks, then open every listener. */
  async start(): Promise<BoundAddress[]> {
    for (const fn of this.startups) await fn();
    const bound: BoundAddress[] = [];
    for (const l of this.listeners) {
      l.port = await bindPair(l, 10);
      l.dispatcher.label = listenerLabel(l.host, l.port);
      this.byLabel.set(l.dispatcher.label, l.dispatcher);
      bound.push({ host: l.host, port: l.port, label: l.dispatcher.label });
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
   * Graceful stop: run the shutdown hooks (each once, errors logged) while the listeners still answer — health's
   * lameduck sleeps here — then close the listeners.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const fn of this.shutdowns) {
      try {
        await fn();
      } catch (err) {
        this.log.error({ err }, 'shutdown hook failed');
      }
    }
    await Promise.all(this.listeners.flatMap((l) => [l.udp.close(), l.tcp.close()]));
  }

  /** Chains that threw, summed over listeners (coredns_panics_total). */
  get panics(): number {
    return this.listeners.reduce((n, l) => n + l.dispatcher.panics, 0);
  }

  private envFor(block: BlockPlan, plugin: string): PluginEnv {
    return {
      log: this.log.child({ plugin }),
      keys: block.keys,
      hosts: block.hosts,
      zones: block.zones,
      onStartup: (fn) => void this.startups.push(fn),
      onShutdown: (fn) => void this.shutdowns.push(fn),
      addReadiness: (r) => void this.readiness.push(r),
      readiness: () => this.readiness,
      metrics: this.metrics,
      observe: (o) => this.observe(o),
      panics: () => this.panics,
      onListening: (fn) => void this.listening.push({ block, fn }),
      invalidate: (suffix) => {
        for (const fn of this.invalidation.get(block) ?? []) fn(suffix);
      },
      onInvalidate: (fn) => {
        const list = this.invalidation.get(block) ?? [];
        list.push(fn);
        this.invalidation.set(block, list);
      },
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
async function bindPair(l: Listener, tries: number): Promise<number> {
  const port = await l.udp.listen(l.host, l.port);
  try {
    await l.tcp.listen(l.host, port);
    return port;
  } catch (err) {
    await l.udp.close();
    if (l.port === 0 && tries > 1 && (err as NodeJS.ErrnoException).code === 'EADDRINUSE') return bindPair(l, tries - 1);
    throw err;
  }
}
