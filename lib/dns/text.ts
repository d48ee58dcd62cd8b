/**
 * Zone-file presentation of records and messages (RFC 1035 §5, RFC 3597 for opaque rdata), in the layout
 * miekg/dns prints: `web.default.svc.cluster.local.\t5\tIN\tA\t10.0.0.1`. Used for logs and tests; tests also
 * parse expected answers from such lines with parseRRText, as CoreDNS tests do with `test.A("…")`.
 */
import { TYPE, className, opcodeName, rcodeName, typeFromName, typeName, CLASS } from './constants.js';
import { type Message, type MxData, type RR, type SoaData, type SrvData, opcodeOf, rcodeOf } from './message.js';
import { fqdn } from './name.js';

// TXT character-string quoting (miekg/dns sprintTxt): `"` and `\` get a backslash, bytes outside printable ASCII
// become \DDD.
function quoteTxt(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 34 || c === 92) out += '\\' + s[i];
    else if (c < 32 || c > 126) out += '\\' + String(c).padStart(3, '0');
    else out += s[i];
  }
  return out + '"';
}

/** Presentation text of a record's rdata alone (`0 50 80 target.` for SRV, `\# 2 abcd` for opaque data). */
export function rdataToText(rr: RR): string {
  switch (rr.type) {
    case TYPE.A:
    case TYPE.AAAA:
    case TYPE.NS:
    case TYPE.CNAME:
    case TYPE.PTR:
      return rr.data as string;
    case TYPE.TXT:
      return (rr.data as string[]).map(quoteTxt).join(' ');
    case TYPE.SRV: {
      const d = rr.data as SrvData;
      return `${d.priority} ${d.weight} ${d.port} ${d.target}`;
    }
    case TYPE.MX: {
      const d = rr.data as MxData;
      return `${d.preference} ${d.exchange}`;
    }
    case TYPE.SOA: {
      const d = rr.data as SoaData;
      return `${d.mname} ${d.rname} ${d.serial} ${d.refresh} ${d.retry} ${d.expire} ${d.minimum}`;
    }
    default: {
      const b = rr.data as Buffer;
      return b.length === 0 ? '\\# 0' : `\\# ${b.length} ${b.toString('hex')}`;
    }
  }
}

/** One record as a zone-file line: owner, TTL, class, type, rdata separated by tabs. */
export function rrToText(rr: RR): string {
  return `${rr.name}\t${rr.ttl}\t${className(rr.class)}\t${typeName(rr.type)}\t${rdataToText(rr)}`;
}

const FLAG_NAMES: [number, string][] = [
  [0x8000, 'qr'], [0x0400, 'aa'], [0x0200, 'tc'], [0x0100, 'rd'], [0x0080, 'ra'], [0x0040, 'z'], [0x0020, 'ad'],
  [0x0010, 'cd'],
];

/** A dig-like rendering of a whole message (header, OPT pseudo-section, then each section), for logs and tests. */
export function messageToText(m: Message): string {
  const flags = FLAG_NAMES.filter(([bit]) => (m.flags & bit) !== 0).map(([, n]) => n).join(' ');
  const lines = [
    `;; opcode: ${opcodeName(opcodeOf(m.flags))}, status: ${rcodeName(rcodeOf(m))}, id: ${m.id}`,
    `;; flags: ${flags}; QUERY: ${m.question.length}, ANSWER: ${m.answer.length}, ` +
      `AUTHORITY: ${m.authority.length}, ADDITIONAL: ${m.additional.length + (m.edns ? 1 : 0)}`,
  ];
  if (m.edns) {
    const e = m.edns;
    lines.push('', ';; OPT PSEUDOSECTION:',
      `; EDNS: version ${e.version}; flags:${e.do ? ' do' : ''}; udp: ${e.udpSize}`);
    for (const o of e.options) lines.push(`; OPTION ${o.code}: ${o.data.toString('hex')}`);
  }
  lines.push('', ';; QUESTION SECTION:');
  for (const q of m.question) lines.push(`;${q.name}\t${className(q.class)}\t${typeName(q.type)}`);
  const sections: [string, RR[]][] = [['ANSWER', m.answer], ['AUTHORITY', m.authority], ['ADDITIONAL', m.additional]];
  for (const [title, rrs] of sections) {
    if (rrs.length === 0) continue;
    lines.push('', `;; ${title} SECTION:`);
    for (const rr of rrs) lines.push(rrToText(rr));
  }
  return lines.join('\n');
}

// Split a zone-file line into tokens; a quoted token keeps its quotes so TXT parsing can tell them apart.
function tokenize(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    const c = line[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    if (c === ';') break;
    let j = i;
    if (c === '"') {
      j++;
      while (j < n && line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (j >= n) throw new Error(`unterminated quoted string in ${JSON.stringify(line)}`);
      j++;
    } else {
      while (j < n && line[j] !== ' ' && line[j] !== '\t') j += line[j] === '\\' ? 2 : 1;
    }
    out.push(line.slice(i, j));
    i = j;
  }
  return out;
}

// A character-string token (quoted or not) to its latin1 value: \DDD is an octet, \c is c.
function unquote(tok: string): string {
  const body = tok.startsWith('"') ? tok.slice(1, -1) : tok;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const ddd = body.slice(i + 1, i + 4);
    if (/^\d{3}$/.test(ddd)) {
      out += String.fromCharCode(Number(ddd));
      i += 3;
    } else {
      out += body[i + 1] ?? '';
      i++;
    }
  }
  return out;
}

function int(tok: string | undefined, max: number, line: string): number {
  if (tok === undefined || !/^\d+$/.test(tok) || Number(tok) > max) {
    throw new Error(`bad number ${JSON.stringify(tok)} in ${JSON.stringify(line)}`);
  }
  return Number(tok);
}

function classFromName(tok: string): number | undefined {
  const up = tok.toUpperCase();
  if (up in CLASS) return CLASS[up as keyof typeof CLASS];
  const m = /^CLASS(\d{1,5})$/.exec(up);
  return m && Number(m[1]) <= 0xffff ? Number(m[1]) : undefined;
}

/**
 * Parse one zone-file line (`owner [TTL] [CLASS] TYPE RDATA`; TTL and class in either order, defaults 0 and IN)
 * into an RR. Names are made absolute. Handles A, AAAA, NS, CNAME, PTR, TXT (quoted or bare strings), SRV, SOA,
 * MX, and any type in RFC 3597 form (`TYPE65 \# 3 abcdef`). Throws Error on anything it cannot read.
 */
export function parseRRText(line: string): RR {
  const t = tokenize(line);
  if (t.length < 2) throw new Error(`not a record: ${JSON.stringify(line)}`);
  const name = fqdn(t[0]!);
  let ttl = 0;
  let cls: number = CLASS.IN;
  let i = 1;
  let type: number | undefined;
  for (; i < t.length; i++) {
    const tok = t[i]!;
    if (/^\d+$/.test(tok)) {
      ttl = int(tok, 0xffffffff, line);
      continue;
    }
    const c = classFromName(tok);
    if (c !== undefined) {
      cls = c;
      continue;
    }
    type = typeFromName(tok);
    if (type === undefined) throw new Error(`unknown type ${JSON.stringify(tok)} in ${JSON.stringify(line)}`);
    i++;
    break;
  }
  if (type === undefined) throw new Error(`no type in ${JSON.stringify(line)}`);
  const rd = t.slice(i);
  const need = (k: number): void => {
    if (rd.length !== k) throw new Error(`expected ${k} rdata fields in ${JSON.stringify(line)}`);
  };
  if (rd[0] === '\\#') {
    const len = int(rd[1], 0xffff, line);
    const data = Buffer.from(rd.slice(2).join(''), 'hex');
    if (data.length !== len) throw new Error(`RFC 3597 length mismatch in ${JSON.stringify(line)}`);
    return { name, type, class: cls, ttl, data };
  }
  switch (type) {
    case TYPE.A:
    case TYPE.AAAA:
      need(1);
      return { name, type, class: cls, ttl, data: rd[0]! };
    case TYPE.NS:
    case TYPE.CNAME:
    case TYPE.PTR:
      need(1);
      return { name, type, class: cls, ttl, data: fqdn(rd[0]!) };
    case TYPE.TXT:
      return { name, type, class: cls, ttl, data: rd.map(unquote) };
    case TYPE.SRV:
      need(4);
      return {
        name, type, class: cls, ttl,
        data: { priority: int(rd[0], 0xffff, line), weight: int(rd[1], 0xffff, line), port: int(rd[2], 0xffff, line),
          target: fqdn(rd[3]!) },
      };
    case TYPE.MX:
      need(2);
      return { name, type, class: cls, ttl, data: { preference: int(rd[0], 0xffff, line), exchange: fqdn(rd[1]!) } };
    case TYPE.SOA: {
      need(7);
      const u = (k: number): number => int(rd[k], 0xffffffff, line);
      return {
        name, type, class: cls, ttl,
        data: { mname: fqdn(rd[0]!), rname: fqdn(rd[1]!), serial: u(2), refresh: u(3), retry: u(4), expire: u(5),
          minimum: u(6) },
      };
    }
    default:
      throw new Error(`type ${typeName(type)} needs RFC 3597 rdata (\\# LEN HEX) in ${JSON.stringify(line)}`);
  }
}
