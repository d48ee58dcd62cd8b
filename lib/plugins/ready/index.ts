/**
 * The `ready` plugin definition. No handler: an HTTP listener reports whether every plugin that reports readiness
 * (kubernetes: its first API sync) is ready.
 */
import type { PluginDef } from '../../plugin.js';
import { readyService } from './service.js';
import { parse, type ReadyConfig } from './setup.js';

export const ready: PluginDef<ReadyConfig> = {
  name: 'ready',
  once: true,
  parse,
  build(cfg, _next, env) {
    readyService(env).add(cfg, env);
    return null;
  },
};
