/**
 * Where the records of a wire message are, read once when the fast path memoizes a reply, so that replays can do
 * on the bytes what the general path does on messages: patch every record's TTL (cache hits counting down) and
 * redraw the order of runs of records (loadbalance's shuffles).
 */
import { TYPE } from './constants.js';
import type { Message, RR } from './message.js';

/** The records of a message (answer, authority and additional, in wire order) and every compression pointer. */
export interface RecordLayout {
  /** Per record: offset of its owner name, of its TTL, and just past its RDATA. */
  readonly starts: number[];
  readonly ttls: number[];
  readonly ends: number[];
  readonly types: number[];
  /** 0 answer, 1 authority, 2 additional. */
  readonly sections: number[];
  /** The target offset of every compression pointer in the message's names. */
  readonly pointerTargets: number[];
  /** TC is set: records were left out. */
  readonly truncated: boolean;
}

/** Types whose RDATA starts with this many octets before a name the encoder may compress (CNAME/NS/PTR: 0). */
const NAME_IN_RDATA = new Map<number, number>([
  [TYPE.NS, 0],
  [TYPE.CNAME, 0],
  [TYPE.PTR, 0],
  [TYPE.MX, 2],
  [TYPE.SRV, 6],
  [TYPE.SOA, 0],
]);

/** The layout of `wire`, or null when it is malformed. */
export function readLayout(wire: Uint8Array): RecordLayout | null {
  if (wire.length < 12) return null;
  const count = (i: number): number => (wire[i]! << 8) | wire[i + 1]!;
  const pointerTargets: number[] = [];
  // Offset just past the name at `pos` (a compression pointer ends it, its target noted), or -1 past the end.
  const skipName = (pos: number): number => {
    for (;;) {
      if (pos >= wire.length) return -1;
      const c = wire[pos]!;
      if (c === 0) return pos + 1;
      if ((c & 0xc0) === 0xc0) {
        if (pos + 2 > wire.length) return -1;
        pointerTargets.push(((c & 0x3f) << 8) | wire[pos + 1]!);
        return pos + 2;
      }
      if (c > 63) return -1;
      pos += 1 + c;
    }
  };
  let pos = 12;
  for (let i = count(4); i > 0; i--) {
    pos = skipName(pos);
    if (pos < 0 || pos + 4 > wire.length) return null;
    pos += 4;
  }
  const layout: RecordLayout = {
    starts: [], ttls: [], ends: [], types: [], sections: [], pointerTargets, truncated: (wire[2]! & 0x02) !== 0,
  };
  const perSection = [count(6), count(8), count(10)];
  for (let section = 0; section < 3; section++) {
    for (let i = perSection[section]!; i > 0; i--) {
      const start = pos;
      pos = skipName(pos);
      if (pos < 0 || pos + 10 > wire.length) return null;
      const type = (wire[pos]! << 8) | wire[pos + 1]!;
      const rdata = pos + 10;
      const end = rdata + ((wire[pos + 8]! << 8) | wire[pos + 9]!);
      if (end > wire.length) return null;
      const skip = NAME_IN_RDATA.get(type);
      if (skip !== undefined) {
        // Only pointers are wanted here; the RDATA's own length says where the record ends.
        let p = skipName(rdata + skip);
        if (p >= 0 && type === TYPE.SOA) p = skipName(p);
        if (p < 0 || p > end) return null;
      }
      layout.starts.push(start);
      layout.ttls.push(pos + 4);
      layout.ends.push(end);
      layout.types.push(type);
      layout.sections.push(section);
      pos = end;
    }
  }
  return layout;
}

/** Offsets of every record's 32-bit TTL (the OPT pseudo-record's "TTL" holds flags: skipped); null if malformed. */
export function ttlOffsets(wire: Uint8Array): Uint16Array | null {
  const l = readLayout(wire);
  if (l === null) return null;
  return Uint16Array.from(l.ttls.filter((_, i) => l.types[i] !== TYPE.OPT));
}

/**
 * The runs of records whose order a reply hook draws at random, as a plan for {@link redrawRuns}: within a
 * section, records of the same nonzero `group` must be contiguous, and each such run of two or more records is
 * redrawn. `full` is the message `wire` was encoded from, all its records included (only read when `wire` was
 * truncated). Null when replaying could not be exact: the reply was truncated at a shuffled record (which records
 * made it in depended on the draw), a group's records are split within a section, or a compression pointer targets
 * a byte inside a run (moving the record would break it). Plan format: for each run, its record count n, then n + 1
 * offsets (each record's start, then the run's end).
 */
export function shuffleRuns(wire: Uint8Array, group: (type: number) => number, full: Message): Uint16Array | null {
  const l = readLayout(wire);
  if (l === null) return null;
  if (l.truncated) {
    // The encoder keeps records up to the first that does not fit and leaves that one and every later one out. When
    // the first left out is not shuffled, every run before it was kept whole, and since a run's size does not depend
    // on its order, the cut falls there whatever the draw. When it is shuffled, the draw decided which records of
    // its run (if any) made it in: records of different sizes (A and AAAA, MX) fit differently.
    let kept = 0;
    for (const t of l.types) if (t !== TYPE.OPT) kept++;
    const leftOut = recordAt(full, kept);
    if (leftOut === undefined || group(leftOut.type) !== 0) return null;
  }
  const plan: number[] = [];
  const seen = new Set<number>();
  let i = 0;
  while (i < l.types.length) {
    const g = group(l.types[i]!);
    const section = l.sections[i]!;
    let j = i + 1;
    while (j < l.types.length && l.sections[j] === section && g !== 0 && group(l.types[j]!) === g) j++;
    if (g !== 0) {
      const key = section * 65536 + g;
      if (seen.has(key)) return null;
      seen.add(key);
      if (j - i > 1) {
        const from = l.starts[i]!;
        const to = l.ends[j - 1]!;
        for (const t of l.pointerTargets) if (t >= from && t < to) return null;
        plan.push(j - i);
        for (let k = i; k < j; k++) plan.push(l.starts[k]!);
        plan.push(to);
      }
    }
    i = j;
  }
  return Uint16Array.from(plan);
}

/** The `i`th record of `m` counting through answer, authority and additional. */
function recordAt(m: Message, i: number): RR | undefined {
  if (i < m.answer.length) return m.answer[i];
  i -= m.answer.length;
  if (i < m.authority.length) return m.authority[i];
  return m.additional[i - m.authority.length];
}

/**
 * Redraw, in place, the order of every run of `plan` (see {@link shuffleRuns}), each order equally likely
 * (Fisher-Yates); `scratch` must hold the longest run. `randomInt(n)` gives an integer in [0, n).
 */
export function redrawRuns(buf: Buffer, plan: Uint16Array, scratch: Buffer, randomInt: (n: number) => number): void {
  let i = 0;
  while (i < plan.length) {
    const n = plan[i]!;
    const base = i + 1;
    const from = plan[base]!;
    buf.copy(scratch, 0, from, plan[base + n]!);
    let at = from;
    // Fisher-Yates drawn front to back: position k takes one of the records not placed yet.
    const left = ORDER.length >= n ? ORDER : (ORDER = new Uint16Array(n * 2));
    for (let k = 0; k < n; k++) left[k] = k;
    for (let k = 0; k < n; k++) {
      const pick = k + randomInt(n - k);
      const r = left[pick]!;
      left[pick] = left[k]!;
      const s = plan[base + r]! - from;
      const e = plan[base + r + 1]! - from;
      scratch.copy(buf, at, s, e);
      at += e - s;
    }
    i = base + n + 1;
  }
}

// Record indices being drawn; grown when a run is longer.
let ORDER = new Uint16Array(256);
