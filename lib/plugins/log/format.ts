/**
 * The log plugin's placeholders, compiled once per rule into a list of parts so a query line is a plain string
 * concatenation (CoreDNS plugin/pkg/replacer).
 */
import { className, FLAG, opcodeName, rcodeName, typeName } from '../../dns/constants.js';
import { opcodeOf } from '../../dns/message.js';
import type { Query } from '../../query.js';

/** CoreDNS's default (Common Log Format) and combined formats. */
export const COMMON_FORMAT = '{remote}:{port} - {>id} "{type} {class} {name} {proto} {size} {>do} {>bufsize}" {rcode} {>rflags} {rsize} {duration}';
export const COMBINED_FORMAT = `${COMMON_FORMAT} "{>opcode}"`;

type Part = string | ((q: Query) => string);

const PLACEHOLDERS: Record<string, (q: Query) => string> = {
  '{type}': (q) => typeName(q.qtype),
  '{name}': (q) => q.name,
  '{class}': (q) => className(q.qclass),
  '{proto}': (q) => q.proto,
  '{remote}': (q) => (q.remote.family === 6 ? `[${q.remote.address}]` : q.remote.address),
  '{port}': (q) => String(q.remote.port),
  '{size}': (q) => String(q.raw.length),
  '{>id}': (q) => String(q.req.id),
  '{>opcode}': (q) => opcodeName(opcodeOf(q.req.flags)),
  '{>do}': (q) => String(q.do),
  '{>bufsize}': (q) => String(q.bufsize),
  '{rcode}': (q) => rcodeName(q.rcode),
  '{rsize}': (q) => String(q.responseSize),
  '{duration}': (q) => `${(Number(process.hrtime.bigint() - q.start) / 1e9).toFixed(9).replace(/0+$/, '').replace(/\.$/, '')}s`,
  '{>rflags}': (q) => (q.response ? flagsText(q.response.flags) : '-'),
  '{server_ip}': () => '-',
  '{server_port}': () => '-',
};

/** Header flags as CoreDNS prints them: `qr,aa,rd`. */
export function flagsText(flags: number): string {
  const out: string[] = [];
  if (flags & FLAG.QR) out.push('qr');
  if (flags & FLAG.AA) out.push('aa');
  if (flags & FLAG.TC) out.push('tc');
  if (flags & FLAG.RD) out.push('rd');
  if (flags & FLAG.RA) out.push('ra');
  if (flags & FLAG.Z) out.push('z');
  if (flags & FLAG.AD) out.push('ad');
  if (flags & FLAG.CD) out.push('cd');
  return out.join(',');
}

/** Compile a format (`{common}`, `{combined}` or any text with placeholders) into a line builder. */
export function compileFormat(format: string): (q: Query) => string {
  const expanded = format.replaceAll('{common}', COMMON_FORMAT).replaceAll('{combined}', COMBINED_FORMAT);
  const parts: Part[] = [];
  let i = 0;
  let lit = '';
  while (i < expanded.length) {
    if (expanded[i] === '{') {
      const end = expanded.indexOf('}', i);
      if (end > 0) {
        const key = expanded.slice(i, end + 1);
        const fn = PLACEHOLDERS[key];
        if (fn) {
          if (lit) parts.push(lit);
          lit = '';
          parts.push(fn);
          i = end + 1;
          continue;
        }
      }
    }
    lit += expanded[i];
    i++;
  }
  if (lit) parts.push(lit);
  return (q) => {
    let s = '';
    for (const p of parts) s += typeof p === 'string' ? p : p(q);
    return s;
  };
}
