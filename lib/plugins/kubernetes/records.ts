/** Record builders for kubernetes answers: plain object literals of one shape per type, class IN. */
import { CLASS, TYPE } from '../../dns/constants.js';
import type { RR } from '../../dns/message.js';

/** `rel` (relative, with trailing dot) made absolute under `zone` (either spelling; `.` for the root). */
export function abs(rel: string, zone: string): string {
  return zone === '.' ? rel : rel + zone;
}

/** True for IPv6 text (canonical IPv4 never contains a colon). */
export function isV6(ip: string): boolean {
  return ip.indexOf(':') !== -1;
}

/** An A or AAAA record, by the address family of `ip`. */
export function addressRR(name: string, ttl: number, ip: string): RR {
  return { name, type: isV6(ip) ? TYPE.AAAA : TYPE.A, class: CLASS.IN, ttl, data: ip };
}

/** A CNAME record. */
export function cnameRR(name: string, ttl: number, target: string): RR {
  return { name, type: TYPE.CNAME, class: CLASS.IN, ttl, data: target };
}

/** A PTR record. */
export function ptrRR(name: string, ttl: number, target: string): RR {
  return { name, type: TYPE.PTR, class: CLASS.IN, ttl, data: target };
}

/** An NS record. */
export function nsRR(name: string, ttl: number, target: string): RR {
  return { name, type: TYPE.NS, class: CLASS.IN, ttl, data: target };
}

/** An SRV record with priority 0 (CoreDNS never sets another). */
export function srvRR(name: string, ttl: number, weight: number, port: number, target: string): RR {
  return { name, type: TYPE.SRV, class: CLASS.IN, ttl, data: { priority: 0, weight, port, target } };
}

/** A TXT record of one string. */
export function txtRR(name: string, ttl: number, text: string): RR {
  return { name, type: TYPE.TXT, class: CLASS.IN, ttl, data: [text] };
}

/**
 * The zone's SOA as CoreDNS plugin/backend_lookup.go SOA builds it: owner and names in the query's spelling of
 * the zone, TTL min(ttl, 300), `ns.dns.<zone>` / `hostmaster.<zone>`, 7200 1800 86400, minimum = ttl.
 */
export function soaRR(zone: string, ttl: number, serial: number): RR {
  return {
    name: zone,
    type: TYPE.SOA,
    class: CLASS.IN,
    ttl: Math.min(ttl, 300),
    data: {
      mname: abs('ns.dns.', zone),
      rname: abs('hostmaster.', zone),
      serial,
      refresh: 7200,
      retry: 1800,
      expire: 86400,
      minimum: ttl,
    },
  };
}
