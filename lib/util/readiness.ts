/**
 * The readiness verdict over every reporter of a server instance (CoreDNS plugin/ready/list.go): what the ready
 * plugin answers on /ready, and what a secondary worker (lib/workers) reports to the primary, which combines them.
 */
import type { Readiness } from '../plugin.js';

/** Outcome of one check: ready, or the sorted, comma-joined names of what is not. */
export interface Verdict {
  ready: boolean;
  notReady: string;
}

/** Asks the reporters; in `until-ready` mode one that answered ready once is not asked again. */
export class ReadinessList {
  /** True when every check asks every reporter (`monitor continuously`). */
  continuously = false;
  /** Where the reporters come from; replaced on reload with the new instance's list. */
  source: () => readonly Readiness[];
  private readonly settled = new WeakSet<Readiness>();

  constructor(source: () => readonly Readiness[]) {
    this.source = source;
  }

  check(): Verdict {
    const names = new Set<string>();
    for (const r of this.source()) {
      if (!this.continuously && this.settled.has(r)) continue;
      if (r.ready()) {
        if (!this.continuously) this.settled.add(r);
        continue;
      }
      names.add(r.name);
    }
    if (names.size === 0) return { ready: true, notReady: '' };
    return { ready: false, notReady: [...names].sort().join(',') };
  }
}

/**
 * The verdict of a process serving with several workers (lib/workers): ready when every worker is, else the sorted
 * union of what is not ready in any of them.
 */
export function combine(verdicts: readonly Verdict[]): Verdict {
  const names = new Set<string>();
  let ready = true;
  for (const v of verdicts) {
    if (v.ready) continue;
    ready = false;
    for (const n of v.notReady.split(',')) if (n !== '') names.add(n);
  }
  return ready ? { ready: true, notReady: '' } : { ready: false, notReady: [...names].sort().join(',') };
}
