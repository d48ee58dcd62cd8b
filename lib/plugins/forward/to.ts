/**
 * Expansion of forward's TO arguments into upstream addresses (CoreDNS plugin/pkg/parse HostPortOrFile and
 * Transport): `IP`, `IP:port`, `[v6]:port`, `dns://...`, or a resolv.conf-style file whose `nameserver` lines all
 * become upstreams on port 53.
 */
import { readFileSync, statSync } from 'node:fs';
import { ConfigError, type Token } from '../../corefile/types.js';
import { canonicalIP, ipFamily } from '../../dns/ip.js';

/** One upstream as configured. `label` is CoreDNS's `to` metric label: `1.2.3.4:53`, `[2001:db8::1]:53`. */
export interface UpstreamAddr {
  host: string;
  port: number;
  family: 4 | 6;
  label: string;
}

const PLUGIN = 'forward';
const DNS_PORT = 53;
/** Schemes CoreDNS's forward speaks but clusterdns does not. */
const UNSUPPORTED_SCHEMES: ReadonlySet<string> = new Set(['tls', 'https', 'grpc', 'quic', 'https3']);

/** Builds an UpstreamAddr from IP text and a port, or null when `ip` is not an address. */
export function upstreamAddr(ip: string, port: number): UpstreamAddr | null {
  const host = canonicalIP(ip);
  if (host === null) return null;
  const family = ipFamily(host) as 4 | 6;
  return { host, port, family, label: family === 6 ? `[${host}]:${port}` : `${host}:${port}` };
}

function parsePort(tok: Token, p: string): number {
  const n = Number(p);
  if (!/^\d+$/.test(p) || n > 65535) throw new ConfigError(tok, `invalid port '${p}' in '${tok.text}'`, PLUGIN);
  return n;
}

/** `host[:port]` with IPv6 in brackets when a port is given; null when it is not an address at all. */
function splitAddress(tok: Token, s: string): UpstreamAddr | null {
  const bracket = /^\[([^\]]+)\](?::(\d*))?$/.exec(s);
  if (bracket) {
    const a = upstreamAddr(bracket[1]!, bracket[2] === undefined ? DNS_PORT : parsePort(tok, bracket[2]));
    if (a === null || a.family !== 6) throw new ConfigError(tok, `not an IP address: ${JSON.stringify(bracket[1])}`, PLUGIN);
    return a;
  }
  if (ipFamily(s) !== 0) return upstreamAddr(s, DNS_PORT);
  const colon = s.lastIndexOf(':');
  if (colon > 0 && ipFamily(s.slice(0, colon)) === 4) return upstreamAddr(s.slice(0, colon), parsePort(tok, s.slice(colon + 1)));
  return null;
}

/**
 * The `nameserver` addresses of a resolv.conf-style text (miekg/dns ClientConfigFromReader): any line whose first
 * field is `nameserver` contributes its second field; an IPv6 zone (`%eth0`) is dropped; non-addresses are skipped.
 */
export function resolvConfServers(text: string): UpstreamAddr[] {
  const out: UpstreamAddr[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] !== 'nameserver' || f.length < 2) continue;
    const a = upstreamAddr(f[1]!.split('%')[0]!, DNS_PORT);
    if (a !== null) out.push(a);
  }
  return out;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Expands one TO token. A file is read here, at parse time, as CoreDNS does at setup (and again on reload).
 * Throws ConfigError for other schemes, bad ports, and names that are neither addresses nor files.
 */
export function expandTo(tok: Token): UpstreamAddr[] {
  let s = tok.text;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(s);
  if (scheme) {
    const name = scheme[1]!.toLowerCase();
    if (UNSUPPORTED_SCHEMES.has(name)) {
      throw new ConfigError(tok, `'${name}://' upstreams are not supported by clusterdns: ${s}`, PLUGIN);
    }
    if (name !== 'dns') throw new ConfigError(tok, `'${name}' is not supported as a destination protocol in forward: ${s}`, PLUGIN);
    s = s.slice(scheme[0].length);
  }
  const addr = splitAddress(tok, s);
  if (addr !== null) return [addr];
  // CoreDNS: anything that does not split as host:port nor parse as an IP is tried as a file.
  if (!scheme && isFile(s)) {
    let text: string;
    try {
      text = readFileSync(s, 'utf8');
    } catch (err) {
      throw new ConfigError(tok, `failed to read ${s}: ${(err as Error).message}`, PLUGIN);
    }
    return resolvConfServers(text);
  }
  throw new ConfigError(tok, `not an IP address or file: ${JSON.stringify(s)}`, PLUGIN);
}
