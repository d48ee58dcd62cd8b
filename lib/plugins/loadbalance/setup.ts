/** Corefile syntax of `loadbalance`: `loadbalance [round_robin]` (CoreDNS plugin/loadbalance/setup.go). */
import { noBlock } from '../../corefile/args.js';
import { ConfigError, type Directive } from '../../corefile/types.js';

const PLUGIN = 'loadbalance';

/** The only policy clusterdns implements. */
export interface LoadbalanceConfig {
  policy: 'round_robin';
}

/** Parse one `loadbalance` directive. `weighted` is a CoreDNS policy that is refused here with a clear error. */
export function parse(d: Directive): LoadbalanceConfig {
  const a = d.args;
  if (a.length === 0) {
    noBlock(d, PLUGIN);
    return { policy: 'round_robin' };
  }
  switch (a[0]!.text) {
    case 'round_robin':
      // CoreDNS: `c.Errf("unknown property for %s", args[0])`.
      if (a.length > 1) throw new ConfigError(a[1]!, 'unknown property for round_robin', PLUGIN);
      noBlock(d, PLUGIN);
      return { policy: 'round_robin' };
    case 'weighted':
      throw new ConfigError(a[0]!, 'the weighted policy is not supported by clusterdns; use round_robin', PLUGIN);
    default:
      throw new ConfigError(a[0]!, `unknown policy: ${a[0]!.text}`, PLUGIN);
  }
}
