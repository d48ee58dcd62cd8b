/** The `loadbalance` plugin definition. */
import type { PluginDef } from '../../plugin.js';
import { LoadbalanceHandler } from './handler.js';
import { parse, type LoadbalanceConfig } from './setup.js';

export type { LoadbalanceConfig } from './setup.js';
export { LoadbalanceHandler, roundRobin } from './handler.js';

/** `loadbalance`: round-robin shuffling of A, AAAA and MX records (CoreDNS plugin/loadbalance). */
export const loadbalance: PluginDef<LoadbalanceConfig> = {
  name: 'loadbalance',
  // Replies it shuffles are replayed with a new draw each time (handler.ts onReply sets Query.memoShuffle); the
  // others come out of it unchanged.
  fastPath: true,
  parse,
  build(_cfg, next) {
    if (next === null) return null;
    return new LoadbalanceHandler(next);
  },
};
