/**
 * A string-keyed index from a key (an IP address) to the objects that hold it. Most keys have exactly one holder, so
 * a bucket stores a single holder inline and only becomes an array when a second one arrives: at 150k endpoint IPs
 * that saves an array per key.
 */

/** The holders of one key: one object, or several in insertion order. */
export type Bucket<T> = T | readonly T[];

/** Calls `fn` for each holder in a bucket (a bucket from {@link MultiIndex.get}). */
export function forEachIn<T extends object>(b: Bucket<T> | undefined, fn: (v: T) => void): void {
  if (b === undefined) return;
  if (Array.isArray(b)) for (const v of b as readonly T[]) fn(v);
  else fn(b as T);
}

/** Key → holders, insertion-ordered per key. `T` must not itself be an array. */
export class MultiIndex<T extends object> {
  readonly #m = new Map<string, T | T[]>();

  /** Adds `v` under `key` (at the end); adding a holder twice keeps one. */
  add(key: string, v: T): void {
    const cur = this.#m.get(key);
    if (cur === undefined) this.#m.set(key, v);
    else if (Array.isArray(cur)) {
      if (!cur.includes(v)) cur.push(v);
    } else if (cur !== v) this.#m.set(key, [cur, v]);
  }

  /** Removes `v` from `key`; the key disappears with its last holder. */
  remove(key: string, v: T): void {
    const cur = this.#m.get(key);
    if (cur === undefined) return;
    if (!Array.isArray(cur)) {
      if (cur === v) this.#m.delete(key);
      return;
    }
    const i = cur.indexOf(v);
    if (i < 0) return;
    cur.splice(i, 1);
    if (cur.length === 1) this.#m.set(key, cur[0]!);
  }

  /** Removes the first holder of `key` for which `pred` is true. */
  removeWhere(key: string, pred: (v: T) => boolean): void {
    const cur = this.#m.get(key);
    if (cur === undefined) return;
    if (!Array.isArray(cur)) {
      if (pred(cur)) this.#m.delete(key);
      return;
    }
    const i = cur.findIndex(pred);
    if (i < 0) return;
    cur.splice(i, 1);
    if (cur.length === 1) this.#m.set(key, cur[0]!);
  }

  /** The holders of `key`, or undefined. The returned bucket must not be modified. */
  get(key: string): Bucket<T> | undefined {
    return this.#m.get(key);
  }

  /** Number of keys. */
  get size(): number {
    return this.#m.size;
  }
}
