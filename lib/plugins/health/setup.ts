/** Corefile syntax of `health`: `health [ADDRESS] { lameduck DURATION }`. */
import { argErr, parseDuration, unknownProperty } from '../../corefile/args.js';
import { ConfigError, type Directive } from '../../corefile/types.js';
import { defaultHostPort, splitHostPort, type HostPort } from '../../util/http-endpoint.js';

/** CoreDNS plugin/health: the default listen address. */
export const DEFAULT_HEALTH_ADDR = ':8080';

export interface HealthConfig {
  where: HostPort;
  /** How long shutdown waits while still answering (0 = no lameduck). */
  lameduckMs: number;
}

/** Parse one `health` directive (CoreDNS plugin/health/setup.go). */
export function parse(d: Directive): HealthConfig {
  if (d.args.length > 1) throw argErr(d, 'health');
  const where = d.args.length === 1 ? splitHostPort(d.args[0]!, 'health') : defaultHostPort(DEFAULT_HEALTH_ADDR);
  let lameduckMs = 0;
  for (const line of d.block ?? []) {
    if (line.name.text !== 'lameduck') unknownProperty(line, 'health');
    if (line.args.length !== 1) throw argErr(line, 'health');
    const tok = line.args[0]!;
    try {
      lameduckMs = parseDuration(tok, 'health');
    } catch (e) {
      const why = e instanceof ConfigError ? e.problem : String(e);
      throw new ConfigError(tok, `unable to parse lameduck duration value: ${JSON.stringify(tok.text)}: ${why}`, 'health');
    }
  }
  return { where, lameduckMs };
}
