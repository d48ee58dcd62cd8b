/**
 * The plugins clusterdns ships, by directive name. Explicit imports, no side effects: the run order is not here but
 * in lib/plugin-order.ts.
 */
import type { PluginDef } from '../plugin.js';
import { bind } from './bind/index.js';
import { cache } from './cache/index.js';
import { errors } from './errors/index.js';
import { forward } from './forward/index.js';
import { health } from './health/index.js';
import { kubernetes } from './kubernetes/index.js';
import { loadbalance } from './loadbalance/index.js';
import { log } from './log/index.js';
import { prometheus } from './prometheus/index.js';
import { ready } from './ready/index.js';
import { loop } from './loop/index.js';
import { reload } from './reload/index.js';
import { whoami } from './whoami/index.js';

// PluginDef is invariant in its config type; the registry only hands each def its own parse() output.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyPluginDef = PluginDef<any>;

/** Every shipped plugin, keyed by its directive name. */
export const PLUGINS: ReadonlyMap<string, AnyPluginDef> = new Map<string, AnyPluginDef>(
  [bind, cache, errors, forward, health, kubernetes, loadbalance, log, loop, prometheus, ready, reload, whoami].map((p) => [p.name, p]),
);
