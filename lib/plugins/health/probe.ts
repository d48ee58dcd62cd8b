/**
 * The health self-probe (CoreDNS plugin/health/overloaded.go): once a second the process fetches its own /health
 * and records how long that took, so a scrape shows when the process is too loaded to answer quickly.
 */
import http from 'node:http';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';

/** CoreDNS plugin.SlimTimeBuckets: 0.00025 × 10^k, k = 0..4. */
const SLIM_TIME_BUCKETS = [0.00025, 0.0025, 0.025, 0.25, 2.5];
/** Probe period and client timeout, as CoreDNS. */
const PROBE_EVERY_MS = 1000;
const PROBE_TIMEOUT_MS = 3000;

/** `coredns_health_*` on one registry. */
export class HealthMetrics {
  readonly duration: Histogram;
  readonly failures: Counter;
  constructor(reg: Registry) {
    this.duration = new Histogram({
      name: 'coredns_health_request_duration_seconds',
      help: 'Histogram of the time (in seconds) each request took.',
      buckets: SLIM_TIME_BUCKETS,
      registers: [reg],
    });
    this.failures = new Counter({
      name: 'coredns_health_request_failures_total',
      help: 'The number of times the health check failed.',
      registers: [reg],
    });
  }
}

/** Where to reach a listener bound to `host` from this process: wildcard addresses mean loopback. */
export function probeHost(host: string): string {
  if (host === '' || host === '0.0.0.0') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '::1';
  return host;
}

/** Polls one health endpoint every second until stopped. */
export class SelfProbe {
  private timer: NodeJS.Timeout | undefined = undefined;
  private readonly metrics: HealthMetrics;
  private readonly log: Logger;
  private readonly host: string;
  private readonly port: number;
  private readonly url: string;

  constructor(metrics: HealthMetrics, log: Logger, host: string, port: number) {
    this.metrics = metrics;
    this.log = log;
    this.host = probeHost(host);
    this.port = port;
    this.url = `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${port}/health`;
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.once(), PROBE_EVERY_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** One probe; resolves when it is recorded. Never rejects. */
  once(): Promise<void> {
    const start = process.hrtime.bigint();
    const seconds = (): number => Number(process.hrtime.bigint() - start) / 1e9;
    return new Promise((resolve) => {
      const req = http.request(
        { host: this.host, port: this.port, path: '/health', method: 'GET', agent: false, timeout: PROBE_TIMEOUT_MS },
        (res) => {
          res.resume();
          res.on('end', () => {
            const took = seconds();
            this.metrics.duration.observe(took);
            // CoreDNS: 1 s is arbitrary, but a local request taking that long means trouble.
            if (took > 1) this.log.warn(`Local health request to ${JSON.stringify(this.url)} took more than 1s: ${took}s`);
            resolve();
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timeout after ${PROBE_TIMEOUT_MS}ms`)));
      req.on('error', (err) => {
        this.metrics.duration.observe(seconds());
        this.metrics.failures.inc();
        this.log.warn(`Local health request to ${JSON.stringify(this.url)} failed: ${err.message}`);
        resolve();
      });
      req.end();
    });
  }
}
