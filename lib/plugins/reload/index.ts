/**
 * The `reload` plugin definition. It has no handler: the process (lib/main.ts) reads its config and re-reads the
 * Corefile on that schedule, because a reload replaces every server block, not just the one naming `reload`.
 */
import type { PluginDef } from '../../plugin.js';
import { parse, type ReloadConfig } from './setup.js';

export const reload: PluginDef<ReloadConfig> = {
  name: 'reload',
  once: true,
  parse,
  build: () => null,
};
