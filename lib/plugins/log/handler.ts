/**
 * log: one line per query after the chain has answered, in CoreDNS's format (default: Common Log Format), for
 * queries under the rule's names whose reply falls in the rule's classes.
 */
import type { Logger } from 'pino';
import { RCODE } from '../../dns/constants.js';
import type { Handler, Served } from '../../plugin.js';
import type { Query } from '../../query.js';
import { afterServed } from '../../util/served.js';
import { compileFormat } from './format.js';
import type { LogClass, LogConfig } from './setup.js';

interface CompiledRule {
  names: string[];
  line: (q: Query) => string;
  all: boolean;
  classes: Set<LogClass>;
}

/**
 * CoreDNS plugin/pkg/response Classify: `success` for NOERROR with data (and delegations), `denial` for NXDOMAIN and
 * NODATA (NOERROR, no answer, SOA in authority), `error` for everything else, including replies the server wrote.
 */
export function classify(q: Query, rcode: number): LogClass {
  const m = q.response;
  if (!q.written || m === undefined) return 'error';
  if (rcode === RCODE.NXDOMAIN) return 'denial';
  if (rcode !== RCODE.NOERROR) return 'error';
  return m.answer.length === 0 && m.authority.some((rr) => rr.type === 6) ? 'denial' : 'success';
}

function matches(name: string, zone: string): boolean {
  return zone === '.' || name === zone || name.endsWith(`.${zone}`);
}

export class LogHandler implements Handler {
  readonly name = 'log';
  private readonly next: Handler;
  private readonly log: Logger;
  private readonly rules: CompiledRule[];

  constructor(cfg: LogConfig, next: Handler, log: Logger) {
    this.next = next;
    this.log = log;
    this.rules = cfg.map((r) => ({ names: r.names, line: compileFormat(r.format), all: r.classes.has('all'), classes: r.classes }));
  }

  serve(q: Query): Served {
    return afterServed(this.next.serve(q), (rcode) => {
      // Not written yet: the server is about to write this rcode; log it as the client will see it.
      if (!q.written) q.rcode = rcode;
      for (const r of this.rules) {
        if (!r.names.some((z) => matches(q.name, z))) continue;
        if (r.all || r.classes.has(classify(q, rcode))) this.log.info(r.line(q));
        return; // the first matching rule decides, as in CoreDNS
      }
    });
  }
}
