/**
 * The process-wide side of `health` for one server instance: one listener per address answering `/health` with
 * `200 OK`, a self-probe per listener, and the lameduck wait on shutdown (CoreDNS plugin/health/health.go).
 */
import type { Registry } from 'prom-client';
import type { PluginEnv } from '../../plugin.js';
import { formatDuration } from '../errors/handler.js';
import { markShuttingDown, oncePerInstance, reply, sharedEndpoint, type HttpEndpoint } from '../../util/http-endpoint.js';
import { HealthMetrics, SelfProbe } from './probe.js';
import type { HealthConfig } from './setup.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Per server instance: metrics, probes and the longest lameduck any block asked for. */
export class HealthService {
  readonly metrics: HealthMetrics;
  private readonly probes: SelfProbe[] = [];
  private lameduckMs = 0;
  private started = false;
  private readonly endpoints: HttpEndpoint[] = [];

  /** Creates the metrics (once per registry, so once per process run). */
  constructor(env: PluginEnv) {
    this.metrics = new HealthMetrics(env.metrics);
  }

  /** Add one block's `health`: share or open its listener, keep the longest lameduck. */
  add(cfg: HealthConfig, env: PluginEnv): void {
    this.lameduckMs = Math.max(this.lameduckMs, cfg.lameduckMs);
    oncePerInstance(this, env.instance, () => {
      // CoreDNS OnFinalShutdown: only when the process stops, never on reload.
      env.onFinalShutdown(async () => {
        // Tell ready first: it answers 503 through the lameduck wait whatever order the hooks were registered in.
        markShuttingDown(env.metrics);
        // Sleep while DNS and /health still answer, so load balancers drain us first.
        if (this.started && this.lameduckMs > 0) {
          env.log.info(`Going into lameduck mode for ${formatDuration(this.lameduckMs)}`);
          await sleep(this.lameduckMs);
        }
      });
      // Registered from a start-up hook, so it runs after every build-time final hook: after the lameduck wait.
      env.onStartup(() =>
        env.onFinalShutdown(async () => {
          for (const p of this.probes) p.stop();
          await Promise.all(this.endpoints.map((e) => e.close()));
        }),
      );
    });
    const { ep, created } = sharedEndpoint(env.metrics, 'health', cfg.where);
    if (!created) return;
    this.endpoints.push(ep);
    // CoreDNS: the body is "OK" for any method while the process runs, during lameduck too.
    ep.route('/health', (_req, res) => reply(res, 200, 'OK'));
    env.onStartup(async () => {
      const port = await ep.listen();
      this.started = true;
      // A secondary worker (lib/workers) binds nothing: the primary's listener and its self-probe serve for it.
      if (!ep.listening) return;
      const probe = new SelfProbe(this.metrics, env.log, cfg.where.host, port);
      this.probes.push(probe);
      probe.start();
    });
  }
}

// One service per server instance, keyed on its registry (never a process global).
const SERVICES = new WeakMap<Registry, HealthService>();

/** The health service of `env`'s server instance, created on first use. */
export function healthService(env: PluginEnv): HealthService {
  let s = SERVICES.get(env.metrics);
  if (s === undefined) SERVICES.set(env.metrics, (s = new HealthService(env)));
  return s;
}
