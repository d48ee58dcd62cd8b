/**
 * CIDR → reverse zone expansion, shared by server block keys (`10.0.0.0/24 { ... }`) and the zone arguments of
 * plugins such as kubernetes. Mirrors CoreDNS plugin/normalize.go SplitHostPort with plugin/pkg/cidr Class/Reverse.
 */

/** A parsed IP address: 4 bytes for IPv4, 16 for IPv6. */
export interface IpBytes {
  bytes: Uint8Array;
  v6: boolean;
}

/**
 * Parses an IPv4 address as Go's netip.ParseAddr does: four decimal fields 0-255 without leading zeros.
 * Returns null when `s` is not one.
 */
function parseIPv4(s: string): Uint8Array | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p[0] === '0')) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

/**
 * Parses an IPv6 address (hex groups, one `::`, optional trailing dotted IPv4). No zone (`%eth0`) allowed, as in
 * Go's net.ParseCIDR. Returns null when `s` is not one.
 */
function parseIPv6(s: string): Uint8Array | null {
  if (s.length < 2 || s.includes('%')) return null;
  const dbl = s.indexOf('::');
  if (dbl !== -1 && s.indexOf('::', dbl + 1) !== -1) return null;
  const groups = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const fields = part.split(':');
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      if (i === fields.length - 1 && f.includes('.')) {
        const v4 = parseIPv4(f);
        if (!v4) return null;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(f)) return null;
      out.push(parseInt(f, 16));
    }
    return out;
  };
  let words: number[];
  if (dbl === -1) {
    const all = groups(s);
    if (!all || all.length !== 8) return null;
    words = all;
  } else {
    const head = groups(s.slice(0, dbl));
    const tail = groups(s.slice(dbl + 2));
    if (!head || !tail) return null;
    // An embedded IPv4 may only end the address.
    if (s.slice(0, dbl).includes('.')) return null;
    const fill = 8 - head.length - tail.length;
    if (fill < 1) return null;
    words = [...head, ...new Array<number>(fill).fill(0), ...tail];
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[i * 2] = words[i]! >> 8;
    out[i * 2 + 1] = words[i]! & 0xff;
  }
  return out;
}

/** Parses an IPv4 or IPv6 address literal; null when `s` is neither. */
export function parseIp(s: string): IpBytes | null {
  if (s.includes(':')) {
    const b = parseIPv6(s);
    return b ? { bytes: b, v6: true } : null;
  }
  const b = parseIPv4(s);
  return b ? { bytes: b, v6: false } : null;
}

/** Parses `ADDRESS/BITS` like Go's net.ParseCIDR, masking the address to its network. Null if not a CIDR. */
export function parseCidr(s: string): { ip: IpBytes; ones: number } | null {
  const slash = s.indexOf('/');
  if (slash === -1) return null;
  const ip = parseIp(s.slice(0, slash));
  const maskText = s.slice(slash + 1);
  if (!ip || !/^\d{1,9}$/.test(maskText)) return null;
  const ones = Number(maskText);
  const bits = ip.bytes.length * 8;
  if (ones > bits) return null;
  const bytes = new Uint8Array(ip.bytes);
  for (let bit = ones; bit < bits; bit++) bytes[bit >> 3]! &= ~(0x80 >> (bit & 7));
  return { ip: { bytes, v6: ip.v6 }, ones };
}

/** The `unit`-bit digit (8 = octet, 4 = nibble) at position `index` counted from the start of `bytes`. */
function digitAt(bytes: Uint8Array, unit: number, index: number): number {
  if (unit === 8) return bytes[index]!;
  const b = bytes[index >> 1]!;
  return index & 1 ? b & 0x0f : b >> 4;
}

/** Adds 1 at bit position `prefix` (counting from the most significant bit) of `bytes`, in place. */
function incrementAt(bytes: Uint8Array, prefix: number): void {
  let byte = (prefix - 1) >> 3;
  let add = 1 << (7 - ((prefix - 1) & 7));
  while (byte >= 0 && add > 0) {
    const sum = bytes[byte]! + add;
    bytes[byte] = sum & 0xff;
    add = sum >> 8;
    byte--;
  }
}

/**
 * The reverse zones that cover `cidr` (`10.0.0.0/24` → `0.0.10.in-addr.arpa.`), or null when `cidr` is not an
 * `ADDRESS/BITS` CIDR. A mask that is not on a label boundary (8 bits for IPv4, a 4-bit nibble for IPv6) expands to
 * every zone at the next boundary down: `10.0.0.0/22` → `0.0.10`, `1.0.10`, `2.0.10`, `3.0.10` `.in-addr.arpa.`
 * (CoreDNS plugin/pkg/cidr Class + Reverse). Host bits in the address are ignored, as Go's ParseCIDR does.
 */
export function reverseZonesForCidr(cidr: string): string[] | null {
  const parsed = parseCidr(cidr);
  if (!parsed) return null;
  const { ip, ones } = parsed;
  const unit = ip.v6 ? 4 : 8;
  const suffix = ip.v6 ? 'ip6.arpa.' : 'in-addr.arpa.';
  const prefix = Math.ceil(ones / unit) * unit;
  const count = 2 ** (prefix - ones);
  const digits = prefix / unit;
  const bytes = new Uint8Array(ip.bytes);
  const zones: string[] = [];
  for (let n = 0; n < count; n++) {
    const labels: string[] = [];
    for (let d = digits - 1; d >= 0; d--) labels.push(digitAt(bytes, unit, d).toString(ip.v6 ? 16 : 10));
    labels.push(suffix);
    zones.push(labels.join('.'));
    if (n + 1 < count) incrementAt(bytes, prefix);
  }
  return zones;
}
