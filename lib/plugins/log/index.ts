/** The `log` plugin definition. Several `log` lines in one block add rules to one handler. */
import type { PluginDef } from '../../plugin.js';
import { LogHandler } from './handler.js';
import { parse, type LogConfig } from './setup.js';

export const log: PluginDef<LogConfig> = {
  name: 'log',
  parse,
  merge: (a, b) => [...a, ...b],
  build: (cfg, next, env) => (next === null ? null : new LogHandler(cfg, next, env.log)),
};
