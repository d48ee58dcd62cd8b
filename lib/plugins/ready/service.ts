/**
 * The HTTP side of `ready` for one server instance: `/ready` answers `200 OK` once every readiness reporter is
 * ready, `503` with the names of those that are not, and `503 Shutting down` from the start of shutdown
 * (CoreDNS plugin/ready/ready.go).
 */
import type { Registry } from 'prom-client';
import type { PluginEnv } from '../../plugin.js';
import { isShuttingDown, markShuttingDown, oncePerInstance, reply, sharedEndpoint, type HttpEndpoint } from '../../util/http-endpoint.js';
import { peersOf } from '../../util/worker-peers.js';
import { ReadinessList, combine } from '../../util/readiness.js';
import type { ReadyConfig } from './setup.js';

/** Per server instance: one readiness list per listen address. */
export class ReadyService {
  private readonly lists = new Map<HttpEndpoint, ReadinessList>();

  /** Add one block's `ready`. */
  add(cfg: ReadyConfig, env: PluginEnv): void {
    oncePerInstance(this, env.instance, () => {
      // Flip to "Shutting down" as the first thing of the final shutdown, before health's lameduck wait.
      env.onFinalShutdown(() => markShuttingDown(env.metrics));
      // Closed after the build-time final hooks (the lameduck wait): 503 until the end.
      env.onStartup(() => env.onFinalShutdown(() => Promise.all([...this.lists.keys()].map((e) => e.close())).then(() => undefined)));
    });
    const { ep, created } = sharedEndpoint(env.metrics, 'ready', cfg.where);
    let list = this.lists.get(ep);
    if (list === undefined) this.lists.set(ep, (list = new ReadinessList(() => env.readiness())));
    // After a reload the newest instance's reporters are the ones that count.
    else list.source = () => env.readiness();
    // Blocks sharing an address share the list; any of them asking for `continuously` makes it so.
    if (cfg.monitor === 'continuously') list.continuously = true;
    if (!created) return;
    const checks = list;
    ep.route('/ready', async (_req, res) => {
      if (isShuttingDown(env.metrics)) return reply(res, 503, 'Shutting down');
      // With several workers (lib/workers) the process is ready only when every one of them is.
      const peers = peersOf(env.metrics);
      const own = checks.check();
      const v = peers === undefined ? own : combine([own, ...(await peers.readiness(checks.continuously))]);
      if (isShuttingDown(env.metrics)) return reply(res, 503, 'Shutting down');
      if (v.ready) return reply(res, 200, 'OK');
      env.log.info(`Plugins not ready: ${JSON.stringify(v.notReady)}`);
      reply(res, 503, v.notReady);
    });
    env.onStartup(async () => {
      await ep.listen();
    });
  }
}

const SERVICES = new WeakMap<Registry, ReadyService>();

/** The ready service of `env`'s server instance, created on first use. */
export function readyService(env: PluginEnv): ReadyService {
  let s = SERVICES.get(env.metrics);
  if (s === undefined) SERVICES.set(env.metrics, (s = new ReadyService()));
  return s;
}
