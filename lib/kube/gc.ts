/**
 * A full garbage collection after a big load (lib/kube/fixture-source.ts, lib/kube/api/api-source.ts).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Asks V8 for a full garbage collection. After a big load the heap holds tens of MB of the load's garbage (objects
 * that lived through the batch: change events, index temporaries, cache invalidation keys), and V8 collects it
 * only once allocation resumes, which on an idle server can be never: RSS after sync stays 30-40 MB higher. The
 * `gc` function is not exposed without `--expose-gc`; enabling the flag now exposes it to new contexts only, so a
 * throwaway context lends its `gc` (the collection is of the whole isolate). Best effort: any failure is ignored.
 */
export function collectGarbage(): void {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
    if (typeof gc === 'function') (gc as () => void)();
  } catch {
    // Only memory is at stake.
  }
}

