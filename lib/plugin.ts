/**
 * The plugin contract. Like CoreDNS's `plugin.Handler`, each plugin instance is one link of a chain fixed at build
 * time: `next` is bound when the chain is built, never passed per call, and the run order comes only from
 * lib/plugin-order.ts.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Directive, ZoneAddr } from './corefile/types.js';
import type { Message } from './dns/message.js';
import type { Query } from './query.js';

/** An rcode, synchronously when nothing had to be awaited (kubernetes answers, cache hits), else a promise. */
export type Served = number | Promise<number>;

export interface Handler {
  /** Directive name; also the `plugin` label on responses written by this handler. */
  readonly name: string;
  /**
   * Answer through `q.reply()` and return its rcode, or return SERVFAIL/REFUSED/FORMERR/NOTIMP without writing and
   * let the server write the error (CoreDNS plugin.ClientWrite). Throw only for bugs: the server answers SERVFAIL.
   */
  serve(q: Query): Served;
}

/**
 * Handed by the answering plugin with a reply the server may replay for later identical queries (`Query.memo`):
 * the reply stays right until the name is invalidated (`PluginEnv.invalidate`) or `stamp()` returns another value
 * than it did when the reply was written. Return a constant when per-name invalidation covers every change.
 */
export interface MemoGuard {
  stamp(): number;
  /**
   * When present, asked once per replay, after `stamp()` held: -1 declines (the query takes the general path, which
   * then decides as it always does), 0 replays the bytes as memoized, a positive number replays them with every
   * record's TTL set to it. The cache answers here for its hits (TTLs counting down) and counts the query exactly
   * as its general path would have.
   */
  replay?(): number;
}

/**
 * Set on a query (`Query.memoShuffle`) by a reply hook that draws the order of some records at random, so that a
 * memoized reply is not replayed with one frozen draw: given the reply's wire bytes and the message they were
 * encoded from (every record, also those truncation left out), it returns the runs of records every replay redraws (`shuffleRuns` of lib/dns/record-layout.ts), or null when a replay could not
 * reproduce the hook's behaviour exactly (the reply is then not memoized).
 */
export type ReplayShuffler = (wire: Uint8Array, reply: Message) => Uint16Array | null;

/**
 * The facts of a finished query an observer may read. A {@link Query} has them all; so does a reply the server's
 * fast path replayed without building a Query.
 */
export interface QueryFacts {
  readonly server: string;
  readonly zone: string;
  readonly proto: 'udp' | 'tcp';
  readonly remote: { readonly family: 4 | 6 };
  readonly qtype: number;
  /** DNSSEC OK bit of the request. */
  readonly do: boolean;
  /** process.hrtime.bigint() when the query arrived. */
  readonly start: bigint;
  /** The request as received (only its length is read). */
  readonly raw: { readonly length: number };
  readonly responseSize: number;
  readonly rcode: number;
  readonly writtenBy: string;
}

/** Told about every finished query (metrics, explain); must not throw. */
export interface QueryObserver {
  done(q: Query): void;
  /**
   * Told, instead of done(), about a reply the server's fast path replayed from its memo (no Query exists). An
   * observer without it turns the fast path off for the listeners it watches, so it still sees every query.
   */
  replayed?(f: QueryFacts): void;
}

/** Something that reports readiness to the `ready` plugin (CoreDNS ready.Readiness). */
export interface Readiness {
  readonly name: string;
  ready(): boolean;
}

/** What a plugin gets from the server block it is built in. Passed in, never global, so two servers can coexist. */
export interface PluginEnv {
  /** A child of the root logger with `{ plugin: <name> }`. */
  readonly log: Logger;
  /** The normalised keys of the server block (zones and ports) this instance lives in. */
  readonly keys: readonly ZoneAddr[];
  /**
   * Identity of the server instance the plugin is built in. A reload builds a new instance next to the old one;
   * process-wide services (HTTP endpoints, metrics) key on `metrics`, which survives reloads, and register their
   * per-instance hooks once per `instance`.
   */
  readonly instance: object;
  /** Directive names of the block, in run order (coredns_plugin_enabled). */
  readonly plugins: readonly string[];
  /** The block's listen addresses from `bind`; empty when it listens on every address. */
  readonly hosts: readonly string[];
  /** The block's zones (absolute, lower case), the default zones of most plugins. */
  readonly zones: readonly string[];
  /**
   * Run before the listeners open, awaited (kubernetes waits here for its first sync, bounded by startup_timeout);
   * a rejection stops startup. Plugins that need the sockets up (loop) start retrying background work from here.
   */
  onStartup(fn: () => void | Promise<void>): void;
  /**
   * Run when this instance stops — on reload (the old instance) and at process shutdown — awaited in registration
   * order while the listeners still answer: release what the instance holds (watchers, sockets, timers).
   */
  onShutdown(fn: () => void | Promise<void>): void;
  /**
   * Run only when the process stops for good, after every onShutdown hook and before the listeners close
   * (CoreDNS OnFinalShutdown): health's lameduck sleeps here; process-wide HTTP listeners close here.
   */
  onFinalShutdown(fn: () => void | Promise<void>): void;
  /** Register a readiness reporter for the `ready` plugin. */
  addReadiness(r: Readiness): void;
  /** Every readiness reporter registered so far, in every block (read by `ready`). */
  readiness(): readonly Readiness[];
  /** The process-wide metrics registry (one per server instance, never a module global). */
  readonly metrics: Registry;
  /** Be told about every answered query of every listener (metrics). Observers must be cheap and never throw. */
  observe(o: QueryObserver): void;
  /**
   * Run once the block's listeners are bound, with their addresses ('' host = every address); not awaited
   * (loop's self-query runs from here).
   */
  onListening(fn: (bound: readonly { host: string; port: number }[]) => void): void;
  /**
   * Stop the process because continuing would be wrong (loop detected): logs at fatal level and exits 1. Tests
   * replace the exit.
   */
  fatal(msg: string): void;
  /**
   * Announce that answers for `suffix` (a lower-case absolute name) and every name below it changed in this block:
   * a data plugin (kubernetes) calls it when its zone changes, so caches drop what the change made stale.
   */
  invalidate(suffix: string): void;
  /** Be told of every invalidate() in this block (cache). */
  onInvalidate(fn: (suffix: string) => void): void;
  /** Server-wide counters plugins export: chains that threw (coredns_panics_total). */
  panics(): number;
  /**
   * Resolve a name through the whole server as a new internal query (CoreDNS's `upstream` package): used to chase
   * ExternalName targets. Resolves with the reply message; never rejects (errors become SERVFAIL replies).
   */
  resolve(name: string, type: number, from: Query): Promise<Message>;
}

/** Context for parsing one directive: where it sits. */
export interface ParseContext {
  /** The block's zones, for plugins whose ZONES argument defaults to them. */
  readonly zones: readonly string[];
  readonly keys: readonly ZoneAddr[];
}

/** A plugin: a pure Corefile parser and a builder. `C` is the typed config. */
export interface PluginDef<C = unknown> {
  readonly name: string;
  /** True when CoreDNS rejects a second use in one block ("can only be used once per Server Block"). */
  readonly once?: boolean;
  /**
   * When set, repeated directives of this plugin in one block fold into one config and one handler (CoreDNS's `log`
   * keeps one rule list); otherwise each occurrence builds its own chain link (`forward` chains).
   */
  merge?(a: C, b: C): C;
  /**
   * True when the plugin's chain links keep the server's fast path exact: for a query whose reply is memoizable
   * (`Query.memo`, set by the plugin that writes it before calling `Query.reply`), the link either passes the query
   * on with no effect that replaying the reply would miss (no log line, no counter of its own), or takes charge of
   * the memo itself — a reply hook that changes replies says how replays must change them too (loadbalance's
   * shuffles, `Query.memoShuffle`) or wraps the memo in a guard that counts and checks what the link would (cache),
   * and drops it for replies a replay could not reproduce. A block
   * whose links all qualify gets a reply memo; one opaque link (log, whoami...) keeps every query of the block on
   * the general path.
   */
  readonly fastPath?: boolean;
  /**
   * True when the plugin's replies depend on the request's AD and CD bits (the cache keys on CD and copies AD by
   * the request's): the block's memo then keeps one reply per combination of them.
   */
  readonly replayFlags?: boolean;
  /** Pure: turns a directive into config; throws ConfigError naming file and line. */
  parse(d: Directive, ctx: ParseContext): C;
  /** Builds the chain link, or returns null for plugins that only run services (health, ready...). */
  build(cfg: C, next: Handler | null, env: PluginEnv): Handler | null;
}
