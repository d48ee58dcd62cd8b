/**
 * The `coredns_cache_*` metrics (CoreDNS plugin/cache/metrics.go). The handlers count in plain numbers on the query
 * path; the metrics read those counters only when the registry is scraped. The metric objects are registered once
 * per registry — a reload builds new handlers but keeps the registry — and sum every live handler with the final
 * counts of the handlers that have stopped, so counters never go backwards across a reload.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { PluginEnv } from '../../plugin.js';
import type { CacheHandler, CacheStats } from './handler.js';

/** The `server` and `zones` labels of one cache (CoreDNS: the listener and the comma-joined cache zones). */
interface Owner {
  server: string;
  zones: string;
}

/** The counter part of CacheStats, flattened: everything but `entries`. */
type Counts = Omit<CacheStats, 'entries'>;

/** One counter metric: its name, help, and how to read it from the counts (split by `type` when an object). */
interface CounterSpec {
  name: string;
  help: string;
  read(c: Counts): number | { success: number; denial: number };
}

// Names and help texts as CoreDNS exports them; `type` is `success` or `denial` where the counter is split by cache.
const COUNTERS: readonly CounterSpec[] = [
  { name: 'coredns_cache_requests_total', help: 'The count of cache requests.', read: (c) => c.requests },
  { name: 'coredns_cache_hits_total', help: 'The count of cache hits.', read: (c) => c.hits },
  {
    name: 'coredns_cache_misses_total',
    help: 'The count of cache misses. Deprecated, derive misses from cache hits/requests counters.',
    read: (c) => c.misses,
  },
  { name: 'coredns_cache_prefetch_total', help: 'The number of times the cache has prefetched a cached item.', read: (c) => c.prefetches },
  {
    name: 'coredns_cache_drops_total',
    help: 'The number responses that are not cached, because the reply is malformed.',
    read: (c) => c.drops,
  },
  { name: 'coredns_cache_served_stale_total', help: 'The number of requests served from stale cache entries.', read: (c) => c.servedStale },
  { name: 'coredns_cache_evictions_total', help: 'The count of cache evictions.', read: (c) => c.evictions },
];

const TYPES = ['success', 'denial'] as const;

function zero(): Counts {
  return {
    requests: 0,
    hits: { success: 0, denial: 0 },
    misses: 0,
    prefetches: 0,
    drops: 0,
    servedStale: 0,
    evictions: { success: 0, denial: 0 },
  };
}

function addInto(to: Counts, from: Counts): void {
  to.requests += from.requests;
  to.hits.success += from.hits.success;
  to.hits.denial += from.hits.denial;
  to.misses += from.misses;
  to.prefetches += from.prefetches;
  to.drops += from.drops;
  to.servedStale += from.servedStale;
  to.evictions.success += from.evictions.success;
  to.evictions.denial += from.evictions.denial;
}

const ownerKey = (o: Owner): string => `${o.server}\u0000${o.zones}`;

// The `server` label of a listener: `dns://:53`, `dns://127.0.0.1:1053`, `dns://[::1]:53`, as lib/server builds
// it (not imported, to keep plugins off the core).
function serverLabel(host: string, port: number): string {
  return `dns://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * The cache metrics of one registry: the live handlers and what the stopped ones counted. Created by
 * `cacheMetrics`; `add` hooks a handler up.
 */
export class CacheMetrics {
  private readonly live = new Map<CacheHandler, Owner>();
  /** Final counts of stopped handlers, per owner label set. */
  private readonly retired = new Map<string, { owner: Owner; counts: Counts }>();
  /** Entry gauges shown once: CoreDNS's gauge stays exported (possibly at 0) once set. */
  private readonly entriesShown = new Set<string>();

  constructor(reg: Registry) {
    const entries = (): ReturnType<CacheMetrics['entries']> => this.entries();
    const totals = (): ReturnType<CacheMetrics['totals']> => this.totals();
    const shown = this.entriesShown;
    new Gauge({
      name: 'coredns_cache_entries',
      help: 'The number of elements in the cache.',
      labelNames: ['server', 'type', 'view', 'zones'],
      registers: [reg],
      collect() {
        this.reset();
        for (const [key, e] of entries()) {
          for (const type of TYPES) {
            const k = `${key}\u0000${type}`;
            if (e.entries[type] === 0 && !shown.has(k)) continue;
            shown.add(k);
            this.labels(labels(e.owner, type)).set(e.entries[type]);
          }
        }
      },
    });
    for (const spec of COUNTERS) {
      const typed = typeof spec.read(zero()) === 'object';
      new Counter({
        name: spec.name,
        help: spec.help,
        labelNames: typed ? ['server', 'type', 'view', 'zones'] : ['server', 'view', 'zones'],
        registers: [reg],
        collect() {
          this.reset();
          // CoreDNS's counter vectors have a series only once it was incremented, i.e. once it is above 0.
          for (const { owner, counts } of totals()) {
            const v = spec.read(counts);
            if (typeof v === 'number') {
              if (v > 0) this.labels(labels(owner)).inc(v);
              continue;
            }
            for (const type of TYPES) if (v[type] > 0) this.labels(labels(owner, type)).inc(v[type]);
          }
        },
      });
    }
  }

  /**
   * Export `h`'s counters from now on, labelled with the block's first listener and the cache's zones. Returns the
   * function to call when the instance stops (reload or shutdown, from its onShutdown hook): it keeps the final
   * counts, so the totals carry on in the next instance, and stops reading `h`.
   */
  add(h: CacheHandler, zones: readonly string[], env: PluginEnv): () => void {
    const owner: Owner = { server: firstServer(env), zones: zones.join(',') };
    this.live.set(h, owner);
    // The configured port may be 0 (tests) or the block may bind several addresses: once bound, label with the
    // first real listener, as coredns_dns_requests_total does.
    env.onListening((bound) => {
      const b = bound[0];
      if (b !== undefined) owner.server = serverLabel(b.host, b.port);
    });
    return () => this.retire(h);
  }

  /** Stop reading `h`; fold its counts into the retired totals. */
  private retire(h: CacheHandler): void {
    const owner = this.live.get(h);
    if (owner === undefined) return;
    this.live.delete(h);
    const key = ownerKey(owner);
    let r = this.retired.get(key);
    if (r === undefined) this.retired.set(key, (r = { owner: { ...owner }, counts: zero() }));
    addInto(r.counts, h.stats);
  }

  /** Counter totals per owner: retired counts plus every live handler's. */
  private totals(): Array<{ owner: Owner; counts: Counts }> {
    const out = new Map<string, { owner: Owner; counts: Counts }>();
    for (const [key, r] of this.retired) {
      const c = zero();
      addInto(c, r.counts);
      out.set(key, { owner: r.owner, counts: c });
    }
    for (const [h, owner] of this.live) {
      const key = ownerKey(owner);
      let t = out.get(key);
      if (t === undefined) out.set(key, (t = { owner, counts: zero() }));
      addInto(t.counts, h.stats);
    }
    return [...out.values()];
  }

  /** Current entry counts per owner: only live handlers hold entries; stopped ones' owners read 0. */
  private entries(): Map<string, { owner: Owner; entries: CacheStats['entries'] }> {
    const out = new Map<string, { owner: Owner; entries: CacheStats['entries'] }>();
    for (const [key, r] of this.retired) out.set(key, { owner: r.owner, entries: { success: 0, denial: 0 } });
    for (const [h, owner] of this.live) {
      const key = ownerKey(owner);
      let e = out.get(key);
      if (e === undefined) out.set(key, (e = { owner, entries: { success: 0, denial: 0 } }));
      const s = h.stats.entries;
      e.entries.success += s.success;
      e.entries.denial += s.denial;
    }
    return out;
  }
}

/** Labels in name order, as Go's client prints them; `view` is always empty (no `view` plugin). */
function labels(o: Owner, type?: string): Record<string, string> {
  return type === undefined ? { server: o.server, view: '', zones: o.zones } : { server: o.server, type, view: '', zones: o.zones };
}

/** The block's first listener as configured: the first bind address (or every address) and the first key's port. */
function firstServer(env: PluginEnv): string {
  return serverLabel(env.hosts[0] ?? '', env.keys[0]?.port ?? 53);
}

const BY_REGISTRY = new WeakMap<Registry, CacheMetrics>();

/** The cache metrics of `env`'s registry, registered on first use (once per registry, across reloads). */
export function cacheMetrics(env: PluginEnv): CacheMetrics {
  let m = BY_REGISTRY.get(env.metrics);
  if (m === undefined) BY_REGISTRY.set(env.metrics, (m = new CacheMetrics(env.metrics)));
  return m;
}
