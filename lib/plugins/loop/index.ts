/** The `loop` plugin definition. */
import type { PluginDef } from '../../plugin.js';
import { LoopHandler } from './handler.js';
import { parse, type LoopConfig } from './setup.js';

export const loop: PluginDef<LoopConfig> = {
  name: 'loop',
  // Fast path: it only counts its own HINFO probe; a probe a plugin answers authoritatively cannot be looping.
  fastPath: true,
  once: true,
  parse,
  build(_cfg, next, env) {
    if (next === null) return null;
    const h = new LoopHandler(next, env.zones[0] ?? '.', env);
    env.onListening((bound) => {
      const first = bound[0];
      if (first) void h.run(first.host, first.port);
    });
    env.onShutdown(() => h.stop());
    return h;
  },
};
