/**
 * cache: answers repeated questions from a success and a denial cache, and stores what the rest of the chain
 * answers (CoreDNS plugin/cache handler.go and cache.go). Misses register a reply hook, so the cache sees the
 * reply just before it is written, stores a copy and rewrites its TTLs.
 */
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { FLAG, RCODE } from '../../dns/constants.js';
import type { Message } from '../../dns/message.js';
import { isSubdomain } from '../../dns/name.js';
import { NameTree } from '../../dns/name-tree.js';
import type { Handler, Served } from '../../plugin.js';
import { Query, type ReplyHook, type ReplySink } from '../../query.js';
import { KIND, type Kind, clampTtl, classify, isCacheable, isDenial, minimalTtl } from './classify.js';
import { type Item, newItem, remainingTtl, replyFrom, restoredItem, withTtl } from './item.js';
import { HitGuard, MissGuard, StoreGuard, type ReplaySide } from './replay.js';
import { type CacheConfig, effectiveCapacity } from './setup.js';

/** Counters for the `coredns_cache_*` metrics. */
export interface CacheStats {
  entries: { success: number; denial: number };
  requests: number;
  hits: { success: number; denial: number };
  misses: number;
  prefetches: number;
  drops: number;
  servedStale: number;
  evictions: { success: number; denial: number };
}

/** Test and wiring hooks that are not Corefile options. */
export interface CacheOptions {
  /** Clock in milliseconds (monotonic); tests pass a fake one. Defaults to performance.now(). */
  now?: () => number;
  log?: Logger;
}

/**
 * The clock of caches built without `CacheOptions.now` (milliseconds, monotonic). One object, so a test running
 * two servers in one process (fast path against general path) can move both caches' time together.
 */
export const cacheClock = { now: (): number => performance.now() };

/** At most this many background refreshes run at once; more are skipped (the entry is still served). */
const MAX_BACKGROUND = 64;

/** Where internal refresh queries "send" their reply: nowhere, the cache hook has already stored it. */
const NO_SINK: ReplySink = { send() {} };

/**
 * Whose reply the hook sees: a client's miss (stored, TTLs rewritten), a background refresh (stored only) or a
 * serve_stale verify (stored only when NOERROR or NXDOMAIN).
 */
export type Mode = 'client' | 'prefetch' | 'verify';

// One hook object per mode, made once per handler: no closure per query.
class StoreHook implements ReplyHook {
  constructor(
    private readonly cache: CacheHandler,
    private readonly mode: Mode,
  ) {}
  onReply(q: Query, m: Message): Message {
    return this.cache.onReply(q, m, this.mode);
  }
}

/**
 * The cache link of the chain. Besides serving, it offers `purge`/`purgeSuffix` for zone changes, `stats` for
 * metrics and `whenIdle` for shutdown and tests.
 */
export class CacheHandler implements Handler, ReplaySide {
  readonly name = 'cache';
  private readonly next: Handler;
  private readonly cfg: CacheConfig;
  private readonly now: () => number;
  private readonly log: Logger | undefined;
  private readonly success: LRUCache<string, Item>;
  private readonly denial: LRUCache<string, Item>;
  // The keys of each cache by name, so a purge visits only the entries at or below the purged name: zone changes
  // purge on every watch event, and scanning ~10k entries per name took milliseconds (seconds for a big slice).
  private readonly successNames = new NameTree<string>();
  private readonly denialNames = new NameTree<string>();
  private readonly staleSec: number;
  private readonly clientHook = new StoreHook(this, 'client');
  private readonly prefetchHook = new StoreHook(this, 'prefetch');
  private readonly verifyHook = new StoreHook(this, 'verify');
  /** Keys with a background refresh in flight (one at a time per key). */
  private readonly inflight = new Set<string>();
  private readonly pending = new Set<Promise<void>>();
  private readonly counters = {
    requests: 0,
    hitsSuccess: 0,
    hitsDenial: 0,
    misses: 0,
    prefetches: 0,
    drops: 0,
    servedStale: 0,
    evictSuccess: 0,
    evictDenial: 0,
  };

  constructor(cfg: CacheConfig, next: Handler, opts: CacheOptions = {}) {
    this.cfg = cfg;
    this.next = next;
    this.now = opts.now ?? (() => cacheClock.now());
    this.log = opts.log;
    // Expiry is computed from the stored time, not by lru-cache's TTL, so hits can count TTLs down and serve_stale
    // can serve past expiry; lru-cache only bounds the size.
    // 'set' replaces the item of a key with one for the same name: the key stays filed.
    this.success = new LRUCache<string, Item>({
      max: effectiveCapacity(cfg.success.capacity),
      dispose: (v, k, reason) => {
        if (reason === 'evict') this.counters.evictSuccess++;
        if (reason !== 'set') this.successNames.delete(v.name, k);
      },
    });
    this.denial = new LRUCache<string, Item>({
      max: effectiveCapacity(cfg.denial.capacity),
      dispose: (v, k, reason) => {
        if (reason === 'evict') this.counters.evictDenial++;
        if (reason !== 'set') this.denialNames.delete(v.name, k);
      },
    });
    this.staleSec = Math.trunc(cfg.staleMs / 1000);
  }

  serve(q: Query): Served {
    if (!inZones(q.name, this.cfg.zones)) return this.next.serve(q);
    const now = this.now();
    const key = keyOf(q);
    const it = this.lookup(key, now);
    if (it === undefined) {
      q.addHook(this.clientHook);
      return this.next.serve(q);
    }
    const ttl = remainingTtl(it, now);
    if (ttl <= 0) {
      // serve_stale (CoreDNS handler.go): `verify` asks the chain first; `immediate` answers with TTL 0 and
      // refreshes in the background.
      if (this.cfg.staleVerify) return this.verifyStale(q, it);
      this.counters.servedStale++;
      this.refresh(q, key, it, now);
      return q.reply(replyFrom(q, it, 0), this.name);
    }
    if (this.shouldPrefetch(it, now, ttl)) this.refresh(q, key, it, now);
    // A plain fresh hit may be replayed by the fast path (replayHit keeps it exact); with prefetch on, every hit
    // must go through shouldPrefetch's bookkeeping, so none is.
    if (this.cfg.prefetch <= 0) q.memo = it.guard ??= new HitGuard(this, key, it);
    return q.reply(replyFrom(q, it, this.cfg.keepTtl ? it.origTtl : ttl), this.name);
  }

  /** ReplaySide: what serve() would do for a memoized hit of `it` under `key`, counted as it would count it. */
  replayHit(key: string, it: Item): number {
    const now = this.now();
    // lookup()'s order: a usable denial entry wins over a positive one.
    const n = this.denial.get(key);
    const denial = n !== undefined && this.usable(n, now);
    const hit = denial ? n : this.success.get(key);
    if (hit !== it) return -1;
    const ttl = remainingTtl(it, now);
    // Expired (serve_stale) is the general path's business.
    if (ttl <= 0) return -1;
    this.counters.requests++;
    if (denial) this.counters.hitsDenial++;
    else this.counters.hitsSuccess++;
    return this.cfg.keepTtl ? it.origTtl : ttl;
  }

  /** ReplaySide: whether serve() would miss `key`; if so, counted as that miss and `it` stored again as new. */
  replayStore(key: string, it: Item, denial: boolean): boolean {
    if (!this.replayMiss(key, false)) return false;
    this.put(denial, key, restoredItem(it, this.now()));
    return true;
  }

  /** ReplaySide: whether serve() would miss `key` (then counted as that miss). */
  replayMiss(key: string, neverStored: boolean): boolean {
    if (neverStored) {
      this.counters.requests++;
      this.counters.misses++;
      return true;
    }
    const now = this.now();
    const n = this.denial.get(key);
    if (n !== undefined && this.usable(n, now)) return false;
    const p = this.success.get(key);
    if (p !== undefined && this.usable(p, now)) return false;
    this.counters.requests++;
    this.counters.misses++;
    return true;
  }

  /**
   * The reply hook: classify the reply, store a copy when it is cacheable, and hand on a copy whose record TTLs are
   * all the cache duration (CoreDNS ResponseWriter.WriteMsg). Public for the hook objects only.
   */
  onReply(q: Query, m: Message, mode: Mode): Message {
    const kind = classify(m);
    const ttl = this.durationSec(m, kind);
    // verify mode: only a NOERROR or NXDOMAIN refresh replaces the stale entry (CoreDNS verifyStaleResponseWriter).
    const rcode = m.flags & 0xf;
    const usable = mode !== 'verify' || rcode === RCODE.NOERROR || rcode === RCODE.NXDOMAIN;
    const key = keyOf(q);
    let stored: Item | undefined;
    if (usable && ttl > 0 && isCacheable(m, kind)) {
      if (questionMatches(q, m)) stored = this.store(key, q.name, m, kind, ttl, mode === 'prefetch');
      else {
        this.counters.drops++;
        q.memo = undefined;
      }
    }
    // The fast path. A reply stored here is replayed while the cache would miss again (expired, evicted), the
    // store redone by the replay; while the entry is fresh a hit writes other bytes (AA, RA as stored, TTLs counting
    // down), memoized by serve(). A reply passed on unstored stays replayable while the cache would still miss.
    if (q.memo !== undefined) {
      q.memo = stored !== undefined ? new StoreGuard(this, key, q.memo, stored, isDenial(kind)) : new MissGuard(this, key, q.memo, this.neverStores(q.name));
    }
    if (mode === 'prefetch') return m;
    const out: Message = {
      ...m,
      answer: withTtl(m.answer, ttl),
      authority: withTtl(m.authority, ttl),
      additional: withTtl(m.additional, ttl),
    };
    // RFC 6840 §5.7-5.8: keep AD only for clients that asked for DNSSEC (DO) or set AD themselves.
    if (!q.do && (q.req.flags & FLAG.AD) === 0) out.flags &= ~FLAG.AD;
    return out;
  }

  /** Remove every entry (both caches, all types, DO and CD variants) for the lower-cased name `name`. */
  purge(name: string): void {
    for (const k of this.successNames.at(name)) this.success.delete(k);
    for (const k of this.denialNames.at(name)) this.denial.delete(k);
  }

  /** Remove every entry for `zone` (lower case, absolute) and all names below it. */
  purgeSuffix(zone: string): void {
    for (const k of this.successNames.under(zone)) this.success.delete(k);
    for (const k of this.denialNames.under(zone)) this.denial.delete(k);
  }

  /** A snapshot of the counters and the current entry counts. */
  get stats(): CacheStats {
    const c = this.counters;
    return {
      entries: { success: this.success.size, denial: this.denial.size },
      requests: c.requests,
      hits: { success: c.hitsSuccess, denial: c.hitsDenial },
      misses: c.misses,
      prefetches: c.prefetches,
      drops: c.drops,
      servedStale: c.servedStale,
      evictions: { success: c.evictSuccess, denial: c.evictDenial },
    };
  }

  /** Resolves once no background refresh is running (tests, shutdown). */
  async whenIdle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }

  // CoreDNS getIfNotStale: denial first, so a cached SERVFAIL or NXDOMAIN is seen before an older positive entry;
  // an entry counts while fresh, or while expired for less than the serve_stale window.
  private lookup(key: string, now: number): Item | undefined {
    this.counters.requests++;
    const n = this.denial.get(key);
    if (n !== undefined && this.usable(n, now)) {
      this.counters.hitsDenial++;
      return n;
    }
    const p = this.success.get(key);
    if (p !== undefined && this.usable(p, now)) {
      this.counters.hitsSuccess++;
      return p;
    }
    this.counters.misses++;
    return undefined;
  }

  private usable(it: Item, now: number): boolean {
    const ttl = remainingTtl(it, now);
    return ttl > 0 || (this.staleSec > 0 && -ttl < this.staleSec);
  }

  // CoreDNS cache.go WriteMsg: NXDOMAIN/NODATA use the denial bounds, SERVFAIL the servfail duration, the rest
  // the success bounds.
  private durationSec(m: Message, kind: Kind): number {
    if (kind === KIND.NXDOMAIN || kind === KIND.NODATA) {
      return clampTtl(minimalTtl(m, kind), this.cfg.denial.minTtl, this.cfg.denial.maxTtl);
    }
    if (kind === KIND.SERVERERROR) return Math.trunc(this.cfg.servfailMs / 1000);
    return clampTtl(minimalTtl(m, kind), this.cfg.success.minTtl, this.cfg.success.maxTtl);
  }

  // True when store() refuses every reply for `name` (the kubeadm Corefile's cluster.local): no lookup can hit.
  private neverStores(name: string): boolean {
    return inZones(name, this.cfg.success.disabled) && inZones(name, this.cfg.denial.disabled);
  }

  // Stores the reply unless its zone is disabled; returns the entry stored.
  private store(key: string, name: string, m: Message, kind: Kind, ttl: number, prefetch: boolean): Item | undefined {
    const denial = isDenial(kind);
    if (inZones(name, denial ? this.cfg.denial.disabled : this.cfg.success.disabled)) return undefined;
    const it = newItem(name, m, ttl, this.now());
    this.put(denial, key, it);
    // CoreDNS: a prefetch that found a positive answer retires the negative entry for the same key.
    if (prefetch && !denial) this.denial.delete(key);
    return it;
  }

  private put(denial: boolean, key: string, it: Item): void {
    if (denial) {
      this.denial.set(key, it);
      this.denialNames.add(it.name, key);
    } else {
      this.success.set(key, it);
      this.successNames.add(it.name, key);
    }
  }

  // CoreDNS shouldPrefetch: hits with no gap longer than the window are counted (pkg/freq); once there are AMOUNT of
  // them and the TTL left is at most PERCENTAGE of the original, refresh.
  private shouldPrefetch(it: Item, now: number, ttl: number): boolean {
    if (this.cfg.prefetch <= 0) return false;
    it.hits = it.lastHit < now - this.cfg.prefetchWindowMs ? 1 : it.hits + 1;
    it.lastHit = now;
    const threshold = Math.ceil((this.cfg.prefetchPercentage / 100) * it.origTtl);
    return it.hits >= this.cfg.prefetch && ttl <= threshold;
  }

  // A new internal query for the same question, answered by the rest of the chain into nothing but our hook.
  private internalQuery(q: Query, proto: 'udp' | 'tcp', hook: ReplyHook): Query {
    const iq = new Query(q.req, q.raw, proto, q.remote, q.server, NO_SINK, undefined, q.depth);
    iq.zone = q.zone;
    iq.addHook(hook);
    return iq;
  }

  // Background refresh (prefetch and serve_stale immediate), one per key and MAX_BACKGROUND in all. It runs after
  // the current reply is written. CoreDNS uses TCP for prefetches so the reply is not truncated before storing.
  private refresh(q: Query, key: string, it: Item, now: number): void {
    if (this.inflight.has(key) || this.inflight.size >= MAX_BACKGROUND) return;
    this.inflight.add(key);
    this.counters.prefetches++;
    const iq = this.internalQuery(q, 'tcp', this.prefetchHook);
    const p = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.next.serve(iq))
      .then(
        () => {
          // CoreDNS doPrefetch: the new entry inherits the hit count, so popular names keep being prefetched.
          const fresh = this.denial.peek(key) ?? this.success.peek(key);
          if (fresh !== undefined && fresh !== it) {
            fresh.hits = it.hits;
            fresh.lastHit = now;
          }
        },
        (err: unknown) => this.log?.warn({ err }, `prefetch of ${q.name} failed`),
      )
      .finally(() => {
        this.inflight.delete(key);
        this.pending.delete(p);
      });
    this.pending.add(p);
  }

  // serve_stale verify: ask the chain first; a NOERROR or NXDOMAIN answer is stored and sent, anything else
  // (SERVFAIL, a throw, nothing written) falls back to the stale entry with TTL 0.
  private async verifyStale(q: Query, it: Item): Promise<number> {
    const iq = this.internalQuery(q, q.proto, this.verifyHook);
    try {
      await this.next.serve(iq);
    } catch (err) {
      this.log?.warn({ err }, `serve_stale verify of ${q.name} failed`);
    }
    const m = iq.response;
    if (iq.written && m !== undefined && (iq.rcode === RCODE.NOERROR || iq.rcode === RCODE.NXDOMAIN)) {
      return q.reply(m, iq.writtenBy);
    }
    this.counters.servedStale++;
    return q.reply(replyFrom(q, it, 0), this.name);
  }
}

/** Cache key: DO and CD bits, qtype, qclass and the lower-cased qname (CoreDNS cache.go hash). */
export function keyOf(q: Query): string {
  const cd = (q.req.flags & FLAG.CD) !== 0;
  return `${q.do ? 1 : 0}${cd ? 1 : 0}/${q.qtype}/${q.qclass}/${q.name}`;
}

function inZones(name: string, zones: readonly string[]): boolean {
  for (const z of zones) if (isSubdomain(name, z)) return true;
  return false;
}

// CoreDNS request.Match: one question, QR set, same name (case-insensitive) and type as asked.
function questionMatches(q: Query, m: Message): boolean {
  if (m.question.length !== 1 || (m.flags & FLAG.QR) === 0) return false;
  const rq = m.question[0]!;
  return rq.type === q.qtype && rq.name.toLowerCase() === q.name;
}
