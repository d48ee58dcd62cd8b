/**
 * errors: logs every error a query's chain recorded, once, as CoreDNS does:
 * `<rcode> <qname> <qtype>: <error>`; `consolidate` rules replace floods of alike errors by one summary per period.
 */
import type { Logger } from 'pino';
import { typeName } from '../../dns/constants.js';
import type { Handler, Served } from '../../plugin.js';
import type { Query } from '../../query.js';
import { afterServed } from '../../util/served.js';
import type { ConsolidateRule, ErrorsConfig } from './setup.js';

interface RuleState {
  rule: ConsolidateRule;
  count: number;
  timer: NodeJS.Timeout | undefined;
}

export class ErrorsHandler implements Handler {
  readonly name = 'errors';
  private readonly next: Handler;
  private readonly log: Logger;
  private readonly rules: RuleState[];
  private readonly stacktrace: boolean;

  constructor(cfg: ErrorsConfig, next: Handler, log: Logger) {
    this.next = next;
    this.log = log;
    this.stacktrace = cfg.stacktrace;
    this.rules = cfg.consolidate.map((rule) => ({ rule, count: 0, timer: undefined }));
  }

  serve(q: Query): Served {
    return afterServed(this.next.serve(q), (rcode) => {
      if (q.error !== undefined) this.report(q, rcode, q.error);
    });
  }

  /** Stop the consolidation timers, printing what they held (so nothing counted is lost at shutdown). */
  stop(): void {
    for (const s of this.rules) {
      if (s.timer) clearTimeout(s.timer);
      this.flush(s);
    }
  }

  private report(q: Query, rcode: number, err: Error): void {
    const text = `${rcode} ${q.name} ${typeName(q.qtype)}: ${err.message}`;
    for (const s of this.rules) {
      if (!s.rule.pattern.test(text)) continue;
      if (s.count === 0) {
        if (s.rule.showFirst) this.emit(s.rule.level, text);
        s.timer = setTimeout(() => this.flush(s), s.rule.periodMs);
        s.timer.unref();
      }
      s.count++;
      return;
    }
    if (this.stacktrace && err.stack) this.log.error({ stack: err.stack }, text);
    else this.log.error(text);
  }

  private flush(s: RuleState): void {
    s.timer = undefined;
    const n = s.rule.showFirst ? s.count - 1 : s.count;
    s.count = 0;
    if (n <= 0) return;
    this.emit(s.rule.level, `${n} errors like '${s.rule.source}' occurred in last ${formatDuration(s.rule.periodMs)}`);
  }

  private emit(level: ConsolidateRule['level'], msg: string): void {
    if (level === 'warning') this.log.warn(msg);
    else this.log[level](msg);
  }
}

/** Go's time.Duration text for whole-unit periods (`30s`, `5m0s`, `1h0m0s`, `500ms`), as CoreDNS prints them. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = ms / 1000;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = +(s % 60).toFixed(3);
  if (h > 0) return `${h}h${m}m${sec}s`;
  if (m > 0) return `${m}m${sec}s`;
  return `${sec}s`;
}
