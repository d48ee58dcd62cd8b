/** One cached reply and how it becomes a reply again (CoreDNS plugin/cache/item.go). */
import { FLAG } from '../../dns/constants.js';
import { type Message, type RR, rcodeOf } from '../../dns/message.js';
import type { MemoGuard } from '../../plugin.js';
import type { Query } from '../../query.js';

/** A stored reply. Its record arrays are private copies and are never handed out. */
export interface Item {
  /** Lower-cased qname it answers, for purge. */
  readonly name: string;
  readonly rcode: number;
  readonly ad: boolean;
  readonly ra: boolean;
  readonly answer: readonly RR[];
  readonly authority: readonly RR[];
  readonly additional: readonly RR[];
  /** TTL it was stored with, in whole seconds. */
  readonly origTtl: number;
  /** Clock reading (ms) when stored. */
  readonly stored: number;
  /** Prefetch bookkeeping (CoreDNS pkg/freq): hits in the current run and when the last one was. */
  hits: number;
  lastHit: number;
  /** The fast path's guard for replies replayed from this item, made on its first memoized hit. */
  guard: MemoGuard | undefined;
}

/** `rrs` as new records carrying `ttl`: records may be shared with a plugin's store, so they are never modified. */
export function withTtl(rrs: readonly RR[], ttl: number): RR[] {
  const out = new Array<RR>(rrs.length);
  for (let i = 0; i < rrs.length; i++) out[i] = { ...rrs[i]!, ttl } as RR;
  return out;
}

/** A new item from a reply about to be written, with every record's TTL set to `ttl` seconds. */
export function newItem(name: string, m: Message, ttl: number, now: number): Item {
  return {
    name,
    rcode: rcodeOf(m),
    ad: (m.flags & FLAG.AD) !== 0,
    ra: (m.flags & FLAG.RA) !== 0,
    answer: withTtl(m.answer, ttl),
    authority: withTtl(m.authority, ttl),
    additional: withTtl(m.additional, ttl),
    origTtl: ttl,
    stored: now,
    hits: 0,
    lastHit: Number.NEGATIVE_INFINITY,
    guard: undefined,
  };
}

/** `it` stored anew at `now` (a replayed miss redoing its store): the same records, a fresh clock and hit count. */
export function restoredItem(it: Item, now: number): Item {
  return { ...it, stored: now, hits: 0, lastHit: Number.NEGATIVE_INFINITY, guard: undefined };
}

/** Seconds left before `it` expires (negative once expired): the stored TTL minus whole seconds elapsed. */
export function remainingTtl(it: Item, now: number): number {
  return it.origTtl - Math.trunc((now - it.stored) / 1000);
}

/**
 * The reply to `q` from `it` with every TTL set to `ttl` (CoreDNS item.toMsg): ID, opcode, RD, CD and the
 * question (in the client's case) from the current query; AA always set, because some stub resolvers drop
 * non-authoritative replies; RA as stored; AD as stored only when the query had DO or AD.
 */
export function replyFrom(q: Query, it: Item, ttl: number): Message {
  const m = q.newReply(it.rcode, true);
  if (it.ra) m.flags |= FLAG.RA;
  if (it.ad && (q.do || (q.req.flags & FLAG.AD) !== 0)) m.flags |= FLAG.AD;
  m.answer = withTtl(it.answer, ttl);
  m.authority = withTtl(it.authority, ttl);
  m.additional = withTtl(it.additional, ttl);
  return m;
}
