/**
 * The fast path's view of a request: header, question and a bare OPT read straight from the buffer, without
 * decoding a Message, and the block that serves it found by comparing wire bytes. Only the plain shape the memo
 * can answer exactly is accepted; anything else is left to the general path, which handles (or rejects) it.
 */
import { CLASS, TYPE } from '../dns/constants.js';

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

/** What {@link readFastQuestion} found; one reusable instance per dispatcher (reading is synchronous). */
export class FastQuestion {
  /** Offset of each label's length byte; `labels[labelCount]` is the root byte's offset. */
  readonly labels = new Int32Array(128);
  labelCount = 0;
  /** Offset just past the name's root byte (the qtype follows). */
  nameEnd = 0;
  qtype = 0;
  /** EDNS UDP payload size of the request's OPT, or -1 when it has none. */
  udpSize = -1;
  /** DO bit of the OPT. */
  do = false;
  /** The request's AD and CD bits (low flags byte & 0x30), for blocks whose replies depend on them. */
  adcd = 0;
  /** 32-bit hash of the name bytes as sent and the qtype (the memo key's bytes, see {@link questionKey}). */
  hash = 0;
}

/**
 * Read `raw` as a plain query: QR=0, opcode QUERY, one question with an uncompressed name of at most 255 octets
 * and no `.` byte inside a label, class IN, qtype not DS (routed differently), no answer or authority record, and
 * at most one additional record which must be an OPT owned by the root, version 0, without options. Returns false
 * for anything else (the general path then applies CoreDNS's rules to it). Bytes after the records are ignored,
 * as the decoder ignores them.
 */
export function readFastQuestion(raw: Buffer, out: FastQuestion): boolean {
  const len = raw.length;
  if (len < 17) return false;
  // QR (0x80) and the opcode (0x78) of byte 2 must all be zero: a QUERY.
  if ((raw[2]! & 0xf8) !== 0) return false;
  out.adcd = raw[3]! & 0x30;
  if (raw[4] !== 0 || raw[5] !== 1 || raw[6] !== 0 || raw[7] !== 0 || raw[8] !== 0 || raw[9] !== 0 || raw[10] !== 0) return false;
  const arcount = raw[11]!;
  if (arcount > 1) return false;
  let pos = 12;
  let n = 0;
  const labels = out.labels;
  // FNV-1a over the name and qtype bytes, folded into the walk so the memo needs no key string.
  let h = FNV_OFFSET;
  for (;;) {
    if (pos >= len) return false;
    const c = raw[pos]!;
    labels[n] = pos;
    h = Math.imul(h ^ c, FNV_PRIME);
    if (c === 0) break;
    // Pointers (0xc0), and the invalid 0x40/0x80 label types, take the general path.
    if (c > 63) return false;
    const end = pos + 1 + c;
    // 255 octets including the root byte: the last label must end by offset 12 + 254.
    if (end > len || end > 12 + 254) return false;
    // The general path routes on the presentation name, where a `.` byte would be an escaped dot: keep it there.
    for (let i = pos + 1; i < end; i++) {
      const b = raw[i]!;
      if (b === 0x2e) return false;
      h = Math.imul(h ^ b, FNV_PRIME);
    }
    pos = end;
    n++;
  }
  out.labelCount = n;
  const nameEnd = pos + 1;
  if (nameEnd + 4 > len) return false;
  out.nameEnd = nameEnd;
  const qtype = (raw[nameEnd]! << 8) | raw[nameEnd + 1]!;
  if (qtype === TYPE.DS) return false;
  if (((raw[nameEnd + 2]! << 8) | raw[nameEnd + 3]!) !== CLASS.IN) return false;
  out.qtype = qtype;
  h = Math.imul(h ^ raw[nameEnd]!, FNV_PRIME);
  out.hash = Math.imul(h ^ raw[nameEnd + 1]!, FNV_PRIME) | 0;
  if (arcount === 0) {
    out.udpSize = -1;
    out.do = false;
    return true;
  }
  // OPT: root owner (1), type (2), class = UDP size (2), TTL = ext-rcode, version, DO|Z (4), rdlength (2).
  const o = nameEnd + 4;
  if (o + 11 > len || raw[o] !== 0) return false;
  if (raw[o + 1] !== 0 || raw[o + 2] !== TYPE.OPT) return false;
  // Version other than 0 gets BADVERS; options (cookies, NSID, ECS...) are echoed or acted on: general path.
  if (raw[o + 6] !== 0 || raw[o + 9] !== 0 || raw[o + 10] !== 0) return false;
  out.udpSize = (raw[o + 3]! << 8) | raw[o + 4]!;
  out.do = (raw[o + 7]! & 0x80) !== 0;
  return true;
}

/**
 * Which variant of a memoized reply a request needs, besides its question: the transport (TCP replies are never
 * truncated), the OPT the reply echoes (UDP size, which also sets the truncation limit, and DO) and, with
 * `keyFlags` (a block with a cache), the request's AD and CD bits.
 */
export function replyVariant(tcp: boolean, q: FastQuestion, keyFlags = false): number {
  const edns = q.udpSize < 0 ? 0 : 1 + q.udpSize * 2 + (q.do ? 1 : 0);
  // EDNS takes 18 bits, the transport one more; AD and CD (0x20, 0x10) go above them.
  const flags = keyFlags ? q.adcd << 15 : 0;
  return (tcp ? edns + 0x40000 : edns) + flags;
}

/** The memo key's bytes: the question's name as sent (case included) and its qtype. Shares memory with `raw`. */
export function questionKey(raw: Buffer, q: FastQuestion): Buffer {
  return raw.subarray(12, q.nameEnd + 2);
}

/** A served zone in wire form, with what routing yields for it. */
interface WireZone<T> {
  readonly wire: Uint8Array;
  readonly zone: string;
  readonly value: T;
}

/** A routing result: the zone (lower-case presentation form) and its value. */
export interface Routed<T> {
  readonly zone: string;
  readonly value: T;
}

/**
 * Longest-suffix zone routing on wire bytes, the same choice as the dispatcher's routing on the lower-cased name
 * (the longest served suffix, the root zone last) for the names {@link readFastQuestion} accepts.
 */
export class WireRouter<T> {
  // Wire length → zones of that length; a suffix can only match a zone of its own length.
  readonly #byLength = new Map<number, Array<WireZone<T>>>();

  private constructor() {}

  /** A router over `zones` (lower-case absolute names), or null when one cannot be written plainly in wire form. */
  static of<T>(zones: ReadonlyMap<string, T>): WireRouter<T> | null {
    const r = new WireRouter<T>();
    for (const [zone, value] of zones) {
      const wire = plainWire(zone);
      if (wire === null) return null;
      let list = r.#byLength.get(wire.length);
      if (list === undefined) r.#byLength.set(wire.length, (list = []));
      list.push({ wire, zone, value });
    }
    return r;
  }

  /** The zone serving the question read into `q` from `raw`, or undefined when none does. */
  route(raw: Buffer, q: FastQuestion): Routed<T> | undefined {
    const end = q.nameEnd;
    for (let i = 0; i <= q.labelCount; i++) {
      const at = q.labels[i]!;
      const list = this.#byLength.get(end - at);
      if (list === undefined) continue;
      for (const z of list) if (sameLower(raw, at, z.wire)) return z;
    }
    return undefined;
  }
}

// ASCII case-insensitive comparison of raw[at...] with lower-case wire bytes. Length bytes are at most 63, below
// 'A', so they compare exactly.
function sameLower(raw: Buffer, at: number, wire: Uint8Array): boolean {
  for (let i = 0; i < wire.length; i++) {
    let b = raw[at + i]!;
    if (b >= 65 && b <= 90) b |= 0x20;
    if (b !== wire[i]) return false;
  }
  return true;
}

// Wire form of a lower-case absolute name without escapes; null when it has any (or is malformed).
function plainWire(name: string): Uint8Array | null {
  if (name === '.') return new Uint8Array([0]);
  if (!name.endsWith('.') || name.includes('\\')) return null;
  const labels = name.slice(0, -1).split('.');
  const out: number[] = [];
  for (const l of labels) {
    if (l.length === 0 || l.length > 63) return null;
    out.push(l.length);
    for (let i = 0; i < l.length; i++) {
      const c = l.charCodeAt(i);
      if (c > 0x7e || (c >= 65 && c <= 90)) return null;
      out.push(c);
    }
  }
  out.push(0);
  return Uint8Array.from(out);
}
