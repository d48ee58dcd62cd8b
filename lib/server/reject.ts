/**
 * Replies the server writes before a query reaches any plugin: header-only FORMERR/NOTIMP as miekg/dns's
 * defaultMsgAcceptFunc path produces them.
 */
import { FLAG, OPCODE, RCODE } from '../dns/constants.js';

/** Why a packet was not turned into a query. */
export const enum Verdict {
  Accept,
  Drop,
  FormErr,
  NotImp,
}

/**
 * Check the 12-byte header like miekg/dns acceptfunc: too short or a response → drop; opcode other than QUERY or
 * NOTIFY → NOTIMP; QDCOUNT≠1, ANCOUNT>1, NSCOUNT>1 or ARCOUNT>2 → FORMERR.
 */
export function checkHeader(raw: Buffer): Verdict {
  if (raw.length < 12) return Verdict.Drop;
  const flags = raw.readUInt16BE(2);
  if (flags & FLAG.QR) return Verdict.Drop;
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== OPCODE.QUERY && opcode !== OPCODE.NOTIFY) return Verdict.NotImp;
  if (raw.readUInt16BE(4) !== 1) return Verdict.FormErr;
  if (raw.readUInt16BE(6) > 1 || raw.readUInt16BE(8) > 1 || raw.readUInt16BE(10) > 2) return Verdict.FormErr;
  return Verdict.Accept;
}

/**
 * A header-only reply built from the request's header, as miekg's SetRcodeFormatError does to the request itself:
 * same ID and flags, QR=1, AA=0, Z=0, every count 0; FORMERR forces opcode QUERY, NOTIMP keeps the request's opcode.
 */
export function headerOnlyReply(raw: Buffer, rcode: number): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt16BE(raw.readUInt16BE(0), 0);
  let flags = raw.readUInt16BE(2);
  if (rcode !== RCODE.NOTIMP) flags &= ~0x7800;
  flags = (flags | FLAG.QR) & ~FLAG.AA & ~FLAG.Z & ~0xf;
  out.writeUInt16BE(flags | rcode, 2);
  return out;
}
