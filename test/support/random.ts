/**
 * A seeded random generator for tests that walk random cases (mulberry32: small, and its low bits are as random as
 * its high ones), so every run walks the same cases and a failure can be replayed.
 */
export function seededRandom(seed: number): (n: number) => number {
  let s = seed | 0;
  /** An integer in [0, n). */
  return (n: number): number => {
    s = (s + 0x6d2b79f5) | 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((((x ^ (x >>> 14)) >>> 0) / 4294967296) * n) | 0;
  };
}
