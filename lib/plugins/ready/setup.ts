/** Corefile syntax of `ready`: `ready [ADDRESS] { monitor until-ready|continuously }`. */
import { argErr, unknownProperty } from '../../corefile/args.js';
import { ConfigError, type Directive } from '../../corefile/types.js';
import { defaultHostPort, splitHostPort, type HostPort } from '../../util/http-endpoint.js';

/** CoreDNS plugin/ready: the default listen address. */
export const DEFAULT_READY_ADDR = ':8181';

/** `until-ready`: a plugin once ready is not asked again; `continuously`: asked on every request. */
export type Monitor = 'until-ready' | 'continuously';

export interface ReadyConfig {
  where: HostPort;
  monitor: Monitor;
}

/** Parse one `ready` directive (CoreDNS plugin/ready/setup.go). */
export function parse(d: Directive): ReadyConfig {
  if (d.args.length > 1) throw argErr(d, 'ready');
  const where = d.args.length === 1 ? splitHostPort(d.args[0]!, 'ready') : defaultHostPort(DEFAULT_READY_ADDR);
  let monitor: Monitor = 'until-ready';
  for (const line of d.block ?? []) {
    if (line.name.text !== 'monitor') unknownProperty(line, 'ready');
    if (line.args.length !== 1) throw argErr(line, 'ready');
    const v = line.args[0]!;
    if (v.text !== 'until-ready' && v.text !== 'continuously') {
      throw new ConfigError(v, `monitor type '${v.text}' not supported`, 'ready');
    }
    monitor = v.text;
  }
  return { where, monitor };
}
