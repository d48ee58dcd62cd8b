/**
 * The `bind` plugin definition. It has no handler: the server reads its config to choose listen addresses
 * (CoreDNS's bind plugin likewise only sets the server's ListenHosts).
 */
import type { PluginDef } from '../../plugin.js';
import { parse, type BindConfig } from './setup.js';

export const bind: PluginDef<BindConfig> = {
  name: 'bind',
  parse,
  merge: (a, b) => ({ hosts: [...new Set([...a.hosts, ...b.hosts])] }),
  build: () => null,
};
