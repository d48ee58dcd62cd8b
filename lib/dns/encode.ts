/**
 * DNS message encoder with name compression (RFC 1035 §4.1.4) and CoreDNS-style truncation (miekg/dns
 * Msg.Truncate as called by CoreDNS request.Scrub). Input that cannot be encoded (bad names, non-IP address text,
 * oversized strings, out-of-range numbers) throws a plain Error: such messages are built by our own code, so it
 * is a bug, not a client problem.
 */
import { FLAG, MAX_MSG_SIZE, MIN_UDP_SIZE, TYPE } from './constants.js';
import { writeIPv4, writeIPv6 } from './ip.js';
import type { Edns, Message, MxData, RR, SoaData, SrvData } from './message.js';

// Output area. A record may start anywhere below 65535 and be up to 255 + 10 + 65535 octets long before the size
// check drops it, so twice the maximum message size (plus slack) always suffices. Encoding is synchronous and
// Node runs it on one thread, so one module-level area cannot be shared by two encodes at once; results are copied.
const OUT = Buffer.allocUnsafe(2 * 65536 + 1024);

// Pointers carry 14 bits of offset (RFC 1035 §4.1.4); names written beyond this cannot be pointed at.
const MAX_POINTER_OFFSET = 0x3fff;

// Compression table: open addressing from a 32-bit hash of a name suffix's wire bytes to the offset where that
// suffix was written. Matching compares the bytes, so it is exact and case-sensitive, like miekg/dns's table keyed
// by the name text: each name keeps its own spelling on the wire. Every stored suffix starts at a distinct offset
// at most 0x3fff, so the table is never more than half full. Slots are valid only when stamped with the current
// encode's generation, which saves clearing the table for every message.
const TABLE_SIZE = 32768;
const TABLE_MASK = TABLE_SIZE - 1;
const T_HASH = new Int32Array(TABLE_SIZE);
const T_OFF = new Int32Array(TABLE_SIZE);
const T_GEN = new Int32Array(TABLE_SIZE);
// Slots filled in this encode, in insertion (= offset) order, so a dropped record's entries can be undone.
const JOURNAL = new Int32Array(TABLE_SIZE);

// Label starts and suffix hashes of the name being written (a name has at most 127 labels).
const LABEL_AT = new Int32Array(128);
const SUFFIX_HASH = new Int32Array(128);

const OUT_OF_ROOM = -1;

/**
 * Write the uncompressed wire form of absolute presentation name `s` at OUT[at], validating it. Fills LABEL_AT with
 * each label's offset and LABEL_AT[count] with the root byte's offset; returns the label count.
 */
function writeLabels(s: string, at: number): number {
  const out = OUT;
  const n = s.length;
  if (n === 0) throw new Error('dns: empty name');
  let o = at;
  let labels = 0;
  if (n === 1 && s.charCodeAt(0) === 46) {
    out[o] = 0;
    LABEL_AT[0] = o;
    return 0;
  }
  let i = 0;
  for (;;) {
    const lenAt = o++;
    for (;;) {
      if (i >= n) throw new Error(`dns: name is not fully qualified: ${JSON.stringify(s)}`);
      let c = s.charCodeAt(i++);
      if (c === 46) break;
      if (c === 92) {
        // \DDD is a decimal octet, \c is c itself (RFC 1035 §5.1).
        const d = s.charCodeAt(i) - 48;
        if (d >= 0 && d <= 9) {
          const d2 = s.charCodeAt(i + 1) - 48;
          const d3 = s.charCodeAt(i + 2) - 48;
          c = d * 100 + d2 * 10 + d3;
          if (!(d2 >= 0 && d2 <= 9 && d3 >= 0 && d3 <= 9) || c > 255) {
            throw new Error(`dns: bad escape in name ${JSON.stringify(s)}`);
          }
          i += 3;
        } else if (i < n) {
          c = s.charCodeAt(i++);
        } else {
          throw new Error(`dns: bad escape in name ${JSON.stringify(s)}`);
        }
      } else if (c > 255) {
        throw new Error(`dns: name has a character outside latin1: ${JSON.stringify(s)}`);
      }
      out[o++] = c;
    }
    const len = o - lenAt - 1;
    if (len === 0) throw new Error(`dns: empty label in name ${JSON.stringify(s)}`);
    if (len > 63) throw new Error(`dns: label longer than 63 octets in ${JSON.stringify(s)}`);
    // RFC 1035 §2.3.4: at most 255 octets including the root byte still to come.
    if (o - at + 1 > 255) throw new Error(`dns: name longer than 255 octets: ${JSON.stringify(s)}`);
    out[lenAt] = len;
    LABEL_AT[labels++] = lenAt;
    if (i === n) {
      out[o] = 0;
      LABEL_AT[labels] = o;
      return labels;
    }
  }
}

/** True when the (possibly compressed) name at OUT[p] equals the uncompressed name at OUT[q], byte for byte. */
function sameName(p: number, q: number): boolean {
  const out = OUT;
  for (;;) {
    let len = out[p]!;
    while (len >= 0xc0) {
      p = ((len & 0x3f) << 8) | out[p + 1]!;
      len = out[p]!;
    }
    if (len !== out[q]) return false;
    if (len === 0) return true;
    for (let k = 1; k <= len; k++) if (out[p + k] !== out[q + k]) return false;
    p += len + 1;
    q += len + 1;
  }
}

/** Writes one message into OUT. */
class Writer {
  off = 12;
  readonly compress: boolean;
  readonly gen: number;
  journalLen = 0;
  // The last name written whole or as a pointer to a whole earlier name, and where that whole name is.
  private lastName = '';
  private lastAt = -1;
  /** Set once a record had to be left out; nothing is added after that. */
  dropped = false;

  constructor(compress: boolean, gen: number) {
    this.compress = compress;
    this.gen = gen;
  }

  /**
   * Write an absolute presentation-form name at the cursor, honouring `\DDD`/`\c` escapes. With compression on,
   * the longest suffix written earlier becomes a pointer if `mayPoint` (RFC 2782: never for SRV targets), and every
   * suffix not seen before that starts below offset 0x3fff is remembered for later names (miekg/dns packDomainName
   * does the same, SRV targets included).
   */
  name(s: string, mayPoint: boolean): void {
    const start = this.off;
    // Fast path: owner names mostly repeat the previous name (the question, then each record of an RRset).
    if (mayPoint && this.compress && s === this.lastName && this.lastAt >= 0) {
      OUT[start] = 0xc0 | (this.lastAt >> 8);
      OUT[start + 1] = this.lastAt & 0xff;
      this.off = start + 2;
      return;
    }
    const labels = writeLabels(s, start);
    const end = LABEL_AT[labels]! + 1; // offset after the root byte
    if (!this.compress || labels === 0) {
      this.off = end;
      return;
    }
    // Hashes of every suffix, from the right: SUFFIX_HASH[i] covers the bytes from LABEL_AT[i] to the end.
    let h = 0;
    let li = labels - 1;
    for (let p = end - 2; p >= start; p--) {
      h = Math.imul(h ^ OUT[p]!, 0x01000193);
      if (p === LABEL_AT[li]) SUFFIX_HASH[li--] = h | 1; // never 0, so an empty slot cannot match
    }
    const gen = this.gen;
    for (let i = 0; i < labels; i++) {
      const sh = SUFFIX_HASH[i]!;
      const at = LABEL_AT[i]!;
      let slot = sh & TABLE_MASK;
      let found = -1;
      while (T_GEN[slot] === gen) {
        const o = T_OFF[slot]!;
        if (T_HASH[slot] === sh && o >= 0 && sameName(o, at)) {
          found = o;
          break;
        }
        slot = (slot + 1) & TABLE_MASK;
      }
      if (found >= 0) {
        if (mayPoint) {
          OUT[at] = 0xc0 | (found >> 8);
          OUT[at + 1] = found & 0xff;
          this.off = at + 2;
          if (i === 0) this.remember(s, found);
          return;
        }
      } else if (at <= MAX_POINTER_OFFSET) {
        // `slot` is the first free slot of this probe sequence.
        T_GEN[slot] = gen;
        T_HASH[slot] = sh;
        T_OFF[slot] = at;
        JOURNAL[this.journalLen++] = slot;
      }
    }
    this.off = end;
    this.remember(s, start);
  }

  // Note where the whole of name `s` can be pointed at (never at a pointer, so no pointer chains are made).
  private remember(s: string, at: number): void {
    if (at <= MAX_POINTER_OFFSET) {
      this.lastName = s;
      this.lastAt = at;
    }
  }

  /** Forget table entries for names at or after `from` (a dropped record), so nothing can point into cut bytes. */
  rollback(from: number): void {
    let n = this.journalLen;
    while (n > 0 && T_OFF[JOURNAL[n - 1]!]! >= from) {
      // A tombstone, not an empty slot, so probe chains through it stay intact.
      T_OFF[JOURNAL[--n]!] = -1;
    }
    this.journalLen = n;
    if (this.lastAt >= from) {
      this.lastName = '';
      this.lastAt = -1;
    }
  }

  u16(v: number, what: string): void {
    if ((v & 0xffff) !== v) throw new Error(`dns: ${what} ${v} is not a 16-bit unsigned integer`);
    const o = this.off;
    OUT[o] = v >> 8;
    OUT[o + 1] = v & 0xff;
    this.off = o + 2;
  }

  u32(v: number, what: string): void {
    if (v >>> 0 !== v) throw new Error(`dns: ${what} ${v} is not a 32-bit unsigned integer`);
    const o = this.off;
    OUT[o] = v >>> 24;
    OUT[o + 1] = (v >>> 16) & 0xff;
    OUT[o + 2] = (v >>> 8) & 0xff;
    OUT[o + 3] = v & 0xff;
    this.off = o + 4;
  }

  /** Write records while they fit under `budget`; returns how many were written. */
  section(rrs: RR[], budget: number): number {
    for (let i = 0; i < rrs.length; i++) {
      const start = this.off;
      this.rr(rrs[i]!);
      if (this.off > budget) {
        // The dropped record's names may have added table entries for bytes that are about to be cut.
        if (this.compress) this.rollback(start);
        this.off = start;
        this.dropped = true;
        return i;
      }
    }
    return rrs.length;
  }

  rr(rr: RR): void {
    this.name(rr.name, true);
    this.u16(rr.type, 'type');
    this.u16(rr.class, 'class');
    this.u32(rr.ttl, 'TTL');
    const lenAt = this.off;
    this.off += 2;
    this.rdata(rr);
    const rdlen = this.off - lenAt - 2;
    if (rdlen > 0xffff) throw new Error(`dns: rdata of ${rr.name} longer than 65535 octets`);
    OUT[lenAt] = rdlen >> 8;
    OUT[lenAt + 1] = rdlen & 0xff;
  }

  rdata(rr: RR): void {
    const data = rr.data;
    switch (rr.type) {
      case TYPE.A:
        if (typeof data !== 'string' || !writeIPv4(data, OUT, this.off)) {
          throw new Error(`dns: A record ${rr.name} has invalid address ${String(data)}`);
        }
        this.off += 4;
        return;
      case TYPE.AAAA:
        if (typeof data !== 'string' || !writeIPv6(data, OUT, this.off)) {
          throw new Error(`dns: AAAA record ${rr.name} has invalid address ${String(data)}`);
        }
        this.off += 16;
        return;
      case TYPE.NS:
      case TYPE.CNAME:
      case TYPE.PTR:
        this.name(data as string, true);
        return;
      case TYPE.MX: {
        const mx = data as MxData;
        this.u16(mx.preference, 'MX preference');
        this.name(mx.exchange, true);
        return;
      }
      case TYPE.SRV: {
        // RFC 2782: the target must not be compressed (miekg/dns packs it with compress=false).
        const srv = data as SrvData;
        this.u16(srv.priority, 'SRV priority');
        this.u16(srv.weight, 'SRV weight');
        this.u16(srv.port, 'SRV port');
        this.name(srv.target, false);
        return;
      }
      case TYPE.SOA: {
        const soa = data as SoaData;
        this.name(soa.mname, true);
        this.name(soa.rname, true);
        this.u32(soa.serial, 'SOA serial');
        this.u32(soa.refresh, 'SOA refresh');
        this.u32(soa.retry, 'SOA retry');
        this.u32(soa.expire, 'SOA expire');
        this.u32(soa.minimum, 'SOA minimum');
        return;
      }
      case TYPE.TXT: {
        // Strings are latin1 (one char per octet), the form decodeMessage produces.
        const txt = data as string[];
        let o = this.off;
        for (let k = 0; k < txt.length; k++) {
          const s = txt[k]!;
          const l = s.length;
          if (l > 255) throw new Error(`dns: TXT string of ${rr.name} longer than 255 octets`);
          OUT[o++] = l;
          for (let i = 0; i < l; i++) {
            const c = s.charCodeAt(i);
            if (c > 255) throw new Error(`dns: TXT string of ${rr.name} has a character outside latin1`);
            OUT[o++] = c;
          }
          if (o - this.off > 0xffff) throw new Error(`dns: rdata of ${rr.name} longer than 65535 octets`);
        }
        this.off = o;
        return;
      }
      default: {
        if (!Buffer.isBuffer(data)) throw new Error(`dns: record ${rr.name} of type ${rr.type} needs Buffer rdata`);
        if (data.length > 0xffff) throw new Error(`dns: rdata of ${rr.name} longer than 65535 octets`);
        data.copy(OUT, this.off);
        this.off += data.length;
      }
    }
  }

  // RFC 6891 §6.1.2: root owner, CLASS = UDP payload size, TTL = extended rcode, version, DO, Z.
  opt(e: Edns): void {
    const o = this.off;
    OUT[o] = 0;
    this.off = o + 1;
    this.u16(TYPE.OPT, 'type');
    this.u16(e.udpSize, 'EDNS UDP size');
    if ((e.extRcode & 0xff) !== e.extRcode) throw new Error(`dns: EDNS extended rcode ${e.extRcode} out of range`);
    if ((e.version & 0xff) !== e.version) throw new Error(`dns: EDNS version ${e.version} out of range`);
    this.u32(((e.extRcode << 24) | (e.version << 16) | (e.do ? 0x8000 : 0) | (e.z & 0x7fff)) >>> 0, 'OPT TTL');
    const lenAt = this.off;
    this.off += 2;
    for (const opt of e.options) {
      this.u16(opt.code, 'EDNS option code');
      this.u16(opt.data.length, 'EDNS option length');
      opt.data.copy(OUT, this.off);
      this.off += opt.data.length;
    }
    const rdlen = this.off - lenAt - 2;
    if (rdlen > 0xffff) throw new Error('dns: OPT rdata longer than 65535 octets');
    OUT[lenAt] = rdlen >> 8;
    OUT[lenAt + 1] = rdlen & 0xff;
  }
}

// Generation stamp for the compression table: a new one per encode invalidates every slot at once.
let generation = 0;
function nextGeneration(): number {
  if (generation === 0x7fffffff) {
    T_GEN.fill(0);
    generation = 0;
  }
  return ++generation;
}

/** Length of the OPT record that `e` encodes to. */
function optLength(e: Edns): number {
  let n = 11;
  for (const o of e.options) n += 4 + o.data.length;
  return n;
}

/**
 * Encode into OUT and return the Writer (its `off` is the length). Records are added answer → authority →
 * additional while the message, with the OPT record reserved first, stays within `limit`. At the first record
 * that does not fit, it and every record after it in all sections are left out (miekg/dns Msg.Truncate returns
 * the full size "to prevent any further records being added") and `dropped` is set; with `allOrNothing`,
 * `off` is OUT_OF_ROOM instead.
 */
function encodeInto(m: Message, limit: number, compress: boolean, allOrNothing: boolean): Writer {
  const w = new Writer(compress, nextGeneration());
  const qs = m.question;
  for (let i = 0; i < qs.length; i++) {
    const q = qs[i]!;
    w.name(q.name, true);
    w.u16(q.type, 'question type');
    w.u16(q.class, 'question class');
    if (w.off > MAX_MSG_SIZE) throw new Error('dns: question section longer than 65535 octets');
  }
  const edns = m.edns;
  const budget = edns === undefined ? limit : limit - optLength(edns);
  const an = w.section(m.answer, budget);
  const ns = w.dropped ? 0 : w.section(m.authority, budget);
  let ar = w.dropped ? 0 : w.section(m.additional, budget);
  if (w.dropped && allOrNothing) {
    w.off = OUT_OF_ROOM;
    return w;
  }
  if (edns !== undefined) {
    w.opt(edns);
    ar++;
    if (w.off > MAX_MSG_SIZE && !allOrNothing) throw new Error('dns: message with OPT longer than 65535 octets');
  }
  const flags = w.dropped ? m.flags | FLAG.TC : m.flags;
  OUT[0] = m.id >> 8;
  OUT[1] = m.id & 0xff;
  OUT[2] = flags >> 8;
  OUT[3] = flags & 0xff;
  OUT[4] = qs.length >> 8;
  OUT[5] = qs.length & 0xff;
  OUT[6] = an >> 8;
  OUT[7] = an & 0xff;
  OUT[8] = ns >> 8;
  OUT[9] = ns & 0xff;
  OUT[10] = ar >> 8;
  OUT[11] = ar & 0xff;
  return w;
}

/**
 * Encode `m`, keeping the reply within `maxSize` octets (raised to 512 as miekg/dns does, RFC 6891 §6.2.5).
 *
 * Names are compressed unless the whole uncompressed message fits in `compressAbove` octets (and `maxSize`):
 * the default 0 always compresses; CoreDNS request.Scrub behaviour is `compressAbove = maxSize` over TCP and
 * `min(maxSize, 1480 for IPv4 / 1220 for IPv6)` over UDP. When even the compressed message does not fit, records
 * are dropped from the first one that does not fit to the end (see encodeInto), TC is set in the output and in
 * `m.flags`, and the header counts say what was written. The question and the OPT record (from `m.edns`, always
 * last in additional) are always kept. The section arrays are never modified. Returns a fresh Buffer.
 */
export function encodeMessage(m: Message, maxSize: number = MAX_MSG_SIZE, compressAbove = 0): Buffer {
  if ((m.id & 0xffff) !== m.id) throw new Error(`dns: message id ${m.id} out of range`);
  if ((m.flags & 0xffff) !== m.flags) throw new Error(`dns: flags ${m.flags} out of range`);
  if (m.question.length > 0xffff) throw new Error('dns: too many questions');
  // Written so that a NaN size falls back to 512 rather than disabling truncation.
  const limit = maxSize >= MAX_MSG_SIZE ? MAX_MSG_SIZE : maxSize >= MIN_UDP_SIZE ? maxSize : MIN_UDP_SIZE;
  if (compressAbove > 0) {
    const w = encodeInto(m, Math.min(limit, compressAbove), false, true);
    if (w.off !== OUT_OF_ROOM) return copyOut(w.off);
  }
  const w = encodeInto(m, limit, true, false);
  if (w.dropped) m.flags |= FLAG.TC;
  return copyOut(w.off);
}

function copyOut(len: number): Buffer {
  const b = Buffer.allocUnsafe(len);
  OUT.copy(b, 0, 0, len);
  return b;
}

/** A 12-byte message with only a header: the given id and flags, all counts zero (FORMERR/NOTIMP replies). */
export function encodeHeaderOnly(id: number, flags: number): Buffer {
  const b = Buffer.alloc(12);
  b[0] = id >> 8;
  b[1] = id & 0xff;
  b[2] = (flags >> 8) & 0xff;
  b[3] = flags & 0xff;
  return b;
}
