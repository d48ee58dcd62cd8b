/**
 * The `prometheus` plugin definition. CoreDNS's metrics plugin sits in the chain and records each query on its
 * way out; here one query observer per server instance does the same without a chain link, so build returns null.
 */
import type { PluginDef } from '../../plugin.js';
import { prometheusService } from './service.js';
import { parse, type PrometheusConfig } from './setup.js';

export const prometheus: PluginDef<PrometheusConfig> = {
  name: 'prometheus',
  once: true,
  parse,
  build(cfg, _next, env) {
    prometheusService(env).add(cfg, env);
    return null;
  },
};
