/**
 * Strict DNS message decoder (RFC 1035 §4, RFC 6891 for OPT). Everything malformed throws WireError, which the
 * server turns into FORMERR (or a silent drop when the header itself is short), as CoreDNS does when miekg/dns
 * fails to unpack a request.
 */
import { TYPE } from './constants.js';
import { formatIPv4, formatIPv6 } from './ip.js';
import type { Edns, EdnsOption, Message, Question, RR } from './message.js';

/** A message that cannot be decoded: short, truncated, or breaking a wire-format rule. `offset` is where. */
export class WireError extends Error {
  /** Byte offset in the message at which decoding failed. */
  readonly offset: number;

  constructor(message: string, offset: number) {
    super(`${message} at offset ${offset}`);
    this.name = 'WireError';
    this.offset = offset;
  }
}

/** The fixed 12-byte header. */
export interface Header {
  id: number;
  flags: number;
  qdcount: number;
  ancount: number;
  nscount: number;
  arcount: number;
}

/** Read the 12-byte header only (for the accept checks that come before a full decode). Throws WireError if short. */
export function readHeader(buf: Buffer): Header {
  if (buf.length < 12) throw new WireError('short header', buf.length);
  return {
    id: (buf[0]! << 8) | buf[1]!,
    flags: (buf[2]! << 8) | buf[3]!,
    qdcount: (buf[4]! << 8) | buf[5]!,
    ancount: (buf[6]! << 8) | buf[7]!,
    nscount: (buf[8]! << 8) | buf[9]!,
    arcount: (buf[10]! << 8) | buf[11]!,
  };
}

// Presentation-form name assembly area: at most 255 wire octets, each printed as up to 4 characters (\DDD).
// Decoding is synchronous, so one module-level area cannot be used by two decodes at once.
const NAME_TEXT = Buffer.allocUnsafe(1024);

// Byte classes for name printing (miekg/dns UnpackDomainName): 0 = printable as is, 1 = backslash + the character,
// 2 = \DDD.
const ESCAPE = new Uint8Array(256);
for (let b = 0; b < 256; b++) ESCAPE[b] = b < 0x20 || b > 0x7e ? 2 : 0;
for (const c of '. \'@;()"\\') ESCAPE[c.charCodeAt(0)] = 1;

/** Cursor over one message; one per decode so nothing leaks between calls. */
class Reader {
  readonly buf: Buffer;
  readonly end: number;
  off = 12;
  seenOpt = false;

  constructor(buf: Buffer) {
    this.buf = buf;
    this.end = buf.length;
  }

  u16(): number {
    const o = this.off;
    if (o + 2 > this.end) throw new WireError('truncated field', o);
    this.off = o + 2;
    return (this.buf[o]! << 8) | this.buf[o + 1]!;
  }

  u32(): number {
    const o = this.off;
    if (o + 4 > this.end) throw new WireError('truncated field', o);
    this.off = o + 4;
    const b = this.buf;
    return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }

  /**
   * Read a (possibly compressed) name at the cursor and leave the cursor after its in-place part. Pointers must
   * point strictly before the start of the label run they end, so every jump goes further back and no chain of
   * pointers can loop; the 255-octet limit (RFC 1035 §2.3.4) is checked over the expanded name.
   */
  name(): string {
    const buf = this.buf;
    const end = this.end;
    const text = NAME_TEXT;
    let pos = this.off;
    let runStart = pos; // start of the label run being read; pointers must target below it
    let after = -1; // cursor position after the first pointer
    let wire = 1; // octets of the expanded name, counting the final root byte
    let t = 0; // characters written to NAME_TEXT
    for (;;) {
      if (pos >= end) throw new WireError('truncated name', pos);
      const c = buf[pos]!;
      if (c === 0) {
        pos++;
        break;
      }
      const kind = c & 0xc0;
      if (kind === 0) {
        const labelEnd = pos + 1 + c;
        if (labelEnd > end) throw new WireError('truncated label', pos);
        wire += c + 1;
        if (wire > 255) throw new WireError('name longer than 255 octets', pos);
        for (let i = pos + 1; i < labelEnd; i++) {
          const b = buf[i]!;
          const e = ESCAPE[b]!;
          if (e === 0) {
            text[t++] = b;
          } else if (e === 1) {
            text[t++] = 92;
            text[t++] = b;
          } else {
            text[t++] = 92;
            text[t++] = 48 + ((b / 100) | 0);
            text[t++] = 48 + (((b / 10) | 0) % 10);
            text[t++] = 48 + (b % 10);
          }
        }
        text[t++] = 46;
        pos = labelEnd;
      } else if (kind === 0xc0) {
        if (pos + 1 >= end) throw new WireError('truncated pointer', pos);
        const target = ((c & 0x3f) << 8) | buf[pos + 1]!;
        if (target >= runStart) throw new WireError('compression pointer does not point backwards', pos);
        if (after === -1) after = pos + 2;
        runStart = target;
        pos = target;
      } else {
        // 0x40 (extended label, RFC 6891 §5 deprecates it) and 0x80 are not valid label types.
        throw new WireError('bad label type', pos);
      }
    }
    this.off = after === -1 ? pos : after;
    return t === 0 ? '.' : text.toString('latin1', 0, t);
  }

  question(): Question {
    const name = this.name();
    const type = this.u16();
    return { name, type, class: this.u16() };
  }

  /** One resource record; returns undefined for the OPT record, which is stored in `edns` instead. */
  rr(m: Message, section: 0 | 1 | 2): RR | undefined {
    const nameOff = this.off;
    const name = this.name();
    const type = this.u16();
    const cls = this.u16();
    const ttl = this.u32();
    const rdlen = this.u16();
    const start = this.off;
    const rdEnd = start + rdlen;
    if (rdEnd > this.end) throw new WireError('rdata overruns message', start);
    if (type === TYPE.OPT) {
      if (section !== 2) throw new WireError('OPT outside the additional section', nameOff);
      if (this.seenOpt) throw new WireError('more than one OPT', nameOff);
      if (name !== '.') throw new WireError('OPT owner is not the root', nameOff);
      this.seenOpt = true;
      m.edns = this.edns(cls, ttl, rdEnd);
      return undefined;
    }
    const buf = this.buf;
    switch (type) {
      case TYPE.A:
        if (rdlen !== 4) throw new WireError('A rdata is not 4 octets', start);
        this.off = rdEnd;
        return { name, type, class: cls, ttl, data: formatIPv4(buf, start) };
      case TYPE.AAAA:
        if (rdlen !== 16) throw new WireError('AAAA rdata is not 16 octets', start);
        this.off = rdEnd;
        return { name, type, class: cls, ttl, data: formatIPv6(buf, start) };
      case TYPE.NS:
      case TYPE.CNAME:
      case TYPE.PTR: {
        const data = this.name();
        this.rdataEnd(rdEnd);
        return { name, type, class: cls, ttl, data };
      }
      case TYPE.MX: {
        const preference = this.u16();
        const exchange = this.name();
        this.rdataEnd(rdEnd);
        return { name, type, class: cls, ttl, data: { preference, exchange } };
      }
      case TYPE.SRV: {
        const priority = this.u16();
        const weight = this.u16();
        const port = this.u16();
        const target = this.name();
        this.rdataEnd(rdEnd);
        return { name, type, class: cls, ttl, data: { priority, weight, port, target } };
      }
      case TYPE.SOA: {
        const mname = this.name();
        const rname = this.name();
        const serial = this.u32();
        const refresh = this.u32();
        const retry = this.u32();
        const expire = this.u32();
        const minimum = this.u32();
        this.rdataEnd(rdEnd);
        return { name, type, class: cls, ttl, data: { mname, rname, serial, refresh, retry, expire, minimum } };
      }
      case TYPE.TXT: {
        // Character-strings are kept as latin1 strings: one char per byte, so any bytes survive a round trip.
        const data: string[] = [];
        let o = start;
        while (o < rdEnd) {
          const l = buf[o]!;
          if (o + 1 + l > rdEnd) throw new WireError('TXT string overruns rdata', o);
          data.push(buf.toString('latin1', o + 1, o + 1 + l));
          o += 1 + l;
        }
        this.off = rdEnd;
        return { name, type, class: cls, ttl, data };
      }
      default: {
        // RFC 3597: unknown (and known-but-unparsed) types travel as opaque bytes. A copy, so the message does not
        // pin the receive buffer.
        this.off = rdEnd;
        return { name, type, class: cls, ttl, data: Buffer.from(buf.subarray(start, rdEnd)) };
      }
    }
  }

  // A known rdata must be consumed exactly (miekg/dns: "bad rdlength").
  rdataEnd(rdEnd: number): void {
    if (this.off !== rdEnd) throw new WireError('rdata length mismatch', this.off);
  }

  // RFC 6891 §6.1.3: CLASS is the UDP payload size; TTL is extended-rcode(8) version(8) DO(1) Z(15).
  edns(cls: number, ttl: number, rdEnd: number): Edns {
    const options: EdnsOption[] = [];
    const buf = this.buf;
    let o = this.off;
    while (o < rdEnd) {
      if (o + 4 > rdEnd) throw new WireError('truncated EDNS option', o);
      const code = (buf[o]! << 8) | buf[o + 1]!;
      const len = (buf[o + 2]! << 8) | buf[o + 3]!;
      if (o + 4 + len > rdEnd) throw new WireError('EDNS option overruns OPT rdata', o);
      options.push({ code, data: Buffer.from(buf.subarray(o + 4, o + 4 + len)) });
      o += 4 + len;
    }
    this.off = rdEnd;
    return {
      udpSize: cls,
      extRcode: ttl >>> 24,
      version: (ttl >>> 16) & 0xff,
      do: (ttl & 0x8000) !== 0,
      z: ttl & 0x7fff,
      options,
    };
  }
}

/**
 * Decode a whole message. Names keep the case they were sent in (presentation form, trailing dot; bytes outside
 * printable ASCII as `\DDD`, and `.`, `\`, space, `'`, `@`, `;`, `(`, `)`, `"` backslash-escaped, as miekg/dns
 * prints them). A/AAAA data become canonical address text, NS/CNAME/PTR/MX/SRV/SOA names are decompressed, TXT
 * strings are latin1 (one char per byte), any other type is a copy of its raw rdata. The OPT record goes to
 * `edns`. Bytes after the counted records are ignored. Throws WireError on anything malformed.
 */
export function decodeMessage(buf: Buffer): Message {
  const h = readHeader(buf);
  const r = new Reader(buf);
  const question: Question[] = [];
  for (let i = 0; i < h.qdcount; i++) question.push(r.question());
  const m: Message = { id: h.id, flags: h.flags, question, answer: [], authority: [], additional: [] };
  // Counts are not trusted for preallocation: each record consumes at least 11 bytes, so the loops are bounded by
  // the message length.
  for (let i = 0; i < h.ancount; i++) m.answer.push(r.rr(m, 0)!);
  for (let i = 0; i < h.nscount; i++) m.authority.push(r.rr(m, 1)!);
  for (let i = 0; i < h.arcount; i++) {
    const rr = r.rr(m, 2);
    if (rr !== undefined) m.additional.push(rr);
  }
  return m;
}
