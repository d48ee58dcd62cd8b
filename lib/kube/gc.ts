/**
 * Memory settings for holding a big cluster: a full garbage collection after a big load (lib/kube/fixture-source.ts,
 * lib/kube/api/api-source.ts, through {@link settleAfterLoad}), and a young generation kept at its start-up size
 * (bin/clusterdns.ts sets it first thing on Node 20, the kubernetes plugin before its source loads).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** A load of at least this many objects is followed by a full garbage collection ({@link settleAfterLoad}). */
const SETTLE_OBJECTS = 5000;
/** How long after such a load the collection runs: the first answers go out before it stops everything. */
const SETTLE_DELAY_MS = 250;

/**
 * After a load of `objects` objects (a fixture load, the API source's first sync), schedules {@link collectGarbage}
 * {@link SETTLE_DELAY_MS} later when the load was big enough to leave tens of MB of garbage; the collection compacts
 * the heap and stops everything for ~0.1-0.2 s at 10,000 Services. The timer does not hold the process up.
 */
export function settleAfterLoad(objects: number): void {
  if (objects < SETTLE_OBJECTS) return;
  setTimeout(collectGarbage, SETTLE_DELAY_MS).unref();
}

// V8 12 (Node 22) and later take a `flavor`: a last-resort collection also gives memory back (it shrinks the young
// generation and returns the pages the compaction freed, which Node 24 otherwise keeps mapped for ~8 s). V8 11
// (Node 20) does not know it, and its plain collection already returns freed pages.
function hasLastResort(v8Version: string): boolean {
  return Number(v8Version.split('.')[0]) >= 12;
}
const LAST_RESORT = hasLastResort(process.versions.v8);
const COMPACT_ALWAYS = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) => /--compact[-_]on[-_]every[-_]full[-_]gc\b/.test(a));

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
    if (typeof gc !== 'function') return;
    // Compacting: a load leaves the model's objects spread over pages its garbage also filled, and a normal full
    // collection only moves objects off pages that are mostly empty, so ~25% of the old generation would stay
    // mapped as holes. Moving everything costs a copy of the live heap once (a higher peak for a moment).
    setFlagsFromString('--compact-on-every-full-gc');
    try {
      if (LAST_RESORT) (gc as (o: object) => void)({ type: 'major', execution: 'sync', flavor: 'last-resort' });
      else (gc as () => void)();
    } finally {
      // Unless the user asked for it on every collection.
      if (!COMPACT_ALWAYS) setFlagsFromString('--no-compact-on-every-full-gc');
    }
  } catch {
    // Only memory is at stake.
  }
}

// The V8 options that size the young generation; when the user sets one, theirs stands.
const YOUNG_GENERATION_FLAGS = /--(max|min)[-_]semi[-_]space[-_]size\b|--semi[-_]space[-_]growth[-_]factor\b/;

/** Options for {@link keepYoungGenerationSmall}; the last three are for tests. */
export interface YoungGenerationOptions {
  /**
   * A big load is coming, and it parses its objects one at a time (both sources do: the fixture source's JSON
   * lists, the API source's list pages, lib/kube/json-list.ts), so a small young generation costs it nothing on any
   * V8 and avoids its growth during the load: pin it on V8 12+ too.
   */
  streaming?: boolean;
  execArgv?: readonly string[];
  nodeOptions?: string;
  v8Version?: string;
}

/**
 * Stops V8's young generation from growing past the size it has now (V8 starts with two 1 MB semi-spaces; loading
 * clusterdns's modules grows them to 2 MB on Node 20), for the rest of the process: always on V8 11 (Node 20), on
 * V8 12+ only before `streaming` loads; never when the command line or NODE_OPTIONS sizes it. Returns whether it
 * did.
 *
 * Why: while a big cluster loads, much of what is allocated survives (the model and the zone being built), and V8
 * answers by doubling the young generation up to its maximum, 32 MB on Node 20, 64 MB on Node 24. V8 11 gives that
 * back only when it collects while allocation is slow, which on an idle DNS server does not happen: RSS after sync
 * stayed ~30 MB higher than the data needs. A DNS server's own garbage (per query) dies young, and a small young
 * generation collects it as cheaply: scavenges are more frequent but each copies only what is alive. Loads must
 * then not parse big documents whole: API list pages of 500 objects parsed whole outlived a small young
 * generation (more list time, a higher peak); JSON list fixtures and API list pages are now parsed an object at a
 * time (YAML fixtures and single JSON documents are still parsed whole). On V8 12 and later (Node 22, 24) the
 * collection after a big load shrinks the young generation again ({@link collectGarbage}), but pinning it still
 * saves the load's peak (~50-60 MB at 10,000 Services) and a few MB after it, so the kubernetes plugin pins it
 * there too, before its source loads.
 *
 * How: `--max-semi-space-size` is read once, when the heap is set up, so it cannot be changed from inside the
 * process (it works in NODE_OPTIONS). `--semi-space-growth-factor` is read each time V8 grows the young
 * generation; at 1 the growth is a no-op. It is a V8 option, not a Node.js API, so this is best effort: a V8
 * without it prints a warning and the young generation grows as before (which the benchmark would show).
 */
export function keepYoungGenerationSmall(opts: YoungGenerationOptions = {}): boolean {
  const execArgv = opts.execArgv ?? process.execArgv;
  const nodeOptions = opts.nodeOptions ?? process.env.NODE_OPTIONS ?? '';
  if (hasLastResort(opts.v8Version ?? process.versions.v8) && opts.streaming !== true) return false;
  if (execArgv.some((a) => YOUNG_GENERATION_FLAGS.test(a)) || YOUNG_GENERATION_FLAGS.test(nodeOptions)) return false;
  try {
    setFlagsFromString('--semi-space-growth-factor=1');
    return true;
  } catch {
    return false;
  }
}
