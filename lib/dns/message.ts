/**
 * The in-memory shape of a DNS message inside clusterdns. Numbers, not strings, for types, classes and rcodes:
 * strings belong at the edges (Corefile, logs, tests). Names are kept exactly as received or built, in presentation
 * form with a trailing dot ("Web.Default.svc.cluster.local."), so the question's case survives a round trip.
 */

/** One question. `name` is absolute, with its trailing dot, in the sender's case. */
export interface Question {
  name: string;
  type: number;
  class: number;
}

/** SRV rdata (RFC 2782). `target` is an absolute name. */
export interface SrvData {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

/** SOA rdata (RFC 1035 §3.3.13). `mname`/`rname` are absolute names. */
export interface SoaData {
  mname: string;
  rname: string;
  serial: number;
  refresh: number;
  retry: number;
  expire: number;
  minimum: number;
}

/** MX rdata. */
export interface MxData {
  preference: number;
  exchange: string;
}

/**
 * Resource record. The rdata field used depends on `type`:
 * A/AAAA → `data` is the address text; CNAME/NS/PTR → `data` is an absolute name; TXT → `data` is string[] (each
 * ≤255 bytes); SRV → SrvData; SOA → SoaData; MX → MxData; any other type → `data` is the raw rdata Buffer
 * (RFC 3597), which also carries records we decoded from upstream and pass through untouched.
 */
export type RR =
  | { name: string; type: 1 | 28; class: number; ttl: number; data: string }
  | { name: string; type: 2 | 5 | 12; class: number; ttl: number; data: string }
  | { name: string; type: 16; class: number; ttl: number; data: string[] }
  | { name: string; type: 33; class: number; ttl: number; data: SrvData }
  | { name: string; type: 6; class: number; ttl: number; data: SoaData }
  | { name: string; type: 15; class: number; ttl: number; data: MxData }
  | { name: string; type: number; class: number; ttl: number; data: Buffer };

/** One EDNS option, kept as raw bytes. */
export interface EdnsOption {
  code: number;
  data: Buffer;
}

/**
 * The OPT pseudo-record, unpacked (RFC 6891). `extRcode` is the upper 8 bits of the 12-bit rcode as carried in the
 * OPT TTL field; the message rcode is `(extRcode << 4) | (flags & 0xf)`.
 */
export interface Edns {
  udpSize: number;
  extRcode: number;
  version: number;
  do: boolean;
  /** Remaining OPT flag bits (the Z field, without DO), kept so decode → encode is lossless. */
  z: number;
  options: EdnsOption[];
}

/**
 * A whole message. `flags` is the raw 16-bit header word (QR, opcode, AA, TC, RD, RA, Z, AD, CD, low 4 rcode bits);
 * the OPT record is not in `additional` but in `edns`.
 */
export interface Message {
  id: number;
  flags: number;
  question: Question[];
  answer: RR[];
  authority: RR[];
  additional: RR[];
  edns?: Edns;
}

/** Opcode from a flags word. */
export function opcodeOf(flags: number): number {
  return (flags >> 11) & 0xf;
}

/** Full rcode of a message, combining the header bits with the EDNS extended rcode. */
export function rcodeOf(m: Message): number {
  return ((m.edns?.extRcode ?? 0) << 4) | (m.flags & 0xf);
}

/** Set a message's rcode, splitting values above 15 into the EDNS extended rcode (which needs an OPT). */
export function setRcode(m: Message, rcode: number): void {
  m.flags = (m.flags & ~0xf) | (rcode & 0xf);
  if (m.edns) m.edns.extRcode = rcode >> 4;
}
