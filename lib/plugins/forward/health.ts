/**
 * In-band health checking of one upstream (CoreDNS plugin/pkg/proxy health.go and plugin/pkg/up): after a failed
 * exchange, probe `<domain> IN NS` every interval until a probe gets any reply; every failed probe counts a fail.
 */
import { CLASS, FLAG, TYPE } from '../../dns/constants.js';
import type { Message } from '../../dns/message.js';

/** What a probe loop needs from its upstream. */
export interface ProbeTarget {
  /** Send one probe; resolve on any reply (any rcode), reject on a network error or timeout. */
  probe(m: Message, tcp: boolean, timeoutMs: number): Promise<unknown>;
  /** A probe failed. */
  failed(): void;
  /** A probe succeeded: the upstream is healthy again. */
  healthy(): void;
}

/** Probe settings from the forward config. */
export interface ProbeOptions {
  intervalMs: number;
  recursion: boolean;
  domain: string;
  tcp: boolean;
  /** Per-probe timeout: CoreDNS uses 1 s. */
  timeoutMs: number;
}

/** One upstream's probe loop; at most one runs at a time. */
export class HealthProbe {
  private readonly target: ProbeTarget;
  private readonly opts: ProbeOptions;
  private running = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(target: ProbeTarget, opts: ProbeOptions) {
    this.target = target;
    this.opts = opts;
  }

  /** True while probing. */
  get active(): boolean {
    return this.running;
  }

  /** Start probing unless already probing (CoreDNS up.Probe.Do). The first probe goes out at once. */
  start(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    void this.tick();
  }

  /** Stop for good (shutdown). */
  stop(): void {
    this.stopped = true;
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (this.stopped) return;
    const m: Message = {
      id: 0,
      flags: this.opts.recursion ? FLAG.RD : 0,
      question: [{ name: this.opts.domain, type: TYPE.NS, class: CLASS.IN }],
      answer: [],
      authority: [],
      additional: [],
    };
    try {
      await this.target.probe(m, this.opts.tcp, this.opts.timeoutMs);
      this.running = false;
      if (!this.stopped) this.target.healthy();
      return;
    } catch {
      if (this.stopped) return;
      this.target.failed();
    }
    this.timer = setTimeout(() => void this.tick(), this.opts.intervalMs);
    this.timer.unref();
  }
}
