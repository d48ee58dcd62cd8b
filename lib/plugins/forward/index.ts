/**
 * The `forward` plugin: proxies queries to upstream resolvers over UDP and TCP with in-band health checking
 * (CoreDNS plugin/forward). Each `forward` line of a block is its own chain link.
 */
import type { Handler, PluginDef } from '../../plugin.js';
import { ForwardHandler } from './handler.js';
import { IdSource } from './ids.js';
import { forwardMetrics } from './metrics.js';
import { makePolicy } from './policy.js';
import { Proxy } from './proxy.js';
import { parse, type ForwardConfig } from './setup.js';
import { ForwardStats } from './stats.js';

export type { ForwardConfig } from './setup.js';
export { ForwardHandler } from './handler.js';
export { ForwardStats } from './stats.js';

/** CoreDNS plugin/pkg/proxy health.go: a probe waits at most 1 s for its reply. */
const PROBE_TIMEOUT_MS = 1000;

/** Builds the handler and its upstreams from a parsed config (exported for tests that skip the env). */
export function buildForward(cfg: ForwardConfig, next: Handler | null): ForwardHandler {
  const stats = new ForwardStats();
  const ids = new IdSource();
  const proxies = cfg.upstreams.map(
    (addr) =>
      new Proxy(addr, {
        pool: { expireMs: cfg.expireMs, maxIdleConns: cfg.maxIdleConns, maxAgeMs: cfg.maxAgeMs, source: cfg.sourceAddress },
        probe: {
          intervalMs: cfg.healthCheckMs,
          recursion: cfg.healthCheckRecursion,
          domain: cfg.healthCheckDomain,
          tcp: cfg.forceTcp,
          // A read_timeout below 1 s also shortens probes, so tests need not wait a whole second per probe.
          timeoutMs: Math.min(PROBE_TIMEOUT_MS, cfg.readTimeoutMs),
        },
        maxFails: cfg.maxFails,
        stats,
        ids,
      }),
  );
  return new ForwardHandler(
    {
      from: cfg.from,
      except: cfg.except,
      forceTcp: cfg.forceTcp,
      preferUdp: cfg.preferUdp && !cfg.forceTcp,
      readTimeoutMs: cfg.readTimeoutMs,
      maxConcurrent: cfg.maxConcurrent,
      maxConnectAttempts: cfg.maxConnectAttempts ?? 2 * proxies.length,
      failfastAllUnhealthy: cfg.failfastAllUnhealthy,
      next: cfg.next,
      nextOnNoData: cfg.nextOnNoData,
      failover: cfg.failover,
    },
    proxies,
    makePolicy(cfg.policy),
    stats,
    next,
  );
}

/** The `forward` plugin definition. Repeatable: each directive builds its own link, chained in Corefile order. */
export const forward: PluginDef<ForwardConfig> = {
  name: 'forward',
  // Fast path: queries outside its `from`/`except` pass on untouched; the ones it serves are never memoized.
  fastPath: true,
  parse,
  build(cfg, next, env) {
    const h = buildForward(cfg, next);
    const retire = forwardMetrics(env).add(h);
    env.onShutdown(() => {
      h.close();
      retire();
    });
    return h;
  },
};
