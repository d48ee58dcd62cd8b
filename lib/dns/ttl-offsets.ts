/**
 * Where the TTL fields of a wire message's records are: what the fast path patches when it replays a cached reply
 * whose TTLs count down. The OPT pseudo-record is skipped (its "TTL" holds the extended rcode and flags).
 */
import { TYPE } from './constants.js';

/** Offsets of every record's 32-bit TTL in `wire` (answer, authority, additional; OPT excluded); null if malformed. */
export function ttlOffsets(wire: Uint8Array): Uint16Array | null {
  if (wire.length < 12) return null;
  const count = (i: number): number => (wire[i]! << 8) | wire[i + 1]!;
  const qd = count(4);
  const records = count(6) + count(8) + count(10);
  let pos = 12;
  for (let i = 0; i < qd; i++) {
    pos = skipName(wire, pos);
    if (pos < 0 || pos + 4 > wire.length) return null;
    pos += 4;
  }
  const out: number[] = [];
  for (let i = 0; i < records; i++) {
    pos = skipName(wire, pos);
    if (pos < 0 || pos + 10 > wire.length) return null;
    const type = (wire[pos]! << 8) | wire[pos + 1]!;
    if (type !== TYPE.OPT) out.push(pos + 4);
    const rdlength = (wire[pos + 8]! << 8) | wire[pos + 9]!;
    pos += 10 + rdlength;
    if (pos > wire.length) return null;
  }
  return Uint16Array.from(out);
}

// Offset just past the name at `pos` (a compression pointer ends it), or -1 when it runs off the end.
function skipName(wire: Uint8Array, pos: number): number {
  for (;;) {
    if (pos >= wire.length) return -1;
    const c = wire[pos]!;
    if (c === 0) return pos + 1;
    if ((c & 0xc0) === 0xc0) return pos + 2 <= wire.length ? pos + 2 : -1;
    if (c > 63) return -1;
    pos += 1 + c;
  }
}
