/** Small helpers for the read-only arrays the model and the zone share. */

/** Empty arrays shared by everything that has nothing to hold (never modified). */
export const NO_NUMBERS: readonly number[] = Object.freeze([]) as readonly number[];
export const NO_STRINGS: readonly string[] = Object.freeze([]) as readonly string[];

/** True when `a` and `b` hold the same elements (compared with ===) in the same order. */
export function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
