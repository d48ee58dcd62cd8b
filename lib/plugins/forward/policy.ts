/** Upstream selection policies (CoreDNS plugin/forward/policy.go): the order upstreams are tried in for a query. */
import type { PolicyName } from './setup.js';

/** Gives, per query, the order in which to try the upstreams. */
export interface Policy {
  list<T>(items: readonly T[]): T[];
}

/** A random permutation per query (the default). */
export class RandomPolicy implements Policy {
  list<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}

/** The configured order rotated by one more position on every query. */
export class RoundRobinPolicy implements Policy {
  private robin = 0;
  list<T>(items: readonly T[]): T[] {
    const n = items.length;
    if (n === 0) return [];
    const start = this.robin++ % n;
    return [...items.slice(start), ...items.slice(0, start)];
  }
}

/** Always the configured order. */
export class SequentialPolicy implements Policy {
  list<T>(items: readonly T[]): T[] {
    return items.slice();
  }
}

/** The policy object for a configured name (each handler gets its own, so round robin state is per instance). */
export function makePolicy(name: PolicyName): Policy {
  if (name === 'round_robin') return new RoundRobinPolicy();
  if (name === 'sequential') return new SequentialPolicy();
  return new RandomPolicy();
}
