/** Corefile syntax of `prometheus`: `prometheus [ADDRESS]`. */
import { argErr } from '../../corefile/args.js';
import { ConfigError, type Directive } from '../../corefile/types.js';
import { defaultHostPort, splitHostPort, type HostPort } from '../../util/http-endpoint.js';

/** CoreDNS plugin/metrics: the default listen address (kubeadm's Corefile says `:9153`). */
export const DEFAULT_METRICS_ADDR = 'localhost:9153';

export interface PrometheusConfig {
  where: HostPort;
}

/** Parse one `prometheus` directive (CoreDNS plugin/metrics/setup.go). */
export function parse(d: Directive): PrometheusConfig {
  if (d.args.length > 1) throw argErr(d, 'prometheus');
  const where = d.args.length === 1 ? splitHostPort(d.args[0]!, 'prometheus') : defaultHostPort(DEFAULT_METRICS_ADDR);
  for (const line of d.block ?? []) {
    if (line.name.text === 'tls') {
      throw new ConfigError(line.name, 'tls is not supported by clusterdns; serve /metrics over plain HTTP', 'prometheus');
    }
    throw new ConfigError(line.name, `unknown option: ${line.name.text}`, 'prometheus');
  }
  return { where };
}
