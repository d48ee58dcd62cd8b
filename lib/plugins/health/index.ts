/**
 * The `health` plugin definition. It has no handler: it runs an HTTP listener answering `/health` (CoreDNS's health
 * does not join the chain either).
 */
import type { PluginDef } from '../../plugin.js';
import { healthService } from './service.js';
import { parse, type HealthConfig } from './setup.js';

export { boundPort } from '../../util/http-endpoint.js';

export const health: PluginDef<HealthConfig> = {
  name: 'health',
  once: true,
  parse,
  build(cfg, _next, env) {
    healthService(env).add(cfg, env);
    return null;
  },
};
