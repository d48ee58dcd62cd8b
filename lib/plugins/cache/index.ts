/** The `cache` plugin definition. */
import type { PluginDef } from '../../plugin.js';
import { CacheHandler } from './handler.js';
import { cacheMetrics } from './metrics.js';
import { parse, type CacheConfig } from './setup.js';

export type { CacheConfig } from './setup.js';
export { CacheHandler, type CacheStats, type CacheOptions } from './handler.js';

/** `cache`: a success and a denial cache in front of the rest of the chain (CoreDNS plugin/cache). */
export const cache: PluginDef<CacheConfig> = {
  name: 'cache',
  once: true,
  // Hits are replayed through HitGuard, stored misses through StoreGuard, unstored replies through MissGuard
  // (replay.ts); CD is part of the key and AD follows the request.
  fastPath: true,
  replayFlags: true,
  parse,
  build(cfg, next, env) {
    // CoreDNS plugin.NextOrFailure: a cache with nothing behind it has nothing to cache; the server answers
    // SERVFAIL for a chain that ends here, as for any plugin without a next.
    if (next === null) return null;
    const h = new CacheHandler(cfg, next, { log: env.log });
    const retire = cacheMetrics(env).add(h, cfg.zones, env);
    // The metrics keep the final counts once the last background refreshes are done.
    env.onShutdown(async () => {
      await h.whenIdle();
      retire();
    });
    // A data plugin of this block changed names (a new Service, a readiness flip): drop what is now stale at once,
    // negative answers included, instead of waiting for their TTL.
    env.onInvalidate((suffix) => h.purgeSuffix(suffix));
    return h;
  },
};
