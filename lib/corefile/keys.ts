/**
 * Server block keys (`[scheme://]zone[:port]`) and plugin zone arguments, normalised the way CoreDNS does in
 * core/dnsserver/register.go InspectServerBlocks and plugin/normalize.go SplitHostPort.
 */
import { reverseZonesForCidr } from '../dns/reverse-zones.js';
import { ConfigError, type Token, type ZoneAddr } from './types.js';

/**
 * Default port of each scheme CoreDNS knows (CoreDNS plugin/pkg/transport Ports). `dns` is listed with 53 but
 * parseServerKey uses its `defaultPort` argument instead (the `-dns.port` flag).
 */
export const SCHEME_PORTS: Readonly<Record<string, number>> = Object.freeze({
  dns: 53,
  tls: 853,
  quic: 853,
  grpc: 443,
  https: 443,
  https3: 443,
});

/** Longest DNS name in bytes, and the longest label (RFC 1035 §2.3.4). */
const MAX_NAME = 255;
const MAX_LABEL = 63;

/**
 * Splits a leading `scheme://` off `s`. No scheme means `dns` (CoreDNS plugin/pkg/parse Transport). An unknown
 * scheme is an error here; CoreDNS would instead read `foo://x` as a (useless) zone name.
 */
function splitScheme(tok: Token, s: string, plugin: string | undefined): { scheme: string; rest: string } {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(s);
  if (!m) return { scheme: 'dns', rest: s };
  const scheme = m[1]!.toLowerCase();
  if (!(scheme in SCHEME_PORTS)) throw new ConfigError(tok, `unknown scheme '${m[1]}://' in '${s}'`, plugin);
  return { scheme, rest: s.slice(m[0].length) };
}

/** Whether `s` ends in a dot that is not escaped with a backslash (miekg/dns IsFqdn). */
function isFqdn(s: string): boolean {
  if (!s.endsWith('.')) return false;
  let slashes = 0;
  for (let i = s.length - 2; i >= 0 && s[i] === '\\'; i--) slashes++;
  return slashes % 2 === 0;
}

/**
 * Whether `s` is acceptable as a domain name in the loose sense of miekg/dns IsDomainName, which is all CoreDNS
 * checks: not empty, no leading dot (except the root), no empty label, labels ≤ 63 bytes, name ≤ 255 bytes.
 * Any characters are allowed; `\X` and `\DDD` escapes count as one byte.
 */
export function isDomainName(s: string): boolean {
  if (s === '') return false;
  const b = Buffer.from(isFqdn(s) ? s : `${s}.`, 'utf8');
  let off = 0;
  let begin = 0;
  let wasDot = false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0x5c) {
      const ddd = i + 3 < b.length && [1, 2, 3].every((k) => b[i + k]! >= 0x30 && b[i + k]! <= 0x39);
      const skip = ddd ? 3 : 1;
      i += skip;
      begin += skip;
      wasDot = false;
    } else if (c === 0x2e) {
      if (i === 0 && b.length > 1) return false;
      if (wasDot) return false;
      wasDot = true;
      const labelLen = i - begin;
      if (labelLen > MAX_LABEL) return false;
      off += 1 + labelLen;
      if (off > MAX_NAME + 1) return false;
      begin = i + 1;
    } else {
      wasDot = false;
    }
  }
  return true;
}

/** Lower-cases `s` and makes it fully qualified (`example.org` → `example.org.`, `` → `.`): CoreDNS Name.Normalize. */
export function normalizeZone(s: string): string {
  const lower = s.toLowerCase();
  return isFqdn(lower) ? lower : `${lower}.`;
}

/**
 * Splits `host[:port]` into its zones and port (CoreDNS plugin/normalize.go SplitHostPort): a trailing `:N` is a
 * port; a CIDR host expands to its reverse zones. Returns an error message instead of throwing so callers can
 * attach the token. CoreDNS has no `[...]` bracket syntax for keys; brackets are rejected here rather than
 * becoming a zone that can never match.
 */
function splitHostPort(s: string): { zones: string[]; port: number | null } | string {
  const colon = s.lastIndexOf(':');
  // CoreDNS: `colon == len(s)-1`, which also rejects the empty string.
  if (colon === s.length - 1) return `expecting data after last colon: ${JSON.stringify(s)}`;
  let host = s;
  let port: number | null = null;
  if (colon !== -1) {
    const p = s.slice(colon + 1);
    if (/^[+-]?\d+$/.test(p)) {
      const v = Number(p);
      if (v < 0 || v > 65535) return `invalid port '${p}' in '${s}'`;
      port = v;
      host = s.slice(0, colon);
    }
  }
  if (Buffer.byteLength(host, 'utf8') > MAX_NAME) {
    return `specified zone is too long: ${Buffer.byteLength(host, 'utf8')} > ${MAX_NAME}`;
  }
  if (!isDomainName(host) || host.includes('[') || host.includes(']')) {
    return `zone is not a valid domain name: ${host}`;
  }
  const reverse = reverseZonesForCidr(host);
  if (reverse === null) return { zones: [host], port };
  // CoreDNS plugin/normalize.go: a CIDR starting with ':' or with '0' and containing ':' is refused.
  if (host[0] === ':' || (host[0] === '0' && host.includes(':'))) return `invalid CIDR ${host}`;
  return { zones: reverse, port };
}

/**
 * Parses one server block key `[scheme://]zone[:port]` into one ZoneAddr, or several when the zone is a CIDR whose
 * mask is not on a label boundary (`10.0.0.0/22` → four /24 reverse zones).
 *
 * Schemes: `dns://` (the default; port `defaultPort`), `tls://` and `quic://` (853), `https://`, `https3://` and
 * `grpc://` (443). Zones are lower-cased and fully qualified; `.` is the root. Throws ConfigError at the key token
 * for an unknown scheme, a bad port, an invalid zone or an invalid CIDR.
 */
export function parseServerKey(tok: Token, defaultPort: number): ZoneAddr[] {
  const { scheme, rest } = splitScheme(tok, tok.text, undefined);
  const split = splitHostPort(rest);
  if (typeof split === 'string') throw new ConfigError(tok, split);
  const port = split.port ?? (scheme === 'dns' ? defaultPort : SCHEME_PORTS[scheme]!);
  return split.zones.map((z) => ({ scheme, zone: normalizeZone(z), port }));
}

/**
 * Normalises a plugin's ZONES arguments (CoreDNS plugin.Host.NormalizeExact): any scheme and port are dropped,
 * CIDRs expand to reverse zones, names are lower-cased and fully qualified. Unlike CoreDNS, which silently skips
 * an invalid zone argument, this throws ConfigError at the token (tagged with `plugin`).
 */
export function normalizeZones(tokens: readonly Token[], plugin?: string): string[] {
  const out: string[] = [];
  for (const tok of tokens) {
    const { rest } = splitScheme(tok, tok.text, plugin);
    const split = splitHostPort(rest);
    if (typeof split === 'string') throw new ConfigError(tok, split, plugin);
    for (const z of split.zones) out.push(normalizeZone(z));
  }
  return out;
}
