/**
 * loadbalance: shuffles address and MX records of NOERROR replies, in each section independently (CoreDNS
 * plugin/loadbalance/loadbalance.go). Works as a reply hook registered before the rest of the chain runs, so it
 * also sees the replies the cache writes.
 */
import { RCODE, TYPE } from '../../dns/constants.js';
import { type Message, type RR, rcodeOf } from '../../dns/message.js';
import { shuffleRuns } from '../../dns/record-layout.js';
import type { Handler, Served } from '../../plugin.js';
import type { Query, ReplyHook } from '../../query.js';

/** A source of integers in [0, n). */
export type RandomInt = (n: number) => number;

const mathRandomInt: RandomInt = (n) => Math.floor(Math.random() * n);

/** The loadbalance link: registers itself as a reply hook, then calls the rest of the chain. */
export class LoadbalanceHandler implements Handler, ReplyHook {
  readonly name = 'loadbalance';
  private readonly next: Handler;
  private readonly rand: RandomInt;

  constructor(next: Handler, rand: RandomInt = mathRandomInt) {
    this.next = next;
    this.rand = rand;
  }

  serve(q: Query): Served {
    q.addHook(this);
    return this.next.serve(q);
  }

  /**
   * Reorders a NOERROR reply (other than a zone transfer) into new arrays; the message handed in is untouched. A
   * reply it shuffles tells the server's fast path to redraw the order on every replay (`Query.memoShuffle`), so
   * a memoized reply is never sent with one frozen draw.
   */
  onReply(q: Query, m: Message): Message {
    if (rcodeOf(m) !== RCODE.NOERROR) return m;
    const qt = m.question[0]?.type;
    if (qt === TYPE.AXFR || qt === TYPE.IXFR) return m;
    if (q.memo !== undefined && (shuffles(m.answer) || shuffles(m.authority) || shuffles(m.additional))) q.memoShuffle = replayRuns;
    return {
      ...m,
      answer: roundRobin(m.answer, this.rand),
      authority: roundRobin(m.authority, this.rand),
      additional: roundRobin(m.additional, this.rand),
    };
  }
}

/**
 * One section reordered as CoreDNS does: CNAMEs first (so a resolver can follow the chain), then the other types in
 * their order, then the A and AAAA records shuffled together, then the MX records shuffled. Always a new array.
 */
export function roundRobin(section: readonly RR[], rand: RandomInt): RR[] {
  if (section.length < 2) return section.slice();
  const cname: RR[] = [];
  const rest: RR[] = [];
  const address: RR[] = [];
  const mx: RR[] = [];
  for (const rr of section) {
    if (rr.type === TYPE.CNAME) cname.push(rr);
    else if (rr.type === TYPE.A || rr.type === TYPE.AAAA) address.push(rr);
    else if (rr.type === TYPE.MX) mx.push(rr);
    else rest.push(rr);
  }
  shuffle(address, rand);
  shuffle(mx, rand);
  return cname.concat(rest, address, mx);
}

/**
 * The fast path's plan for a reply roundRobin shuffled: per section, the run of A and AAAA records and the run of
 * MX records, as roundRobin leaves them (contiguous, after the other types), each redrawn on every replay.
 */
export function replayRuns(wire: Uint8Array, reply: Message): Uint16Array | null {
  return shuffleRuns(wire, shuffleGroup, reply);
}

// roundRobin's groups: addresses are shuffled together, MX among themselves, the rest not at all.
function shuffleGroup(type: number): number {
  return type === TYPE.A || type === TYPE.AAAA ? 1 : type === TYPE.MX ? 2 : 0;
}

/** Whether roundRobin draws this section's order at random: two or more address records, or two or more MX. */
export function shuffles(section: readonly RR[]): boolean {
  let address = 0;
  let mx = 0;
  for (const rr of section) {
    if (rr.type === TYPE.A || rr.type === TYPE.AAAA) address++;
    else if (rr.type === TYPE.MX) mx++;
  }
  return address > 1 || mx > 1;
}

// Fisher-Yates, in place on our own array: every order equally likely.
function shuffle(a: RR[], rand: RandomInt): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rand(i + 1);
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}
