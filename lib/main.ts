/** Corefile → plan → server → listening: what the CLI and the end-to-end tests start. */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { Counter, Gauge, Registry } from 'prom-client';
import { parseCorefile, parseCorefileFile } from './corefile/parser.js';
import type { Directive, ServerBlock } from './corefile/types.js';
import { createLogger } from './log.js';
import { planServers, type ServerPlan } from './server/plan.js';
import { nextDelay, type ReloadConfig } from './plugins/reload/setup.js';
import { DnsServer, type BoundAddress, type PortMap, type ServerOptions } from './server/server.js';
import { markSecondary, setPeers, type Peers } from './util/worker-peers.js';

/** CoreDNS's default port and its configuration when no Corefile exists: `whoami` and `log` on the root. */
export const DEFAULT_PORT = 53;
export const DEFAULT_COREFILE = (port: number): string => `.:${port} {\n    whoami\n    log\n}\n`;

export interface StartOptions {
  /** Path of the Corefile (`-conf`). Without it: `./Corefile` if present, else the default config. */
  conf?: string;
  /** Corefile text instead of a file (tests); `file` names it in errors. */
  text?: string;
  file?: string;
  /** Port for keys that give none (`-dns.port`). */
  port?: number;
  log?: Logger;
  /** Environment for `{$VAR}` substitution. */
  env?: NodeJS.ProcessEnv;
  /** How a fatal plugin error ends the process (default process.exit); tests observe it instead. */
  exit?: (code: number) => void;
  /** The configuration, already read (every worker of a process runs what the primary read). */
  loaded?: LoadedConfig;
  /** Share the DNS addresses with the other workers of the process (SO_REUSEPORT; lib/workers). */
  reusePort?: boolean;
  /** The primary worker: the other workers, which its HTTP plugins answer for and its reloads are passed on to. */
  followers?: Followers;
  /** A secondary worker (lib/workers): binds the primary's ports, binds no HTTP listener, reloads when told. */
  secondary?: SecondaryOptions;
}

/** A parsed configuration and where it came from. */
export interface LoadedConfig {
  blocks: ServerBlock[];
  source: string;
}

/** The other workers of the process, seen from the primary. */
export interface Followers extends Peers {
  /** The primary now runs `config`, bound at `bound`: make every other worker run it too. */
  reloaded(config: LoadedConfig, bound: readonly BoundAddress[]): Promise<void>;
}

/** What a secondary worker needs to start. */
export interface SecondaryOptions {
  /** The primary's bound ports, asked for just before binding (the primary may still be starting). */
  ports(): Promise<PortMap>;
  /** Told of the server as soon as it is built, before it starts (readiness is asked during start-up too). */
  onServer?(server: DnsServer): void;
}

/** How long a replaced instance keeps running after a reload, so its in-flight queries finish. */
export const RETIRE_GRACE_MS = 5000;

/** What a reload did. */
export type ReloadOutcome = 'unchanged' | 'reloaded' | 'failed';

/** A started instance. `server` and `addresses` change when a reload succeeds. */
export interface Instance {
  readonly server: DnsServer;
  readonly addresses: BoundAddress[];
  /** Where the configuration came from (`Corefile`, a path, or `default`). */
  readonly source: string;
  /** The start-up lines CoreDNS prints: `.:53`, `cluster.local.:53`, `.:1053 on 127.0.0.1`. */
  readonly keys: string[];
  /** SHA512 of the running configuration's parsed form. */
  readonly hash: string;
  /**
   * Re-read the configuration (or take `text`, for tests, or an already parsed one, for secondary workers) and, if
   * its parsed form changed, switch to it without closing listeners that stay; on any failure keep running the
   * current one. Reloads never overlap.
   */
  reload(next?: string | LoadedConfig): Promise<ReloadOutcome>;
  stop(): Promise<void>;
}

/** Read and parse the configuration the options point at. Throws ConfigError with file and line. */
export function loadBlocks(opts: StartOptions): LoadedConfig {
  const port = opts.port ?? DEFAULT_PORT;
  if (opts.text !== undefined) return { blocks: parseCorefile(opts.text, opts.file ?? 'Corefile', opts.env), source: opts.file ?? 'Corefile' };
  if (opts.conf !== undefined) return { blocks: parseCorefileFile(opts.conf, opts.env), source: opts.conf };
  const local = path.resolve('Corefile');
  if (existsSync(local)) return { blocks: parseCorefileFile('Corefile', opts.env), source: 'Corefile' };
  return { blocks: parseCorefile(DEFAULT_COREFILE(port), 'default', opts.env), source: 'default' };
}

/**
 * SHA512 of the parsed server blocks (CoreDNS plugin/reload hashes the JSON of its parsed blocks): tokens only,
 * no file names or lines, so editing comments or whitespace does not reload.
 */
export function configHash(blocks: ServerBlock[]): string {
  const strip = (d: Directive): unknown => [d.name.text, d.args.map((a) => a.text), d.block?.map(strip) ?? null];
  const shape = blocks.map((b) => [b.keys.map((k) => k.text), b.directives.map(strip)]);
  return createHash('sha512').update(JSON.stringify(shape)).digest('hex');
}

/** CoreDNS's start-up lines (onstartup.go startUpZones): per listener, its zones sorted, plus ` on <ip>` when bound. */
function startupLines(plan: ServerPlan, addresses: BoundAddress[]): string[] {
  return plan.listeners.flatMap((l, i) =>
    [...l.zones.keys()].sort().map((zone) => `${zone}:${addresses[i]!.port}${l.host ? ` on ${l.host}` : ''}`),
  );
}

/** The first `reload` directive's schedule, if any block has one. */
function reloadConfig(plan: ServerPlan): ReloadConfig | undefined {
  for (const b of plan.blocks) for (const p of b.plugins) if (p.def.name === 'reload') return p.config as ReloadConfig;
  return undefined;
}

class Running implements Instance {
  server: DnsServer;
  addresses: BoundAddress[];
  keys: string[];
  hash: string;
  readonly source: string;
  private readonly opts: StartOptions;
  private readonly log: Logger;
  private readonly failed: Counter;
  private readonly version: Gauge;
  private queue: Promise<unknown> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(server: DnsServer, plan: ServerPlan, addresses: BoundAddress[], loaded: LoadedConfig, opts: StartOptions, log: Logger) {
    this.server = server;
    this.addresses = addresses;
    this.keys = startupLines(plan, addresses);
    this.source = loaded.source;
    this.hash = configHash(loaded.blocks);
    this.opts = opts;
    this.log = log.child({ plugin: 'reload' });
    this.failed = new Counter({ name: 'coredns_reload_failed_total', help: 'Counter of the number of failed reload attempts.', registers: [server.metrics] });
    // With several workers (lib/workers) each reports its hash: max shows 1 for every configuration running.
    this.version = new Gauge({ name: 'coredns_reload_version_info', help: 'A metric with a constant \'1\' value labeled by hash, and value which type of hash generated.', labelNames: ['hash', 'value'], registers: [server.metrics], aggregator: 'max' });
    this.announce();
    this.schedule(reloadConfig(plan));
  }

  reload(text?: string | LoadedConfig): Promise<ReloadOutcome> {
    const next = this.queue.then(() => this.reloadNow(text));
    this.queue = next.catch(() => undefined);
    return next;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.queue;
    await Promise.all([...this.retiring.keys()].map((old) => this.retire(old)));
    await this.server.stop(true);
  }

  private readonly retiring = new Map<DnsServer, NodeJS.Timeout>();

  private async retire(old: DnsServer): Promise<void> {
    clearTimeout(this.retiring.get(old));
    this.retiring.delete(old);
    await old.stop(false);
  }

  private announce(): void {
    this.version.reset();
    this.version.labels('sha512', this.hash).set(1);
    this.log.info(`Running configuration SHA512 = ${this.hash}`);
  }

  private schedule(cfg: ReloadConfig | undefined): void {
    clearTimeout(this.timer);
    // A secondary worker reloads when the primary tells it to, never on its own schedule.
    if (cfg === undefined || this.stopped || this.source === 'default' || this.opts.secondary !== undefined) return;
    this.timer = setTimeout(() => {
      void this.reload().finally(() => this.schedule(this.currentReload));
    }, nextDelay(cfg));
    this.timer.unref();
    this.currentReload = cfg;
  }

  private currentReload: ReloadConfig | undefined;

  private async reloadNow(text?: string | LoadedConfig): Promise<ReloadOutcome> {
    if (this.stopped) return 'unchanged';
    let next: DnsServer | undefined;
    let blocks: ServerBlock[];
    try {
      ({ blocks } = typeof text === 'object' ? text : loadBlocks(text === undefined ? this.opts : { ...this.opts, text, conf: undefined }));
      const hash = configHash(blocks);
      if (hash === this.hash) return 'unchanged';
      const plan = planServers(blocks, this.opts.port ?? DEFAULT_PORT);
      next = new DnsServer(plan, this.opts.log ?? this.log, serverOptions(this.opts, this.server.metrics));
      const addresses = await next.start(this.server);
      const old = this.server;
      this.server = next;
      this.addresses = addresses;
      this.keys = startupLines(plan, addresses);
      this.hash = hash;
      this.announce();
      this.schedule(reloadConfig(plan));
      // Queries the old instance is still working on (a forward waiting on its upstream) get their answer: it is
      // stopped only after the longest a query may take (forward's 5 s deadline).
      const retire = setTimeout(() => void this.retire(old), RETIRE_GRACE_MS);
      retire.unref();
      this.retiring.set(old, retire);
    } catch (err) {
      if (next !== undefined && next !== this.server) await next.stop(false).catch(() => undefined);
      this.failed.inc();
      this.log.error({ err }, `Corefile changed but reload failed: ${(err as Error).message ?? String(err)}`);
      return 'failed';
    }
    // The other workers switch after the primary, so a configuration that fails here never reaches them; the
    // primary runs the new one whatever happens to them (the pool replaces a worker that cannot follow).
    try {
      await this.opts.followers?.reloaded({ blocks, source: this.source }, this.addresses);
    } catch (err) {
      this.log.error({ err }, `the other workers could not be switched to the new configuration: ${(err as Error).message ?? String(err)}`);
    }
    return 'reloaded';
  }
}

/** The server options of a worker's instances; `metrics` is the registry they all share (kept across reloads). */
function serverOptions(opts: StartOptions, metrics: Registry): ServerOptions {
  return { exit: opts.exit, metrics, reusePort: opts.reusePort, ports: opts.secondary?.ports };
}

/** Load, build and start. Nothing listens unless every block parsed and every plugin built. */
export async function start(opts: StartOptions = {}): Promise<Instance> {
  const log = opts.log ?? createLogger();
  const loaded = opts.loaded ?? loadBlocks(opts);
  const plan = planServers(loaded.blocks, opts.port ?? DEFAULT_PORT);
  // Before any plugin is built: they read the worker's role from the registry.
  const metrics = new Registry();
  if (opts.secondary !== undefined) markSecondary(metrics);
  if (opts.followers !== undefined) setPeers(metrics, opts.followers);
  const server = new DnsServer(plan, log, serverOptions(opts, metrics));
  opts.secondary?.onServer?.(server);
  let addresses: BoundAddress[];
  try {
    addresses = await server.start();
  } catch (err) {
    await server.stop();
    throw err;
  }
  return new Running(server, plan, addresses, loaded, { ...opts, log }, log);
}
