/** Builds a block's plugin chain, last plugin first, so each link gets its `next` once, at build time. */
import { RCODE } from '../dns/constants.js';
import type { Handler, PluginEnv } from '../plugin.js';
import type { Query } from '../query.js';
import type { BlockPlan } from './plan.js';

/**
 * What sits after the last plugin: CoreDNS's NextOrFailure with no next plugin, which answers SERVFAIL and
 * records "no next plugin found" for the errors plugin.
 */
export class EndOfChain implements Handler {
  readonly name = '';
  constructor(private readonly last: string) {}
  serve(q: Query): number {
    return q.fail(RCODE.SERVFAIL, `plugin/${this.last}: no next plugin found`);
  }
}

/**
 * The first handler of a block's chain, or null when no plugin of the block answers queries. With `opaque`, the
 * names of the built links that are not transparent to the fast path (PluginDef.fastPath) are
 * appended to it: the block may memoize replies only when it stays empty.
 */
export function buildChain(block: BlockPlan, envFor: (plugin: string) => PluginEnv, opaque?: string[]): Handler | null {
  let next: Handler | null = null;
  for (let i = block.plugins.length - 1; i >= 0; i--) {
    const p = block.plugins[i]!;
    const link = p.def.build(p.config, next ?? new EndOfChain(p.def.name), envFor(p.def.name));
    if (link === null) continue;
    next = link;
    if (opaque !== undefined && p.def.fastPath !== true) opaque.unshift(p.def.name);
  }
  return next;
}
