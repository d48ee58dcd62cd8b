/** Small helpers for the read-only arrays the model and the zone share. */

/** True when `a` and `b` hold the same elements (compared with ===) in the same order. */
export function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
