/**
 * Shares the small read-only arrays and SRV sets that thousands of services derive alike, so the zone holds one
 * copy of each instead of one per service: `[-1]` SRV targets and `[80]` ports of ClusterIP services, the row
 * lists `0..n-1` of headless services whose rows are all distinct, `n` blank endpoint names, `n` zeros of slice
 * indexes, a whole ClusterIP SRV set for the same ports. Without pointer compression (Node's default build) even an
 * empty JS array costs 32 bytes plus 16 for its elements, so at 10,000 services this is megabytes.
 *
 * Only arrays whose kinds are bounded are kept (constant runs by value and length, `0..n-1` by length, short
 * lists by content), so the tables stay small however long the zone runs. Callers must never modify what they get.
 */
import { NO_NUMBERS, NO_STRINGS } from '../util/arrays.js';
import type { SrvSet } from './service-records.js';

// Lists of at most this many elements are shared by content.
const SHORT = 4;

/** The arrays one zone shares among its services. */
export class SharedArrays {
  readonly #runs = new Map<string, readonly number[]>();
  readonly #iotas = new Map<number, readonly number[]>();
  readonly #short = new Map<string, readonly number[]>();
  readonly #blanks = new Map<number, readonly string[]>();
  readonly #shortStrings = new Map<string, readonly string[]>();
  readonly #sets = new Map<string, SrvSet>();
  readonly #lists = new Map<string, readonly SrvSet[]>();

  /** `a`, or an equal shared array when `a` is a constant run, `0..n-1` or short; otherwise an exact-size copy. */
  numbers(a: readonly number[]): readonly number[] {
    const n = a.length;
    if (n === 0) return NO_NUMBERS;
    if (n <= SHORT) {
      const key = a.join(',');
      return this.#get(this.#short, key, a);
    }
    let run = true;
    let iota = true;
    const first = a[0]!;
    for (let i = 0; i < n && (run || iota); i++) {
      if (a[i] !== first) run = false;
      if (a[i] !== i) iota = false;
    }
    if (iota) return this.#get(this.#iotas, n, a);
    if (run) return this.#get(this.#runs, `${first}x${n}`, a);
    return a.slice();
  }

  /** `a`, or an equal shared array when every element is '' or the list is short; otherwise an exact-size copy. */
  strings(a: readonly string[]): readonly string[] {
    const n = a.length;
    if (n === 0) return NO_STRINGS;
    if (n <= SHORT) return this.#get(this.#shortStrings, a.join('\n'), a);
    for (let i = 0; i < n; i++) if (a[i] !== '') return a.slice();
    return this.#get(this.#blanks, n, a);
  }

  /**
   * A shared ClusterIP SRV set: such a set depends only on its candidate count and its ports (every target is the
   * service name, there are no row lists), so services with the same ports share one.
   */
  clusterSet(candidates: number, weight: number, srvPorts: readonly number[], srvRows: readonly number[]): SrvSet {
    const key = `${candidates}/${srvPorts.join(',')}`;
    let set = this.#sets.get(key);
    if (set === undefined) {
      set = Object.freeze({
        cluster: true,
        candidates,
        weight,
        srvRows: this.numbers(srvRows),
        srvPorts: this.numbers(srvPorts),
        extraRows: NO_NUMBERS,
        addrRows: NO_NUMBERS,
      });
      // Bounded like the arrays: only sets with few ports are kept.
      if (srvPorts.length <= SHORT) this.#sets.set(key, set);
    }
    return set;
  }

  /** A shared list of shared sets (the per-port sets of ClusterIP services with the same ports). */
  setList(sets: readonly SrvSet[]): readonly SrvSet[] {
    if (sets.length > SHORT || !sets.every((s) => s.cluster)) return sets.slice();
    const key = sets.map((s) => `${s.candidates}/${s.srvPorts.join(',')}`).join(';');
    // Only lists of interned sets may be shared: check that each is the interned one.
    for (const s of sets) if (this.#sets.get(`${s.candidates}/${s.srvPorts.join(',')}`) !== s) return sets.slice();
    return this.#get(this.#lists, key, sets);
  }

  #get<K, T>(m: Map<K, readonly T[]>, key: K, a: readonly T[]): readonly T[] {
    const known = m.get(key);
    if (known !== undefined) return known;
    const kept = Object.freeze(a.slice());
    m.set(key, kept);
    return kept;
  }
}
