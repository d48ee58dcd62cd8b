/**
 * One server block's memo of replies the general path wrote and the answering plugin marked replayable
 * (`Query.memo`): wire bytes keyed by the question as sent and the reply variant (transport, EDNS shape). Bounded;
 * emptied per name by the block's invalidations, which find their entries through a tree of the names held (a scan
 * of every entry per invalidated name cost ~0.5 ms with a full memo, and every watch event invalidates a few names);
 * each entry also carries its plugin's guard stamp, checked on use.
 * Key and reply bytes live in a few large arena buffers, not one Buffer per entry: a Buffer object per entry costs
 * more than its bytes, and a slice of Node's shared pool would pin whole 8 KB slabs.
 */
import { NameTree } from '../dns/name-tree.js';
import { redrawRuns, ttlOffsets } from '../dns/record-layout.js';
import type { MemoGuard } from '../plugin.js';

/** Default bound on entries per block: above each query mix of the 10k-Service benchmark (≤ 15,600 questions); ~400 B each. */
export const DEFAULT_MEMO_ENTRIES = 16384;

/** Size of one arena buffer. */
const ARENA_CHUNK = 256 * 1024;

/** One memoized reply. Entries whose keys hash alike (the same question in other variants, rare collisions) chain. */
export interface MemoEntry {
  /** The hash of the key, under which the entry is filed. */
  readonly hash: number;
  readonly variant: number;
  /** Arena buffer holding the key (the question's name and qtype as sent) and then the reply (ID zeroed). */
  chunk: Buffer;
  /** Offset of the key in `chunk`; the reply follows it. */
  at: number;
  readonly keyLength: number;
  readonly replyLength: number;
  /** Lower-case question name (presentation form), for invalidation. */
  readonly name: string;
  readonly guard: MemoGuard;
  readonly stamp: number;
  readonly rcode: number;
  readonly writtenBy: string;
  /** Offsets of the reply's record TTLs (relative to the reply), for guards that patch them; else null. */
  readonly ttlAt: Uint16Array | null;
  /** Runs of records whose order every replay redraws (lib/dns/record-layout.ts shuffleRuns); else null. */
  readonly shuffle: Uint16Array | null;
  next: MemoEntry | undefined;
}

/** Where redrawn runs are copied from while they are rewritten; a reply is at most 64 KB. */
const SCRATCH = Buffer.allocUnsafe(65536);

const randomInt = (n: number): number => Math.floor(Math.random() * n);

/**
 * A fresh copy of `e`'s reply (ID zero), with every record TTL set to `ttl` when it is positive (guards whose
 * replies count TTLs down) and the order of its shuffled runs drawn anew (replies loadbalance shuffles): the caller
 * patches the header and hands it to a socket.
 */
export function replyBytes(e: MemoEntry, ttl = 0): Buffer {
  const from = e.at + e.keyLength;
  const out = Buffer.allocUnsafe(e.replyLength);
  e.chunk.copy(out, 0, from, from + e.replyLength);
  const at = e.ttlAt;
  // TTLs first: their offsets are those of the memoized order.
  if (ttl > 0 && at !== null) for (let i = 0; i < at.length; i++) out.writeUInt32BE(ttl, at[i]!);
  if (e.shuffle !== null) redrawRuns(out, e.shuffle, SCRATCH, randomInt);
  return out;
}

export class ReplyMemo {
  // Keyed by the 32-bit hash of the key bytes: a small-integer Map key costs no string per lookup.
  readonly #map = new Map<number, MemoEntry>();
  readonly #capacity: number;
  /** Replies depend on the request's AD and CD bits (PluginDef.replayFlags): they are part of the variant. */
  readonly keyFlags: boolean;
  #size = 0;
  // Every entry by its question name, for invalidation.
  readonly #names = new NameTree<MemoEntry>();
  // Arena: entries append to `#chunk`; bytes of dropped entries stay until a compaction copies the live ones.
  #chunk: Buffer | null = null;
  #used = 0;
  #liveBytes = 0;
  #arenaBytes = 0;

  constructor(capacity = DEFAULT_MEMO_ENTRIES, keyFlags = false) {
    this.#capacity = capacity;
    this.keyFlags = keyFlags;
  }

  /** Entries held. */
  get size(): number {
    return this.#size;
  }

  /** Bytes of arena allocated (live entries' bytes plus not yet reclaimed ones). */
  get arenaBytes(): number {
    return this.#arenaBytes;
  }

  /**
   * The entry for the key bytes `src[start, end)` (hashing to `hash`) and `variant` whose guard still holds; a
   * stale one is dropped.
   */
  get(hash: number, src: Buffer, start: number, end: number, variant: number): MemoEntry | undefined {
    let e = this.#map.get(hash);
    while (e !== undefined && (e.variant !== variant || !sameKey(e, src, start, end))) e = e.next;
    if (e === undefined) return undefined;
    if (e.guard.stamp() !== e.stamp) {
      this.#remove(hash, e);
      return undefined;
    }
    return e;
  }

  /**
   * Remember `wire` (copied, ID zeroed) as the reply to `key` (copied) and `variant`, replacing an older one;
   * `shuffle`: the runs of records every replay must redraw (see {@link replyBytes}).
   */
  set(
    hash: number, key: Buffer, variant: number, name: string, wire: Buffer, guard: MemoGuard, rcode: number, writtenBy: string,
    shuffle: Uint16Array | null = null,
  ): void {
    // Only guards that may patch TTLs need to know where they are; the walk happens once per stored reply.
    const ttlAt = guard.replay !== undefined ? ttlOffsets(wire) : null;
    if (guard.replay !== undefined && ttlAt === null) return;
    let head = this.#map.get(hash);
    if (head === undefined) {
      // First-in, first-out when full: a hit must not cost a reordering, and dnsperf-style cyclic traffic larger
      // than the bound would defeat LRU just the same.
      if (this.#size >= this.#capacity) this.#evict();
    } else {
      for (let e: MemoEntry | undefined = head; e !== undefined; e = e.next) {
        if (e.variant === variant && sameKey(e, key, 0, key.length)) {
          this.#remove(hash, e);
          break;
        }
      }
      head = this.#map.get(hash);
    }
    const n = key.length + wire.length;
    const [chunk, at] = this.#reserve(n);
    key.copy(chunk, at);
    wire.copy(chunk, at + key.length);
    chunk[at + key.length] = 0;
    chunk[at + key.length + 1] = 0;
    const entry: MemoEntry = {
      hash,
      variant, chunk, at, keyLength: key.length, replyLength: wire.length, name, guard, stamp: guard.stamp(), rcode, writtenBy, ttlAt, shuffle, next: head,
    };
    this.#map.set(hash, entry);
    this.#names.add(name, entry);
    this.#size++;
    this.#liveBytes += n;
  }

  /** Forget every reply for `suffix` and the names below it ('.' forgets all). */
  invalidate(suffix: string): void {
    if (this.#size === 0) return;
    if (suffix === '.') return this.clear();
    for (const e of this.#names.under(suffix)) this.#remove(e.hash, e);
  }

  /** Forget everything, arena included. */
  clear(): void {
    this.#map.clear();
    this.#names.clear();
    this.#size = 0;
    this.#chunk = null;
    this.#used = 0;
    this.#liveBytes = 0;
    this.#arenaBytes = 0;
  }

  // Room for `n` bytes: [chunk, offset]. Compacts first when most of the arena is garbage.
  #reserve(n: number): [Buffer, number] {
    const c = this.#chunk;
    if ((c === null || this.#used + n > c.length) && this.#arenaBytes >= 4 * ARENA_CHUNK && this.#liveBytes * 2 < this.#arenaBytes) {
      this.#compact();
    }
    return this.#reserveFresh(n);
  }

  #newChunk(atLeast: number): void {
    const size = Math.max(ARENA_CHUNK, atLeast);
    this.#chunk = Buffer.allocUnsafeSlow(size);
    this.#used = 0;
    this.#arenaBytes += size;
  }

  // Copy every live entry into fresh chunks; the old ones are garbage once no entry points into them.
  #compact(): void {
    this.#chunk = null;
    this.#used = 0;
    this.#arenaBytes = 0;
    for (const head of this.#map.values()) {
      for (let e: MemoEntry | undefined = head; e !== undefined; e = e.next) {
        const n = e.keyLength + e.replyLength;
        const [chunk, at] = this.#reserveFresh(n);
        e.chunk.copy(chunk, at, e.at, e.at + n);
        e.chunk = chunk;
        e.at = at;
      }
    }
  }

  // Room for `n` bytes without compacting.
  #reserveFresh(n: number): [Buffer, number] {
    const c = this.#chunk;
    if (c === null || this.#used + n > c.length) this.#newChunk(n);
    const at = this.#used;
    this.#used += n;
    return [this.#chunk!, at];
  }

  #evict(): void {
    const first = this.#map.entries().next();
    if (first.done) return;
    for (let e: MemoEntry | undefined = first.value[1]; e !== undefined; e = e.next) this.#dropped(e);
    this.#map.delete(first.value[0]);
  }

  #remove(hash: number, target: MemoEntry): void {
    const head = this.#map.get(hash);
    if (head === undefined) return;
    if (head === target) {
      if (target.next === undefined) this.#map.delete(hash);
      else this.#map.set(hash, target.next);
    } else {
      let p = head;
      while (p.next !== undefined && p.next !== target) p = p.next;
      if (p.next !== target) return;
      p.next = target.next;
    }
    this.#dropped(target);
  }

  #dropped(e: MemoEntry): void {
    this.#names.delete(e.name, e);
    this.#size--;
    this.#liveBytes -= e.keyLength + e.replyLength;
  }
}

// Whether `e`'s key equals src[start, end).
function sameKey(e: MemoEntry, src: Buffer, start: number, end: number): boolean {
  const n = e.keyLength;
  if (end - start !== n) return false;
  const c = e.chunk;
  const at = e.at;
  for (let i = 0; i < n; i++) if (c[at + i] !== src[start + i]) return false;
  return true;
}
