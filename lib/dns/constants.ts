/** DNS numeric constants (RFC 1035, 2671, 6891 and the IANA registries) used across clusterdns. */

/** Resource record types we name. Anything else travels as its number. */
export const TYPE = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, PTR: 12, HINFO: 13, MX: 15, TXT: 16, AAAA: 28, SRV: 33, NAPTR: 35,
  DS: 43, RRSIG: 46, NSEC: 47, DNSKEY: 48, NSEC3: 50, SVCB: 64, HTTPS: 65, CAA: 257,
  OPT: 41, IXFR: 251, AXFR: 252, ANY: 255,
} as const;

/** Classes. Only IN is served by cluster plugins; CH reaches chaos/whoami-style plugins. */
export const CLASS = { IN: 1, CH: 3, HS: 4, NONE: 254, ANY: 255 } as const;

/** Response codes. Values above 15 only exist through the EDNS extended-rcode. */
export const RCODE = {
  NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5,
  YXDOMAIN: 6, YXRRSET: 7, NXRRSET: 8, NOTAUTH: 9, NOTZONE: 10, BADVERS: 16,
} as const;

/** Opcodes. CoreDNS accepts QUERY and NOTIFY; everything else is NOTIMP. */
export const OPCODE = { QUERY: 0, IQUERY: 1, STATUS: 2, NOTIFY: 4, UPDATE: 5 } as const;

/** Header flag bits as they sit in the 16-bit flags word (bytes 2-3 of the header). */
export const FLAG = {
  QR: 0x8000, AA: 0x0400, TC: 0x0200, RD: 0x0100, RA: 0x0080, Z: 0x0040, AD: 0x0020, CD: 0x0010,
} as const;

/** EDNS option codes that CoreDNS copies back to the client verbatim (request/edns0.go supportedOptions). */
export const EDNS_ECHOED_OPTIONS: ReadonlySet<number> = new Set([
  3, // NSID
  9, // EXPIRE
  10, // COOKIE
  11, // TCP-KEEPALIVE
  12, // PADDING
]);

/** The DO bit in the OPT record's TTL field (RFC 3225). */
export const EDNS_DO = 0x8000;

/** Smallest UDP payload every client accepts, and the largest message DNS can carry. */
export const MIN_UDP_SIZE = 512;
export const MAX_MSG_SIZE = 65535;

const TYPE_NAMES = new Map<number, string>(Object.entries(TYPE).map(([k, v]) => [v, k]));
const TYPE_BY_NAME = new Map<string, number>(Object.entries(TYPE));
const CLASS_NAMES = new Map<number, string>(Object.entries(CLASS).map(([k, v]) => [v, k]));
const RCODE_NAMES = new Map<number, string>(Object.entries(RCODE).map(([k, v]) => [v, k]));
const OPCODE_NAMES = new Map<number, string>(Object.entries(OPCODE).map(([k, v]) => [v, k]));

/** Presentation name of a type: `A`, `SRV`, or `TYPE65534` for unnamed ones (RFC 3597). */
export function typeName(t: number): string {
  return TYPE_NAMES.get(t) ?? `TYPE${t}`;
}

/** Type number from a presentation name (`a`, `SRV`, `TYPE65`), or undefined. */
export function typeFromName(name: string): number | undefined {
  const up = name.toUpperCase();
  const known = TYPE_BY_NAME.get(up);
  if (known !== undefined) return known;
  const m = /^TYPE(\d{1,5})$/.exec(up);
  return m && Number(m[1]) <= 0xffff ? Number(m[1]) : undefined;
}

/** Presentation name of a class: `IN`, `CH`, or `CLASS42`. */
export function className(c: number): string {
  return CLASS_NAMES.get(c) ?? `CLASS${c}`;
}

/** Presentation name of an rcode as CoreDNS logs it: `NOERROR`, `NXDOMAIN`, or the number. */
export function rcodeName(r: number): string {
  return RCODE_NAMES.get(r) ?? String(r);
}

/** Presentation name of an opcode. */
export function opcodeName(o: number): string {
  return OPCODE_NAMES.get(o) ?? String(o);
}
