/**
 * loop: detects forwarding loops at start-up (CoreDNS plugin/loop). Once the listeners are up it asks its own
 * server `HINFO <random>.<random>.<zone>`; if that exact query comes back through this plugin more than twice, the
 * query is going round in circles (typically `forward . /etc/resolv.conf` pointing at ourselves) and the process
 * stops with a message saying so. After the first successful exchange the plugin disables itself.
 */
import { TYPE } from '../../dns/constants.js';
import type { Handler, PluginEnv, Served } from '../../plugin.js';
import type { Query } from '../../query.js';
import { probe } from './probe.js';

/** How long start-up keeps trying to reach its own listener, and how often (CoreDNS: 30 s, every second). */
export const PROBE_DEADLINE_MS = 30_000;
export const PROBE_INTERVAL_MS = 1000;
/** A loop is declared when the probe is seen more than this many times. */
export const MAX_SEEN = 2;

function randomLabel(): string {
  return String(Math.floor(Math.random() * Number.MAX_SAFE_INTEGER));
}

export class LoopHandler implements Handler {
  readonly name = 'loop';
  /** The probe's name, lower case; '' once disabled. */
  readonly qname: string;
  private seen = 0;
  private disabled = false;
  private address = '';

  constructor(
    private readonly next: Handler,
    private readonly zone: string,
    private readonly env: PluginEnv,
  ) {
    this.qname = `${randomLabel()}.${randomLabel()}.${zone === '.' ? '' : zone}`;
  }

  serve(q: Query): Served {
    if (!this.disabled && q.qtype === TYPE.HINFO && q.name === this.qname) {
      this.seen++;
      if (this.seen > MAX_SEEN) {
        this.env.fatal(
          `Loop (${q.remote.address}:${q.remote.port} -> ${this.address}) detected for zone "${this.zone}", see https://coredns.io/plugins/loop#troubleshooting. Query: "HINFO ${this.qname}"`,
        );
      }
    }
    return this.next.serve(q);
  }

  /** Probe our own listener until one exchange completes or the deadline passes, then disable. */
  async run(host: string, port: number, deadlineMs = PROBE_DEADLINE_MS, intervalMs = PROBE_INTERVAL_MS): Promise<void> {
    // '' (every address) is reached through loopback, as Go dials ":53".
    const target = host === '' || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    this.address = `${target.includes(':') ? `[${target}]` : target}:${port}`;
    const end = Date.now() + deadlineMs;
    while (Date.now() < end && !this.disabled) {
      if (await probe(target, port, this.qname)) {
        // CoreDNS keeps counting for 2 s after the exchange, so a loop still in flight is caught.
        await new Promise((r) => setTimeout(r, 2000).unref());
        break;
      }
      this.seen = 0;
      await new Promise((r) => setTimeout(r, intervalMs).unref());
    }
    this.disabled = true;
  }

  /** Stop probing (shutdown). */
  stop(): void {
    this.disabled = true;
  }
}
