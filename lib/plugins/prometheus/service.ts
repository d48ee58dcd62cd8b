/**
 * The per-instance side of `prometheus`: the DNS query metrics observer, build info, panics, enabled plugins,
 * Node's process metrics, and one `/metrics` listener per address, all on the instance's registry.
 */
import { Counter, Gauge, collectDefaultMetrics, type Registry } from 'prom-client';
import type { PluginEnv } from '../../plugin.js';
import { VERSION } from '../../version.js';
import { oncePerInstance, reply, sharedEndpoint, type HttpEndpoint } from '../../util/http-endpoint.js';
import { isSecondary, peersOf } from '../../util/worker-peers.js';
import { aggregatedMetrics } from './aggregate.js';
import { DnsMetrics } from './dns.js';
import type { PrometheusConfig } from './setup.js';

/** Per server instance: everything exported, built once however many blocks enable the plugin. */
export class PrometheusService {
  readonly dns: DnsMetrics;
  readonly pluginEnabled: Gauge;
  private readonly reg: Registry;
  private readonly endpoints: HttpEndpoint[] = [];

  constructor(env: PluginEnv) {
    const reg = env.metrics;
    this.reg = reg;
    this.dns = new DnsMetrics(reg);
    const build = new Gauge({
      name: 'coredns_build_info',
      help: "A metric with a constant '1' value labeled by version, revision, and goversion from which CoreDNS was built.",
      labelNames: ['version', 'revision', 'goversion'],
      registers: [reg],
      // Several workers of one process (lib/workers) each have it: still one build.
      aggregator: 'max',
    });
    // goversion carries the runtime's version: Node's here, as CoreDNS reports Go's.
    build.labels(VERSION, '', process.version).set(1);
    new Counter({
      name: 'coredns_panics_total',
      help: 'A metrics that counts the number of panics.',
      registers: [reg],
      collect() {
        this.reset();
        this.inc(env.panics());
      },
    });
    this.pluginEnabled = new Gauge({
      name: 'coredns_plugin_enabled',
      help: 'A metric that indicates whether a plugin is enabled on per server and zone basis.',
      labelNames: ['server', 'zone', 'view', 'name'],
      registers: [reg],
      aggregator: 'max',
    });
    // CoreDNS exports the Go runtime and process collectors; Node's process_* and nodejs_* stand in for them. The
    // process_* series cover every thread, so with several workers only the primary exports them (and nodejs_*,
    // which then describe the primary's thread).
    if (!isSecondary(reg)) collectDefaultMetrics({ register: reg });
  }

  /** Add one block's `prometheus`: count its zones, share or open its listener, report its plugins. */
  add(cfg: PrometheusConfig, env: PluginEnv): void {
    oncePerInstance(this, env.instance, () => {
      // Each instance (a reload builds a new one) feeds the same metrics.
      env.observe(this.dns);
      env.onStartup(() => env.onFinalShutdown(() => Promise.all(this.endpoints.map((e) => e.close())).then(() => undefined)));
    });
    for (const z of env.zones) this.dns.zones.add(z);
    const plugins = blockPlugins(env);
    if (plugins.length > 0) {
      env.onListening((bound) => {
        for (const b of bound) {
          for (const zone of env.zones) {
            for (const name of plugins) this.pluginEnabled.labels(serverLabel(b.host, b.port), zone, '', name).set(1);
          }
        }
      });
    }
    const { ep, created } = sharedEndpoint(env.metrics, 'prometheus', cfg.where);
    if (!created) return;
    this.endpoints.push(ep);
    ep.route('/metrics', async (_req, res) => {
      const peers = peersOf(this.reg);
      const text = peers === undefined ? await this.reg.metrics() : await aggregatedMetrics(this.reg, await peers.metrics());
      reply(res, 200, text, this.reg.contentType);
    });
    env.onStartup(async () => {
      await ep.listen();
    });
  }
}

/**
 * Names of the block's plugins for `coredns_plugin_enabled`. The core does not pass them yet; when PluginEnv
 * grows a `plugins` list (directive names of the block) it is used as is.
 */
function blockPlugins(env: PluginEnv): readonly string[] {
  const list = (env as PluginEnv & { plugins?: readonly string[] }).plugins;
  return Array.isArray(list) ? list : [];
}

/** The `server` label of a listener (`dns://:53`), as lib/server builds it; not imported to keep plugins off the core. */
function serverLabel(host: string, port: number): string {
  return `dns://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

const SERVICES = new WeakMap<Registry, PrometheusService>();

/** The prometheus service of `env`'s server instance, created on first use (one observer per registry). */
export function prometheusService(env: PluginEnv): PrometheusService {
  let s = SERVICES.get(env.metrics);
  if (s === undefined) SERVICES.set(env.metrics, (s = new PrometheusService(env)));
  return s;
}
