/** Corefile syntax of `reload`: `reload [INTERVAL [JITTER]]`. */
import { argErr, noBlock, parseDuration } from '../../corefile/args.js';
import { ConfigError, type Directive } from '../../corefile/types.js';

export interface ReloadConfig {
  intervalMs: number;
  jitterMs: number;
}

export const DEFAULT_INTERVAL_MS = 30_000;
export const DEFAULT_JITTER_MS = 15_000;
const MIN_INTERVAL_MS = 2_000;
const MIN_JITTER_MS = 1_000;

/** Parse `reload` (CoreDNS plugin/reload/setup.go): interval ≥ 2s, jitter ≥ 1s and at most half the interval. */
export function parse(d: Directive): ReloadConfig {
  if (d.args.length > 2) throw argErr(d, 'reload');
  noBlock(d, 'reload');
  let intervalMs = DEFAULT_INTERVAL_MS;
  let jitterMs = DEFAULT_JITTER_MS;
  if (d.args[0]) {
    intervalMs = parseDuration(d.args[0], 'reload');
    if (intervalMs < MIN_INTERVAL_MS) throw new ConfigError(d.args[0], `interval value must be greater or equal to 2s`, 'reload');
  }
  if (d.args[1]) {
    jitterMs = parseDuration(d.args[1], 'reload');
    if (jitterMs < MIN_JITTER_MS) throw new ConfigError(d.args[1], `jitter value must be greater or equal to 1s`, 'reload');
  }
  // CoreDNS caps the jitter at half the interval rather than refusing the config.
  if (jitterMs > intervalMs / 2) jitterMs = intervalMs / 2;
  return { intervalMs, jitterMs };
}

/** The next wait: INTERVAL plus a uniform offset in [-JITTER/2, +JITTER/2), recomputed for every check. */
export function nextDelay(cfg: ReloadConfig, random: () => number = Math.random): number {
  return cfg.intervalMs + (random() - 0.5) * cfg.jitterMs;
}
