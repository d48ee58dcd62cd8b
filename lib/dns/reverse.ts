/**
 * Reverse-lookup names (RFC 1035 §3.5 in-addr.arpa, RFC 3596 §2.5 ip6.arpa) and the dashed IP labels Kubernetes
 * DNS uses for endpoint and pod names.
 */
import { canonicalIP, formatIPv4, formatIPv6, writeIPv4, writeIPv6 } from './ip.js';

const HEX = '0123456789abcdef';
const V4_SUFFIX = '.in-addr.arpa.';
const V6_SUFFIX = '.ip6.arpa.';

// Parsing scratch; the functions below are synchronous so sharing it cannot interleave.
const BYTES = new Uint8Array(16);

/**
 * The reverse name of an IP address: `1.0.0.10.in-addr.arpa.` for 10.0.0.1, 32 nibbles under `ip6.arpa.` for
 * IPv6. IPv4-mapped IPv6 addresses get the in-addr.arpa name, as Go's dns.ReverseAddr gives them. Throws on
 * anything that is not an IP address.
 */
export function reverseName(ip: string): string {
  if (ip.indexOf(':') === -1) {
    if (!writeIPv4(ip, BYTES, 0)) throw new Error(`not an IP address: ${JSON.stringify(ip)}`);
    return `${BYTES[3]!}.${BYTES[2]!}.${BYTES[1]!}.${BYTES[0]!}${V4_SUFFIX}`;
  }
  if (!writeIPv6(ip, BYTES, 0)) throw new Error(`not an IP address: ${JSON.stringify(ip)}`);
  if (isMapped(BYTES)) return `${BYTES[15]!}.${BYTES[14]!}.${BYTES[13]!}.${BYTES[12]!}${V4_SUFFIX}`;
  let out = '';
  for (let i = 15; i >= 0; i--) {
    const b = BYTES[i]!;
    out += HEX[b & 0xf]! + '.' + HEX[b >> 4]! + '.';
  }
  return out + V6_SUFFIX.slice(1);
}

function isMapped(b: Uint8Array): boolean {
  if (b[10] !== 0xff || b[11] !== 0xff) return false;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return true;
}

/**
 * The IP address a lower-case reverse name stands for, as canonical text, or null: IPv4 needs exactly four
 * decimal labels under `in-addr.arpa.`, IPv6 exactly 32 single-hex-digit labels under `ip6.arpa.`
 * (CoreDNS plugin/pkg/dnsutil/reverse.go ExtractAddressFromReverse). An IPv4-mapped ip6.arpa name yields the
 * dotted IPv4 address, since CoreDNS formats the result with Go's net.IP.String.
 */
export function ipFromReverseName(name: string): string | null {
  if (name.endsWith(V4_SUFFIX)) {
    const labels = name.slice(0, -V4_SUFFIX.length).split('.');
    if (labels.length !== 4) return null;
    const text = `${labels[3]}.${labels[2]}.${labels[1]}.${labels[0]}`;
    return writeIPv4(text, BYTES, 0) ? text : null;
  }
  if (name.endsWith(V6_SUFFIX)) {
    // 32 nibble labels of one character each: 63 characters before the suffix's leading dot.
    if (name.length !== 63 + V6_SUFFIX.length) return null;
    for (let i = 0; i < 16; i++) {
      // Nibble labels run from the least significant: byte 15 low nibble first.
      const lo = nibble(name, 4 * i);
      const hi = nibble(name, 4 * i + 2);
      if (lo < 0 || hi < 0) return null;
      BYTES[15 - i] = (hi << 4) | lo;
    }
    return isMapped(BYTES) ? formatIPv4(BYTES, 12) : formatIPv6(BYTES, 0);
  }
  return null;
}

// Value of the single hex digit label at `i` (which must be followed by a dot), or -1.
function nibble(s: string, i: number): number {
  if (s.charCodeAt(i + 1) !== 46) return -1;
  const c = s.charCodeAt(i);
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * An IP address as a DNS label, as Kubernetes DNS names endpoints without a hostname (CoreDNS
 * plugin/kubernetes/kubernetes.go endpointHostname): IPv4 dots become dashes (`172-0-0-2`); IPv6 colons become
 * dashes, with a `0` appended when that leaves a trailing dash (`2001:db8::` → `2001-db8--0`). IPv6 input is first
 * put in canonical form; text that is not an IP address is converted as it is, as CoreDNS does.
 */
export function dashedIP(ip: string): string {
  const canon = canonicalIP(ip) ?? ip;
  // CoreDNS checks for a dot first, so an IPv4-mapped address keeps its colons (`::ffff:1-2-3-4`).
  if (canon.indexOf('.') !== -1) return canon.replaceAll('.', '-');
  const dashed = canon.replaceAll(':', '-');
  return dashed.endsWith('-') ? dashed + '0' : dashed;
}

/**
 * The IP address in a pod-name label (CoreDNS plugin/kubernetes/kubernetes.go findPods): exactly three dashes
 * and no `--` means IPv4 (`10-0-0-1`), anything else is IPv6 with every dash read as a colon (`fd00--1`).
 * Returns canonical text, or null if the result is not a valid address.
 */
export function ipFromDashed(label: string): string | null {
  let dashes = 0;
  for (let i = 0; i < label.length; i++) if (label.charCodeAt(i) === 45) dashes++;
  if (dashes === 3 && label.indexOf('--') === -1) {
    const text = label.replaceAll('-', '.');
    return writeIPv4(text, BYTES, 0) ? text : null;
  }
  const text = label.replaceAll('-', ':');
  return writeIPv6(text, BYTES, 0) ? formatIPv6(BYTES, 0) : null;
}
