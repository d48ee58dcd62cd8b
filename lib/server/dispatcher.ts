/**
 * The server core for one listener (CoreDNS core/dnsserver/server.go ServeDNS): accepts or rejects a packet, routes
 * the query to the server block with the longest matching zone, runs its chain, and writes the error reply when a
 * plugin returned an error without writing. Transports call `handle`; plugins re-enter through `resolve`.
 */
import type { Logger } from 'pino';
import { CLASS, FLAG, RCODE, TYPE } from '../dns/constants.js';
import type { Message } from '../dns/message.js';
import { decodeMessage, encodeMessage } from '../dns/wire.js';
import type { Handler, QueryFacts, QueryObserver, Served } from '../plugin.js';
import { Query, type Peer, type Proto, type ReplySink } from '../query.js';
import { FastQuestion, questionKey, readFastQuestion, replyVariant, WireRouter } from './fast-question.js';
import { checkHeader, headerOnlyReply, Verdict } from './reject.js';
import { replyBytes, type ReplyMemo } from './reply-memo.js';

/** A block as the dispatcher sees it: its chain (null = block without plugins → REFUSED). */
export interface RoutedBlock {
  chain: Handler | null;
  /** True when a plugin of the block accepts non-IN classes (CoreDNS EnableChaos: chaos, forward, proxy). */
  anyClass: boolean;
  /** The block's reply memo when every link of its chain is transparent to the fast path; else none. */
  memo?: ReplyMemo | null;
}

/** What observers are told about a replayed reply; one per dispatcher, filled and read synchronously. */
class ReplayFacts implements QueryFacts {
  server = '';
  zone = '';
  proto: Proto = 'udp';
  readonly remote = { family: 4 as 4 | 6 };
  qtype = 0;
  do = false;
  start = 0n;
  raw: { length: number } = { length: 0 };
  responseSize = 0;
  rcode = 0;
  writtenBy = '';
}


/** Rcodes that mean "the plugin did not write; the server must" (CoreDNS plugin.ClientWrite). */
function serverWrites(rcode: number): boolean {
  return rcode === RCODE.SERVFAIL || rcode === RCODE.REFUSED || rcode === RCODE.FORMERR || rcode === RCODE.NOTIMP;
}

/** RD in the high byte of the flags word. */
const FLAG_RD_HI = FLAG.RD >> 8;

/** Sink for internal queries: nothing goes on the wire. */
const INTERNAL_SINK: ReplySink = { send: () => undefined };

/** The `zone` label of queries refused before any block ran (CoreDNS vars.Dropped). */
export const DROPPED_ZONE = 'dropped';

/** Deepest internal re-resolution (ExternalName → ExternalName → ...), as CoreDNS caps CNAME chains. */
export const MAX_DEPTH = 10;

export class Dispatcher {
  /** `dns://:53` or `dns://127.0.0.1:53`: the `server` label of this listener (final once bound). */
  label: string;
  private readonly zones: Map<string, RoutedBlock>;
  private readonly anyClass: boolean;
  private readonly log: Logger;
  private readonly observers: QueryObserver[];
  /** Count of chains that threw (coredns_panics_total). */
  panics = 0;
  /** Wire-form routing for the fast path; null when no block has a memo (or a zone cannot be routed on wire). */
  private readonly router: WireRouter<RoutedBlock> | null;
  private readonly fq = new FastQuestion();
  private readonly facts = new ReplayFacts();
  /** Every observer can be told of a replayed query (QueryObserver.replayed); otherwise nothing is replayed. */
  private replayable = true;

  constructor(label: string, zones: Map<string, RoutedBlock>, log: Logger, observers: QueryObserver[] = []) {
    this.label = label;
    this.zones = zones;
    this.log = log;
    this.observers = observers;
    this.anyClass = [...zones.values()].some((b) => b.anyClass);
    this.router = [...zones.values()].some((b) => b.memo) ? WireRouter.of(zones) : null;
    this.observersChanged();
  }

  /** Call after adding to the observers: replay stays on only while every observer can count a replayed query. */
  observersChanged(): void {
    this.replayable = this.observers.every((o) => o.replayed !== undefined);
  }

  /**
   * The fast path: when `raw` is a plain query whose block memoized the reply, that reply with the request's ID,
   * RD and CD patched in, every observer told as for any query; otherwise undefined, and the caller hands the
   * packet to handle(). Never throws.
   */
  replay(raw: Buffer, proto: Proto, family: 4 | 6): Buffer | undefined {
    const router = this.router;
    if (router === null || !this.replayable) return undefined;
    const observers = this.observers;
    // The arrival time is only needed for the duration histogram.
    const start = observers.length > 0 ? process.hrtime.bigint() : 0n;
    const fq = this.fq;
    if (!readFastQuestion(raw, fq)) return undefined;
    const routed = router.route(raw, fq);
    const memo = routed?.value.memo;
    if (memo == null) return undefined;
    const e = memo.get(fq.hash, raw, 12, fq.nameEnd + 2, replyVariant(proto === 'tcp', fq, memo.keyFlags));
    if (e === undefined) return undefined;
    const replay = e.guard.replay;
    const ttl = replay === undefined ? 0 : replay.call(e.guard);
    if (ttl < 0) return undefined;
    const out = replyBytes(e, ttl);
    out[0] = raw[0]!;
    out[1] = raw[1]!;
    // Query.newReply copies RD and CD from the request; nothing else of the request's flags reaches the reply.
    out[2] = (out[2]! & ~FLAG_RD_HI) | (raw[2]! & FLAG_RD_HI);
    out[3] = (out[3]! & ~FLAG.CD) | (raw[3]! & FLAG.CD);
    if (observers.length > 0) {
      const f = this.facts;
      f.server = this.label;
      f.zone = routed!.zone;
      f.proto = proto;
      f.remote.family = family;
      f.qtype = fq.qtype;
      f.do = fq.do;
      f.start = start;
      f.raw = raw;
      f.responseSize = out.length;
      f.rcode = e.rcode;
      f.writtenBy = e.writtenBy;
      for (let i = 0; i < observers.length; i++) observers[i]!.replayed!(f);
    }
    return out;
  }

  /** Handle one packet from a transport. Never throws. */
  handle(raw: Buffer, proto: Proto, remote: Peer, sink: ReplySink): void {
    // UDP tries replay() itself before building a Peer; TCP comes here first.
    if (proto === 'tcp') {
      const out = this.replay(raw, proto, remote.family);
      if (out !== undefined) return sink.send(out, remote);
    }
    const verdict = checkHeader(raw);
    if (verdict !== Verdict.Accept) {
      if (verdict === Verdict.FormErr) sink.send(headerOnlyReply(raw, RCODE.FORMERR), remote);
      else if (verdict === Verdict.NotImp) sink.send(headerOnlyReply(raw, RCODE.NOTIMP), remote);
      return;
    }
    let req: Message;
    try {
      req = decodeMessage(raw);
    } catch {
      sink.send(headerOnlyReply(raw, RCODE.FORMERR), remote);
      return;
    }
    const q = new Query(req, raw, proto, remote, this.label, sink);
    this.serveQuery(q);
  }

  /**
   * Resolve `name`/`type` through this listener's zones as a new internal query that inherits `from`'s transport
   * and EDNS (CoreDNS plugin/pkg/upstream). Always resolves, with SERVFAIL when nothing could be had.
   */
  async resolve(name: string, type: number, from: Query): Promise<Message> {
    const req: Message = {
      id: from.req.id,
      flags: from.req.flags & (FLAG.RD | FLAG.CD),
      question: [{ name, type, class: CLASS.IN }],
      answer: [],
      authority: [],
      additional: [],
    };
    if (from.req.edns) req.edns = { ...from.req.edns, options: [] };
    const q = new Query(req, from.raw, from.proto, from.remote, this.label, INTERNAL_SINK, process.hrtime.bigint(), from.depth + 1);
    if (q.depth > MAX_DEPTH) return q.newReply(RCODE.SERVFAIL);
    await this.serveQuery(q);
    return q.response ?? q.newReply(q.rcode || RCODE.SERVFAIL);
  }

  /** Route and run one query; resolves when its reply is written. */
  private serveQuery(q: Query): void | Promise<void> {
    // Class check comes before EDNS version and routing (server.go).
    // Queries refused before reaching a block are counted under the zone "dropped", as CoreDNS labels them.
    if (q.qclass !== CLASS.IN && !this.anyClass) return this.drop(q);
    const edns = q.req.edns;
    if (edns !== undefined && edns.version !== 0) {
      // CoreDNS plugin/pkg/edns Version: BADVERS at once, OPT version 0 with no UDP size, written without scrubbing.
      const m = q.newReply(0);
      m.edns = { udpSize: 0, extRcode: RCODE.BADVERS >> 4, version: 0, do: false, z: 0, options: [] };
      q.replyWire(encodeMessage(m, q.size), m, '');
      return this.finish(q, RCODE.BADVERS);
    }
    const zone = this.route(q);
    const block = zone === undefined ? undefined : this.zones.get(zone);
    if (block === undefined || block.chain === null) return this.drop(q);
    q.zone = zone!;
    let served: Served;
    try {
      served = block.chain.serve(q);
    } catch (err) {
      return this.panic(q, err);
    }
    if (typeof served === 'number') {
      this.finish(q, served);
      // Only replies written synchronously are memoized: the guard's stamp is then read in the same tick as the
      // answer was computed, so no zone change can fall in between.
      if (q.memo !== undefined && block.memo) this.remember(q, block.memo);
      return;
    }
    return served.then(
      (rcode) => this.finish(q, rcode),
      (err: unknown) => this.panic(q, err),
    );
  }

  /** Memoize `q`'s reply when its request has the fast path's shape (a client's query, not an internal one). */
  private remember(q: Query, memo: ReplyMemo): void {
    const wire = q.wire;
    if (q.depth !== 0 || wire === undefined || q.writtenBy === '' || this.router === null || !this.replayable) return;
    const fq = this.fq;
    if (!readFastQuestion(q.raw, fq)) return;
    // The fast path must route this question to the block that answered it.
    if (this.router.route(q.raw, fq)?.zone !== q.zone) return;
    let shuffle: Uint16Array | null = null;
    if (q.memoShuffle !== undefined) {
      shuffle = q.memoShuffle(wire, q.response!);
      if (shuffle === null) return;
    }
    memo.set(fq.hash, questionKey(q.raw, fq), replyVariant(q.proto === 'tcp', fq, memo.keyFlags), q.name, wire, q.memo!, q.rcode, q.writtenBy, shuffle);
  }

  /**
   * The zone of the block serving `q`: the longest of the name's suffixes that a block serves, '.' as the last
   * resort; DS queries go to the parent-most match instead (server.go).
   */
  private route(q: Query): string | undefined {
    const name = q.name;
    let ds: string | undefined;
    let off = 0;
    for (;;) {
      const suffix = off === 0 ? name : name.slice(off);
      if (this.zones.has(suffix)) {
        if (q.qtype !== TYPE.DS) return suffix;
        ds = suffix;
      }
      const dot = name.indexOf('.', off);
      if (dot < 0 || dot >= name.length - 1) break;
      off = dot + 1;
    }
    if (ds !== undefined) return ds;
    return this.zones.has('.') ? '.' : undefined;
  }

  private drop(q: Query): void {
    q.zone = DROPPED_ZONE;
    this.finish(q, RCODE.REFUSED);
  }

  private panic(q: Query, err: unknown): void {
    this.panics++;
    this.log.error({ err, qname: q.name }, `Recovered from panic in server: "${this.label}" ${(err as Error)?.message ?? String(err)}`);
    if (!q.written) q.error = err instanceof Error ? err : new Error(String(err));
    this.finish(q, RCODE.SERVFAIL);
  }

  /** Write the server's error reply if needed, then tell the observers. */
  private finish(q: Query, rcode: number): void {
    if (!q.written) {
      if (serverWrites(rcode)) {
        // CoreDNS errorFunc: rcode, question echoed, AA=0, OPT echoed when the query had one; no SOA.
        q.reply(q.newReply(rcode), '');
      } else {
        // A plugin returned success without writing: the client gets nothing, as in CoreDNS; say so loudly.
        this.log.error({ qname: q.name, rcode }, 'plugin chain returned without writing a reply');
      }
    }
    for (const o of this.observers) o.done(q);
  }
}
