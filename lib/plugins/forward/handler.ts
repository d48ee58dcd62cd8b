/**
 * The forward handler (CoreDNS plugin/forward/forward.go ServeDNS): picks upstreams by policy, skips those that are
 * down, retries on network errors within the query deadline, checks the reply, and writes it back with the
 * client's ID.
 */
import { FLAG, MIN_UDP_SIZE, RCODE } from '../../dns/constants.js';
import { type Message, rcodeOf } from '../../dns/message.js';
import { isSubdomain } from '../../dns/name.js';
import type { Handler, Served } from '../../plugin.js';
import type { Query } from '../../query.js';
import { ExchangeError } from './ids.js';
import { RandomPolicy, type Policy } from './policy.js';
import type { Proxy, UpstreamProto } from './proxy.js';
import type { ForwardStats } from './stats.js';

/** CoreDNS forward.go defaultTimeout: the whole query gives up after 5 s. */
export const QUERY_DEADLINE_MS = 5000;

/** Handler settings derived from the config. */
export interface ForwardOptions {
  from: string;
  except: readonly string[];
  forceTcp: boolean;
  preferUdp: boolean;
  readTimeoutMs: number;
  maxConcurrent: number;
  /** Cap on exchanges per query; 0 = none. */
  maxConnectAttempts: number;
  failfastAllUnhealthy: boolean;
  next: readonly number[];
  nextOnNoData: boolean;
  failover: readonly number[];
  /** Whole-query deadline (tests shorten it). */
  deadlineMs?: number;
}

/** CoreDNS request.Match: a reply is for this query when it is a response with the same single question. */
export function replyMatches(q: Query, m: Message): boolean {
  if ((m.flags & FLAG.QR) === 0 || m.question.length !== 1) return false;
  const a = m.question[0]!;
  return a.type === q.qtype && a.class === q.qclass && a.name.toLowerCase() === q.name;
}

/** One `forward` directive's chain link. */
export class ForwardHandler implements Handler {
  readonly name = 'forward';
  readonly stats: ForwardStats;
  readonly proxies: readonly Proxy[];
  private readonly o: ForwardOptions;
  private readonly policy: Policy;
  private readonly next: Handler | null;
  private readonly deadlineMs: number;
  private readonly limitError: string;
  private readonly random = new RandomPolicy();
  /** Queries being forwarded now (for max_concurrent). */
  inflight = 0;

  constructor(o: ForwardOptions, proxies: readonly Proxy[], policy: Policy, stats: ForwardStats, next: Handler | null) {
    this.o = o;
    this.proxies = proxies;
    this.policy = policy;
    this.stats = stats;
    this.next = next;
    this.deadlineMs = o.deadlineMs ?? QUERY_DEADLINE_MS;
    this.limitError = `concurrent queries exceeded maximum ${o.maxConcurrent}`;
  }

  serve(q: Query): Served {
    if (!this.match(q.name)) {
      if (this.next === null) return q.fail(RCODE.SERVFAIL, `plugin/${this.name}: no next plugin found`);
      return this.next.serve(q);
    }
    if (this.o.maxConcurrent > 0 && this.inflight >= this.o.maxConcurrent) {
      // CoreDNS: REFUSED, counted, and not a health failure.
      this.stats.maxConcurrentRejects++;
      return q.fail(RCODE.REFUSED, this.limitError);
    }
    this.inflight++;
    return this.forward(q).finally(() => {
      this.inflight--;
    });
  }

  /** Stop every upstream's sockets and probes. */
  close(): void {
    for (const p of this.proxies) p.close();
  }

  // CoreDNS forward.go match/isAllowedDomain: at or below FROM and not below an except name (FROM itself always).
  private match(name: string): boolean {
    if (!isSubdomain(name, this.o.from)) return false;
    if (name === this.o.from) return true;
    for (const e of this.o.except) if (isSubdomain(name, e)) return false;
    return true;
  }

  private async forward(q: Query): Promise<number> {
    const list = this.policy.list(this.proxies);
    const n = this.proxies.length;
    const cap = this.o.maxConnectAttempts;
    const deadline = Date.now() + this.deadlineMs;
    // Over UDP a Go client reads into a buffer of the client's advertised size (min 512).
    const bufsize = Math.max(MIN_UDP_SIZE, q.req.edns?.udpSize ?? 0);
    let fails = 0;
    let i = 0;
    let attempts = 0;
    let lastErr: Error | undefined;
    while (Date.now() < deadline) {
      if (i >= list.length) {
        // End of the list: start over (CoreDNS resets its fail count too).
        i = 0;
        fails = 0;
      }
      let proxy = list[i++]!;
      if (proxy.down()) {
        fails++;
        if (fails < n) continue;
        // CoreDNS: every upstream is down, so assume health checking is broken and try a random one anyway.
        this.stats.healthcheckBroken++;
        if (this.o.failfastAllUnhealthy) break;
        proxy = this.random.list(list)[0]!;
      }
      if (cap > 0 && attempts >= cap) break;
      attempts++;

      let proto: UpstreamProto = this.o.forceTcp ? 'tcp' : this.o.preferUdp ? 'udp' : q.proto;
      let reply: Message | undefined;
      let err: Error | undefined;
      for (;;) {
        const timeout = Math.max(1, Math.min(this.o.readTimeoutMs, deadline - Date.now()));
        try {
          reply = await proxy.exchange(q.req, proto, bufsize, timeout);
          err = undefined;
        } catch (e) {
          if (!(e instanceof ExchangeError)) throw e;
          reply = undefined;
          err = e;
        }
        // CoreDNS: with prefer_udp a truncated UDP reply is retried over TCP.
        if (reply !== undefined && (reply.flags & FLAG.TC) !== 0 && proto === 'udp' && this.o.preferUdp) {
          proto = 'tcp';
          continue;
        }
        break;
      }

      if (reply === undefined) {
        lastErr = err;
        // Kick off a health check to see whether this upstream is broken.
        proxy.healthcheck();
        if (fails < n) continue;
        break;
      }

      if (!replyMatches(q, reply)) {
        // CoreDNS: a reply for another question is answered with FORMERR.
        return q.reply(q.newReply(RCODE.FORMERR), this.name);
      }

      const rcode = rcodeOf(reply);
      if (this.o.failover.includes(rcode)) {
        // CoreDNS `failover`: try the next upstream; the last reply is written once all have been tried.
        fails++;
        if (fails < n) continue;
      }

      if (this.next instanceof ForwardHandler && this.handOver(rcode, reply)) return this.next.serve(q);

      reply.id = q.req.id;
      return q.reply(reply, this.name);
    }
    if (lastErr !== undefined) return q.fail(RCODE.SERVFAIL, lastErr);
    return q.fail(RCODE.SERVFAIL, 'no healthy proxies');
  }

  // `next RCODE...` and `next_on_nodata`: whether the following forward should have the query instead.
  private handOver(rcode: number, reply: Message): boolean {
    if (this.o.next.includes(rcode)) return true;
    return this.o.nextOnNoData && rcode === RCODE.NOERROR && reply.answer.length === 0;
  }
}
