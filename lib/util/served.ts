/** Helpers for handlers that return an rcode synchronously or as a promise. */
import type { Served } from '../plugin.js';

/**
 * Run `after` once `served` has settled, without creating a promise when it is already a number (the common, fast
 * case). Returns what the chain returned.
 */
export function afterServed(served: Served, after: (rcode: number) => void): Served {
  if (typeof served === 'number') {
    after(served);
    return served;
  }
  return served.then((rcode) => {
    after(rcode);
    return rcode;
  });
}
