/** The `errors` plugin definition. */
import type { PluginDef } from '../../plugin.js';
import { ErrorsHandler } from './handler.js';
import { parse, type ErrorsConfig } from './setup.js';

export const errors: PluginDef<ErrorsConfig> = {
  name: 'errors',
  // Fast path: it only logs errors a plugin recorded, and a memoizable reply carries none.
  fastPath: true,
  once: true,
  parse,
  build(cfg, next, env) {
    if (next === null) return null;
    const h = new ErrorsHandler(cfg, next, env.log);
    env.onShutdown(() => h.stop());
    return h;
  },
};
