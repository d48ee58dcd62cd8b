/**
 * Per-query state, created by the server for each request and passed down the plugin chain (CoreDNS's
 * request.Request plus its ResponseWriter). Every field is declared here so all queries share one shape; values that
 * not every query needs are computed lazily.
 */
import { FLAG, MAX_MSG_SIZE, MIN_UDP_SIZE, EDNS_ECHOED_OPTIONS } from './dns/constants.js';
import { type Edns, type Message, type Question, rcodeOf } from './dns/message.js';
import { encodeMessage } from './dns/wire.js';
import type { MemoGuard, ReplayShuffler } from './plugin.js';

/** Where a reply goes: a UDP socket + peer, a TCP connection, or an internal caller. */
export interface ReplySink {
  send(wire: Buffer, to: Peer): void;
}

/** A plugin that must see (and may replace) the reply before it is written, e.g. cache, loadbalance. */
export interface ReplyHook {
  onReply(q: Query, m: Message): Message;
}

/** Network identity of the peer. */
export interface Peer {
  address: string;
  port: number;
  family: 4 | 6;
}

export type Proto = 'udp' | 'tcp';

export class Query {
  /** The decoded request. */
  readonly req: Message;
  /** The request's bytes as received. */
  readonly raw: Buffer;
  readonly proto: Proto;
  readonly remote: Peer;
  /** The single question (the server rejects anything else before a Query exists). */
  readonly question: Question;
  /** Lower-cased question name, for lookups; `question.name` keeps the client's case for replies. */
  readonly name: string;
  readonly qtype: number;
  readonly qclass: number;
  /** Largest reply we may send: 65535 over TCP, max(512, EDNS size) over UDP (CoreDNS request.Size). */
  readonly size: number;
  /** DNSSEC OK bit from the request's OPT. */
  readonly do: boolean;
  /** process.hrtime.bigint() when the query arrived. */
  readonly start: bigint;
  /** `dns://:53`-style label of the listener (the `server` metrics label). */
  readonly server: string;
  /** The matched server block's zone (lower case), set by the server when routing. */
  zone = '.';
  /** Depth of internal re-resolution (ExternalName chasing), to bound CNAME loops. */
  readonly depth: number;

  /** Name of the plugin whose reply was written; '' while nothing is written or when the server wrote it. */
  writtenBy = '';
  written = false;
  /** Rcode of the written reply (or of the failure the server will write). */
  rcode = 0;
  /** The reply as written (after hooks and truncation), for log and metrics. */
  response: Message | undefined = undefined;
  /** Bytes sent. */
  responseSize = 0;
  /** The error a plugin recorded with fail(); logged by the `errors` plugin. */
  error: Error | undefined = undefined;
  /**
   * Set by the answering plugin when the server may replay this reply's bytes for later identical queries (its
   * fast path); the guard says for how long. Unset: the reply depends on more than the question and EDNS shape.
   */
  memo: MemoGuard | undefined = undefined;
  /** Set by a reply hook that shuffles records (loadbalance): how replays redraw the order. */
  memoShuffle: ReplayShuffler | undefined = undefined;
  /** The reply's bytes as sent (for the fast path's memo). */
  wire: Buffer | undefined = undefined;

  private hooks: ReplyHook[] | undefined = undefined;
  private readonly sink: ReplySink;

  constructor(
    req: Message,
    raw: Buffer,
    proto: Proto,
    remote: Peer,
    server: string,
    sink: ReplySink,
    start: bigint = process.hrtime.bigint(),
    depth = 0,
  ) {
    this.req = req;
    this.raw = raw;
    this.proto = proto;
    this.remote = remote;
    this.server = server;
    this.sink = sink;
    this.start = start;
    this.depth = depth;
    const q = req.question[0]!;
    this.question = q;
    this.name = q.name.toLowerCase();
    this.qtype = q.type;
    this.qclass = q.class;
    this.do = req.edns?.do ?? false;
    this.size = proto === 'tcp' ? MAX_MSG_SIZE : Math.max(MIN_UDP_SIZE, req.edns?.udpSize ?? 0);
  }

  /** Advertised EDNS buffer size as CoreDNS logs it ({>bufsize}): the UDP size, min 512; 65535 over TCP. */
  get bufsize(): number {
    return this.size;
  }

  /**
   * A reply skeleton for this query: same ID, QR set, opcode/RD/CD copied, the question echoed as received,
   * given rcode, AA as asked. Plugins fill the sections.
   */
  newReply(rcode = 0, aa = false): Message {
    const rf = this.req.flags;
    return {
      id: this.req.id,
      flags: FLAG.QR | (rf & 0x7800) | (rf & FLAG.RD) | (rf & FLAG.CD) | (aa ? FLAG.AA : 0) | (rcode & 0xf),
      question: [this.question],
      answer: [],
      authority: [],
      additional: [],
    };
  }

  /** Ask to see the reply before it is written. Hooks run innermost first (last added, first run). */
  addHook(h: ReplyHook): void {
    (this.hooks ??= []).push(h);
  }

  /**
   * Write `m` as this query's reply on behalf of plugin `by`: runs the reply hooks, echoes EDNS as CoreDNS's
   * ScrubWriter does, truncates to the client's size (TC=1 when records had to go), and sends. Returns the rcode.
   */
  reply(m: Message, by: string): number {
    if (this.written) throw new Error(`plugin/${by}: reply written twice for ${this.name}`);
    const hooks = this.hooks;
    if (hooks !== undefined) for (let i = hooks.length - 1; i >= 0; i--) m = hooks[i]!.onReply(this, m);
    this.written = true;
    this.writtenBy = by;
    this.echoEdns(m);
    const wire = encodeMessage(m, this.size);
    this.response = m;
    this.rcode = rcodeOf(m);
    this.responseSize = wire.length;
    this.wire = wire;
    this.sink.send(wire, this.remote);
    return this.rcode;
  }

  /** Send pre-encoded bytes as the reply (hot path for precompiled answers); `m` is kept for log and metrics. */
  replyWire(wire: Buffer, m: Message, by: string): number {
    this.written = true;
    this.writtenBy = by;
    this.response = m;
    this.rcode = rcodeOf(m);
    this.responseSize = wire.length;
    this.wire = wire;
    this.sink.send(wire, this.remote);
    return this.rcode;
  }

  /** Record why this query fails and return the rcode for the server to write (CoreDNS `return rcode, err`). */
  fail(rcode: number, err: Error | string): number {
    this.error = typeof err === 'string' ? new Error(err) : err;
    this.rcode = rcode;
    return rcode;
  }

  /** Convenience for plugins: an answer record owned by the question name as the client spelled it. */
  ownerName(): string {
    return this.question.name;
  }

  // CoreDNS request.SizeAndDo: a reply to an EDNS query carries OPT with the client's UDP size, version 0 and
  // the client's DO; a reply that already has OPT (from upstream) keeps its options, otherwise only the options
  // CoreDNS echoes are copied back from the request. No OPT in the request → none in the reply.
  private echoEdns(m: Message): void {
    const qo = this.req.edns;
    if (qo === undefined) {
      if (m.edns !== undefined && (m.edns.extRcode === 0)) m.edns = undefined;
      return;
    }
    const rc = rcodeOf(m);
    if (m.edns !== undefined) {
      m.edns.udpSize = qo.udpSize;
      m.edns.version = 0;
      m.edns.do = qo.do;
      m.edns.z = 0;
      m.edns.extRcode = rc >> 4;
      return;
    }
    const edns: Edns = { udpSize: qo.udpSize, extRcode: rc >> 4, version: 0, do: qo.do, z: 0, options: [] };
    for (const o of qo.options) if (EDNS_ECHOED_OPTIONS.has(o.code)) edns.options.push(o);
    m.edns = edns;
  }
}
