/**
 * Reply classification and TTL rules of the cache, after CoreDNS plugin/pkg/response/typify.go and
 * plugin/pkg/dnsutil/ttl.go.
 */
import { OPCODE, RCODE, TYPE } from '../../dns/constants.js';
import { type Message, opcodeOf, rcodeOf } from '../../dns/message.js';

/** What kind of reply a message is (CoreDNS response.Type). */
export const KIND = {
  /** Positive answer, or NOERROR without SOA. */
  NOERROR: 0,
  /** NXDOMAIN with SOA. */
  NXDOMAIN: 1,
  /** SERVFAIL or NOTIMP. */
  SERVERERROR: 2,
  /** NOERROR, SOA in authority. */
  NODATA: 3,
  /** NOERROR, NS in authority. */
  DELEGATION: 4,
  /** NOTIFY, AXFR, IXFR. */
  META: 5,
  UPDATE: 6,
  /** Anything else: never cached. */
  OTHER: 7,
} as const;

/** One of the KIND values. */
export type Kind = (typeof KIND)[keyof typeof KIND];

/** Longest TTL any cached reply gets, and the TTL of replies without records (CoreDNS dnsutil). */
const MAXIMUM_DEFAULT_TTL = 3600;
const MINIMAL_DEFAULT_TTL = 5;

/** Classify a reply as CoreDNS response.Typify does (RRSIG validity is not checked, see README). */
export function classify(m: Message): Kind {
  const op = opcodeOf(m.flags);
  if (op === OPCODE.UPDATE) return KIND.UPDATE;
  if (op === OPCODE.NOTIFY) return KIND.META;
  const qtype = m.question[0]?.type;
  if (qtype === TYPE.AXFR || qtype === TYPE.IXFR) return KIND.META;
  const rcode = rcodeOf(m);

  let soa = false;
  let ns = 0;
  for (const rr of m.authority) {
    if (rr.type === TYPE.SOA) soa = true;
    else if (rr.type === TYPE.NS) ns++;
  }
  if (m.answer.length > 0 && rcode === RCODE.NOERROR) {
    // A CNAME chain that never reaches the asked type and has no SOA is not a usable answer; it is not cached
    // (coredns-behaviour §9). With an SOA it is NODATA at the chain's end.
    if (qtype === TYPE.ANY || qtype === undefined || m.answer.some((rr) => rr.type === qtype)) return KIND.NOERROR;
    return soa ? KIND.NODATA : KIND.OTHER;
  }
  if (soa && rcode === RCODE.NOERROR) return KIND.NODATA;
  if (soa && rcode === RCODE.NXDOMAIN) return KIND.NXDOMAIN;
  if (rcode === RCODE.SERVFAIL || rcode === RCODE.NOTIMP) return KIND.SERVERERROR;
  if (ns > 0 && rcode === RCODE.NOERROR) return KIND.DELEGATION;
  if (rcode === RCODE.NOERROR) return KIND.NOERROR;
  return KIND.OTHER;
}

/** Whether a reply of this kind goes to the denial cache (else, if cacheable at all, the success cache). */
export function isDenial(k: Kind): boolean {
  return k === KIND.NXDOMAIN || k === KIND.NODATA || k === KIND.SERVERERROR;
}

/** Whether a reply may be stored: not truncated, and not an error, a transfer or an update (CoreDNS cache.go key). */
export function isCacheable(m: Message, k: Kind): boolean {
  return (m.flags & 0x0200) === 0 && k !== KIND.OTHER && k !== KIND.META && k !== KIND.UPDATE;
}

/**
 * The smallest TTL in the reply, in seconds (CoreDNS dnsutil.MinimalTTL): 5 for delegations, errors and replies
 * without records; otherwise the minimum over all sections, never above 3600. The SOA MINIMUM field is not used.
 */
export function minimalTtl(m: Message, k: Kind): number {
  if (k !== KIND.NOERROR && k !== KIND.NXDOMAIN && k !== KIND.NODATA) return MINIMAL_DEFAULT_TTL;
  if (m.answer.length + m.authority.length + m.additional.length === 0) return MINIMAL_DEFAULT_TTL;
  let min = MAXIMUM_DEFAULT_TTL;
  for (const rr of m.answer) if (rr.ttl < min) min = rr.ttl;
  for (const rr of m.authority) if (rr.ttl < min) min = rr.ttl;
  // The OPT record is not in `additional` in our Message, so nothing to skip here.
  for (const rr of m.additional) if (rr.ttl < min) min = rr.ttl;
  return min;
}

/** CoreDNS computeTTL: raise to `min`, then cap at `max` (the cap wins when min > max). */
export function clampTtl(ttl: number, min: number, max: number): number {
  let t = ttl < min ? min : ttl;
  if (t > max) t = max;
  return t;
}
