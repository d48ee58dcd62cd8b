/** The `whoami` plugin definition. */
import type { PluginDef } from '../../plugin.js';
import { WhoamiHandler } from './handler.js';
import { parse, type WhoamiConfig } from './setup.js';

export const whoami: PluginDef<WhoamiConfig> = {
  name: 'whoami',
  once: true,
  parse,
  build: () => new WhoamiHandler(),
};
