/**
 * IP address text handling without regexes or allocations beyond the result string: strict parsing of IPv4
 * dotted quads and IPv6 text (RFC 4291 §2.2) straight into wire bytes, and canonical formatting (RFC 5952).
 */

/**
 * Parse strict dotted-quad IPv4 text (four decimal octets 0..255, no leading zeros, nothing else) and write its
 * 4 bytes at `buf[off]`. Returns false, with `buf` possibly partly written, when `s` is not such an address.
 */
export function writeIPv4(s: string, buf: Uint8Array, off: number): boolean {
  return parseIPv4At(s, 0, s.length, buf, off);
}

/**
 * Parse IPv6 text (hex groups, at most one `::`, optional trailing dotted quad; no zone index) and write its 16
 * bytes at `buf[off]`. Returns false, with `buf` possibly partly written, when `s` is not an IPv6 address.
 */
export function writeIPv6(s: string, buf: Uint8Array, off: number): boolean {
  const n = s.length;
  if (n < 2 || n > 45) return false;
  let group = 0; // groups written so far
  let gap = -1; // group index where '::' sits
  let i = 0;
  if (s.charCodeAt(0) === 58 /* : */) {
    if (s.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
    if (i === n) {
      buf.fill(0, off, off + 16);
      return true;
    }
  }
  while (i < n) {
    if (group === 8) return false;
    // A group is 1-4 hex digits, unless this is the last part and it is a dotted quad (RFC 4291 §2.2 form 3).
    let v = 0;
    let j = i;
    while (j < n && j - i < 5) {
      const c = s.charCodeAt(j);
      let d: number;
      if (c >= 48 && c <= 57) d = c - 48;
      else if (c >= 97 && c <= 102) d = c - 87;
      else if (c >= 65 && c <= 70) d = c - 55;
      else break;
      v = (v << 4) | d;
      j++;
    }
    const c = j < n ? s.charCodeAt(j) : -1;
    if (c === 46 /* . */) {
      if (group > 6) return false;
      if (!parseIPv4At(s, i, n, buf, off + group * 2)) return false;
      group += 2;
      i = n;
      break;
    }
    if (j === i || j - i > 4) return false;
    buf[off + group * 2] = v >> 8;
    buf[off + group * 2 + 1] = v & 0xff;
    group++;
    if (j === n) {
      i = n;
      break;
    }
    if (c !== 58) return false;
    // A single ':' must be followed by another group; '::' marks the gap and may end the text.
    if (j + 1 < n && s.charCodeAt(j + 1) === 58) {
      if (gap !== -1) return false;
      gap = group;
      i = j + 2;
    } else {
      i = j + 1;
      if (i === n) return false;
    }
  }
  if (gap === -1) return group === 8;
  // '::' must stand for at least one zero group (RFC 4291 §2.2: "one or more groups").
  if (group > 7) return false;
  const tail = group - gap;
  const dst = off + 16 - tail * 2;
  if (tail > 0) buf.copyWithin(dst, off + gap * 2, off + group * 2);
  buf.fill(0, off + gap * 2, dst);
  return true;
}

function parseIPv4At(s: string, start: number, end: number, buf: Uint8Array, off: number): boolean {
  let part = 0;
  let i = start;
  while (part < 4) {
    if (i >= end) return false;
    let c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
    let v = c - 48;
    i++;
    if (v === 0) {
      // No leading zeros: "0" is an octet, "01" is not (Go net.ParseIP and Node net.isIPv4 agree).
    } else {
      while (i < end) {
        c = s.charCodeAt(i);
        if (c < 48 || c > 57) break;
        v = v * 10 + c - 48;
        if (v > 255) return false;
        i++;
      }
    }
    buf[off + part] = v;
    part++;
    if (part < 4) {
      if (i >= end || s.charCodeAt(i) !== 46) return false;
      i++;
    }
  }
  return i === end;
}

/** Text of 4 IPv4 bytes at `buf[off]`: `10.0.0.1`. */
export function formatIPv4(buf: Uint8Array, off: number): string {
  return `${buf[off]!}.${buf[off + 1]!}.${buf[off + 2]!}.${buf[off + 3]!}`;
}

/**
 * RFC 5952 text of 16 IPv6 bytes at `buf[off]`: lower-case hex, no leading zeros, the longest run (first on a tie)
 * of two or more zero groups as `::`. IPv4-mapped addresses print as `::ffff:1.2.3.4`, as Node reports peers and
 * as miekg/dns prints such AAAA records.
 */
export function formatIPv6(buf: Uint8Array, off: number): string {
  let mapped = buf[off + 10] === 0xff && buf[off + 11] === 0xff;
  for (let i = 0; mapped && i < 10; i++) if (buf[off + i] !== 0) mapped = false;
  if (mapped) return `::ffff:${formatIPv4(buf, off + 12)}`;
  let bestStart = -1;
  let bestLen = 1; // a single zero group is never shortened (RFC 5952 §4.2.2)
  let runStart = -1;
  for (let g = 0; g < 8; g++) {
    if (buf[off + 2 * g] === 0 && buf[off + 2 * g + 1] === 0) {
      if (runStart === -1) runStart = g;
      if (g - runStart + 1 > bestLen) {
        bestLen = g - runStart + 1;
        bestStart = runStart;
      }
    } else {
      runStart = -1;
    }
  }
  let out = '';
  for (let g = 0; g < 8; g++) {
    if (g === bestStart) {
      out += '::';
      g += bestLen - 1;
      continue;
    }
    if (out.length > 0 && out.charCodeAt(out.length - 1) !== 58) out += ':';
    out += ((buf[off + 2 * g]! << 8) | buf[off + 2 * g + 1]!).toString(16);
  }
  return out;
}

// Scratch for parse-then-format; parsing and formatting are synchronous, so sharing it cannot interleave.
const SCRATCH = new Uint8Array(16);

/**
 * Canonical text of an IP address, or null if `s` is not one: IPv4 must be a strict dotted quad and comes back
 * unchanged; IPv6 comes back in RFC 5952 form (`2001:DB8:0:0::1` → `2001:db8::1`; IPv4-mapped as `::ffff:a.b.c.d`).
 * Text already canonical (what the Kubernetes API writes) is returned itself, one flat string, rather than the
 * formatter's result, a tree of string pieces that costs more (~15,000 of them at 150,000 endpoints) and compares
 * slower.
 */
export function canonicalIP(s: string): string | null {
  if (s.indexOf(':') === -1) return writeIPv4(s, SCRATCH, 0) ? s : null;
  if (!writeIPv6(s, SCRATCH, 0)) return null;
  const f = formatIPv6(SCRATCH, 0);
  return f === s ? s : f;
}

/** Address family of IP text: 4, 6, or 0 when `s` is not a valid address (same rules as canonicalIP). */
export function ipFamily(s: string): 4 | 6 | 0 {
  if (s.indexOf(':') === -1) return writeIPv4(s, SCRATCH, 0) ? 4 : 0;
  return writeIPv6(s, SCRATCH, 0) ? 6 : 0;
}

/** The 4 or 16 bytes of an IP address, or null if `s` is not one. */
export function ipToBytes(s: string): Buffer | null {
  if (s.indexOf(':') === -1) {
    const b = Buffer.allocUnsafe(4);
    return writeIPv4(s, b, 0) ? b : null;
  }
  const b = Buffer.allocUnsafe(16);
  return writeIPv6(s, b, 0) ? b : null;
}
