/**
 * A string-keyed index from a key (an IP address) to the objects that hold it. Most keys have exactly one holder, so
 * a bucket stores a single holder inline and only becomes an array when a second one arrives: at 150k endpoint IPs
 * that saves an array per key.
 *
 * IPv4 keys in canonical dotted-quad form (what the model holds) live in an open-addressing table of 32-bit numbers
 * instead of a Map: a V8 Map costs about 3 words per entry plus buckets, at a power-of-two capacity, ~7 MB for
 * 150,000 endpoint addresses on a 64-bit build; the table costs 4 bytes per key slot plus one word per holder slot,
 * ~3 MB. Other keys (IPv6, anything else) stay in a Map.
 */

/** The holders of one key: one object, or several in insertion order. */
export type Bucket<T> = T | readonly T[];

/** Calls `fn` for each holder in a bucket (a bucket from {@link MultiIndex.get}). */
export function forEachIn<T extends object>(b: Bucket<T> | undefined, fn: (v: T) => void): void {
  if (b === undefined) return;
  if (Array.isArray(b)) for (const v of b as readonly T[]) fn(v);
  else fn(b as T);
}

/**
 * The 32-bit value of a canonical dotted-quad IPv4 address (no leading zeros, each part 0-255), or -1. Only the
 * canonical spelling maps to a number, so every key string has exactly one place: "010.0.0.1" is a Map key.
 */
export function ipv4Key(s: string): number {
  const n = s.length;
  if (n < 7 || n > 15) return -1;
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && part === 0) return -1; // a leading zero
      part = part * 10 + (c - 0x30);
      if (++digits > 3 || part > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

// The table's starting capacity (a power of two) and its fill limit before it doubles.
const MIN_CAPACITY = 16;
const MAX_LOAD = 0.75;

/** Key → holders, insertion-ordered per key. `T` must not itself be an array. */
export class MultiIndex<T extends object> {
  readonly #m = new Map<string, T | T[]>();
  // IPv4 keys: slot i holds key #keys[i] when #vals[i] is not undefined (linear probing, no tombstones).
  #keys = new Uint32Array(MIN_CAPACITY);
  #vals: (T | T[] | undefined)[] = new Array<T | T[] | undefined>(MIN_CAPACITY).fill(undefined);
  // 32 - log2(capacity): the hash takes the top bits of the product.
  #shift = 32 - Math.log2(MIN_CAPACITY);
  #count = 0;

  /** Adds `v` under `key` (at the end); adding a holder twice keeps one. */
  add(key: string, v: T): void {
    const k = ipv4Key(key);
    const cur = k < 0 ? this.#m.get(key) : this.#vals[this.#slot(k)];
    let next: T | T[];
    if (cur === undefined) next = v;
    else if (Array.isArray(cur)) {
      if (!cur.includes(v)) cur.push(v);
      return;
    } else if (cur !== v) next = [cur, v];
    else return;
    if (k < 0) this.#m.set(key, next);
    else this.#put(k, next);
  }

  /** Removes `v` from `key`; the key disappears with its last holder. */
  remove(key: string, v: T): void {
    this.#removeAt(key, (x) => x === v);
  }

  /** Removes the first holder of `key` for which `pred` is true. */
  removeWhere(key: string, pred: (v: T) => boolean): void {
    this.#removeAt(key, pred);
  }

  /** The holders of `key`, or undefined. The returned bucket must not be modified. */
  get(key: string): Bucket<T> | undefined {
    const k = ipv4Key(key);
    return k < 0 ? this.#m.get(key) : this.#vals[this.#slot(k)];
  }

  /** Number of keys. */
  get size(): number {
    return this.#m.size + this.#count;
  }

  #removeAt(key: string, pred: (v: T) => boolean): void {
    const k = ipv4Key(key);
    const i = k < 0 ? -1 : this.#slot(k);
    const cur = k < 0 ? this.#m.get(key) : this.#vals[i];
    if (cur === undefined) return;
    if (!Array.isArray(cur)) {
      if (!pred(cur)) return;
      if (k < 0) this.#m.delete(key);
      else this.#delete(i);
      return;
    }
    const j = cur.findIndex(pred);
    if (j < 0) return;
    cur.splice(j, 1);
    if (cur.length !== 1) return;
    if (k < 0) this.#m.set(key, cur[0]!);
    else this.#vals[i] = cur[0]!;
  }

  #home(k: number): number {
    // Fibonacci hashing: the top bits of the product depend on every bit of the address, so neither runs of
    // consecutive addresses nor subnets that differ only in their upper octets pile up in one place.
    return Math.imul(k, 0x9e3779b1) >>> this.#shift;
  }

  // The slot holding `k`, or the empty slot where it would go.
  #slot(k: number): number {
    const keys = this.#keys;
    const vals = this.#vals;
    const mask = keys.length - 1;
    let i = this.#home(k);
    while (vals[i] !== undefined && keys[i] !== k) i = (i + 1) & mask;
    return i;
  }

  #put(k: number, v: T | T[]): void {
    let i = this.#slot(k);
    if (this.#vals[i] === undefined) {
      if (this.#count + 1 > this.#keys.length * MAX_LOAD) {
        this.#grow();
        i = this.#slot(k);
      }
      this.#keys[i] = k;
      this.#count++;
    }
    this.#vals[i] = v;
  }

  #grow(): void {
    const keys = this.#keys;
    const vals = this.#vals;
    const cap = keys.length * 2;
    this.#keys = new Uint32Array(cap);
    this.#vals = new Array<T | T[] | undefined>(cap).fill(undefined);
    this.#shift--;
    for (let i = 0; i < keys.length; i++) {
      const v = vals[i];
      if (v === undefined) continue;
      const j = this.#slot(keys[i]!);
      this.#keys[j] = keys[i]!;
      this.#vals[j] = v;
    }
  }

  // Empties slot `i` and moves later entries of the same probe run back, so lookups never need tombstones.
  #delete(i: number): void {
    const keys = this.#keys;
    const vals = this.#vals;
    const mask = keys.length - 1;
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (vals[j] === undefined) break;
      const home = this.#home(keys[j]!);
      // Entry j may fill the hole unless its home lies cyclically in (hole, j].
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (inRange) continue;
      keys[hole] = keys[j]!;
      vals[hole] = vals[j];
      hole = j;
    }
    vals[hole] = undefined;
    this.#count--;
  }
}
