/**
 * How the HTTP plugins (health, ready, prometheus) behave when the process serves with several workers
 * (lib/workers). Every worker builds the same plugins from the same Corefile; the primary worker's listeners answer
 * for all of them and ask the others (its peers) for their part — their metrics to sum, their readiness to combine.
 * The other workers are secondaries: their plugins bind no HTTP listener and leave the process-wide collectors
 * (process_*, nodejs_*) to the primary. Kept per registry, like the rest of the plugins' process-wide state.
 */
import type { MetricObjectWithValues, MetricValue, Registry } from 'prom-client';

/** One worker's metrics as prom-client's `getMetricsAsJSON()` gives them. */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** One worker's readiness: ready, or the comma-joined names of what is not (the `ready` plugin's body). */
export interface PeerVerdict {
  ready: boolean;
  notReady: string;
}

/** The other workers of the process, as the primary's HTTP plugins ask them. */
export interface Peers {
  /** The metrics of every other worker that answers. */
  metrics(): Promise<MetricsJson[]>;
  /** The readiness of every other worker; one that is not running is not ready. */
  readiness(continuously: boolean): Promise<PeerVerdict[]>;
}

const PEERS = new WeakMap<Registry, Peers>();
const SECONDARY = new WeakSet<Registry>();

/** Make `reg`'s HTTP plugins answer for `peers` too (the primary worker). */
export function setPeers(reg: Registry, peers: Peers): void {
  PEERS.set(reg, peers);
}

/** The other workers `reg`'s HTTP plugins answer for, if any. */
export function peersOf(reg: Registry): Peers | undefined {
  return PEERS.get(reg);
}

/** Mark `reg` as a secondary worker's: its HTTP plugins bind nothing. */
export function markSecondary(reg: Registry): void {
  SECONDARY.add(reg);
}

/** True for a secondary worker's registry. */
export function isSecondary(reg: Registry): boolean {
  return SECONDARY.has(reg);
}
