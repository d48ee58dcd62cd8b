/**
 * The cache's part in the server's fast path (Query.memo, MemoGuard.replay). A replayed reply skips the chain, so
 * the cache must answer for it what its general path would have done: count the request, hit or miss, keep the
 * LRU order, and give the TTL to write. Hits are memoized with a {@link HitGuard}; replies the cache stored on their
 * way out keep the answering plugin's guard wrapped in a {@link StoreGuard}, those it passed on without storing in a
 * {@link MissGuard}.
 */
import type { MemoGuard } from '../../plugin.js';
import type { Item } from './item.js';

/** What a guard asks of the cache handler. */
export interface ReplaySide {
  /** The TTL a general-path hit on `key` would write, counted as that hit; -1 when it would not be a plain hit of `it`. */
  replayHit(key: string, it: Item): number;
  /**
   * True, counted as a miss, when a general-path lookup of `key` would miss; `neverStored`: the key's name is in
   * both `disable`d zone lists, so no entry can exist and only the count is needed.
   */
  replayMiss(key: string, neverStored: boolean): boolean;
  /** As replayMiss, and then `it` is stored again under `key`, as a new entry, as the general path's miss would. */
  replayStore(key: string, it: Item, denial: boolean): boolean;
}

/** Replays a cache hit while `it` is still the fresh entry for `key`, its TTLs counting down. */
export class HitGuard implements MemoGuard {
  constructor(
    private readonly cache: ReplaySide,
    private readonly key: string,
    private readonly it: Item,
  ) {}
  stamp(): number {
    return 0;
  }
  replay(): number {
    return this.cache.replayHit(this.key, this.it);
  }
}

/**
 * A reply another plugin wrote, memoized on its way through the cache: valid while the inner guard holds and the
 * cache's general path would miss again, which {@link cacheMisses} checks and counts as that path would.
 */
abstract class PassedThroughGuard implements MemoGuard {
  constructor(
    protected readonly cache: ReplaySide,
    protected readonly key: string,
    private readonly inner: MemoGuard,
  ) {}
  stamp(): number {
    return this.inner.stamp();
  }
  replay(): number {
    const r = this.inner.replay === undefined ? 0 : this.inner.replay();
    if (r < 0 || !this.cacheMisses()) return -1;
    return r;
  }
  protected abstract cacheMisses(): boolean;
}

/** Replays a reply the cache passed on without storing it (a name in a `disable`d zone, a zero TTL). */
export class MissGuard extends PassedThroughGuard {
  constructor(cache: ReplaySide, key: string, inner: MemoGuard, private readonly neverStored: boolean) {
    super(cache, key, inner);
  }
  protected cacheMisses(): boolean {
    return this.cache.replayMiss(this.key, this.neverStored);
  }
}

/**
 * Replays a reply the cache stored on its way out, while a general-path lookup would miss again (the entry expired
 * past any serve_stale window, or was evicted or purged): the replay counts the miss and stores the entry anew, as
 * the general path would. While the entry is usable the guard declines: a hit writes other bytes, and the general
 * path memoizes it with a {@link HitGuard}.
 */
export class StoreGuard extends PassedThroughGuard {
  constructor(
    cache: ReplaySide,
    key: string,
    inner: MemoGuard,
    private readonly it: Item,
    private readonly denial: boolean,
  ) {
    super(cache, key, inner);
  }
  protected cacheMisses(): boolean {
    return this.cache.replayStore(this.key, this.it, this.denial);
  }
}
