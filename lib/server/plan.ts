/**
 * From parsed server blocks to what the server runs: each block's zones, its directives parsed and put in run
 * order, and the listeners (one per port and bind address) with their zone → block routing tables. Everything here
 * is validated before any socket opens, so a bad Corefile fails with file and line and never half-starts.
 */
import { parseServerKey } from '../corefile/keys.js';
import { ConfigError, type Directive, type ServerBlock, type Token, type ZoneAddr } from '../corefile/types.js';
import type { ParseContext, PluginDef } from '../plugin.js';
import { orderOf } from '../plugin-order.js';
import { PLUGINS } from '../plugins/index.js';
import type { BindConfig } from '../plugins/bind/setup.js';

/** One directive (or several merged ones) of a block, parsed, ready to build. */
export interface PlannedPlugin {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  def: PluginDef<any>;
  config: unknown;
  /** Where it was written, for errors raised while building. */
  at: Token;
}

export interface BlockPlan {
  /** Normalised keys, CIDR keys already expanded. */
  keys: ZoneAddr[];
  zones: string[];
  /** Plugins in run order (lib/plugin-order.ts), repeated directives in Corefile order. */
  plugins: PlannedPlugin[];
  /** Listen addresses from `bind`, empty for all addresses. */
  hosts: string[];
}

export interface ListenerPlan {
  /** Address to bind, '' for every address. */
  host: string;
  port: number;
  /** Zone (lower case, absolute) → the block serving it on this listener. */
  zones: Map<string, BlockPlan>;
}

export interface ServerPlan {
  blocks: BlockPlan[];
  listeners: ListenerPlan[];
}

/** Turn parsed blocks into a plan. Throws ConfigError for unknown directives, duplicates and bad plugin config. */
export function planServers(blocks: ServerBlock[], defaultPort: number): ServerPlan {
  const planned: BlockPlan[] = [];
  const listeners = new Map<string, ListenerPlan>();
  const seen = new Map<string, Token>();
  for (const block of blocks) {
    const keys: ZoneAddr[] = [];
    for (const k of block.keys) {
      for (const za of parseServerKey(k, defaultPort)) {
        if (za.scheme !== 'dns') {
          throw new ConfigError(k, `clusterdns serves plain DNS over UDP and TCP only; ${za.scheme}:// is not supported`);
        }
        const id = `${za.scheme}://${za.zone}:${za.port}`;
        if (seen.has(id)) throw new ConfigError(k, `cannot serve ${id} - it is already defined`);
        seen.set(id, k);
        keys.push(za);
      }
    }
    const zones = [...new Set(keys.map((k) => k.zone))];
    const ctx: ParseContext = { zones, keys };
    const plan: BlockPlan = { keys, zones, plugins: planPlugins(block.directives, ctx), hosts: [] };
    const bind = plan.plugins.find((p) => p.def.name === 'bind');
    if (bind) plan.hosts = (bind.config as BindConfig).hosts;
    planned.push(plan);
    for (const k of keys) {
      for (const host of plan.hosts.length > 0 ? plan.hosts : ['']) {
        const id = `${host}|${k.port}`;
        let l = listeners.get(id);
        if (!l) listeners.set(id, (l = { host, port: k.port, zones: new Map() }));
        l.zones.set(k.zone, plan);
      }
    }
  }
  return { blocks: planned, listeners: [...listeners.values()] };
}

/** Parse a block's directives and order them by the fixed run order. */
function planPlugins(directives: Directive[], ctx: ParseContext): PlannedPlugin[] {
  const byName = new Map<string, PlannedPlugin>();
  const list: PlannedPlugin[] = [];
  for (const d of directives) {
    const name = d.name.text;
    const def = PLUGINS.get(name);
    if (!def) {
      const known = orderOf(name) >= 0;
      throw new ConfigError(d.name, known ? `Directive '${name}' is a CoreDNS plugin that clusterdns does not ship` : `Unknown directive '${name}'`);
    }
    const config = def.parse(d, ctx);
    const prev = byName.get(name);
    if (prev) {
      if (def.once) throw new ConfigError(d.name, 'this plugin can only be used once per Server Block', name);
      if (def.merge) {
        prev.config = def.merge(prev.config, config);
        continue;
      }
    }
    const p: PlannedPlugin = { def, config, at: d.name };
    byName.set(name, p);
    list.push(p);
  }
  // Stable sort: repeated directives (forward) keep their Corefile order among themselves.
  return list.sort((a, b) => orderOf(a.def.name) - orderOf(b.def.name));
}
